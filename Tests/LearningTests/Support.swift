import Layers

/// The index of the largest entry of each row of a [N, C] tensor.
func argmaxRows(_ logits: Tensor) -> [Int] {
    let (rows, columns) = (logits.shape[0], logits.shape[1])
    let values = logits.scalars
    return (0..<rows).map { row in
        let slice = values[(row * columns)..<((row + 1) * columns)]
        return slice.firstIndex(of: slice.max()!)! - row * columns
    }
}
