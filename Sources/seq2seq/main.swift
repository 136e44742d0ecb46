import Foundation
import ExampleSupport
import Layers

// seq2seq: an attention encoder-decoder learns to reverse letter strings of 4–12 letters,
// reports greedy exact match on held-out strings and writes the attention of one example as
// an SVG heat map (seq2seq-attention.svg).

let configuration = Seq2SeqConfiguration.standard
let task = configuration.task
say("seq2seq: reversing strings of \(task.lengths.lowerBound)–\(task.lengths.upperBound) letters from \(task.letterCount); bidirectional GRU encoder, GRU decoder with additive attention, hidden \(configuration.hidden)")
let stopwatch = Stopwatch()
let (model, test, steps) = try train(configuration, log: say)
let match = exactMatch(model, test, task: task)

let source = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map { $0 % task.letterCount }
let (output, weights) = model.attentionMap(source, maxLength: task.lengths.upperBound + 2)
let svg = attentionHeatMap(weights: weights, sourceLabels: source.map(task.letter),
                           outputLabels: output.map { task.letter($0 - 2) } + ["</s>"],
                           title: "attention: \(source.map(task.letter).joined()) → \(output.map { task.letter($0 - 2) }.joined())")
do {
    try svg.write(toFile: "seq2seq-attention.svg", atomically: true, encoding: .utf8)
    say("wrote seq2seq-attention.svg (\(source.map(task.letter).joined()) → \(output.map { task.letter($0 - 2) }.joined()))")
} catch {
    FileHandle.standardError.write(Data("seq2seq: error: cannot write seq2seq-attention.svg: \(error)\n".utf8))
    exit(1)
}
say(String(format: "result: held-out exact match %.3f on %d strings after %d steps (%.0f s)", match, test.references.count, steps, stopwatch.seconds))
