/// A layer that maps one tensor to one tensor (MLX Swift's `UnaryLayer`): ``Linear``,
/// ``LayerNorm``, ``Dropout``, the activation layers, ``Sequential`` itself, and a recurrent
/// network's output sequence. Only these can be called on a single tensor and composed by
/// ``Sequential``, so `Sequential([Embedding(…)])` or calling a cell on one tensor does not
/// compile. Adopt it in a `Module` subclass by writing `forward(_:)`:
///
///     final class Scaled: Module, UnaryLayer {
///         let inner = Linear(4, 4)
///         func forward(_ x: Tensor) -> Tensor { inner(x) * 2 }
///     }
public protocol UnaryLayer: Module {
    /// The layer's computation.
    func forward(_ input: Tensor) -> Tensor
}

extension UnaryLayer {
    /// Calls ``forward(_:)``.
    public func callAsFunction(_ input: Tensor) -> Tensor { forward(input) }
}

/// A recurrent network seen whatever its cell: input sequence, initial state and lengths in,
/// output sequence and final state out. Code can hold `any SequenceLayer` (a model choosing
/// LSTM or GRU at run time) without generics, downcasts or wrapper closures. Shapes and state
/// layout as ``RecurrentNetwork``'s.
public protocol SequenceLayer: Module {
    /// Runs the layer over `input`; `initialState` (`nil`: zeros, or the carried state when
    /// stateful) has the layout of the returned state; `lengths` marks each sequence's valid
    /// prefix (`nil`: all steps valid).
    func callAsFunction(_ input: Tensor, initialState: [Tensor]?, lengths: [Int]?) -> (output: Tensor, state: [Tensor])
}

// Only networks of plain cells: a contextual cell (an attention decoder) needs its context.
extension RecurrentNetwork: UnaryLayer where Cell.Context == Void {}
extension RecurrentNetwork: SequenceLayer where Cell.Context == Void {}
