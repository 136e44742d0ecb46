"""PyTorch (and, when importable, JAX) reference for agbench's training-step benchmark.

Run by `swift run -c release agbench training` once per case, right after agbench times the
same case (never by tests): `python3 reference_training.py THREADS CONFIG FAMILY`. Configs of
../shared/perf/baseline.md with the heads and losses of the recurrent-speed issue:
  A: char-LM, batch 1, seq 25, one-hot 65, hidden 128; linear head 65 + cross-entropy every step
  B: batch 32, seq 50, input 64, hidden 256; linear head (to 64) on the last step, MSE
  C: batch 64, seq 100, input 512, hidden 1024; linear head (to 512) on the last step, MSE
  D: 2 layers, bidirectional, batch 16, seq 50, input 64, hidden 128; head every step, MSE
  LM: the main job's model (charlm): one-hot 161, 2 layers, hidden 256, batch 32, seq 64, as A
One step is forward, loss, backward and Adam (default options) over network and head.
"fused" is nn.LSTM/nn.GRU/nn.RNN (oneDNN); "custom" (LSTM, 1 layer) is a cell written from two
Linear + elementwise ops per step, what a custom architecture costs; "jax" (LSTM, 1 layer) is
jit(value_and_grad) of a lax.scan LSTM with Adam written out. Each is measured as agbench
measures: median after warm-up, re-measured while other processes took over 5% of the cores.
Prints JSON of median milliseconds per step: {"fused": …, "custom": …, "jax": …}; with a
`serve` in place of the family, "ready" once every family's models are set up, then one
such line for each line `measure FAMILY` read from its input (agbench keeps it running for a
config's rounds); with `peak`, the peak extra resident bytes of two fused
steps: {"peak": …}.
"""
import json, os, sys, time

threads, config, family = int(sys.argv[1]), sys.argv[2], sys.argv[3]
serving = family == "serve"
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(threads)
os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}")
import torch

torch.set_num_threads(threads)
CONFIGS = {"A": (1, 25, 65, 128, 1, False), "B": (32, 50, 64, 256, 1, False),
           "C": (64, 100, 512, 1024, 1, False), "D": (16, 50, 64, 128, 2, True),
           "LM": (32, 64, 161, 256, 2, False)}
batch, steps, inputs, hidden, layers, bidirectional = CONFIGS[config]
repeats = 3 if config == "C" else 15


