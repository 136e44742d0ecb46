import CKernels
import Synchronization

// The whole reverse-mode loop: recording switches, the topological walk, one accumulation site.

/// Runs `body` without recording: results require no gradients (inference, updates).
public func noGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = ag_set_grad_mode(0)
    defer { ag_set_grad_mode(previous) }
    return try body()
}

/// Whether ops on this thread are being recorded (false inside ``noGrad(_:)``).
public var isRecording: Bool { ag_grad_mode() != 0 }

/// Whether the values saved for pullbacks survive the backward pass running on this thread
/// (`retainGraph`); true outside a backward pass. A pullback that keeps large values of its
/// own (a compiled recurrent run's residuals) may drop each as soon as it is used when false.
public var isRetainingGraph: Bool { ag_retains_graph() != 0 }

/// Whether a ``Program/trace(_:parameters:names:_:)`` body is running on this thread (code
/// with a faster untraceable path, such as a compiled recurrent run, takes its op-by-op path).
public var isTracing: Bool { ag_trace_mode() != 0 }

/// Whether this thread is in anomaly mode (``detectAnomalies(_:)``): code that would run
/// compiled kernels runs op by op instead, so the anomaly is named after its op.
public var isDetectingAnomalies: Bool { ag_anomaly_scope() != nil }

extension Tensor {
    /// Accumulates d(self)/d(leaf) into every leaf's `grad`.
    ///
    /// - Parameters:
    ///   - seed: the gradient of some downstream scalar with respect to `self`; required
    ///     unless `self` has one element.
    ///   - retainGraph: keep the values saved for pullbacks, to call backward again through
    ///     the same graph. Defaults to `createGraph`.
    ///   - createGraph: record the backward pass itself, so gradients are differentiable
    ///     (grad of grad, Hessian-vector products).
    public func backward(seed: Tensor? = nil, retainGraph: Bool? = nil, createGraph: Bool = false) {
        let order = backpropagate([self], seeds: seed.map { [$0] }, targets: [],
                                  retainGraph: retainGraph ?? createGraph, createGraph: createGraph)
        for node in order where node.isLeaf {
            if let pending = node.pending {
                node.grad = node.grad.map { $0 + pending } ?? pending
                node.pending = nil
            }
            node.walkClaim.store(0, ordering: .releasing)
        }
    }
}

/// The gradients of `outputs` (weighted by `seeds`, default ones) with respect to `inputs`,
/// returned rather than accumulated into `grad` (PyTorch's `torch.autograd.grad`). Inputs the
/// outputs do not depend on get zeros.
public func gradients(of outputs: [Tensor], withRespectTo inputs: [Tensor], seeds: [Tensor]? = nil,
                      retainGraph: Bool? = nil, createGraph: Bool = false) -> [Tensor] {
    let targets = Set(inputs.compactMap { $0.node.map(ObjectIdentifier.init) })
    let order = backpropagate(outputs, seeds: seeds, targets: targets,
                              retainGraph: retainGraph ?? createGraph, createGraph: createGraph)
    let result = inputs.map { input in input.node?.pending ?? input.zerosLike() }
    for node in order {
        node.pending = nil
        if node.isLeaf { node.walkClaim.store(0, ordering: .releasing) }
    }
    return result
}

/// The gradient of a scalar `output` with respect to each of `inputs`.
public func gradients(of output: Tensor, withRespectTo inputs: [Tensor],
                      retainGraph: Bool? = nil, createGraph: Bool = false) -> [Tensor] {
    gradients(of: [output], withRespectTo: inputs, retainGraph: retainGraph, createGraph: createGraph)
}

/// Numbers the backward walks (process-wide), so leaves know which walk is summing into them.
private let walkCounter = Atomic<Int>(0)

/// Walks the graph behind `outputs` in reverse topological order, calling each primitive's
/// pullback once with the summed gradient of its output. Leaves and `targets` keep their
/// summed gradient in `pending`; returns the nodes visited, inputs first.
func backpropagate(_ outputs: [Tensor], seeds: [Tensor]?, targets: Set<ObjectIdentifier>,
                   retainGraph: Bool, createGraph: Bool) -> [Node] {
    let roots = outputs.map { output -> Node in
        guard let node = output.node else {
            opFailure("backward", "the tensor of shape \(describe(output.shape)) does not require gradients (no input required them, or it was computed under noGrad)")
        }
        return node
    }
    // Seeds (hardening, issue 13): one per output, of its shape; another dtype is converted
    // to the output's, as PyTorch does, instead of being read as the wrong type.
    if let seeds, seeds.count != outputs.count {
        opFailure("gradients", "\(seeds.count) seeds for \(outputs.count) outputs; pass one seed per output")
    }
    // Leaves are claimed for this walk before anything is summed into them (see Node.walkClaim).
    let walk = walkCounter.add(1, ordering: .relaxed).newValue
    func claim(_ node: Node) {
        guard node.isLeaf else { return }
        let (claimed, owner) = node.walkClaim.compareExchange(expected: 0, desired: walk, ordering: .acquiringAndReleasing)
        guard claimed || owner == walk else {
            opFailure("backward", "a tensor that requires gradients\(node.name.map { " ('\($0)')" } ?? "") is in another thread's backward pass right now; give each thread its own parameters, or run their backward passes one at a time")
        }
    }
    for (index, (output, root)) in zip(outputs, roots).enumerated() {
        var seed = seeds.map { $0[index] } ?? output.implicitSeed()
        guard seed.shape == output.shape else {
            opFailure("backward", "seed of shape \(describe(seed.shape)) for an output of shape \(describe(output.shape))")
        }
        if seed.dtype != output.dtype { seed = seed.to(output.dtype) }
        claim(root)
        root.accumulate(seed, from: nil)
    }
    let order = topologicalOrder(from: roots)
    let previousMode = ag_set_grad_mode(createGraph ? 1 : 0), previousRetention = ag_set_retains_graph(retainGraph ? 1 : 0)
    defer {
        ag_set_grad_mode(previousMode)
        ag_set_retains_graph(previousRetention)
    }
    for node in order.reversed() {
        guard let primitive = node.primitive else { continue }
        if let gradient = node.pending {
            if !targets.contains(ObjectIdentifier(node)) { node.pending = nil }
            guard let (inputs, output) = node.savedTensors() else {
                opFailure("backward", "the graph through '\(primitive.name)' was released by an earlier backward; pass retainGraph: true to the first one")
            }
            if !createGraph, primitive.accumulatesInPlace, let input = node.operands[0].node, input.isDifferentiable {
                claim(input)
                input.accumulate(gradient, through: primitive as! any AccumulatingPullback)
            } else if node.isDifferentiable {
                let inputGradients = pullbackCheckingAnomalies(primitive, gradient, inputs: inputs, output: output)  // Anomaly.swift
                guard inputGradients.count == node.operands.count else {
                    opFailure(primitive.name, "pullback returned \(inputGradients.count) gradients for \(node.operands.count) inputs")
                }
                for (operand, inputGradient) in zip(node.operands, inputGradients) {
                    if let input = operand.node, input.isDifferentiable, let inputGradient {
                        claim(input)
                        input.accumulate(inputGradient, from: node)
                    }
                }
            }
        }
        if !retainGraph { node.release() }
    }
    return order
}

