import Foundation

/// Text and Graphviz renderings of a ``Graph``, sharing one labelling scheme.
///
/// Text grammar (one SSA line per op, see Docs/AutoGrad.docc/GraphIR.md):
///
///     graph := 'graph(' leaf (', ' leaf)* ') {' NL line* '  return ' value (', ' value)* NL '}'
///     leaf  := '%' id ': ' type
///     line  := '  %' id ' = ' name attrs? (' ' operand (', ' operand)*)? ' : ' type NL
///     attrs := '[' key '=' value (' ' key '=' value)* ']'
///     operand := '%' id | number | 'const(' type ')'
///     type  := ('f32' | 'f64') '[' (dim (',' dim)*)? ']'
///
/// Leaves are named by their label (a parameter's dotted path) when they have one; other
/// values are numbered in recording order. Scalar constants print as their value.
extension Graph: CustomStringConvertible {
    public var description: String {
        let names = ssaNames()
        let header = inputs.map { "%\(names[ObjectIdentifier($0)]!): \($0.type)" }
        var lines = ["graph(" + header.joined(separator: ", ") + ") {"]
        for node in operations {
            let operands = operandLabels(node, names)
            lines.append("  %\(names[ObjectIdentifier(node)]!) = \(opLabel(node))"
                         + (operands.isEmpty ? "" : " " + operands.joined(separator: ", "))
                         + " : \(node.type)")
        }
        lines.append("  return " + outputs.map { "%" + names[ObjectIdentifier($0)]! }.joined(separator: ", "))
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    /// The graph in Graphviz DOT: leaves as ellipses, ops as boxes labelled like the text IR,
    /// constants as small grey nodes; edges run from operand to user.
    public func dot(name: String = "autograd") -> String {
        let names = ssaNames()
        var lines = ["digraph \"\(name)\" {", "  rankdir=TB;", "  node [fontname=\"Menlo\", fontsize=10];"]
        for node in nodes {
            let id = names[ObjectIdentifier(node)]!
            if node.isLeaf {
                lines.append("  \"\(id)\" [shape=ellipse, label=\"%\(id): \(describe(node.dtype, node.shape))\"];")
            } else {
                lines.append("  \"\(id)\" [shape=box, label=\"%\(id) = \(escape(opLabel(node))) : \(describe(node.dtype, node.shape))\"];")
                for (position, operand) in node.operands.enumerated() {
                    if let source = operand.node {
                        lines.append("  \"\(names[ObjectIdentifier(source)]!)\" -> \"\(id)\";")
                    } else {
                        let constant = "\(id).c\(position)"
                        lines.append("  \"\(constant)\" [shape=plaintext, fontcolor=gray40, label=\"\(escape(constantLabel(node, position)))\"];")
                        lines.append("  \"\(constant)\" -> \"\(id)\" [color=gray60];")
                    }
                }
            }
        }
        for output in outputs {
            lines.append("  \"\(names[ObjectIdentifier(output)]!)\" [peripheries=2];")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    /// SSA names: leaf labels where known (made unique), else numbers in recording order.
    private func ssaNames() -> [ObjectIdentifier: String] {
        var names: [ObjectIdentifier: String] = [:], taken = Set<String>(), counter = 0
        for node in nodes {
            var name: String
            if let label = node.name, !label.isEmpty {
                name = label
                var suffix = 2
                while taken.contains(name) { name = "\(label)#\(suffix)"; suffix += 1 }
            } else {
                repeat { name = "\(counter)"; counter += 1 } while taken.contains(name)
            }
            taken.insert(name)
            names[ObjectIdentifier(node)] = name
        }
        return names
    }

    private func opLabel(_ node: Node) -> String {
        node.primitive.map(Program.label) ?? ""
    }

    private func operandLabels(_ node: Node, _ names: [ObjectIdentifier: String]) -> [String] {
        node.operands.enumerated().map { position, operand in
            operand.node.map { "%" + names[ObjectIdentifier($0)]! } ?? constantLabel(node, position)
        }
    }

    private func constantLabel(_ node: Node, _ position: Int) -> String {
        let operand = node.operands[position]
        if operand.shape.isEmpty, let saved = node.savedInputs?[position] {
            let value = saved[double: 0]
            return value == value.rounded() && Swift.abs(value) < 1e15 ? String(Int(value)) : "\(value)"
        }
        return "const(\(operand.type))"
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "\\\"")
    }
}
