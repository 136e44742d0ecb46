import AutoGrad
import CMPI

/// An MPI call that failed; with `MPI_ERRORS_RETURN` set, a dead peer surfaces here (or
/// mpirun ends the job) instead of hanging or aborting without a word.
public struct MPIError: Error, CustomStringConvertible {
    /// The MPI function that failed.
    public let call: String
    /// MPI's text for the error code.
    public let message: String

    /// One line naming the call and saying what to do.
    public var description: String {
        "\(call) failed: \(message); a process of the job has probably died (the last checkpoint written is intact)"
    }
}

/// The processes of `mpirun -np N` (MPI_COMM_WORLD): rank, size and the few collective
/// operations data-parallel training needs. Calls come from one thread (the training loop).
public final class Communicator: @unchecked Sendable {
    /// This process's index, 0 ..< ``size``.
    public let rank: Int
    /// How many processes the job has.
    public let size: Int
    let handle: MPI_Comm

    /// Starts MPI (once per process); errors are returned to the caller, not fatal inside MPI.
    public init() throws {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 { try Self.check("MPI_Init", MPI_Init(nil, nil)) }
        handle = agmpi_comm_world()
        try Self.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(handle, agmpi_errors_return()))
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check("MPI_Comm_rank", MPI_Comm_rank(handle, &rank))
        try Self.check("MPI_Comm_size", MPI_Comm_size(handle, &size))
        (self.rank, self.size) = (Int(rank), Int(size))
    }

    /// Ends MPI for this process; call once, after the last collective operation.
    public func finalize() { MPI_Finalize() }

    /// Ends every process of the job with `code` (after one process failed alone, so the
    /// others do not wait for it forever).
    public func abort(code: Int32) -> Never {
        MPI_Abort(handle, code)
        fatalError("MPI_Abort returned")
    }

    /// The element-wise sum of `values` over all processes, on every process.
    public func sum(_ values: [Double]) throws -> [Double] {
        var result = values
        try result.withUnsafeMutableBufferPointer { buffer in
            try Self.check("MPI_Allreduce", MPI_Allreduce(agmpi_in_place(), buffer.baseAddress, Int32(buffer.count),
                                                          agmpi_double(), agmpi_sum(), handle))
        }
        return result
    }

    /// Overwrites `tensor` with rank 0's values (same shape and dtype on every process).
    public func broadcast(_ tensor: inout Tensor) throws {
        let (type, count) = (Self.datatype(tensor.dtype), Int32(tensor.count))
        try withUnsafeMutableBytes(of: &tensor) { bytes in
            try Self.check("MPI_Bcast", MPI_Bcast(bytes.baseAddress, count, type, 0, handle))
        }
    }

    /// Every process's `tensor` (the same shape except along `axis`) joined along `axis` in
    /// rank order, on every process.
    public func allGather(_ tensor: Tensor, along axis: Int) throws -> Tensor {
        var lengths = [Int64](repeating: 0, count: size)
        lengths[rank] = Int64(tensor.shape[axis])
        try lengths.withUnsafeMutableBufferPointer { buffer in
            try Self.check("MPI_Allgather", MPI_Allgather(agmpi_in_place(), 0, agmpi_int64(), buffer.baseAddress, 1, agmpi_int64(), handle))
        }
        let type = Self.datatype(tensor.dtype)
        let counts = lengths.map { Int32(Int($0) * tensor.count / max(1, tensor.shape[axis])) }
        let offsets = counts.indices.map { Int32(counts[..<$0].reduce(0, +)) }
        var local = tensor.detached(), joined = Tensor(zeros: [Int(counts.reduce(0, +))], dtype: tensor.dtype)
        try withUnsafeMutableBytes(of: &local) { send in
            try withUnsafeMutableBytes(of: &joined) { receive in
                try Self.check("MPI_Allgatherv", MPI_Allgatherv(send.baseAddress, counts[rank], type,
                                                                receive.baseAddress, counts, offsets, type, handle))
            }
        }
        let pieces = lengths.indices.map { index -> Tensor in
            var shape = tensor.shape
            shape[axis] = Int(lengths[index])
            return joined.slice(Int(offsets[index])..<Int(offsets[index] + counts[index]), along: 0).reshaped(to: shape)
        }
        return concat(pieces, along: axis)
    }

    /// Throws an ``MPIError`` naming `call` unless `code` is MPI_SUCCESS.
    static func check(_ call: String, _ code: Int32) throws {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw MPIError(call: call, message: String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// The MPI datatype of a dtype's elements.
    static func datatype(_ dtype: DType) -> MPI_Datatype {
        dtype == .float64 ? agmpi_double() : agmpi_float()
    }
}

/// Calls `body` with `tensor`'s elements as writable bytes (copied first if shared).
func withUnsafeMutableBytes<R>(of tensor: inout Tensor, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    tensor.dtype == .float64
        ? try tensor.withUnsafeMutableBufferPointer(as: Double.self) { try body(UnsafeMutableRawBufferPointer($0)) }
        : try tensor.withUnsafeMutableBufferPointer(as: Float.self) { try body(UnsafeMutableRawBufferPointer($0)) }
}
