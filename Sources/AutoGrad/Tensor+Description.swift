import Foundation

extension Tensor: CustomStringConvertible {
    /// PyTorch-style printing: nested rows, aligned columns, the dtype (and `requiresGrad`);
    /// large tensors show their first and last three entries along each axis.
    public var description: String {
        let summarize = count > 1000
        let values = scalars
        // Style and width from the shown values (summarized tensors show only their ends).
        let format = NumberFormat(summarize ? Array(values.prefix(500) + values.suffix(500)) : values)
        let body = format.render(self, axis: 0, offset: 0, indent: "tensor(".count, summarize: summarize)
        return "tensor(\(body), \(dtype)\(requiresGrad ? ", requiresGrad" : ""))"
    }
}

/// Chooses one number style for a whole tensor so columns line up.
private struct NumberFormat {
    let style: Style
    let width: Int
    enum Style { case integer, fixed, scientific }

    init(_ values: [Double]) {
        let finite = values.filter(\.isFinite)
        let largest = finite.map(Swift.abs).max() ?? 0
        let smallest = finite.map(Swift.abs).filter { $0 > 0 }.min() ?? 0
        if finite.allSatisfy({ $0 == $0.rounded() }) && largest < 1e8 {
            style = .integer
        } else if largest >= 1e8 || (smallest > 0 && smallest < 1e-4) {
            style = .scientific
        } else {
            style = .fixed
        }
        let chosen = style
        width = values.map { NumberFormat.string($0, chosen).count }.max() ?? 1
    }

    static func string(_ value: Double, _ style: Style) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        switch style {
        case .integer: return String(format: "%.0f.", value)
        case .fixed: return String(format: "%.4f", value)
        case .scientific: return String(format: "%.4e", value)
        }
    }

    func render(_ tensor: Tensor, axis: Int, offset: Int, indent: Int, summarize: Bool) -> String {
        let shape = tensor.shape
        if shape.isEmpty { return pad(NumberFormat.string(tensor.storage[double: 0], style)) }
        let size = shape[axis], stride = shape[(axis + 1)...].reduce(1, *)
        let shown: [Int?] = summarize && size > 6 ? [0, 1, 2, nil, size - 3, size - 2, size - 1] : (0..<size).map { $0 }
        let parts = shown.map { index -> String in
            guard let index else { return "..." }
            if axis == shape.count - 1 { return pad(NumberFormat.string(tensor.storage[double: offset + index], style)) }
            return render(tensor, axis: axis + 1, offset: offset + index * stride, indent: indent + 1, summarize: summarize)
        }
        if axis == shape.count - 1 { return "[" + parts.joined(separator: ", ") + "]" }
        let separator = "," + String(repeating: "\n", count: shape.count - axis - 1) + String(repeating: " ", count: indent + 1)
        return "[" + parts.joined(separator: separator) + "]"
    }

    private func pad(_ text: String) -> String {
        String(repeating: " ", count: Swift.max(0, width - text.count)) + text
    }
}
