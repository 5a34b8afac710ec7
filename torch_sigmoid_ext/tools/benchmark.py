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

--per-call instead times the fixed cost of one call, where Python and the dispatcher, not the
kernel, take the time: 1024 float32 elements on one thread, each of our calls (PER_CALL_ROWS)
against torch's counterpart in interleaved rounds, with the ratio ours/torch each row should
stay within.
"""

import argparse
import copy
import csv
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, NamedTuple, Optional

import torch
import torch.utils.benchmark as tbench
from torch import nn

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


# --- Per call: the fixed cost of one call at a small size (--per-call) ----------------------

PER_CALL_SIZE = 1024  # float32 elements: small enough that the call, not the kernel, is timed


class _SqueezeExcitation(nn.Module):
    """Scales each channel by a sigmoid gate computed from the channel means."""

    def __init__(self, channels):
        super().__init__()
        self.squeeze = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels // 4, 1), nn.ReLU(),
            nn.Conv2d(channels // 4, channels, 1), nn.Sigmoid())

    def forward(self, features):
        return features * self.squeeze(features)


def se_cnn(classes=10):
    """A small CNN for 3x32x32 images: three blocks of conv (stride 2), BatchNorm, SiLU and a
    squeeze-excitation gate, then global pooling and a linear classifier."""
    blocks = []
    for in_channels, out_channels in ((3, 16), (16, 32), (32, 64)):
        blocks += [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
                   nn.BatchNorm2d(out_channels), nn.SiLU(), _SqueezeExcitation(out_channels)]
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


def _sigmoid_times_two_ours(x):
    return tse.sigmoid(x) * 2


def _sigmoid_times_two_torch(x):
    return torch.sigmoid(x) * 2


class PerCallInputs:
    """The tensors every per-call row uses: PER_CALL_SIZE float32 elements each."""

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(PER_CALL_SIZE, generator=generator)
        self.x_grad = self.x.clone().requires_grad_()  # a leaf that requires grad
        self.grad = torch.randn(PER_CALL_SIZE, generator=generator)
        self.y = torch.sigmoid(self.x)
        self.out = torch.empty_like(self.x)


def _functional(inputs):
    """The public function with grad mode on and an input that needs no gradient: the call a
    user writes, through our fast path that skips autograd."""
    x = inputs.x
    return lambda: tse.sigmoid(x), lambda: torch.sigmoid(x)


def _op(inputs):
    """The op through torch.ops against aten's, each as it dispatches in the row's grad mode:
    the cost of torch.ops and, with grad mode on, of our op's Python autograd kernel."""
    ours, theirs = torch.ops.torch_sigmoid_ext.sigmoid.default, torch.ops.aten.sigmoid.default
    x = inputs.x
    return lambda: ours(x), lambda: theirs(x)


def _backward_op(inputs):
    """sigmoid_backward(grad, y) through torch.ops against aten's, with nothing requiring a
    gradient."""
    ours = torch.ops.torch_sigmoid_ext.sigmoid_backward.default
    theirs = torch.ops.aten.sigmoid_backward.default
    grad, y = inputs.grad, inputs.y
    return lambda: ours(grad, y), lambda: theirs(grad, y)


def _below_autograd(inputs):
    """The op called below the autograd layer, as sigmoid(x) does without a gradient, against
    torch.sigmoid: the floor of the public function's fast path, before its checks."""
    op, x = torch.ops.torch_sigmoid_ext.sigmoid.default, inputs.x

    def ours():
        with torch._C._AutoDispatchBelowAutograd():
            return op(x)

    return ours, lambda: torch.sigmoid(x)


def _out_op(inputs):
    """The out= op through torch.ops against torch.sigmoid(x, out=o), on inference tensors under
    inference_mode: the floor of sigmoid(x, out=o), with no Python kernel and no version bump."""
    op = torch.ops.torch_sigmoid_ext.sigmoid.out
    with torch.inference_mode():
        x, out = inputs.x.clone(), inputs.out.clone()
    return lambda: op(x, out=out), lambda: torch.sigmoid(x, out=out)


def _out(inputs):
    """sigmoid(x, out=o) into a preallocated tensor of the right shape."""
    x, out = inputs.x, inputs.out
    return lambda: tse.sigmoid(x, out=out), lambda: torch.sigmoid(x, out=out)


def _in_place(inputs):
    """sigmoid_ on a fresh copy of x: both sides pay the same x.clone()."""
    x = inputs.x
    return lambda: tse.sigmoid_(x.clone()), lambda: torch.sigmoid_(x.clone())


def _forward_backward(inputs):
    """y = sigmoid(x); y.backward(grad), x a leaf that requires grad: the autograd Function
    against torch's C++ autograd node, the engine's cost on both sides."""
    x, grad = inputs.x_grad, inputs.grad
    return (lambda: tse.sigmoid(x).backward(grad),
            lambda: torch.sigmoid(x).backward(grad))


