"""python -m torch_sigmoid_ext.benchmark: our ops against torch.sigmoid, side by side.

Both are timed in one process with torch.utils.benchmark, interleaved (ours, torch, ours, ...)
so that drift on a shared machine hits both alike. Where the data fits in cache, each call
takes the next of several input buffers, so neither side is timed on data a previous call left
hot. Beside each pair, interleaved with it on the same buffers, a plain torch op with the same
reads, writes and allocations (a copy for the forward) is timed as the memory roofline: torch's
time over its time, the "bound" column, is about the most speedup any kernel can show there
without streaming stores or huge pages. A speedup the samples cannot pin down (see speedup())
is printed as "noisy", not as a figure.

Results: a table on stdout, one CSV row per measurement (with the machine, torch version,
package version and commit beside it), and a PNG plot when matplotlib is installed.
"""

import argparse
import csv
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.utils.benchmark as tbench

import torch_sigmoid_ext as tse
from torch_sigmoid_ext.autograd import sigmoid_vjp

from . import _cli

MODES = ("forward", "forward_out", "backward", "fwd_bwd")
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
# Bytes moved per element, in units of the element size: reads plus writes.
TRAFFIC = {"forward": 2, "forward_out": 2, "backward": 3, "fwd_bwd": 5}
# The memory roofline of each mode: plain torch ops with the same reads, writes and
# allocations and no floating-point arithmetic (an add or a multiply converts 16-bit values
# to float and back, and then is no roofline: torch.add is slower than torch's
# sigmoid_backward in bfloat16). "or" is torch.bitwise_or on same-sized integer views.
# The forward+backward roof leaves out the autograd engine, which both libraries pay.
ROOF = {
    "forward": "x.clone()",
    "forward_out": "out.copy_(x)",
    "backward": "grad or y",
    "fwd_bwd": "y = x.clone(); grad or y",
}
_BITS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
CACHE_BYTES = 64 << 20  # rotate buffers until the working set is past the last-level cache
# Where a speedup is too noisy to print (see speedup()).
NOISY_SPREAD = 0.25
NOISY_SLOWDOWN = 1.5
NOISY_CPU_WAIT = 0.2


def _machine():
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cpus"


