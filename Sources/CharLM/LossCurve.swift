import Foundation

/// Training and validation loss (bits per character) over steps, drawn as an SVG line chart.
struct LossCurve {
    var training: [(step: Int, bitsPerCharacter: Double)] = []
    var validation: [(step: Int, bitsPerCharacter: Double)] = []
    var baseline: Double?

    /// The chart as SVG text.
    func svg(width: Double = 720, height: Double = 420) -> String {
        let margin = (left: 60.0, right: 150.0, top: 30.0, bottom: 45.0)
        let all = training + validation
        let maxStep = Double(max(all.map(\.step).max() ?? 1, 1))
        let values = all.map(\.bitsPerCharacter) + (baseline.map { [$0] } ?? [])
        let top = ((values.max() ?? 1) * 1.05).rounded(.up), bottom = max(0, ((values.min() ?? 0) * 0.9).rounded(.down))
        let plotWidth = width - margin.left - margin.right, plotHeight = height - margin.top - margin.bottom
        func x(_ step: Int) -> Double { margin.left + Double(step) / maxStep * plotWidth }
        func y(_ value: Double) -> Double { margin.top + (top - value) / max(top - bottom, 1e-9) * plotHeight }
        func path(_ points: [(step: Int, bitsPerCharacter: Double)]) -> String {
            points.enumerated().map { index, point in
                (index == 0 ? "M" : "L") + String(format: "%.1f,%.1f", x(point.step), y(point.bitsPerCharacter))
            }.joined(separator: " ")
        }
        var parts = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"\(Int(margin.left))\" y=\"18\" font-size=\"14\">charlm: loss in bits per character</text>",
        ]
        for tick in 0...4 {
            let value = bottom + (top - bottom) * Double(tick) / 4, step = Int(maxStep * Double(tick) / 4)
            parts.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", margin.left, y(value), margin.left + plotWidth, y(value)))
            parts.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>", margin.left - 6, y(value) + 4, value))
            parts.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>", x(step), height - margin.bottom + 18, step))
        }
        parts.append("<text x=\"\(Int(margin.left + plotWidth / 2))\" y=\"\(Int(height - 8))\" text-anchor=\"middle\">step</text>")
        var legend: [(String, String, String)] = []
        if let baseline {
            parts.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"6 4\"/>", margin.left, y(baseline), margin.left + plotWidth, y(baseline)))
            legend.append(("#999", "6 4", String(format: "unigram %.2f", baseline)))
        }
        if !training.isEmpty {
            parts.append("<path d=\"\(path(training))\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>")
            legend.append(("#1f77b4", "", "train"))
        }
        if !validation.isEmpty {
            parts.append("<path d=\"\(path(validation))\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>")
            legend.append(("#d62728", "", "validation"))
        }
        for (index, entry) in legend.enumerated() {
            let top = margin.top + 10 + Double(index) * 20, left = width - margin.right + 15
            parts.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" ", left, top, left + 25, top)
                         + "stroke=\"\(entry.0)\" stroke-width=\"2\" stroke-dasharray=\"\(entry.1)\"/>")
            parts.append(String(format: "<text x=\"%.1f\" y=\"%.1f\">", left + 32, top + 4) + "\(entry.2)</text>")
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    /// Writes the chart atomically (a temporary file, then a rename).
    func write(to path: String) throws {
        try Data(svg().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension LossCurve {
    /// The history as JSON, for checkpoint metadata.
    var serialized: String {
        let object: [String: Any] = [
            "train": training.map { [$0.step, $0.bitsPerCharacter] as [Any] },
            "validation": validation.map { [$0.step, $0.bitsPerCharacter] as [Any] },
            "baseline": baseline ?? -1,
        ]
        // Sorted keys: the same history always writes the same bytes (reproducible checkpoints).
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A history read back from ``serialized``; `nil` if malformed.
    init?(serialized: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(serialized.utf8)) as? [String: Any],
              let training = object["train"] as? [[Double]], let validation = object["validation"] as? [[Double]],
              let baseline = object["baseline"] as? Double else { return nil }
        func points(_ rows: [[Double]]) -> [(step: Int, bitsPerCharacter: Double)]? {
            rows.allSatisfy { $0.count == 2 } ? rows.map { (Int($0[0]), $0[1]) } : nil
        }
        guard let train = points(training), let valid = points(validation) else { return nil }
        self.init(training: train, validation: valid, baseline: baseline >= 0 ? baseline : nil)
    }
}
