import Testing
import AutoGrad

@Suite struct ParameterTests {
    @Test func holdsALeafWithAGradientSlot() {
        let initial = Tensor([1, 2], dtype: .float64)
        let parameter = Parameter(initial, name: "layer.weight")
        #expect(parameter.value.isLeaf && parameter.value.requiresGrad && !initial.requiresGrad)
        #expect(parameter.name == "layer.weight" && parameter.grad == nil)
        let loss = (parameter.value * parameter.value).sum()
        #expect(Graph(loss).description.hasPrefix("graph(%layer.weight: f64[2]) {"))
        loss.backward()
        #expect(parameter.grad?.scalars == [2, 4] && parameter.value.grad?.scalars == [2, 4])
        parameter.zeroGrad()
        #expect(parameter.grad == nil)
    }

    /// Optimizers replace the value; a value of the same type keeps the slot (and so the
    /// accumulated gradient), another shape starts a new one.
    @Test func newValuesKeepTheSlotWhenTheTypeMatches() {
        let parameter = Parameter(Tensor([1, 2], dtype: .float64), name: "w")
        (parameter.value * 3).sum().backward()
        parameter.value = noGrad { parameter.value - 0.1 * parameter.grad! }
        #expect(parameter.value.isLeaf && parameter.grad?.scalars == [3, 3])
        expectClose(parameter.value.scalars, [0.7, 1.7])
        parameter.value = parameter.value * 2  // even a recorded result becomes the leaf again
        #expect(parameter.value.isLeaf && parameter.grad?.scalars == [3, 3])
        parameter.value.assign(Tensor([5, 6], dtype: .float64))
        #expect(parameter.value.scalars == [5, 6] && parameter.grad != nil)
        parameter.value = Tensor([1, 2, 3], dtype: .float64)
        #expect(parameter.grad == nil && parameter.name == "w" && parameter.value.requiresGrad)
    }

    @Test func gradientCanBeSetAndEditedInPlace() {
        let parameter = Parameter(Tensor([1, 2, 3]))
        parameter.grad = Tensor([4, -5, 6]).requiringGrad()
        #expect(parameter.grad?.requiresGrad == false)  // stored detached
        parameter.withGrad { grad in grad = grad!.clamped(min: -1, max: 1) }
        #expect(parameter.grad?.scalars == [1, -1, 1])
        parameter.grad = nil
        #expect(parameter.grad == nil)
    }
}
