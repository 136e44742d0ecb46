import Foundation

/// Scales the gradients of `parameters` together so that their global norm is at most
/// `maxNorm`, as `torch.nn.utils.clip_grad_norm_`: the total norm is the `normType`-norm of
/// the per-parameter gradient norms (`.infinity` for the largest magnitude), and when
/// `maxNorm / (total + 1e-6)` is below 1 every gradient is multiplied by it. Parameters
/// without a gradient are skipped.
///
/// - Returns: the total norm before clipping (0 when no parameter has a gradient).
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Double, normType: Double = 2) -> Double {
    let total = globalGradientNorm(parameters, normType: normType, caller: "clipGradientNorm")
    let scale = maxNorm / (total + 1e-6)
    if scale < 1 {
        for parameter in parameters { edit(parameter, .scale(by: scale)) }
    }
    return total
}

/// The global norm of the gradients of `parameters`, as ``clipGradientNorm(_:maxNorm:normType:)``
/// measures it but without clipping: the `normType`-norm of the per-parameter gradient norms
/// (`.infinity` for the largest magnitude). Parameters without a gradient are skipped; 0 when
/// none has one. A diagnostic of exploding gradients for runs that do not clip.
public func globalGradientNorm(_ parameters: [Parameter], normType: Double = 2) -> Double {
    globalGradientNorm(parameters, normType: normType, caller: "globalGradientNorm")
}

private func globalGradientNorm(_ parameters: [Parameter], normType: Double, caller: String) -> Double {
    guard normType > 0 else { optimizerFailure(caller, "norm type \(normType) is not positive") }
    var total = 0.0
    for parameter in parameters {
        guard let gradient = parameter.grad else { continue }
        let norm = switch gradient.dtype {
        case .float32: gradient.withUnsafeBufferPointer(as: Float.self) { vectorNorm($0, normType) }
        case .float64: gradient.withUnsafeBufferPointer(as: Double.self) { vectorNorm($0, normType) }
        }
        total = normType.isInfinite ? max(total, norm) : total + powered(norm, normType)
    }
    return normType.isInfinite ? total : root(total, normType)
}

/// Clamps every gradient element of `parameters` to [−maxValue, maxValue], as
/// `torch.nn.utils.clip_grad_value_`. Parameters without a gradient are skipped.
public func clipGradientValue(_ parameters: [Parameter], maxValue: Double) {
    guard maxValue >= 0 else { optimizerFailure("clipGradientValue", "max value \(maxValue) is negative") }
    for parameter in parameters {
        edit(parameter, .clamp(to: maxValue))
    }
}

/// The p-norm of a buffer, accumulated in Double.
private func vectorNorm<T: FloatElement>(_ values: UnsafeBufferPointer<T>, _ p: Double) -> Double {
    if p.isInfinite { return values.reduce(0) { max($0, Double(abs($1))) } }
    return root(values.reduce(0) { $0 + powered(Double(abs($1)), p) }, p)
}

private func powered(_ x: Double, _ p: Double) -> Double {
    p == 2 ? x * x : p == 1 ? x : pow(x, p)
}

private func root(_ x: Double, _ p: Double) -> Double {
    p == 2 ? x.squareRoot() : p == 1 ? x : pow(x, 1 / p)
}

/// An in-place change of a gradient.
private enum GradientEdit {
    case scale(by: Double)
    case clamp(to: Double)
}

/// Applies `edit` to the gradient of `parameter`, in place; does nothing without a gradient.
private func edit(_ parameter: Parameter, _ edit: GradientEdit) {
    parameter.withGrad { gradient in
        switch gradient?.dtype {
        case .float32: gradient!.withUnsafeMutableBufferPointer(as: Float.self) { apply(edit, to: $0) }
        case .float64: gradient!.withUnsafeMutableBufferPointer(as: Double.self) { apply(edit, to: $0) }
        case nil: break
        }
    }
}

private func apply<T: FloatElement>(_ edit: GradientEdit, to values: UnsafeMutableBufferPointer<T>) {
    switch edit {
    case .scale(let factor):
        let factor = T(factor)
        for i in values.indices { values[i] = values[i] * factor }
    case .clamp(let bound):
        let bound = T(bound)
        for i in values.indices { values[i] = min(max(values[i], -bound), bound) }
    }
}
