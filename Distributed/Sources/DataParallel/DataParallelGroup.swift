import AutoGrad
import Foundation

/// Data-parallel training over MPI: every process holds the whole model and trains on its own
/// share of the data; ``join(_:)`` gives all processes rank 0's parameters, and the gradients
/// reported during backward are summed in buckets with nonblocking allreduces, so that after
/// ``finishGradients()`` every process holds the same (weighted average) gradient and takes
/// the same optimizer step.
///
/// One step:
/// ```swift
/// optimizer.zeroGrad()
/// loss.backward()
/// try group.gradientsAreFinal(model.parameters(), weight: 1 / Double(group.size))
/// try group.finishGradients()
/// optimizer.step()
/// ```
public final class DataParallelGroup {
    /// The processes of the job.
    public let communicator: Communicator
    /// The most bytes of gradients one allreduce carries (PyTorch DDP's default, 25 MiB).
    public let bucketCapacity: Int
    /// Whether a bucket's allreduce starts as soon as its gradients are final (overlapping
    /// the rest of backward), rather than all at the end.
    public let overlaps: Bool
    private var buckets: GradientBuckets?
    /// Seconds spent waiting for gradient sums in ``finishGradients()`` since the start.
    public private(set) var waitingSeconds = 0.0

    /// The group of every process of the job (MPI_COMM_WORLD).
    public init(communicator: Communicator, bucketCapacity: Int = 25 << 20, overlaps: Bool = true) {
        (self.communicator, self.bucketCapacity, self.overlaps) = (communicator, bucketCapacity, overlaps)
    }

    /// This process's index, 0 ..< ``size``.
    public var rank: Int { communicator.rank }
    /// How many processes train together.
    public var size: Int { communicator.size }

    /// Gives every parameter rank 0's value and lays the gradients out in buckets, in the order
    /// of `parameterGroups` (the order backward finishes them; each group starts a bucket).
    /// Call once, on every process.
    public func join(_ parameterGroups: [[Parameter]]) throws {
        for parameter in parameterGroups.joined() { try communicator.broadcast(&parameter.value) }
        buckets = GradientBuckets(parameterGroups, capacity: bucketCapacity, overlaps: overlaps, communicator: communicator)
    }

    /// Bytes moved by each allreduce of a step, one entry per bucket (empty before ``join(_:)``).
    public var messageBytes: [Int] { buckets?.messageBytes ?? [] }

    /// The element-wise sum of `values` over all processes.
    public func sum(_ values: [Double]) throws -> [Double] { try communicator.sum(values) }

    /// Reports that `parameters`' gradients are final for this step, weighted by `weight`
    /// (this process's share of the global batch); starts the allreduce of every bucket that
    /// is now complete.
    public func gradientsAreFinal(_ parameters: [Parameter], weight: Double) throws {
        guard let buckets else { fatalError("DataParallel.gradientsAreFinal: call join with the model's parameters first") }
        try buckets.pack(parameters, weight: weight)
    }

    /// Waits for the sums and writes them into every parameter's gradient.
    public func finishGradients() throws {
        guard let buckets else { fatalError("DataParallel.finishGradients: call join with the model's parameters first") }
        let started = Date()
        try buckets.finish()
        waitingSeconds += Date().timeIntervalSince(started)
    }

    /// Every process's `tensor` joined along `axis` in rank order, on every process.
    public func allGather(_ tensor: Tensor, along axis: Int) throws -> Tensor {
        try communicator.allGather(tensor, along: axis)
    }
}

extension DataParallelGroup {
    /// Backward in two stages for a model whose head reads `cut`, a detached copy (requiring
    /// gradients) of the body's output `features`: the head's gradients are final first and
    /// their allreduce starts while backward runs through the body; returns with every
    /// parameter's gradient summed over the processes.
    ///
    /// - Parameters:
    ///   - loss: this process's loss.
    ///   - head: the parameters between `cut` and the loss (the first group given to ``join(_:)``).
    ///   - body: the parameters behind `features` (the second group).
    ///   - weight: this process's share of the global batch.
    public func backward(_ loss: Tensor, head: [Parameter], cut: Tensor, features: Tensor, body: [Parameter], weight: Double) throws {
        loss.backward()
        try gradientsAreFinal(head, weight: weight)
        if let seed = cut.grad { features.backward(seed: seed) }
        try gradientsAreFinal(body, weight: weight)
        try finishGradients()
    }
}
