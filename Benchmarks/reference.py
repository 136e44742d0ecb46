"""Reference timings for agbench, measured in the same run on the same machine.

Run by `swift run -c release agbench` (never by tests). Prints one JSON object:
numpy/torch float32 GEMM GFLOP/s at n = 256, 512, 1024 for the thread count in argv[1], and
(with torch) the per-op autodiff overhead of the same 1000-op chain agbench times.
"""
import json, os, sys, time

threads = int(sys.argv[1])
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(threads)

import numpy as np

def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]

result = {"numpy": {}, "torch": {}}
for n in (256, 512, 1024):
    a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    seconds = median_time(lambda: a @ b, 30 if n < 1024 else 10)
    result["numpy"][str(n)] = 2 * n ** 3 / seconds / 1e9

try:
    import torch
    torch.set_num_threads(threads)
    for n in (256, 512, 1024):
        a = torch.rand(n, n); b = torch.rand(n, n)
        seconds = median_time(lambda: torch.mm(a, b), 30 if n < 1024 else 10)
        result["torch"][str(n)] = 2 * n ** 3 / seconds / 1e9
    def chain(x, c):
        for i in range(250):
            x = torch.tanh(x * c + c)
            x = x - c
        return x
    c = torch.full((16,), 0.5)
    def forward_backward():
        x = torch.full((16,), 0.1, requires_grad=True)
        chain(x, c).sum().backward()
    def forward_only():
        with torch.no_grad():
            chain(torch.full((16,), 0.1), c)
    result["torch"]["overhead_us"] = median_time(forward_backward, 50) / 1000 * 1e6
    result["torch"]["forward_us"] = median_time(forward_only, 50) / 1000 * 1e6
except ImportError:
    pass
print(json.dumps(result))
