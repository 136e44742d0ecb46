import Foundation

extension OptimizerProtocol {
    /// Saves the per-parameter state (keyed by the parameters' names, see `stateDictionary()`)
    /// to a safetensors file, atomically.
    public func saveState(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDictionary(), metadata: metadata, to: url)
    }

    /// Loads state saved by ``saveState(to:metadata:)``; throws (and changes nothing) if the
    /// file is malformed or does not fit this optimizer's parameters and options.
    public func loadState(from url: URL) throws {
        try load(state: SafeTensors.read(from: url).tensors)
    }
}
