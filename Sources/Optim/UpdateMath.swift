// Elementwise pieces shared by the built-in update rules, written to round exactly like the
// torch.optim kernels they mirror, so float64 trajectories match PyTorch's.

/// The gradient an update rule works with: negated when maximizing, plus the L2 term λθ
/// when λ ≠ 0 (torch's `grad = -grad if maximize`, `grad = grad.add(param, alpha=λ)`).
@inline(__always)
func adjustedGradient<T: FloatElement>(_ gradient: T, _ value: T, weightDecay: T, maximize: Bool) -> T {
    let signed = maximize ? -gradient : gradient
    return weightDecay != 0 ? signed + weightDecay * value : signed
}

/// `start + weight·(end − start)`, evaluated as torch's `lerp` does (from the nearer end).
@inline(__always)
func lerp<T: FloatElement>(_ start: T, _ end: T, weight: T) -> T {
    abs(weight) < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
}
