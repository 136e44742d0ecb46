import Foundation

extension GradientFlow {
    /// The plot's default title.
    public static let plotTitle = "Gradient flow through time: ‖∂L/∂h_t‖ per step"

    /// The record as an SVG line chart: time steps across, ‖∂L/∂h_t‖ up on a log scale (one
    /// grid line per power of ten), one line per layer and direction with a legend, and the
    /// global gradient norm before clipping under the title when known. Zero norms (steps no
    /// gradient reached) have no place on a log scale and are left out, breaking the line.
    public func svg(title: String = plotTitle) -> String {
        let (width, height) = (720.0, 420.0)
        let margin = (left: 70.0, right: 170.0, top: 52.0, bottom: 45.0)
        let plot = (width: width - margin.left - margin.right, height: height - margin.top - margin.bottom)
        let steps = max(series.map(\.norms.count).max() ?? 1, 2)
        let positive = series.flatMap(\.norms).filter { $0 > 0 && $0.isFinite }
        let low = (positive.min().map(log10) ?? 0).rounded(.down)
        let high = max((positive.max().map(log10) ?? 1).rounded(.up), low + 1)
        func x(_ step: Int) -> Double { margin.left + Double(step) / Double(steps - 1) * plot.width }
        func y(_ norm: Double) -> Double { margin.top + (high - log10(norm)) / (high - low) * plot.height }
        func number(_ value: Double) -> String { String(format: "%.1f", value) }
        func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ style: String) -> String {
            "<line x1=\"\(number(x1))\" y1=\"\(number(y1))\" x2=\"\(number(x2))\" y2=\"\(number(y2))\" \(style)/>"
        }
        func text(_ x: Double, _ y: Double, _ content: String, _ style: String = "") -> String {
            "<text x=\"\(number(x))\" y=\"\(number(y))\"\(style.isEmpty ? "" : " " + style)>\(escaped(content))</text>"
        }

        var parts = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            text(margin.left, 20, title, "font-size=\"14\""),
        ]
        if let globalNormBeforeClipping {
            parts.append(text(margin.left, 38, "global gradient norm before clipping: " + String(format: "%.4g", globalNormBeforeClipping)))
        }
        // A grid line per decade, thinned to at most ~8 labels; within two decades also at 2
        // and 5 times each power, so a flat line still has a scale beside it.
        let decades = Int(high - low), every = max(1, (decades + 7) / 8)
        let multiples: [Double] = decades <= 2 ? [1, 2, 5] : [1]
        for decade in stride(from: 0, through: decades, by: every) {
            let exponent = Int(low) + decade
            for multiple in multiples where decade < decades || multiple == 1 {
                let level = y(multiple * pow(10, Double(exponent)))
                parts.append(line(margin.left, level, margin.left + plot.width, level, "stroke=\"\(multiple == 1 ? "#ddd" : "#f0f0f0")\""))
                parts.append(text(margin.left - 6, level + 4, "\(Int(multiple))e\(exponent)", "text-anchor=\"end\""))
            }
        }
        let tickEvery = max(1, (steps - 1 + 9) / 10)
        for step in stride(from: 0, to: steps, by: tickEvery) {
            parts.append(text(x(step), height - margin.bottom + 18, "\(step)", "text-anchor=\"middle\""))
        }
        parts.append(line(margin.left, margin.top, margin.left, margin.top + plot.height, "stroke=\"#333\""))
        parts.append(line(margin.left, margin.top + plot.height, margin.left + plot.width, margin.top + plot.height, "stroke=\"#333\""))
        parts.append(text(margin.left + plot.width / 2, height - 8, "time step (in each direction's run order)", "text-anchor=\"middle\""))
        parts.append(text(16, margin.top + plot.height / 2, "gradient norm (log scale)",
                          "text-anchor=\"middle\" transform=\"rotate(-90 16 \(number(margin.top + plot.height / 2)))\""))

        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
        for (index, entry) in series.enumerated() {
            let color = palette[index % palette.count], dash = entry.isReverse ? " stroke-dasharray=\"6 3\"" : ""
            var path = "", broken = true
            for (step, norm) in entry.norms.enumerated() {
                guard norm > 0, norm.isFinite else { broken = true; continue }
                path += (broken ? "M" : " L") + "\(number(x(step))),\(number(y(norm)))"
                broken = false
            }
            if !path.isEmpty {
                parts.append("<path d=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"\(dash)/>")
            }
            let row = margin.top + 10 + Double(index) * 20, left = width - margin.right + 15
            parts.append(line(left, row, left + 25, row, "stroke=\"\(color)\" stroke-width=\"2\"\(dash)"))
            parts.append(text(left + 32, row + 4, entry.label(bidirectional: isBidirectional)))
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    /// Writes ``svg(title:)`` to `path` atomically (a temporary file, then a rename), so a
    /// reader never sees half a plot.
    public func writeSVG(toPath path: String, title: String = plotTitle) throws {
        try Data(svg(title: title).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// Text safe inside an SVG element.
private func escaped(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;")
}
