"""The cost of an input that is not one dense block: a transposed column slice, x[:, :n].t(),
against the same values contiguous, for torch.sigmoid and torch_sigmoid_ext.sigmoid. Medians of
interleaved samples, float32, all threads.

    python scripts/non_dense.py
"""

import statistics
import timeit

import torch

import torch_sigmoid_ext as tse

print(f"torch {torch.__version__}, torch_sigmoid_ext build: torch {tse.build_info()['torch_version']}")
print(f"{'elements':>9}  {'layout':11}  {'torch us':>9}  {'tse us':>9}  {'tse/torch':>9}")
for log2 in (16, 20, 22):
    rows = 1 << (log2 // 2)
    cols = 1 << (log2 - log2 // 2)
    base = torch.randn(rows, 2 * cols)
    inputs = {"transposed slice": base[:, :cols].t(), "contiguous": base[:, :cols].t().contiguous()}
    for layout, x in inputs.items():
        assert torch.equal(tse.sigmoid(x), tse.sigmoid(x.contiguous()))
        samples = {"torch": [], "tse": []}
        number = max(1, (1 << 22) // x.numel() * 20)
        for _ in range(11):
            for name, fn in (("torch", torch.sigmoid), ("tse", tse.sigmoid)):
                samples[name].append(timeit.timeit(lambda: fn(x), number=number) / number * 1e6)
        t, s = statistics.median(samples["torch"]), statistics.median(samples["tse"])
        print(f"{x.numel():>9}  {layout:16}  {t:9.1f}  {s:9.1f}  {s / t:9.2f}")
