"""PyTorch reference for agbench's training-step benchmark (run by agbench, never by tests).

Configs of ../shared/perf/baseline.md — A: char-LM, batch 1, seq 25, one-hot 65 in, hidden 128,
linear head 65 + cross-entropy; B: batch 32, seq 50, input 64, hidden 256; D: 2 layers,
bidirectional, batch 16, seq 50, input 64, hidden 128. One step is forward over the sequence,
the loss (mean of squared outputs for B and D), backward and Adam, on `threads` threads.
"fused" is nn.LSTM/nn.GRU/nn.RNN (oneDNN); "custom" is an LSTM cell written from Linear +
elementwise ops per time step, what a custom architecture costs. Prints JSON of median
milliseconds per step, keyed "<config> <family> fused|custom".
"""
import json, sys, time
import torch

torch.set_num_threads(int(sys.argv[1]))
CONFIGS = {"A": (1, 25, 65, 128, 1, False), "B": (32, 50, 64, 256, 1, False), "D": (16, 50, 64, 128, 2, True)}

class CustomLSTM(torch.nn.Module):
    def __init__(self, inputs, hidden):
        super().__init__()
        self.hidden = hidden
        self.ih, self.hh = torch.nn.Linear(inputs, 4 * hidden), torch.nn.Linear(hidden, 4 * hidden)
    def forward(self, x):
        h = c = torch.zeros(x.shape[1], self.hidden)
        outputs = []
        for t in range(x.shape[0]):
            i, f, g, o = (self.ih(x[t]) + self.hh(h)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs), None

def median_ms(config, module):
    batch, steps, inputs, hidden, layers, bidirectional = CONFIGS[config]
    head = torch.nn.Linear(hidden, inputs) if config == "A" else None
    parameters = list(module.parameters()) + (list(head.parameters()) if head else [])
    optimizer = torch.optim.Adam(parameters)
    if config == "A":
        ids = torch.randint(0, inputs, (steps + 1, batch))
        x = torch.nn.functional.one_hot(ids[:-1], inputs).double().float()
    else:
        x = torch.randn(steps, batch, inputs)
    def step():
        output, _ = module(x)
        if head is not None:
            loss = torch.nn.functional.cross_entropy(head(output).reshape(-1, inputs), ids[1:].reshape(-1))
        else:
            loss = (output * output).mean()
        optimizer.zero_grad(); loss.backward(); optimizer.step()
    for _ in range(3): step()
    times = []
    for _ in range(15):
        start = time.perf_counter(); step(); times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]

result = {}
for config, (batch, steps, inputs, hidden, layers, bidirectional) in CONFIGS.items():
    for family, cls in (("LSTM", torch.nn.LSTM), ("GRU", torch.nn.GRU), ("RNN", torch.nn.RNN)):
        result[f"{config} {family} fused"] = median_ms(config, cls(inputs, hidden, num_layers=layers, bidirectional=bidirectional))
    if layers == 1:
        result[f"{config} LSTM custom"] = median_ms(config, CustomLSTM(inputs, hidden))
print(json.dumps(result))
