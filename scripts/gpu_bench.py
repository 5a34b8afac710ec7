"""GPU benchmark: torch_sigmoid_ext against torch, side by side in one run, against the
device-to-device copy bandwidth measured in the same run as the roofline.

    python scripts/gpu_bench.py            # prints the table
    OUT=dir python scripts/gpu_bench.py    # also writes dir/gpu_bench.csv

Times are CUDA-event medians of several repetitions, each of many back-to-back launches, after a
warmup. Bytes counted: forward reads x and writes y; the backward op reads grad and y and writes
the result; forward+backward through autograd is the sum of the two.
"""

import csv
import os
import statistics
import sys

import torch

import torch_sigmoid_ext as tse

DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]
LOG2_SIZES = [16, 20, 24, 26, 28]
REPS = 7
TARGET_US_PER_REP = 2000.0
# Bytes moved per element, in units of the element size.
TRAFFIC = {"forward": 2, "backward": 3, "fwd+bwd": 5}


def time_us(fn, iters):
    """Median microseconds per call over REPS repetitions of iters calls."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPS):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000.0 / iters)
    return statistics.median(times)


def iterations_for(nbytes):
    # Enough calls per repetition that launch jitter and event resolution do not matter: an
    # estimate at 3 TB/s, floored at 5 us for small, launch-bound sizes.
    estimate_us = max(5.0, nbytes / 3e12 * 1e6)
    return int(min(500, max(5, TARGET_US_PER_REP / estimate_us)))


def bench_size(dtype, n):
    x = torch.randn(n, device="cuda").to(dtype)
    g = torch.randn(n, device="cuda").to(dtype)
    y = torch.sigmoid(x)
    elem = x.element_size()
    iters = iterations_for(2 * n * elem)

    dst = torch.empty_like(x)
    copy_us = time_us(lambda: dst.copy_(x), iters)
    copy_gbps = 2 * n * elem / copy_us / 1e3
    del dst

    xg = x.detach().clone().requires_grad_()
    sigmoid_backward = torch.ops.torch_sigmoid_ext.sigmoid_backward
    modes = {
        "forward": (lambda: tse.sigmoid(x), lambda: torch.sigmoid(x)),
        "backward": (lambda: sigmoid_backward(g, y), lambda: torch.ops.aten.sigmoid_backward(g, y)),
        "fwd+bwd": (
            lambda: torch.autograd.grad(tse.sigmoid(xg), xg, g),
            lambda: torch.autograd.grad(torch.sigmoid(xg), xg, g),
        ),
    }
    rows = []
    for mode, (ours, theirs) in modes.items():
        ours_us = time_us(ours, iters)
        torch_us = time_us(theirs, iters)
        ours_gbps = TRAFFIC[mode] * n * elem / ours_us / 1e3
        rows.append(
            {
                "dtype": str(dtype).replace("torch.", ""),
                "size": n,
                "mode": mode,
                "ours_us": round(ours_us, 2),
                "torch_us": round(torch_us, 2),
                "ours_gbps": round(ours_gbps, 1),
                "copy_gbps": round(copy_gbps, 1),
                "frac_copy": round(ours_gbps / copy_gbps, 3),
                "ratio": round(torch_us / ours_us, 3),
            }
        )
    return rows


def main():
    if not torch.cuda.is_available():
        sys.exit("gpu_bench: no CUDA device")
    machine = torch.cuda.get_device_name()
    versions = f"torch {torch.__version__}, CUDA {torch.version.cuda}, tse {tse.__version__}"
    print(f"{machine}; {versions}")
    header = (f"{'dtype':>9} {'size':>10} {'mode':>8} {'ours us':>10} {'torch us':>10} "
              f"{'ours GB/s':>10} {'of copy':>8} {'torch/ours':>10}")
    print(header)
    rows = []
    for dtype in DTYPES:
        for log2 in LOG2_SIZES:
            for row in bench_size(dtype, 2**log2):
                row["machine"] = machine
                row["versions"] = versions
                rows.append(row)
                print(f"{row['dtype']:>9} {'2^' + str(log2):>10} {row['mode']:>8} "
                      f"{row['ours_us']:>10.2f} {row['torch_us']:>10.2f} "
                      f"{row['ours_gbps']:>10.1f} {row['frac_copy']:>8.3f} {row['ratio']:>10.3f}",
                      flush=True)
            torch.cuda.empty_cache()
    out_dir = os.environ.get("OUT")
    if out_dir:
        path = os.path.join(out_dir, "gpu_bench.csv")
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
