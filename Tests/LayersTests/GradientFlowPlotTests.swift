import Foundation
import Testing
@testable import Layers

@Suite struct GradientFlowPlotTests {
    /// Norms 1, 10, 100 over steps 0…2 and a reverse series with a zero: decades 1e0…1e2 map
    /// to the plot's bottom…top (y 375…52), steps 0…2 to its left…right (x 70…550).
    private let flow = GradientFlow(series: [
        .init(layer: 0, isReverse: false, norms: [1, 10, 100]),
        .init(layer: 0, isReverse: true, norms: [100, 0, 1]),
    ], globalNormBeforeClipping: 12.5)

    @Test func linesSitOnALogScale() {
        let svg = flow.svg()
        #expect(svg.contains("<path d=\"M70.0,375.0 L310.0,213.5 L550.0,52.0\" fill=\"none\" stroke=\"#1f77b4\""))
        // The zero norm is left out and breaks the reverse line.
        #expect(svg.contains("<path d=\"M70.0,52.0M550.0,375.0\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.8\" stroke-dasharray=\"6 3\"/>"))
        for label in ["1e0", "1e1", "1e2", "layer 0 forward", "layer 0 reverse", "global gradient norm before clipping: 12.5",
                      "‖∂L/∂h_t‖ per step", "time step", "log scale"] {
            #expect(svg.contains(">\(label)") || svg.contains(label), "\(label)")
        }
        #expect(svg.hasPrefix("<svg ") && svg.hasSuffix("</svg>"))
        // Two decades: grid lines at 2 and 5 times each power too (5e1 at y 375 − log10(50)/2 · 323), none above the top.
        #expect(svg.contains(">2e0</text>") && svg.contains(">5e1</text>") && !svg.contains(">2e2</text>"))
        #expect(svg.contains("<line x1=\"70.0\" y1=\"100.6\" x2=\"550.0\" y2=\"100.6\" stroke=\"#f0f0f0\"/>"))
    }

    @Test func oneDirectionLabelsLayersOnly() {
        let svg = GradientFlow(series: [.init(layer: 0, isReverse: false, norms: [1, 2]), .init(layer: 1, isReverse: false, norms: [3, 4])]).svg()
        #expect(svg.contains(">layer 0</text>") && svg.contains(">layer 1</text>") && !svg.contains("forward"))
        #expect(!svg.contains("before clipping"))
    }

    @Test func writesAtomicallyAndThrowsOnABadPath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flow-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("gradients.svg").path
        try flow.writeSVG(toPath: path, title: "a & b")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == flow.svg(title: "a & b"))
        #expect(flow.svg(title: "a & b").contains(">a &amp; b</text>"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["gradients.svg"])
        #expect(throws: (any Error).self) { try flow.writeSVG(toPath: directory.appendingPathComponent("missing/gradients.svg").path) }
    }
}
