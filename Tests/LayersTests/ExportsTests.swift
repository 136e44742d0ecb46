import Testing
@testable import Layers
@Test func layersReexportsAutoGrad() { #expect(Tensor(ones: [2]).count == 2) }
