import Layers

/// The processes of a data-parallel run, as the trainer sees them: each holds the whole model,
/// trains on its own share of the streams, and they agree on parameters before the first step
/// and on averaged gradients before every optimizer step (Horovod's and PyTorch DDP's design).
///
/// The trainer knows nothing of how the processes talk; Distributed/ implements this protocol
/// with MPI, and a `nil` group is one process alone.
public protocol TrainingGroup: AnyObject {
    /// This process's index, 0 ..< ``size``; rank 0 writes checkpoints and prints.
    var rank: Int { get }
    /// How many processes train together.
    var size: Int { get }

    /// Called once before training: makes every process's parameter values equal to rank 0's
    /// and plans the gradient exchange. `parameterGroups` lists every parameter once, in the
    /// order their gradients become final during backward (the groups later passed to
    /// ``gradientsAreFinal(_:weight:)``).
    func join(_ parameterGroups: [[Parameter]]) throws

    /// The element-wise sum of `values` over all processes (losses, flags: a few numbers).
    func sum(_ values: [Double]) throws -> [Double]

    /// Tells the group that this step's gradients of `parameters` (one of the groups given to
    /// ``join(_:)``) are final, so it may start averaging them while backward goes on;
    /// `weight` is this process's share of the global batch (the shares sum to 1).
    func gradientsAreFinal(_ parameters: [Parameter], weight: Double) throws

    /// Returns when every parameter's gradient is the weighted sum over all processes of the
    /// gradients passed to ``gradientsAreFinal(_:weight:)`` this step.
    func finishGradients() throws

    /// Every process's `tensor` joined along `axis` in rank order, on every process (the
    /// carried recurrent state of all streams, for a checkpoint).
    func allGather(_ tensor: Tensor, along axis: Int) throws -> Tensor
}
