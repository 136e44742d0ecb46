extension Executable {
    /// Where a compiled multi-output kernel writes one of its outputs.
    enum RowTarget {
        /// Into the buffer of the equation at this position, whose result the row is.
        case own(Int)
        /// Into columns `offset ..< offset + width` of the concatenation at this position.
        case columns(of: Int, offset: Int)
        /// Nowhere anyone reads (a scratch buffer).
        case unread
    }

    /// How a compiled program runs the fused kernels of several outputs that only slices of
    /// whole rows read (as ``Program/fusingElementwise()`` leaves them): each output goes to a
    /// buffer of its own — so each lives as long as it is used, where one stacked buffer would
    /// live as long as the longest-lived output, and it can be written into a caller's
    /// destination — taken by the reshape that is its slice's one reader where there is one
    /// (a row then costs no step: a batch-1 recurrent step runs a dozen), and outputs that only
    /// a concatenation along columns reads are written as its columns (an LSTM gradient's four
    /// gates, concatenated for the recurrent product: no copy).
    struct Separation {
        /// Each separating kernel's targets, by output.
        var kernels: [Int: [RowTarget]] = [:]
        /// The results each separating kernel makes, whose slots it takes.
        var made: [Int: [Int]] = [:]
        /// Equations that are not run and have no value: slices whose reshape takes the row,
        /// and rows a concatenation takes.
        var skipped = Set<Int>()

        init(_ program: Program) {
            let users = program.users(), returned = Set(program.outputs)
            func onlyReader(of position: Int) -> Int? {
                guard let readers = users[.result(position)], readers.count == 1, !returned.contains(.result(position)) else { return nil }
                return readers[0]
            }
            for (position, equation) in program.equations.enumerated() {
                guard let fused = equation.primitive as? FusedElementwise, fused.body.outputs.count > 1,
                      !returned.contains(.result(position)) else { continue }
                var rows = [Int?](repeating: nil, count: fused.body.outputs.count), bypassed: [Int] = []
                let separable = (users[.result(position)] ?? []).allSatisfy { user in
                    guard let slice = program.equations[user].primitive as? Slice, slice.axis == 0, slice.step == 1,
                          slice.end == slice.start + 1, rows[slice.start] == nil else { return false }
                    if let reader = onlyReader(of: user), program.equations[reader].primitive is Reshape {
                        rows[slice.start] = reader
                        bypassed.append(user)
                    } else {
                        rows[slice.start] = user
                    }
                    return true
                }
                guard separable else { continue }
                var targets = rows.map { $0.map(RowTarget.own) ?? .unread }, made: [Int] = []
                // Concatenations along columns of distinct rows that nothing else reads.
                let concatenations = Set(rows.compactMap { $0.flatMap(onlyReader(of:)) }).filter { candidate in
                    let concatenation = program.equations[candidate]
                    guard fused.writesColumns, let concat = concatenation.primitive as? Concat, concat.axis == 1,
                          concatenation.type.shape.count == 2, Set(concatenation.operands).count == concatenation.operands.count
                    else { return false }
                    return concatenation.operands.allSatisfy { operand in
                        guard case .result(let row) = operand, rows.contains(row) else { return false }
                        return onlyReader(of: row) == candidate
                    }
                }
                for candidate in concatenations.sorted() {
                    var offset = 0
                    for case .result(let row) in program.equations[candidate].operands {
                        targets[rows.firstIndex(of: row)!] = .columns(of: candidate, offset: offset)
                        offset += program.equations[row].type.shape[1]
                        skipped.insert(row)
                    }
                    made.append(candidate)
                }
                for case .own(let row) in targets { made.append(row) }
                kernels[position] = targets
                self.made[position] = made
                skipped.formUnion(bypassed)
            }
        }
    }
}
