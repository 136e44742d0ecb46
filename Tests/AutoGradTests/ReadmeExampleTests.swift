import Testing
import AutoGrad

/// The README's example, run as written, so the documentation cannot drift from the code.
@Test func readmeExampleRunsAsDocumented() throws {
    var rng = RandomGenerator(seed: 42)
    let x = Tensor.randomNormal([2, 3], dtype: .float64, using: &rng).requiringGrad(name: "x")
    let w = Tensor.randomNormal([4, 3], dtype: .float64, using: &rng).requiringGrad(name: "w")

    let loss = (matmul(x, w, transposeB: true).tanh() * 2).sum()
    #expect(Graph(loss).description == """
        graph(%x: f64[2,3], %w: f64[4,3]) {
          %0 = matmul[transB=true] %x, %w : f64[2,4]
          %1 = tanh %0 : f64[2,4]
          %2 = mul %1, 2 : f64[2,4]
          %3 = reduce_sum[axes=[0,1]] %2 : f64[]
          return %3
        }
        """)
    loss.backward()
    #expect(w.grad?.shape == [4, 3])
    try checkGradients(of: { (matmul($0[0], $0[1], transposeB: true).tanh() * 2).sum() }, at: [x, w])
}
