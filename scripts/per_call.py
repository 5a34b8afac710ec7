"""Per-call cost at 1024 float32 elements, one thread: torch.sigmoid against torch_sigmoid_ext,
without a gradient and for a forward and backward. Medians of 15 interleaved runs, each the best
of 3 x 2000 calls; the ratios are what the README quotes.

    python scripts/per_call.py
"""
import statistics, sys, timeit, torch
import torch_sigmoid_ext as tse
torch.set_num_threads(1)
x = torch.randn(1024); xg = x.clone().requires_grad_(); g = torch.randn(1024)
ops = torch.ops.torch_sigmoid_ext
def fb(f):
    def run():
        y = f(xg); y.backward(g)
    return run
cases = {
 "torch.sigmoid no grad": lambda: torch.sigmoid(x),
 "tse.sigmoid no grad": lambda: tse.sigmoid(x),
 "torch.ops op, no grad input": lambda: ops.sigmoid(x),
 "fwd+bwd torch.sigmoid": fb(torch.sigmoid),
 "fwd+bwd tse.sigmoid": fb(tse.sigmoid),
 "fwd+bwd torch.ops op": fb(ops.sigmoid),
}
res = {k: [] for k in cases}
for _ in range(15):
    for k, f in cases.items():
        t = timeit.Timer(f)
        n = 2000
        res[k].append(min(t.repeat(3, n)) / n * 1e6)
med = {k: statistics.median(v) for k, v in res.items()}
print(f"torch {torch.__version__}")
for k, v in med.items():
    print(f"{k:32s} {v:6.2f} us")
print(f"no-grad ratio {med['tse.sigmoid no grad']/med['torch.sigmoid no grad']:.2f}x  fwd+bwd ratio {med['fwd+bwd tse.sigmoid']/med['fwd+bwd torch.sigmoid']:.2f}x")