def _compiled(inputs):
    """torch.compile(lambda x: sigmoid(x) * 2, fullgraph=True), compiled before timing: what is
    left once Dynamo and Inductor have removed the Python layer."""
    x = inputs.x
    ours = torch.compile(_sigmoid_times_two_ours, fullgraph=True)
    theirs = torch.compile(_sigmoid_times_two_torch, fullgraph=True)
    return lambda: ours(x), lambda: theirs(x)


def _compiled_forward_backward(inputs):
    """The compiled sigmoid(x) * 2 forward and its backward(grad), x requiring grad."""
    x, grad = inputs.x_grad, inputs.grad
    ours = torch.compile(_sigmoid_times_two_ours, fullgraph=True)
    theirs = torch.compile(_sigmoid_times_two_torch, fullgraph=True)
    return lambda: ours(x).backward(grad), lambda: theirs(x).backward(grad)


def _training_step(inputs):
    """One SGD training step (zero_grad, forward, cross-entropy, backward, step) of se_cnn() on
    a batch of 16 3x32x32 images; ours is a deep copy with the same initial weights, after
    replace_sigmoid. The share of the step that is sigmoid is small: this row shows whether
    a real model notices the per-call cost."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(16, 3, 32, 32, generator=generator)
    labels = torch.randint(0, 10, (16,), generator=generator)
    torch.manual_seed(0)
    model = se_cnn()
    ours = tse.replace_sigmoid(copy.deepcopy(model))

    def step(net, optimizer):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(images), labels)
        loss.backward()
        optimizer.step()

    ours_optimizer = torch.optim.SGD(ours.parameters(), lr=0.01)
    torch_optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    return lambda: step(ours, ours_optimizer), lambda: step(model, torch_optimizer)


class PerCallRow(NamedTuple):
    call: str  # what is timed, in the table
    # PerCallInputs -> (ours, torch), two zero-argument callables; its docstring says what the
    # row measures
    pair: Callable
    bound: Optional[float]  # the most ours/torch should take; None: no bound, for information
    context: Callable = torch.enable_grad  # entered around every timed loop of the row
    compiled: bool = False  # uses torch.compile: skipped by --no-compile, may fail
    time_scale: float = 1.0  # times --min-time for each timing, and --rounds divided by it


PER_CALL_ROWS = (
    PerCallRow("sigmoid(x)", _functional, 1.6),
    PerCallRow("op(x), no_grad", _op, 1.2, torch.no_grad),
    PerCallRow("op(x), grad mode", _op, 2.0),
    PerCallRow("op_backward(g, y), no_grad", _backward_op, 1.2, torch.no_grad),
    PerCallRow("op_backward(g, y), grad mode", _backward_op, 2.0),
    PerCallRow("sigmoid(x, out=o)", _out, 1.8),
    PerCallRow("sigmoid_(x.clone())", _in_place, 1.5),
    PerCallRow("sigmoid(xg).backward(g)", _forward_backward, 1.8),
    PerCallRow("op(x), inference_mode", _op, None, torch.inference_mode),
    PerCallRow("op(x) below autograd vs sigmoid", _below_autograd, None),
    PerCallRow("op.out(x, out=o), inference_mode", _out_op, None, torch.inference_mode),
    PerCallRow("compiled sigmoid(x)*2, no_grad", _compiled, 1.3, torch.no_grad, compiled=True),
    PerCallRow("compiled fwd+bwd", _compiled_forward_backward, 1.25, compiled=True),
    PerCallRow("SE-CNN training step", _training_step, 1.01, time_scale=5.0),
)


def measure_per_call(ours, theirs, context, rounds, min_time):
    """Seconds per call of ours and of theirs, one value per round: the best of 3 timings of
    about min_time each. Each round times both back to back, in alternating order, with context
    entered around each timed loop (not each call); the first calls (a compile) come before."""
    with context():
        timers = [_time(fn, torch.device("cpu"), min_time) for fn in (ours, theirs)]
    times = ([], [])
    for index in range(rounds):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for side in order:
            timer, number = timers[side]
            with context():
                times[side].append(min(timer.timeit(number).mean for _ in range(3)))
    return times


def _cpu_flags():
    """avx512f where the CPU has it, else avx2, from /proc/cpuinfo; "unknown" elsewhere."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo
                          if line.startswith("flags")), [])
    except OSError:
        return "unknown"
    if "avx512f" in flags:
        return "avx512f"
    return "avx2 (no avx512f)" if "avx2" in flags else "neither avx2 nor avx512f"


