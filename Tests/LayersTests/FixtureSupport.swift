import Foundation
@testable import Layers

/// The tensors of a PyTorch fixture in Fixtures/ by name; a missing file or name stops the
/// test that asks for it with the name in the message.
struct Fixture: Sendable {
    let file: String
    let tensors: [String: Tensor]

    init(_ file: String) {
        self.file = file
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(file)
        tensors = (try? SafeTensors.read(from: url).tensors) ?? [:]
    }

    subscript(name: String) -> Tensor {
        guard let tensor = tensors[name] else { fatalError("\(file) has no tensor '\(name)'") }
        return tensor
    }
}