def _commit():
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _buffers(mode, dtype, size):
    """How many buffers to rotate among, so that the data a call touches is not cache-hot."""
    return max(1, min(16, CACHE_BYTES // max(1, size * dtype.itemsize * TRAFFIC[mode])))


def callables(mode, dtype, size, device):
    """(ours, torch, roof): zero-argument callables for one measurement, rotating buffers.

    roof is the mode's memory roofline (ROOF names it): a plain torch op with the same reads,
    writes and allocations on the same buffers in the same order, and next to no arithmetic.
    torch's time over roof's is about the most speedup a kernel can show that reads and writes
    memory the ordinary way; streaming stores or huge pages can beat it.
    """
    nbuf = _buffers(mode, dtype, size)
    gen = torch.Generator().manual_seed(size)
    xs = [(torch.randn(size, generator=gen) * 4).to(dtype).to(device) for _ in range(nbuf)]

    def rotate(f, *lists):
        # One call per buffer in turn, with one Python call between the timer and f.
        args = itertools.cycle(list(zip(*lists)))
        return lambda: f(*next(args))

    if mode == "forward":
        return tuple(rotate(f, xs) for f in (tse.sigmoid, torch.sigmoid, torch.clone))
    if mode == "forward_out":
        outs = [torch.empty_like(x) for x in xs]
        return (rotate(lambda x, o: tse.sigmoid(x, out=o), xs, outs),
                rotate(lambda x, o: torch.sigmoid(x, out=o), xs, outs),
                rotate(lambda x, o: o.copy_(x), xs, outs))
    bits = lambda ts: [t.detach().view(_BITS[dtype.itemsize]) for t in ts]  # noqa: E731
    if mode == "backward":
        ys = [torch.sigmoid(x) for x in xs]
        gs = [torch.randn(size, generator=gen).to(dtype).to(device) for _ in range(nbuf)]
        # Ours as autograd's backward runs it: the op below the autograd layer. (Called
        # directly through torch.ops it also pays its Python autograd kernel; see the README.)
        return (rotate(sigmoid_vjp, gs, ys),
                rotate(torch.ops.aten.sigmoid_backward, gs, ys),
                # through torch.ops, as both backward ops are: that costs ~1.2 us more per call
                # than a direct binding such as torch.bitwise_or
                rotate(torch.ops.aten.bitwise_or.Tensor, bits(gs), bits(ys)))
    # fwd_bwd: forward and backward through autograd.
    leaves = [x.clone().requires_grad_() for x in xs]
    grads = [torch.ones_like(x) for x in xs]
    return (*(rotate(lambda x, g, f=f: torch.autograd.grad(f(x), x, g), leaves, grads)
              for f in (tse.sigmoid, torch.sigmoid)),
            rotate(lambda x, g: torch.bitwise_or(g, x.clone()), bits(leaves), bits(grads)))


def _time(fn, device, min_time):
    # Timer runs with num_threads=1 unless told otherwise: pass the count the caller set.
    timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    # A first call, then enough repeats per sample to last about min_time.
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(min_time / once))
    return timer, number


def _cpu_wait():
    """Seconds this process's threads have spent runnable but waiting for a CPU, from Linux's
    schedstat; None where the system does not say."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    total = 0
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except OSError:  # the thread has exited
            continue
        except (IndexError, ValueError):
            return None
    return total * 1e-9


def measure(fns, device, samples, min_time):
    """Seconds per call of each of fns, `samples` samples each, interleaved; and the share of
    that time this process's threads spent waiting for a CPU (None where unknown)."""
    timers = [_time(fn, device, min_time) for fn in fns]
    times = [[] for _ in fns]
    before, start = _cpu_wait(), time.perf_counter()
    for _ in range(samples):
        for (timer, number), t in zip(timers, times):
            t.append(timer.timeit(number).mean)
    after, elapsed = _cpu_wait(), time.perf_counter() - start
    if before is None or after is None:
        return times, None
    return times, (after - before) / (elapsed * torch.get_num_threads())


def _spread(values):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return (q[2] - q[0]) / statistics.median(values)


def speedup(baseline, ours, cpu_wait=None):
    """(median, spread, noisy) of baseline's time over ours, sample by sample.

    measure() times the two back to back in each sample, so a ratio per sample cancels most of
    the drift of a shared machine; spread is the ratios' interquartile range over their median.
    noisy: the samples disagree (spread above NOISY_SPREAD), or the machine was busy: either
    side's median time is above NOISY_SLOWDOWN times its fastest sample, or cpu_wait (from
    measure()) is above NOISY_CPU_WAIT. A machine busy for most samples makes both sides wait
    for the scheduler alike, and their ratios then agree on a meaningless 1.00x.
    """
    ratios = [b / o for b, o in zip(baseline, ours)]
    spread = _spread(ratios)
    slowdown = max(statistics.median(t) / min(t) for t in (baseline, ours))
    busy = slowdown > NOISY_SLOWDOWN or (cpu_wait or 0.0) > NOISY_CPU_WAIT
    return statistics.median(ratios), spread, spread > NOISY_SPREAD or busy


def format_speedup(ratio, noisy):
    return "noisy" if noisy else f"{ratio:.2f}x"


def run(args):
    device = torch.device(args.device)
    dtypes = [DTYPES[d] for d in args.dtypes]
    sizes = [1 << s for s in args.sizes]
    threads = sorted(set(args.threads)) if device.type == "cpu" else [0]
    grid = list(itertools.product(threads, dtypes, sizes, args.modes))
    meta = dict(machine=_machine(), torch=torch.__version__, package=tse.__version__,
                commit=_commit(), variant=tse.build_info()["cpu_variant"], device=str(device))
    rows = []
    original_threads = torch.get_num_threads()
    bar = _cli.progress(len(grid), "benchmark")
    try:
        for nthreads, dtype, size, mode in grid:
            if nthreads:
                torch.set_num_threads(nthreads)
            name = str(dtype).replace("torch.", "")
            bar.set_postfix_str(f"{name} 2^{size.bit_length() - 1} {mode} t={nthreads}")
            (ours, theirs, roof), cpu_wait = measure(callables(mode, dtype, size, device),
                                                     device, args.samples, args.min_time)
            bar.update()
            t_ours, t_theirs, t_roof = (statistics.median(t) for t in (ours, theirs, roof))
            ratio, ratio_spread, noisy = speedup(theirs, ours, cpu_wait)
            bound, _, bound_noisy = speedup(theirs, roof, cpu_wait)
            # The mean per call as well: the median shows the typical call, the mean the
            # throughput a loop gets, rare slow calls (page faults, stalls) included.
            m_ours, m_theirs = statistics.mean(ours), statistics.mean(theirs)
            moved = TRAFFIC[mode] * size * dtype.itemsize
            rows.append(dict(
                meta, threads=nthreads or "", dtype=name, size=size, mode=mode,
                ours_us=t_ours * 1e6, torch_us=t_theirs * 1e6,
                ours_spread=_spread(ours), torch_spread=_spread(theirs),
                ours_ns_per_elem=t_ours / size * 1e9, torch_ns_per_elem=t_theirs / size * 1e9,
                ours_gbs=moved / t_ours / 1e9, torch_gbs=moved / t_theirs / 1e9,
                speedup=ratio,
                roof_us=t_roof * 1e6, roof_gbs=moved / t_roof / 1e9,
                bound=bound,
                ours_mean_us=m_ours * 1e6, torch_mean_us=m_theirs * 1e6,
                mean_speedup=m_theirs / m_ours,
                speedup_spread=ratio_spread, speedup_noisy=noisy, bound_noisy=bound_noisy,
                cpu_wait="" if cpu_wait is None else cpu_wait,
            ))
    finally:
        bar.close()
        torch.set_num_threads(original_threads)
    return rows


# The table's columns, by name; compare prints some of them too.
COLUMNS = {c.name: c for c in (
    _cli.Column("thr", "CPU threads (torch.set_num_threads); - on a GPU"),
    _cli.Column("dtype", "the dtype of input and output", align="<"),
    _cli.Column("size", "elements per call"),
    _cli.Column("mode", "forward: sigmoid(x); forward_out: sigmoid(x, out=y); backward: "
                "sigmoid_backward(grad, y); fwd_bwd: both, through autograd", align="<"),
    _cli.Column("ours us", "our median time per call, in microseconds", "{:.2f}"),
    _cli.Column("torch us", "torch's median time per call, in microseconds", "{:.2f}"),
    _cli.Column("ns/el", "our time per element, in nanoseconds", "{:.3f}"),
    _cli.Column("GB/s", "the bytes our call reads and writes, per second", "{:.1f}"),
    _cli.Column("roof", "GB/s of a plain memory op with the same reads, writes and "
                "allocations, on the same buffers (" +
                "; ".join(f"{m}: {op}" for m, op in ROOF.items()) + ")", "{:.1f}"),
    _cli.Column("spread", "how much the samples' speedups disagree: their interquartile range "
                "over their median", "{:.0%}"),
    _cli.Column("speedup", "torch's time over ours (above 1x: ours is faster), the median over "
                "the samples, each of which times both back to back. \"noisy\" instead where "
                f"the samples disagree (spread above {NOISY_SPREAD:.0%}) or the machine was "
                f"busy: either side's median time over {NOISY_SLOWDOWN:g} times its fastest "
                f"sample, or this process's threads waiting for a CPU over "
                f"{NOISY_CPU_WAIT:.0%} of the time (Linux). Rerun on a quieter machine, or "
                "with more --samples"),
    _cli.Column("bound", "torch's time over roof's: about the most speedup a kernel with "
                "ordinary loads and stores can show here; \"noisy\" by the same rule as speedup"),
    _cli.Column("mean", "the speedup from the mean time per call, rare slow calls included",
                "{:.2f}x"),
)}


def print_table(rows):
    print(_cli.table(COLUMNS.values(), [
        (str(r["threads"] or "-"), r["dtype"], f"2^{r['size'].bit_length() - 1}", r["mode"],
         r["ours_us"], r["torch_us"], r["ours_ns_per_elem"], r["ours_gbs"], r["roof_gbs"],
         r["speedup_spread"], format_speedup(r["speedup"], r["speedup_noisy"]),
         format_speedup(r["bound"], r["bound_noisy"]), r["mean_speedup"])
        for r in rows
    ]))


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no plot; pip install matplotlib)", file=sys.stderr)
        return False
    threads = max((r["threads"] or 0) for r in rows)
    picked = [r for r in rows if (r["threads"] or 0) == threads]
    modes = [m for m in MODES if any(r["mode"] == m for r in picked)]
    fig, axes = plt.subplots(2, len(modes), figsize=(4.2 * len(modes), 7), squeeze=False)
    for col, mode in enumerate(modes):
        for dtype in dict.fromkeys(r["dtype"] for r in picked):
            sel = [r for r in picked if r["mode"] == mode and r["dtype"] == dtype]
            if not sel:
                continue
            sizes = [r["size"] for r in sel]
            axes[0][col].plot(sizes, [r["speedup"] for r in sel], marker="o", label=dtype)
            axes[1][col].plot(sizes, [r["ours_gbs"] for r in sel], marker="o", label=dtype)
        roof = [r for r in picked if r["mode"] == mode and r["dtype"] == "float32"]
        if roof:
            sizes = [r["size"] for r in roof]
            axes[0][col].plot(sizes, [r["bound"] for r in roof], "k--", label="bound (float32)")
            axes[1][col].plot(sizes, [r["roof_gbs"] for r in roof], "k--",
                              label=f"{ROOF[mode]} (float32)")
        axes[0][col].axhline(1.0, color="gray", lw=0.8)
        axes[0][col].set_title(mode)
        for row in (0, 1):
            axes[row][col].set_xscale("log", base=2)
            axes[row][col].set_xlabel("elements")
        axes[0][col].set_ylabel("speedup vs torch.sigmoid")
        axes[1][col].set_ylabel("GB/s (ours)")
    axes[0][0].legend()
    for ax in axes[1]:
        ax.legend(fontsize=7)
    fig.suptitle(f"torch_sigmoid_ext vs torch.sigmoid, {picked[0]['device']}, "
                 f"{threads or ''} threads, {picked[0]['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m torch_sigmoid_ext.benchmark",
                                description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu", help="cpu (the default) or cuda")
    p.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    p.add_argument("--sizes", nargs="+", type=int, default=list(range(10, 27, 2)),
                   help="log2 of the element counts (default: 10 12 ... 26)")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--threads", nargs="+", type=int, default=[1, torch.get_num_threads()],
                   help="CPU thread counts (default: 1 and all)")
    p.add_argument("--samples", type=int, default=7, help="interleaved samples per measurement")
    p.add_argument("--min-time", type=float, default=0.02, help="seconds per sample")
    p.add_argument("--quick", action="store_true",
                   help="float32 and bfloat16 at 2^10, 2^16, 2^20, all threads: under a minute")
    p.add_argument("--csv", default="benchmark.csv")
    p.add_argument("--plot", default="benchmark.png")
    args = p.parse_args(argv)
    if _cli.parse_device(p.prog, args.device) is None:
        return 2
    if args.quick:
        args.dtypes, args.sizes = ["float32", "bfloat16"], [10, 16, 20]
        args.threads, args.samples, args.min_time = [torch.get_num_threads()], 5, 0.01
    rows = run(args)
    print_table(rows)
    write_csv(rows, args.csv)
    print(f"wrote {args.csv}")
    if args.plot and write_plot(rows, args.plot):
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