def run_per_call(args):
    """One row per PER_CALL_ROWS entry: times, the median ratio ours/torch and its range over
    the rounds, the bound and whether it is met; a row whose setup or compile fails says why."""
    meta = dict(machine=_machine(), cpu_flags=_cpu_flags(), torch=torch.__version__,
                package=tse.__version__, commit=_commit(),
                variant=tse.build_info()["cpu_variant"], size=PER_CALL_SIZE, threads=1)
    rows = []
    original_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    inputs = PerCallInputs()
    skip_compiled = not args.compile
    bar = _cli.progress(sum(not (skip_compiled and row.compiled) for row in PER_CALL_ROWS), "per call")
    try:
        for number, row in enumerate(PER_CALL_ROWS, 1):
            if skip_compiled and row.compiled:
                continue
            bar.set_postfix_str(row.call)
            # Every row has every column, so that the CSV has one header for all.
            result = dict(meta, row=number, call=row.call, bound=row.bound, rounds="",
                          torch_us="", ours_us="", ratio="", ratio_min="", ratio_max="",
                          met="", failed="")
            try:
                ours, theirs = row.pair(inputs)
                rounds = max(1, round(args.rounds / row.time_scale))
                ours_times, torch_times = measure_per_call(
                    ours, theirs, row.context, rounds, args.min_time * row.time_scale)
            except Exception as error:  # a failed compile is reported, not raised
                if not row.compiled:
                    raise
                reason = f"{type(error).__name__}: {str(error).strip()}".splitlines()[0]
                rows.append(dict(result, failed=reason))
                bar.update()
                continue
            ratios = [ours_time / torch_time
                      for ours_time, torch_time in zip(ours_times, torch_times)]
            ratio = statistics.median(ratios)
            rows.append(dict(
                result, rounds=rounds,
                torch_us=statistics.median(torch_times) * 1e6,
                ours_us=statistics.median(ours_times) * 1e6,
                ratio=ratio, ratio_min=min(ratios), ratio_max=max(ratios),
                met="" if row.bound is None else ratio <= row.bound))
            bar.update()
    finally:
        bar.close()
        torch.set_num_threads(original_threads)
    return rows


PER_CALL_COLUMNS = (
    _cli.Column("#", "the row's number"),
    _cli.Column("call", "what is timed, ours against torch's counterpart (the docstrings in "
                "benchmark.py say exactly); op is torch.ops.torch_sigmoid_ext.sigmoid against "
                "torch.ops.aten.sigmoid", align="<"),
    _cli.Column("torch us", "torch's median time per call over the rounds, in microseconds",
                "{:.2f}"),
    _cli.Column("ours us", "our median time per call over the rounds, in microseconds",
                "{:.2f}"),
    _cli.Column("ours/torch", "the median over the rounds of our time over torch's, each round "
                "timing both back to back (below 1: ours is faster)", "{:.3f}"),
    _cli.Column("range", "the lowest and highest of the rounds' ratios"),
    _cli.Column("bound", "the most ours/torch should be; - where none is set", "{:.2f}"),
    _cli.Column("met", "whether ours/torch is within the bound", align="<"),
)


def print_per_call(rows):
    cells = []
    for row in rows:
        bound = "-" if row["bound"] is None else row["bound"]
        if row["failed"]:
            cells.append((str(row["row"]), row["call"], "-", "-", "-", "-", bound, "failed"))
            continue
        met = "-" if row["met"] == "" else ("yes" if row["met"] else "no")
        cells.append((str(row["row"]), row["call"], row["torch_us"], row["ours_us"], row["ratio"],
                      f"{row['ratio_min']:.3f}-{row['ratio_max']:.3f}", bound, met))
    print(_cli.table(PER_CALL_COLUMNS, cells))
    for row in rows:
        if row["failed"]:
            print(f"row {row['row']} failed: {row['failed']}")


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
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds per sample (default: 0.02; with --per-call, seconds per timing "
                   "of one side, the best of 3 taken: 0.01)")
    p.add_argument("--quick", action="store_true",
                   help="float32 and bfloat16 at 2^10, 2^16, 2^20, all threads: under a minute")
    p.add_argument("--per-call", action="store_true",
                   help=f"instead of the grid, the fixed cost per call: {PER_CALL_SIZE} float32 "
                   "elements, one thread, each call against torch's counterpart in interleaved "
                   "rounds, with the ratio's bound (CPU only; a minute or two)")
    p.add_argument("--rounds", type=int, default=15,
                   help="with --per-call: interleaved rounds per row (default: %(default)s)")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="with --per-call: skip the torch.compile rows")
    p.add_argument("--csv", default=None,
                   help="where to write the rows (default: benchmark.csv; with --per-call, none)")
    p.add_argument("--plot", default="benchmark.png")
    args = p.parse_args(argv)
    if _cli.parse_device(p.prog, args.device) is None:
        return 2
    if args.per_call:
        if args.device != "cpu":
            p.error("--per-call measures the CPU only; leave out --device")
        args.min_time = 0.01 if args.min_time is None else args.min_time
        return main_per_call(args)
    args.min_time = 0.02 if args.min_time is None else args.min_time
    args.csv = args.csv or "benchmark.csv"
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


def main_per_call(args):
    print(f"torch {torch.__version__}, torch_sigmoid_ext {tse.__version__} "
          f"({tse.build_info()['cpu_variant']} kernels), {_machine()}, "
          f"CPU flags: {_cpu_flags()}")
    print(f"{PER_CALL_SIZE} float32 elements, 1 thread, {args.rounds} rounds, "
          f"best of 3 timings of ~{args.min_time * 1e3:g} ms per side and round")
    rows = run_per_call(args)
    print_per_call(rows)
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
