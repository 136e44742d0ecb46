import Testing
@testable import Layers

private final class Affine: Module, UnaryLayer {
    let weight = Parameter(Tensor(ones: [2, 3]))
    let bias: Parameter? = Parameter(Tensor(zeros: [2]))
    func forward(_ x: Tensor) -> Tensor { matmul(x, weight.value, transposeB: true) + bias!.value }
}

private final class Stack: Module, UnaryLayer {
    let first = Affine()
    let rest = [Affine(), Affine()]
    /// Each layer applied to the input, summed (the layers all map 3 features to 2).
    func forward(_ x: Tensor) -> Tensor { rest.reduce(first(x)) { $0 + $1(x) } }
}

@Suite struct ModuleTests {
    @Test func parametersAreFoundByReflectionWithDottedNames() {
        let names = Stack().namedParameters().map(\.name)
        #expect(names == ["first.weight", "first.bias", "rest.0.weight", "rest.0.bias", "rest.1.weight", "rest.1.bias"])
        let model = Stack()
        #expect(model.namedChildren().map(\.name) == ["first", "rest.0", "rest.1"])
        #expect(model.children().count == 3 && model.children()[0] === model.first)
    }

    @Test func trainEvalAndDTypeReachDescendants() {
        let model = Stack()
        model.eval()
        #expect(!model.rest[1].isTraining)
        model.to(.float64)
        #expect(model.parameters().allSatisfy { $0.value.dtype == .float64 && $0.value.requiresGrad })
    }

    /// After labelParameters(), graphs name parameters by their dotted paths.
    @Test func labelledParametersNameTheGraphInputs() {
        let model = Stack()
        model.labelParameters()
        let graph = Graph(model(Tensor(ones: [1, 3])).sum())
        #expect(graph.inputs.map(\.name) == ["first.weight", "first.bias", "rest.0.weight", "rest.0.bias", "rest.1.weight", "rest.1.bias"])
        #expect(graph.description.hasPrefix("graph(%first.weight: f32[2,3], %first.bias: f32[2]"))
    }
}