def busy_seconds():
    with open("/proc/stat") as f:
        fields = [float(v) for v in f.readline().split()[1:9]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / 100


def median_ms(step):
    """Median wall time of `step` in ms, re-measured (up to 5 times) while others are busy."""
    for _ in range(3):
        step()
    quietest = None
    for _ in range(5):
        busy, own, start = busy_seconds(), time.process_time(), time.perf_counter()
        times = []
        for _ in range(repeats):
            begin = time.perf_counter(); step(); times.append((time.perf_counter() - begin) * 1e3)
        wall = time.perf_counter() - start
        others = max(0.0, (busy_seconds() - busy) - (time.process_time() - own)) / (wall * os.cpu_count())
        median = sorted(times)[len(times) // 2]
        if quietest is None or others < quietest[0]:
            quietest = (others, median)
        if others <= 0.05:
            break
    return quietest[1]


class CustomLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ih, self.hh = torch.nn.Linear(inputs, 4 * hidden), torch.nn.Linear(hidden, 4 * hidden)

    def forward(self, x):
        h = c = torch.zeros(x.shape[1], hidden)
        outputs = []
        for t in range(x.shape[0]):
            i, f, g, o = (self.ih(x[t]) + self.hh(h)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs), None


def data():
    generator = torch.Generator().manual_seed(1)
    if config in ("A", "LM"):
        ids = torch.randint(0, inputs, (steps + 1, batch), generator=generator)
        return torch.nn.functional.one_hot(ids[:-1], inputs).float(), ids[1:].reshape(-1)
    x = torch.randn(steps, batch, inputs, generator=generator)
    target = torch.randn((steps, batch, inputs) if config == "D" else (batch, inputs), generator=generator)
    return x, target


def torch_step(network):
    head = torch.nn.Linear(hidden * (2 if bidirectional else 1), inputs)
    optimizer = torch.optim.Adam(list(network.parameters()) + list(head.parameters()))
    x, target = data()

    def step():
        output, _ = network(x)
        if config in ("A", "LM"):
            loss = torch.nn.functional.cross_entropy(head(output).reshape(-1, inputs), target)
        elif config == "D":
            loss = torch.nn.functional.mse_loss(head(output), target)
        else:
            loss = torch.nn.functional.mse_loss(head(output[-1]), target)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
    return step


def jax_step():
    import jax, jax.numpy as jnp
    x, target = (v.numpy() for v in data())
    key = jax.random.PRNGKey(0)
    bound = 1 / hidden ** 0.5
    shapes = {"w_ih": (4 * hidden, inputs), "w_hh": (4 * hidden, hidden), "b_ih": (4 * hidden,),
              "b_hh": (4 * hidden,), "w_head": (inputs, hidden), "b_head": (inputs,)}
    params = {name: jax.random.uniform(k, shape, minval=-bound, maxval=bound)
              for (name, shape), k in zip(shapes.items(), jax.random.split(key, len(shapes)))}

    def loss_fn(p, x, target):
        def cell(carry, x_t):
            h, c = carry
            i, f, g, o = jnp.split(x_t @ p["w_ih"].T + p["b_ih"] + h @ p["w_hh"].T + p["b_hh"], 4, axis=1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h
        zeros = jnp.zeros((batch, hidden))
        _, outputs = jax.lax.scan(cell, (zeros, zeros), x)
        if config in ("A", "LM"):
            logits = (outputs @ p["w_head"].T + p["b_head"]).reshape(-1, inputs)
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), target[:, None], axis=1))
        prediction = outputs[-1] @ p["w_head"].T + p["b_head"]
        return jnp.mean((prediction - target) ** 2)

    @jax.jit
    def train(p, m, v, t, x, target):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, target)
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        scale = 1e-3 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        p = jax.tree_util.tree_map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + 1e-8), p, m, v)
        return p, m, v, loss

    state = [params, jax.tree_util.tree_map(jnp.zeros_like, params), jax.tree_util.tree_map(jnp.zeros_like, params), 1]

    def step():
        p, m, v, t = state
        p, m, v, loss = train(p, m, v, float(t), x, target)
        loss.block_until_ready()
        state[:] = [p, m, v, t + 1]
    return step


modules = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}
if len(sys.argv) > 4 and sys.argv[4] == "peak":
    # Peak extra resident memory of two steps, above the process with model, optimizer and data.
    step = torch_step(modules[family](inputs, hidden, num_layers=layers, bidirectional=bidirectional))
    with open("/proc/self/statm") as f:
        idle = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    step(); step()
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"peak": max(0, peak - idle)}))
    sys.exit(0)
def steps_of(family):
    """The steps measured for a cell family: fused, and for a one-layer LSTM custom and JAX."""
    steps = {"fused": torch_step(modules[family](inputs, hidden, num_layers=layers, bidirectional=bidirectional))}
    if family == "LSTM" and layers == 1:
        steps["custom"] = torch_step(CustomLSTM())
        try:
            steps["jax"] = jax_step()
        except ImportError:
            pass
    return steps


def measurement(steps):
    return json.dumps({name: median_ms(step) for name, step in steps.items()})


if serving:
    # Kept running for a config's rounds, every family's models in one process: "ready" once
    # set up, then one measurement per line "measure FAMILY" read, until the input ends, so
    # each round's figures follow agbench's own without a start-up between.
    steps_by_family = {name: steps_of(name) for name in modules}
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "measure" and words[1] in steps_by_family:
            print(measurement(steps_by_family[words[1]]), flush=True)
else:
    print(measurement(steps_of(family)))
