/// One component of a cell's initial state: zeros, or a learned vector broadcast over the
/// batch (so its gradient is the sum over the batch).
func initialState(_ learned: Parameter?, batchSize: Int, size: Int, dtype: DType, cell: String) -> Tensor {
    guard let learned else { return Tensor(zeros: [batchSize, size], dtype: dtype) }
    guard learned.value.dtype == dtype else {
        opFailure(cell, "the learned initial state is \(learned.value.dtype) but the run is \(dtype); convert the cell with to(_:)")
    }
    return learned.value.expanded(to: [batchSize, size])
}