extension Node {
    /// The one accumulation site: sums a gradient broadcast by the op back to this node's
    /// shape, then adds it to what other uses of the node contributed (fan-out). `consumer` is
    /// the node whose pullback produced the gradient (`nil` for a seed), named on a misfit.
    func accumulate(_ gradient: Tensor, from consumer: Node?) {
        let reduced = gradient.shape == shape && gradient.dtype == dtype ? gradient : fitted(gradient, from: consumer)
        guard var sum = pending else {
            pending = reduced
            return
        }
        if isRecording {
            pending = sum + reduced  // recorded: the sum must be differentiable (createGraph)
        } else {
            // In place: a weight used at every step of a sequence would otherwise allocate a
            // fresh sum per step. Copy-on-write keeps any tensor sharing the buffer intact.
            pending = nil
            sum.addInPlace(reduced)
            pending = sum
        }
    }
}

extension Node {
    /// `gradient` summed back to this node's shape, after checking that it fits (hardening,
    /// issue 13): a gradient of another dtype would be added as raw memory of the wrong type,
    /// one of a shape that is not a broadcast of this node's would be summed wrongly.
    private func fitted(_ gradient: Tensor, from consumer: Node?) -> Tensor {
        // The message is formed only on failure: this runs for every edge of every backward pass.
        func misfit(_ reason: String) -> Never {
            opFailure(consumer?.primitive?.name ?? "backward",
                      "pullback returned a gradient \(describe(gradient.dtype, gradient.shape)) for an input \(describe(dtype, shape)): \(reason)")
        }
        guard gradient.dtype == dtype else { misfit("dtypes differ") }
        let reducible = gradient.rank >= shape.count
            && zip(shape.reversed(), gradient.shape.reversed()).allSatisfy { $0 == $1 || $0 == 1 }
        guard reducible else { misfit("its shape does not sum back to the input's") }
        return gradient.sum(toShape: shape)
    }

    /// A gradient added in place by an accumulating pullback (unrecorded only).
    func accumulate(_ gradient: Tensor, through primitive: any AccumulatingPullback) {
        guard var sum = pending else {
            pending = primitive.firstGradient(gradient, inputShape: shape)
            return
        }
        pending = nil
        primitive.accumulate(gradient, into: &sum)
        pending = sum
    }
}

extension Tensor {
    /// The seed `backward()` uses without one: 1 for a one-element output.
    fileprivate func implicitSeed() -> Tensor {
        guard count == 1 else {
            opFailure("backward", "output of shape \(describe(shape)) is not a scalar; pass a seed gradient of that shape")
        }
        return onesLike()
    }
}

/// The nodes reachable from `roots`, each after all of its operands (iterative, so a long
/// unrolled sequence cannot overflow the stack).
func topologicalOrder(from roots: [Node]) -> [Node] {
    var order: [Node] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(node: Node, nextOperand: Int)] = []
    for root in roots where visited.insert(ObjectIdentifier(root)).inserted {
        stack.append((root, 0))
        while let (node, next) = stack.last {
            if next < node.operands.count {
                stack[stack.count - 1].nextOperand += 1
                if let operand = node.operands[next].node, visited.insert(ObjectIdentifier(operand)).inserted {
                    stack.append((operand, 0))
                }
            } else {
                stack.removeLast()
                order.append(node)
            }
        }
    }
    return order
}

/// Sets whether this thread flushes subnormal floats to zero (and the default for threads that
/// have not run an op yet). On by default: long backward passes through saturated activations
/// produce subnormals, which make x86 float arithmetic many times slower.
public func setFlushesDenormals(_ enabled: Bool) { ag_set_flush_denormals(enabled ? 1 : 0) }

/// Whether this thread currently flushes subnormal floats to zero.
public var flushesDenormals: Bool { ag_flushes_denormals() != 0 }
