"""PyTorch reference for agbench's training-step benchmark (run by agbench, never by tests).

Config B of ../shared/perf/baseline.md: batch 32, seq 50, input 64, hidden 256; one step is
forward over the sequence, mean of squared outputs as the loss, backward and Adam, on
`threads` threads. "fused" is nn.LSTM/nn.GRU/nn.RNN (oneDNN); "custom" is an LSTM cell written
from Linear + elementwise ops per time step, what a custom architecture costs. Prints JSON of
median milliseconds per step.
"""
import json, sys, time
import torch

torch.set_num_threads(int(sys.argv[1]))
B, T, I, H = 32, 50, 64, 256

class CustomLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ih, self.hh = torch.nn.Linear(I, 4 * H), torch.nn.Linear(H, 4 * H)
    def forward(self, x):
        h = c = torch.zeros(B, H)
        outputs = []
        for t in range(T):
            i, f, g, o = (self.ih(x[t]) + self.hh(h)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs), None

def median_ms(module):
    optimizer = torch.optim.Adam(module.parameters())
    x = torch.randn(T, B, I)
    def step():
        output, _ = module(x)
        loss = (output * output).mean()
        optimizer.zero_grad(); loss.backward(); optimizer.step()
    for _ in range(3): step()
    times = []
    for _ in range(15):
        start = time.perf_counter(); step(); times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]

print(json.dumps({"LSTM fused": median_ms(torch.nn.LSTM(I, H)), "LSTM custom": median_ms(CustomLSTM()),
                  "GRU fused": median_ms(torch.nn.GRU(I, H)), "RNN fused": median_ms(torch.nn.RNN(I, H))}))
