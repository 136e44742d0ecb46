import Foundation

/// The element type of a tensor, chosen at run time (as in PyTorch and MLX), so a whole model
/// can be switched to float64 to check its gradients.
public enum DType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// 32-bit IEEE float, the default.
    case float32
    /// 64-bit IEEE float, for gradient checks and PyTorch parity fixtures.
    case float64

    /// Bytes per element.
    public var byteCount: Int { self == .float32 ? 4 : 8 }

    /// The short IR spelling: `f32` or `f64`.
    public var description: String { self == .float32 ? "f32" : "f64" }
}

/// The scalar types a tensor can hold; kernels are generic over it and specialized for both.
public protocol FloatElement: BinaryFloatingPoint, SIMDScalar, Sendable, Codable {
    /// The runtime tag of this scalar type.
    static var dtype: DType { get }
    /// eˣ.
    static func exp(_ x: Self) -> Self
    /// Natural logarithm.
    static func log(_ x: Self) -> Self
    /// log(1 + x), accurate near 0.
    static func log1p(_ x: Self) -> Self
    /// Hyperbolic tangent.
    static func tanh(_ x: Self) -> Self
    /// xʸ.
    static func pow(_ x: Self, _ y: Self) -> Self
}

extension Float: FloatElement {
    public static var dtype: DType { .float32 }
    @inlinable public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    @inlinable public static func log(_ x: Float) -> Float { Foundation.log(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { Foundation.log1p(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
}

extension Double: FloatElement {
    public static var dtype: DType { .float64 }
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { Foundation.log1p(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
}
