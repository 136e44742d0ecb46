/// The Clockwork RNN of Koutník, Greff, Gomez & Schmidhuber, "A Clockwork RNN" (ICML 2014):
/// the hidden units form g modules of `moduleSize` units, module i with period Tᵢ (by default
/// 1, 2, 4, 8, …), and at step t only the modules whose period divides t are updated; the
/// others keep their state:
///
///     h̃_t = act(x_t W_ihᵀ + b + h_{t−1} (W_hh ⊙ M)ᵀ)
///     h_t,i = h̃_t,i   if t mod Tᵢ = 0,   else h_{t−1},i          (per module i)
///
/// With the modules sorted by increasing period, M is block upper triangular: module i reads
/// the modules j ≥ i (itself and the slower ones), so slow modules keep a long context
/// unaffected by fast ones, and fast ones see it. The output is h_t (add a ``Linear`` for the
/// paper's output layer). The step index t is the one ``RecurrentNetwork`` passes (counted
/// from 0, so every module runs at the first step; from each sequence's end in a reverse
/// direction) — the cell keeps no clock in its state.
///
/// | parameter / buffer | shape |
/// |---|---|
/// | `weight_ih` | hidden × input (hidden = modules · moduleSize) |
/// | `weight_hh` | hidden × hidden, entries outside M zero and without gradient |
/// | `bias` | hidden |
/// | `connectivity` (buffer) | hidden × hidden: M, 1 where module i reads module j ≥ i |
///
/// Weights start as PyTorch's recurrent cells' (U(−k, k), k = 1/√hidden). The state is `[h]`.
open class ClockworkCell: Module, ContextualRecurrentCell {
    /// A clockwork cell needs only the time, no per-call context.
    public typealias Context = Void

    /// Features of each step's input.
    public let inputSize: Int
    /// Units per module.
    public let moduleSize: Int
    /// The modules' periods Tᵢ, increasing.
    public let periods: [Int]
    /// The hidden nonlinearity (tanh in the paper).
    public let activation: Activation
    /// All units: `periods.count · moduleSize`.
    public var hiddenSize: Int { periods.count * moduleSize }
    /// Features of each step's output: h.
    public var outputSize: Int { hiddenSize }

    /// W_ih, the input weights of every module.
    public let weight_ih: Parameter
    /// W_hh, read through the block-triangular ``connectivity``.
    public let weight_hh: Parameter
    /// b, the modules' biases.
    public let bias: Parameter?
    /// M: which module reads which.
    public let connectivity: Buffer

    /// A cell of `periods.count` modules of `moduleSize` units; `periods` must be positive and
    /// increasing (the paper's exponential series 1, 2, 4, 8 by default).
    public init(inputSize: Int, moduleSize: Int, periods: [Int] = [1, 2, 4, 8], activation: Activation = .tanh,
                bias: Bool = true) {
        guard !periods.isEmpty, periods.first! > 0, zip(periods, periods.dropFirst()).allSatisfy({ $0 < $1 }) else {
            opFailure("ClockworkCell", "periods \(periods) must be positive and increasing")
        }
        guard moduleSize > 0 else { opFailure("ClockworkCell", "moduleSize must be positive, got \(moduleSize)") }
        self.inputSize = inputSize
        self.moduleSize = moduleSize
        self.periods = periods
        self.activation = activation
        let hidden = periods.count * moduleSize
        let module = { (unit: Int) in unit / moduleSize }
        let mask = Tensor((0..<hidden).map { row in (0..<hidden).map { column in module(column) >= module(row) ? 1.0 : 0 } })
        connectivity = Buffer(mask)
        weight_ih = recurrentParameter([hidden, inputSize], hiddenSize: hidden)
        let recurrent = recurrentParameter([hidden, hidden], hiddenSize: hidden)
        recurrent.value = recurrent.value.detached() * mask
        weight_hh = recurrent
        self.bias = bias ? recurrentParameter([hidden], hiddenSize: hidden) : nil
        super.init()
    }

    /// `[h]`, zeros.
    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [Tensor(zeros: [batchSize, hiddenSize], dtype: dtype)]
    }

    /// x W_ihᵀ + b for every step at once.
    open func prepareInputs(_ inputs: Tensor) -> Tensor { affine(inputs, weight_ih, bias) }

    /// Whether module `index` runs at step `time`.
    public func isActive(module index: Int, at time: Int) -> Bool { time % periods[index] == 0 }

    /// One step: the equations above, the modules whose period does not divide `time` held.
    open func step(prepared input: Tensor, state: [Tensor], time: Int, context: Void) -> (output: Tensor, state: [Tensor]) {
        let h = state[0]
        let candidate = activation(input + matmul(h, weight_hh.value * connectivity.value, transposeB: true))
        let active = periods.indices.map { isActive(module: $0, at: time) }
        if !active.contains(false) { return (candidate, [candidate]) }
        let units = active.flatMap { Array(repeating: $0, count: moduleSize) }
        let next = Tensor.where(Mask(units, shape: [1, hiddenSize]), candidate, h)
        return (next, [next])
    }
}
