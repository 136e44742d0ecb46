import Foundation

/// An attention heat map as SVG: one row per output step, one column per source position,
/// darker for more weight, with the tokens as labels.
func attentionHeatMap(weights: [[Double]], sourceLabels: [String], outputLabels: [String], title: String) -> String {
    func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
    let cell = 28.0, left = 60.0, top = 60.0
    let width = left + cell * Double(sourceLabels.count) + 20, height = top + cell * Double(outputLabels.count) + 20
    var parts = [
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"monospace\" font-size=\"14\">",
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        "<text x=\"10\" y=\"20\" font-family=\"sans-serif\">\(escaped(title))</text>",
    ]
    for (column, label) in sourceLabels.enumerated() {
        parts.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>", left + cell * (Double(column) + 0.5), top - 8, escaped(label)))
    }
    for (row, rowWeights) in weights.enumerated() {
        parts.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>", left - 8, top + cell * (Double(row) + 0.65), escaped(outputLabels[row])))
        for (column, weight) in rowWeights.enumerated() {
            // White at 0, dark blue at 1.
            let shade = Int((1 - weight) * 255)
            parts.append(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,255)\" stroke=\"#eee\"><title>%.3f</title></rect>",
                                left + cell * Double(column), top + cell * Double(row), cell, cell, shade, shade, weight))
        }
    }
    parts.append("</svg>")
    return parts.joined(separator: "\n")
}
