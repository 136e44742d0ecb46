import Testing
@testable import Optim
@Test func optimReexportsAutoGrad() { #expect(Tensor(ones: [3]).count == 3) }
