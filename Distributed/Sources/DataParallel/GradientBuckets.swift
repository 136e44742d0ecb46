import AutoGrad
import CMPI

/// Gradients flattened into a few large contiguous buffers ("buckets", Horovod's tensor
/// fusion and PyTorch DDP's buckets): one allreduce moves many tensors, and each bucket's
/// nonblocking allreduce starts as soon as all of its parameters' gradients are final, while
/// backward goes on with the others.
final class GradientBuckets {
    /// A buffer of one dtype holding some parameters' gradients end to end.
    struct Bucket {
        let dtype: DType
        var parameters: [Parameter] = []
        var offsets: [Int] = []
        var count = 0
        var buffer = UnsafeMutableRawPointer(bitPattern: 0)
        /// Parameters packed this step; the allreduce starts when all are.
        var packed = 0
        var request = agmpi_request_null()
        var isStarted = false
    }

    private(set) var buckets: [Bucket] = []
    /// Where each parameter's gradient goes: bucket and position in it.
    private var slots: [ObjectIdentifier: (bucket: Int, index: Int)] = [:]
    private let communicator: Communicator
    /// Start each bucket's allreduce as soon as it is full (`false`: all at the end of backward).
    let overlaps: Bool

    /// Lays out the groups' parameters in order, starting a new bucket with each group (so a
    /// group finished early is not held back by the next), at `capacity` bytes and at a dtype change.
    init(_ groups: [[Parameter]], capacity: Int, overlaps: Bool, communicator: Communicator) {
        (self.communicator, self.overlaps) = (communicator, overlaps)
        for (parameter, startsGroup) in groups.flatMap({ group in group.enumerated().map { ($1, $0 == 0) } }) {
            let (dtype, count) = (parameter.value.dtype, parameter.value.count)
            if slots[ObjectIdentifier(parameter)] != nil {
                fatalError("DataParallel.join: parameter '\(parameter.name ?? "?")' is listed twice; list every parameter once")
            }
            let fits = !startsGroup && buckets.last.map { $0.dtype == dtype && ($0.count + count) * dtype.byteCount <= capacity } ?? false
            if !fits { buckets.append(Bucket(dtype: dtype)) }  // a parameter larger than capacity gets its own
            slots[ObjectIdentifier(parameter)] = (buckets.count - 1, buckets[buckets.count - 1].parameters.count)
            buckets[buckets.count - 1].parameters.append(parameter)
            buckets[buckets.count - 1].offsets.append(buckets[buckets.count - 1].count)
            buckets[buckets.count - 1].count += count
        }
        for index in buckets.indices {
            let bytes = max(1, buckets[index].count * buckets[index].dtype.byteCount)
            buckets[index].buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
    }

    deinit {
        for bucket in buckets { bucket.buffer?.deallocate() }
    }

    /// Bytes each bucket's allreduce moves per step (the message sizes).
    var messageBytes: [Int] { buckets.map { $0.count * $0.dtype.byteCount } }

    /// Copies `parameters`' gradients, times `weight`, into their buckets (zeros for a
    /// parameter without one) and starts the allreduce of every bucket that became complete.
    func pack(_ parameters: [Parameter], weight: Double) throws {
        for parameter in parameters {
            guard let (index, position) = slots[ObjectIdentifier(parameter)] else {
                fatalError("DataParallel.gradientsAreFinal: parameter '\(parameter.name ?? "?")' \(parameter.value.shape) was not given to join")
            }
            let bucket = buckets[index]
            guard !bucket.isStarted else {
                fatalError("DataParallel.gradientsAreFinal: parameter '\(parameter.name ?? "?")' reported twice in one step")
            }
            let destination = bucket.buffer!.advanced(by: bucket.offsets[position] * bucket.dtype.byteCount)
            if bucket.dtype == .float64 {
                copy(parameter.grad, into: destination.assumingMemoryBound(to: Double.self), count: parameter.value.count, scale: weight)
            } else {
                copy(parameter.grad, into: destination.assumingMemoryBound(to: Float.self), count: parameter.value.count, scale: weight)
            }
            buckets[index].packed += 1
            if overlaps && buckets[index].packed == bucket.parameters.count { try start(index) }
        }
    }

    /// Waits for every bucket's sum and writes it into the parameters' gradients.
    func finish() throws {
        for index in buckets.indices where !buckets[index].isStarted {
            guard buckets[index].packed == buckets[index].parameters.count else {
                let missing = buckets[index].parameters.count - buckets[index].packed
                fatalError("DataParallel.finishGradients: \(missing) parameters' gradients were never reported with gradientsAreFinal this step")
            }
            try start(index)
        }
        for index in buckets.indices {
            try Communicator.check("MPI_Wait", MPI_Wait(&buckets[index].request, agmpi_statuses_ignore()))
            let bucket = buckets[index]
            for (parameter, offset) in zip(bucket.parameters, bucket.offsets) {
                let source = bucket.buffer!.advanced(by: offset * bucket.dtype.byteCount)
                parameter.withGrad { grad in
                    if grad == nil { grad = Tensor(zeros: parameter.value.shape, dtype: bucket.dtype) }
                    if bucket.dtype == .float64 {
                        grad!.withUnsafeMutableBufferPointer(as: Double.self) { $0.update(from: source.assumingMemoryBound(to: Double.self), count: $0.count) }
                    } else {
                        grad!.withUnsafeMutableBufferPointer(as: Float.self) { $0.update(from: source.assumingMemoryBound(to: Float.self), count: $0.count) }
                    }
                }
            }
            (buckets[index].packed, buckets[index].isStarted) = (0, false)
        }
    }

    private func start(_ index: Int) throws {
        let bucket = buckets[index]
        try Communicator.check("MPI_Iallreduce", MPI_Iallreduce(agmpi_in_place(), bucket.buffer, Int32(bucket.count),
                                                                Communicator.datatype(bucket.dtype), agmpi_sum(),
                                                                communicator.handle, &buckets[index].request))
        buckets[index].isStarted = true
    }
}

/// `gradient × scale` into `destination` (zeros without a gradient).
private func copy<T: FloatElement>(_ gradient: Tensor?, into destination: UnsafeMutablePointer<T>, count: Int, scale: Double) {
    guard let gradient else {
        destination.initialize(repeating: 0, count: count)
        return
    }
    let factor = T(scale)
    gradient.withUnsafeBufferPointer(as: T.self) { source in
        for index in 0..<count { destination[index] = source[index] * factor }
    }
}

private extension UnsafeMutableBufferPointer {
    /// Overwrites the elements with `count` elements read from `source`.
    func update(from source: UnsafePointer<Element>, count: Int) {
        baseAddress!.update(from: source, count: count)
    }
}
