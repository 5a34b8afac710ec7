"""python -m torch_sigmoid_ext benchmark: our ops against torch.sigmoid, side by side in one
process. The default is the grid of dtypes, sizes, modes and thread counts, on the CPU or
(--device cuda) on a GPU; --per-call times the fixed cost of each way of calling the op;
--non-dense times a transposed column slice against the same values contiguous.

Every figure comes from the tools' one timing harness (timing.py): ours, torch and, where the
mode has one, a roofline, timed in interleaved samples, the ratio taken sample by sample, and
a ratio the samples cannot pin down printed as "noisy", not as a figure. Where the data fits in
cache, each call takes the next of several input buffers, so neither side is timed on data a
previous call left hot.

The grid's roofline, timed beside each pair on the same buffers: on the CPU a plain torch op
with the same reads, writes and allocations (a copy for the forward), so that torch's time over
its time, the "bound" column, is about the most speedup any kernel can show there without
streaming stores or huge pages; on a GPU the device-to-device copy, its time scaled to the
bytes the mode moves.

Results: a table on stdout, one CSV row per measurement (with the machine, CPU flags, torch
version, package version, commit, CPU variant and rounding mode beside it), and for the grid a
PNG plot when matplotlib is installed.
"""

import copy
import csv
import itertools
import os
import platform
import statistics
import subprocess
import sys
from typing import Callable, NamedTuple, Optional

import torch
from torch import nn

import torch_sigmoid_ext as tse
from torch_sigmoid_ext.autograd import sigmoid_vjp

from . import _cli, timing

PROG = f"{_cli.PROG} benchmark"
MODES = ("forward", "forward_out", "backward", "fwd_bwd")
# Bytes moved per element, in units of the element size: reads plus writes.
TRAFFIC = {"forward": 2, "forward_out": 2, "backward": 3, "fwd_bwd": 5}
# The CPU memory roofline of each mode: plain torch ops with the same reads, writes and
# allocations and no floating-point arithmetic (an add or a multiply converts 16-bit values
# to float and back: arithmetic of its own, which a roofline must not time). "or" is
# torch.bitwise_or on same-sized integer views.
# The forward+backward roof leaves out the autograd engine, which both libraries pay.
ROOF = {
    "forward": "x.clone()",
    "forward_out": "out.copy_(x)",
    "backward": "grad or y",
    "fwd_bwd": "y = x.clone(); grad or y",
}
# On a GPU every mode's roof is one device-to-device copy, which reads and writes each element
# once; its time is scaled by the mode's traffic over the copy's.
CUDA_ROOF = "out.copy_(x)"
CUDA_ROOF_TRAFFIC = 2
_BITS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
CACHE_BYTES = 64 << 20  # rotate buffers until the working set is past the last-level cache
MAX_BUFFERS = 16

# The defaults of each mode, where --quick or the mode changes them; explicit options win.
GRID_SIZES = {"cpu": list(range(10, 27, 2)), "cuda": [16, 20, 24, 26, 28]}
QUICK = dict(dtypes=["float32", "bfloat16"], sizes=[10, 16, 20], samples=5, min_time=0.01)
NON_DENSE = dict(dtypes=["float32"], sizes=[16, 20, 22], samples=11)
SAMPLES = 7
MIN_TIME = 0.02
PER_CALL_MIN_TIME = 0.01
PER_CALL_ROUNDS = 15
PER_CALL_BEST_OF = 3


def _machine(device):
    """The CPU's model name and count, and the GPU's name where device is one."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    machine = f"{name}, {os.cpu_count()} cpus"
    if device.type == "cuda":
        machine += f", {torch.cuda.get_device_name(device)}"
    return machine


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


def _commit():
    """The short commit of the source tree this package runs from, or "unknown"."""
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(tse.__file__)))
        out = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_columns(device):
    """What every CSV row carries, so that a row read alone says where it was measured."""
    return dict(machine=_machine(device), cpu_flags=_cpu_flags(), torch=torch.__version__,
                package=tse.__version__, commit=_commit(),
                variant=tse.build_info()["cpu_variant"], rounding=tse.get_rounding(),
                device=str(device))


def buffer_count(mode, dtype, size):
    """How many buffers to rotate among, so that the data a call touches is not cache-hot."""
    return max(1, min(MAX_BUFFERS, CACHE_BYTES // max(1, size * dtype.itemsize * TRAFFIC[mode])))


def grid_bytes(mode, dtype, size):
    """About the most memory one grid measurement holds: per rotated buffer its inputs and
    outputs (TRAFFIC) and two more for results alive between calls and the roof's output, and
    the float32 draw the inputs come from."""
    return buffer_count(mode, dtype, size) * size * dtype.itemsize * (TRAFFIC[mode] + 2) + size * 4


def non_dense_bytes(dtype, size):
    """The same for --non-dense: per buffer a base twice the size, its contiguous slice, and
    the two results alive between calls; and the draw."""
    return buffer_count("forward", dtype, size) * size * dtype.itemsize * 5 + size * 8


def _random(size, dtype, device, generator, scale=1.0):
    return (torch.randn(size, generator=generator, device=device) * scale).to(dtype)


def _rotate(fn, *lists):
    """A zero-argument callable calling fn on each buffer in turn, with one Python call between
    the timer and fn."""
    arguments = itertools.cycle(list(zip(*lists)))
    return lambda: fn(*next(arguments))


def callables(mode, dtype, size, device):
    """(ours, torch, roof): zero-argument callables for one measurement, rotating buffers.

    roof is the mode's memory roofline (ROOF, or CUDA_ROOF on a GPU): on the CPU a plain torch
    op with the same reads, writes and allocations on the same buffers in the same order, and
    next to no arithmetic; on a GPU a device-to-device copy of the same inputs.
    """
    count = buffer_count(mode, dtype, size)
    generator = torch.Generator(device=device).manual_seed(size)
    xs = [_random(size, dtype, device, generator, 4.0) for _ in range(count)]
    cuda_roof = None
    if device.type == "cuda":
        copies = [torch.empty_like(x) for x in xs]
        cuda_roof = _rotate(lambda x, out: out.copy_(x), xs, copies)

    if mode == "forward":
        ours, theirs, roof = (_rotate(fn, xs) for fn in (tse.sigmoid, torch.sigmoid, torch.clone))
        return ours, theirs, cuda_roof or roof
    if mode == "forward_out":
        outs = [torch.empty_like(x) for x in xs]
        return (_rotate(lambda x, out: tse.sigmoid(x, out=out), xs, outs),
                _rotate(lambda x, out: torch.sigmoid(x, out=out), xs, outs),
                cuda_roof or _rotate(lambda x, out: out.copy_(x), xs, outs))

    def bits(tensors):
        return [tensor.detach().view(_BITS[dtype.itemsize]) for tensor in tensors]

    if mode == "backward":
        ys = [torch.sigmoid(x) for x in xs]
        grads = [_random(size, dtype, device, generator) for _ in range(count)]
        # Ours as autograd's backward runs it: the op below the autograd layer. (Called
        # directly through torch.ops it also pays its Python autograd kernel: docs/speed.md,
        # Per call.)
        return (_rotate(sigmoid_vjp, grads, ys),
                _rotate(torch.ops.aten.sigmoid_backward, grads, ys),
                # through torch.ops, as both backward ops are, which costs more per call than
                # a direct binding such as torch.bitwise_or
                cuda_roof or _rotate(torch.ops.aten.bitwise_or.Tensor, bits(grads), bits(ys)))
    # fwd_bwd: forward and backward through autograd.
    leaves = [x.clone().requires_grad_() for x in xs]
    grads = [torch.ones_like(x) for x in xs]

    def through_autograd(fn):
        return _rotate(lambda x, grad: torch.autograd.grad(fn(x), x, grad), leaves, grads)

    return (through_autograd(tse.sigmoid), through_autograd(torch.sigmoid),
            cuda_roof or _rotate(lambda x, grad: torch.bitwise_or(grad, x.clone()),
                                 bits(leaves), bits(grads)))


def roof_traffic(mode, device):
    """Bytes per element, in element sizes, that the roof of mode moves on device."""
    return CUDA_ROOF_TRAFFIC if device.type == "cuda" else TRAFFIC[mode]


def _size_label(size):
    return f"2^{size.bit_length() - 1}"


def run_grid(args, device):
    threads = sorted(set(args.threads)) if device.type == "cpu" else [0]
    dtypes = [_cli.DTYPES[name] for name in args.dtypes]
    grid = list(itertools.product(threads, dtypes, [1 << s for s in args.sizes], args.modes))
    meta = machine_columns(device)
    rows = []
    original_threads = torch.get_num_threads()
    bar = _cli.progress(len(grid), "benchmark")
    try:
        for thread_count, dtype, size, mode in grid:
            if thread_count:
                torch.set_num_threads(thread_count)
            name = _cli.dtype_name(dtype)
            bar.set_postfix_str(f"{name} {_size_label(size)} {mode} t={thread_count}")
            (ours, theirs, roof), wait = timing.measure(callables(mode, dtype, size, device),
                                                        device, args.samples, args.min_time)
            bar.update()
            ours_median, torch_median, roof_median = (statistics.median(times)
                                                      for times in (ours, theirs, roof))
            speedup = timing.speedup(theirs, ours, wait)
            # The roof's time for the bytes the mode moves, where it moves fewer.
            scale = TRAFFIC[mode] / roof_traffic(mode, device)
            bound = timing.speedup(theirs, [time * scale for time in roof], wait)
            # The mean per call as well: the median shows the typical call, the mean the
            # throughput a loop gets, rare slow calls (page faults, stalls) included.
            ours_mean, torch_mean = statistics.mean(ours), statistics.mean(theirs)
            moved = TRAFFIC[mode] * size * dtype.itemsize
            roof_moved = roof_traffic(mode, device) * size * dtype.itemsize
            rows.append(dict(
                meta, threads=thread_count or "", dtype=name, size=size, mode=mode,
                ours_us=ours_median * 1e6, torch_us=torch_median * 1e6,
                ours_spread=timing.spread(ours), torch_spread=timing.spread(theirs),
                ours_ns_per_elem=ours_median / size * 1e9,
                torch_ns_per_elem=torch_median / size * 1e9,
                ours_gbs=moved / ours_median / 1e9, torch_gbs=moved / torch_median / 1e9,
                speedup=speedup.value,
                roof_us=roof_median * 1e6, roof_gbs=roof_moved / roof_median / 1e9,
                bound=bound.value,
                ours_mean_us=ours_mean * 1e6, torch_mean_us=torch_mean * 1e6,
                mean_speedup=torch_mean / ours_mean,
                speedup_spread=speedup.spread, speedup_noisy=speedup.noisy,
                bound_noisy=bound.noisy, cpu_wait="" if wait is None else wait,
            ))
    finally:
        bar.close()
        torch.set_num_threads(original_threads)
    return rows


def _speedup_meaning():
    return ("torch's time over ours (above 1x: ours is faster), the median over the samples, "
            "each of which times both back to back. \"noisy\" instead where " +
            timing.NOISY_RULE + ". Rerun on a quieter machine, or with more --samples")


def grid_columns(device_type="cpu"):
    """The grid table's columns, by name (compare prints some of them too)."""
    if device_type == "cuda":
        roof = (f"GB/s of a device-to-device copy ({CUDA_ROOF}) of the same inputs, timed "
                "beside ours and torch's")
    else:
        roof = ("GB/s of a plain memory op with the same reads, writes and allocations, on the "
                "same buffers (" + "; ".join(f"{m}: {op}" for m, op in ROOF.items()) + ")")
    return {column.name: column for column in (
        _cli.Column("thr", "CPU threads (torch.set_num_threads); - on a GPU"),
        _cli.Column("dtype", "the dtype of input and output", align="<"),
        _cli.Column("size", "elements per call"),
        _cli.Column("mode", "forward: sigmoid(x); forward_out: sigmoid(x, out=y); backward: "
                    "sigmoid_backward(grad, y); fwd_bwd: both, through autograd", align="<"),
        _cli.Column("ours us", "our median time per call, in microseconds", "{:.2f}"),
        _cli.Column("torch us", "torch's median time per call, in microseconds", "{:.2f}"),
        _cli.Column("ns/el", "our time per element, in nanoseconds", "{:.3f}"),
        _cli.Column("GB/s", "the bytes our call reads and writes, per second", "{:.1f}"),
        _cli.Column("roof", roof, "{:.1f}"),
        _cli.Column("spread", "how much the samples' speedups disagree: their interquartile "
                    "range over their median", "{:.0%}"),
        _cli.Column("speedup", _speedup_meaning()),
        _cli.Column("bound", "torch's time over roof's for the same bytes: about the most "
                    "speedup a kernel with ordinary loads and stores can show here; \"noisy\" "
                    "by the same rule as speedup"),
        _cli.Column("mean", "the speedup from the mean time per call, rare slow calls "
                    "included; \"noisy\" where speedup is"),
    )}


def print_grid(rows, device):
    print(_cli.table(grid_columns(device.type).values(), [
        (str(row["threads"] or "-"), row["dtype"], _size_label(row["size"]), row["mode"],
         row["ours_us"], row["torch_us"], row["ours_ns_per_elem"], row["ours_gbs"],
         row["roof_gbs"], row["speedup_spread"],
         timing.format_ratio(row["speedup"], row["speedup_noisy"]),
         timing.format_ratio(row["bound"], row["bound_noisy"]),
         timing.format_ratio(row["mean_speedup"], row["speedup_noisy"]))
        for row in rows
    ]))


def write_csv(rows, path):
    with open(path, "w", newline="") as csv_file:
        writer = csv.DictWriter(csv_file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _quoted(rows, key, noisy_key):
    """The values of key, NaN where noisy: matplotlib leaves a gap there."""
    return [float("nan") if row[noisy_key] else row[key] for row in rows]


def write_plot(rows, path):
    """The grid's speedups and bandwidths against size, at the largest thread count, with the
    points of noisy measurements left out; False where matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{PROG}: matplotlib is not installed, so no plot; pip install "
              "'torch_sigmoid_ext[tools]'", file=sys.stderr)
        return False
    threads = max((row["threads"] or 0) for row in rows)
    picked = [row for row in rows if (row["threads"] or 0) == threads]
    modes = [mode for mode in MODES if any(row["mode"] == mode for row in picked)]
    cuda = picked[0]["device"].startswith("cuda")
    figure, axes = plt.subplots(2, len(modes), figsize=(4.2 * len(modes), 7), squeeze=False)
    for column, mode in enumerate(modes):
        for dtype in dict.fromkeys(row["dtype"] for row in picked):
            selected = [row for row in picked if row["mode"] == mode and row["dtype"] == dtype]
            if not selected:
                continue
            sizes = [row["size"] for row in selected]
            axes[0][column].plot(sizes, _quoted(selected, "speedup", "speedup_noisy"),
                                 marker="o", label=dtype)
            axes[1][column].plot(sizes, _quoted(selected, "ours_gbs", "speedup_noisy"),
                                 marker="o", label=dtype)
        roof_rows = [row for row in picked if row["mode"] == mode and row["dtype"] == "float32"]
        if roof_rows:
            sizes = [row["size"] for row in roof_rows]
            axes[0][column].plot(sizes, _quoted(roof_rows, "bound", "bound_noisy"), "k--",
                                 label="bound (float32)")
            axes[1][column].plot(sizes, _quoted(roof_rows, "roof_gbs", "bound_noisy"), "k--",
                                 label=f"{CUDA_ROOF if cuda else ROOF[mode]} (float32)")
        axes[0][column].axhline(1.0, color="gray", lw=0.8)
        axes[0][column].set_title(mode)
        mode_sizes = [row["size"] for row in picked if row["mode"] == mode]
        for row_index in (0, 1):
            axes[row_index][column].set_xscale("log", base=2)
            # Set, not derived from the data: a panel whose speedups are all noisy has none.
            axes[row_index][column].set_xlim(min(mode_sizes) / 1.5, max(mode_sizes) * 1.5)
            axes[row_index][column].set_xlabel("elements")
        axes[0][column].set_ylabel("speedup vs torch.sigmoid (noisy: omitted)")
        axes[1][column].set_ylabel("GB/s (ours; noisy: omitted)")
    axes[0][0].legend()
    for axis in axes[1]:
        axis.legend(fontsize=7)
    figure.suptitle(f"torch_sigmoid_ext vs torch.sigmoid, {picked[0]['device']}, "
                    f"{threads or ''} threads, {picked[0]['machine']}; noisy points are "
                    "omitted (gaps)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


# --- Inputs that are not one dense block (--non-dense) ---------------------------------------

LAYOUTS = ("transposed slice", "contiguous")


def non_dense_callables(dtype, size, device):
    """(ours on the slice, torch on the slice, ours contiguous, torch contiguous), rotating
    buffers: x[:, :columns].t() of a base with twice the columns, and its contiguous copy."""
    log2 = size.bit_length() - 1
    rows, columns = 1 << (log2 // 2), 1 << (log2 - log2 // 2)
    generator = torch.Generator(device=device).manual_seed(size)
    slices = [_random(rows * 2 * columns, dtype, device, generator, 4.0)
              .view(rows, 2 * columns)[:, :columns].t()
              for _ in range(buffer_count("forward", dtype, size))]
    dense = [x.contiguous() for x in slices]
    return (_rotate(tse.sigmoid, slices), _rotate(torch.sigmoid, slices),
            _rotate(tse.sigmoid, dense), _rotate(torch.sigmoid, dense))


def run_non_dense(args, device):
    threads = sorted(set(args.threads)) if device.type == "cpu" else [0]
    dtypes = [_cli.DTYPES[name] for name in args.dtypes]
    grid = list(itertools.product(threads, dtypes, [1 << s for s in args.sizes]))
    meta = machine_columns(device)
    rows = []
    original_threads = torch.get_num_threads()
    bar = _cli.progress(len(grid), "non-dense")
    try:
        for thread_count, dtype, size in grid:
            if thread_count:
                torch.set_num_threads(thread_count)
            times, wait = timing.measure(non_dense_callables(dtype, size, device), device,
                                         args.samples, args.min_time)
            bar.update()
            ours_dense = times[2]
            for layout, (ours, theirs) in zip(LAYOUTS, (times[:2], times[2:])):
                speedup = timing.speedup(theirs, ours, wait)
                cost = timing.speedup(ours, ours_dense, wait)  # ours here over ours dense
                rows.append(dict(
                    meta, threads=thread_count or "", dtype=_cli.dtype_name(dtype), size=size,
                    layout=layout, ours_us=statistics.median(ours) * 1e6,
                    torch_us=statistics.median(theirs) * 1e6, speedup=speedup.value,
                    speedup_spread=speedup.spread, speedup_noisy=speedup.noisy,
                    layout_cost=cost.value, layout_cost_noisy=cost.noisy,
                    cpu_wait="" if wait is None else wait))
    finally:
        bar.close()
        torch.set_num_threads(original_threads)
    return rows


def non_dense_columns():
    grid = grid_columns()
    return (
        grid["thr"], grid["dtype"], grid["size"],
        _cli.Column("layout", "transposed slice: x[:, :n].t() of a base with twice the columns, "
                    "neither row- nor column-contiguous; contiguous: the same values "
                    "contiguous", align="<"),
        grid["ours us"], grid["torch us"], grid["spread"], grid["speedup"],
        _cli.Column("ours/dense", "our time on this layout over our time on the contiguous "
                    "copy, timed in the same samples: what the layout costs us; \"noisy\" by "
                    "the same rule as speedup"),
    )


def print_non_dense(rows):
    print(_cli.table(non_dense_columns(), [
        (str(row["threads"] or "-"), row["dtype"], _size_label(row["size"]), row["layout"],
         row["ours_us"], row["torch_us"], row["speedup_spread"],
         timing.format_ratio(row["speedup"], row["speedup_noisy"]),
         "-" if row["layout"] == "contiguous"
         else timing.format_ratio(row["layout_cost"], row["layout_cost_noisy"]))
        for row in rows
    ]))


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


def run_per_call(args):
    """One row per PER_CALL_ROWS entry: times, the median ratio ours/torch, its spread and range
    over the rounds, the bound and whether it is met; a row whose compile fails says why."""
    device = torch.device("cpu")
    meta = dict(machine_columns(device), size=PER_CALL_SIZE, threads=1)
    rows = []
    original_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    inputs = PerCallInputs()
    selected = [(number, row) for number, row in enumerate(PER_CALL_ROWS, 1)
                if args.compile or not row.compiled]
    bar = _cli.progress(len(selected), "per call")
    try:
        for number, row in selected:
            bar.set_postfix_str(row.call)
            # Every row has every column, so that the CSV has one header for all.
            result = dict(meta, row=number, call=row.call, bound=row.bound, rounds="",
                          torch_us="", ours_us="", ratio="", ratio_spread="", ratio_noisy="",
                          ratio_min="", ratio_max="", met="", failed="", cpu_wait="")
            try:
                ours, theirs = row.pair(inputs)
                rounds = max(1, round(args.rounds / row.time_scale))
                (ours_times, torch_times), wait = timing.measure(
                    (ours, theirs), device, rounds, args.min_time * row.time_scale,
                    context=row.context, best_of=PER_CALL_BEST_OF, alternate=True)
            except Exception as error:  # a failed compile is reported, not raised
                if not row.compiled:
                    raise
                reason = f"{type(error).__name__}: {str(error).strip()}".splitlines()[0]
                rows.append(dict(result, failed=reason))
                bar.update()
                continue
            # speedup(a, b) is a's time over b's: here ours over torch's.
            ratio = timing.speedup(ours_times, torch_times, wait)
            ratios = [mine / base for mine, base in zip(ours_times, torch_times)]
            rows.append(dict(
                result, rounds=rounds,
                torch_us=statistics.median(torch_times) * 1e6,
                ours_us=statistics.median(ours_times) * 1e6,
                ratio=ratio.value, ratio_spread=ratio.spread, ratio_noisy=ratio.noisy,
                ratio_min=min(ratios), ratio_max=max(ratios),
                met="" if row.bound is None else ratio.value <= row.bound,
                cpu_wait="" if wait is None else wait))
            bar.update()
    finally:
        bar.close()
        torch.set_num_threads(original_threads)
    return rows


def per_call_columns():
    return (
        _cli.Column("#", "the row's number"),
        _cli.Column("call", "what is timed, ours against torch's counterpart (the docstrings "
                    "in torch_sigmoid_ext/tools/benchmark.py say exactly); op is "
                    "torch.ops.torch_sigmoid_ext.sigmoid against torch.ops.aten.sigmoid",
                    align="<"),
        _cli.Column("torch us", "torch's median time per call over the rounds, in "
                    "microseconds", "{:.2f}"),
        _cli.Column("ours us", "our median time per call over the rounds, in microseconds",
                    "{:.2f}"),
        _cli.Column("spread", "how much the rounds' ratios disagree: their interquartile range "
                    "over their median", "{:.0%}"),
        _cli.Column("ours/torch", "the median over the rounds of our time over torch's, each "
                    "round timing both back to back (below 1: ours is faster); \"noisy\" "
                    "instead where " + timing.NOISY_RULE),
        _cli.Column("range", "the lowest and highest of the rounds' ratios"),
        _cli.Column("bound", "the most ours/torch should be; - where none is set", "{:.2f}"),
        _cli.Column("met", "whether ours/torch is within the bound; noisy where ours/torch "
                    "is", align="<"),
    )


def print_per_call(rows):
    cells = []
    for row in rows:
        bound = "-" if row["bound"] is None else row["bound"]
        if row["failed"]:
            cells.append((str(row["row"]), row["call"], "-", "-", "-", "-", "-", bound,
                          "failed"))
            continue
        if row["met"] == "":
            met = "-"
        elif row["ratio_noisy"]:
            met = "noisy"
        else:
            met = "yes" if row["met"] else "no"
        cells.append((str(row["row"]), row["call"], row["torch_us"], row["ours_us"],
                      row["ratio_spread"],
                      timing.format_ratio(row["ratio"], row["ratio_noisy"], 3, ""),
                      f"{row['ratio_min']:.3f}-{row['ratio_max']:.3f}", bound, met))
    print(_cli.table(per_call_columns(), cells))
    for row in rows:
        if row["failed"]:
            print(f"row {row['row']} failed: {row['failed']}")


# --- The command line ------------------------------------------------------------------------

def build_parser():
    threads_all = torch.get_num_threads()
    results = _cli.RESULTS_DIR
    parser = _cli.parser(PROG, __doc__)
    parser.add_argument("--device", default="cpu",
                        help="cpu, or cuda for the grid on a GPU, timed with CUDA events "
                        "(default: %(default)s)")
    parser.add_argument("--per-call", action="store_true",
                        help=f"instead of the grid, the fixed cost per call: {PER_CALL_SIZE} "
                        "float32 elements, one thread, each way of calling the op against "
                        "torch's counterpart in interleaved rounds, with the ratio's bound (CPU "
                        "only; takes --rounds, --min-time, --no-compile, --csv) "
                        "(default: off)")
    parser.add_argument("--non-dense", action="store_true",
                        help="instead of the grid, a transposed column slice x[:, :n].t() "
                        "against the same values contiguous, ours and torch's forward "
                        "(takes --device, --dtypes, --sizes, --threads, --samples, --min-time, "
                        "--csv) (default: off)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a short grid: dtypes {' '.join(QUICK['dtypes'])}, sizes "
                        f"{' '.join(map(str, QUICK['sizes']))}, all threads, "
                        f"{QUICK['samples']} samples of {QUICK['min_time']:g} s; an explicit "
                        "--dtypes, --sizes, --threads, --samples or --min-time wins over it "
                        "(default: off)")
    parser.add_argument("--dtypes", nargs="+", choices=list(_cli.DTYPES),
                        help="the dtypes to time (default: all; with --quick "
                        f"{' '.join(QUICK['dtypes'])}; with --non-dense "
                        f"{' '.join(NON_DENSE['dtypes'])})")
    parser.add_argument("--sizes", nargs="+",
                        type=_cli.int_in(0, 62, "a size, the log2 of an element count,"),
                        help="log2 of the element counts; each must fit in memory with the "
                        "rotated buffers (default: "
                        f"{' '.join(map(str, GRID_SIZES['cpu']))}; on cuda "
                        f"{' '.join(map(str, GRID_SIZES['cuda']))}; with --non-dense "
                        f"{' '.join(map(str, NON_DENSE['sizes']))})")
    parser.add_argument("--modes", nargs="+", choices=MODES,
                        help="the grid's modes (default: all)")
    parser.add_argument("--threads", nargs="+",
                        type=_cli.int_in(1, os.cpu_count() or 1, "a CPU thread count"),
                        help=f"CPU thread counts (default: 1 and {threads_all}; with --quick "
                        f"or --non-dense {threads_all})")
    parser.add_argument("--samples", type=_cli.int_in(1, 10000, "--samples"),
                        help=f"interleaved samples per measurement (default: {SAMPLES}; with "
                        f"--quick {QUICK['samples']}; with --non-dense {NON_DENSE['samples']})")
    parser.add_argument("--min-time", type=_cli.float_in(0, 60, "--min-time"),
                        help=f"seconds per sample (default: {MIN_TIME:g}; with --quick "
                        f"{QUICK['min_time']:g}; with --per-call, seconds per timing of one "
                        f"side, the best of {PER_CALL_BEST_OF} taken: {PER_CALL_MIN_TIME:g})")
    parser.add_argument("--rounds", type=_cli.int_in(1, 10000, "--rounds"),
                        help="with --per-call: interleaved rounds per row "
                        f"(default: {PER_CALL_ROUNDS})")
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="with --per-call: skip the torch.compile rows (default: off, "
                        "they run)")
    parser.add_argument("--rounding", default="default", choices=list(_cli.ROUNDING_MODES),
                        help="the rounding mode of ours for the run (torch_sigmoid_ext."
                        "set_rounding), recorded in every row; the mode before is restored "
                        "afterwards (default: %(default)s)")
    parser.add_argument("--csv", default=None,
                        help=f"where to write the rows; '' for nowhere (default: under "
                        f"{results}/ in the current directory: benchmark.csv for the grid, "
                        "benchmark_cuda.csv for it on cuda, per_call.csv with --per-call, "
                        "non_dense.csv with --non-dense)")
    parser.add_argument("--plot", default=None,
                        help="where to write the grid's PNG plot, noisy points left out; "
                        f"'' for none (default: {results}/benchmark.png, or "
                        "benchmark_cuda.png on cuda)")
    return parser


def _reject(parser, args, options, mode):
    for option in options:
        if getattr(args, option.lstrip("-").replace("-", "_")) is not None:
            parser.error(f"{option} does not apply to {mode}")


def resolve(parser, args, device):
    """Fills in the defaults of the chosen mode and rejects what does not apply to it."""
    if args.per_call and args.non_dense:
        parser.error("--per-call and --non-dense are two modes; choose one")
    if args.per_call:
        if device.type != "cpu":
            parser.error("--per-call measures the CPU only; leave out --device")
        _reject(parser, args, ("--dtypes", "--sizes", "--modes", "--threads", "--samples",
                               "--plot"), "--per-call")
        if args.quick:
            parser.error("--quick does not apply to --per-call; use --rounds and --no-compile")
        args.min_time = args.min_time or PER_CALL_MIN_TIME
        args.rounds = args.rounds or PER_CALL_ROUNDS
        if args.csv is None:
            args.csv = os.path.join(_cli.RESULTS_DIR, "per_call.csv")
        return
    _reject(parser, args, ("--rounds",), "the grid or --non-dense")
    if device.type == "cuda":
        _reject(parser, args, ("--threads",), "a GPU, which ignores CPU threads")
    if not args.compile:
        parser.error("--no-compile applies to --per-call only")
    all_threads = [torch.get_num_threads()]
    suffix = "_cuda" if device.type == "cuda" else ""
    if args.non_dense:
        _reject(parser, args, ("--modes", "--plot"), "--non-dense")
        if args.quick:
            parser.error("--quick does not apply to --non-dense; use --sizes and --samples")
        defaults = dict(NON_DENSE, threads=all_threads, min_time=MIN_TIME)
        name = "non_dense"
    else:
        defaults = dict(dtypes=list(_cli.DTYPES), sizes=GRID_SIZES[device.type],
                        threads=sorted({1, torch.get_num_threads()}), samples=SAMPLES,
                        min_time=MIN_TIME, modes=list(MODES))
        if args.quick:
            defaults.update(QUICK, threads=all_threads)
        name = "benchmark"
        if args.plot is None:
            args.plot = os.path.join(_cli.RESULTS_DIR, f"{name}{suffix}.png")
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.csv is None:
        args.csv = os.path.join(_cli.RESULTS_DIR, f"{name}{suffix}.csv")
    _check_memory(parser, args, device)


def _check_memory(parser, args, device):
    """Ends with one line where a size's buffers cannot fit in the memory the device has."""
    dtypes = [_cli.DTYPES[name] for name in args.dtypes]
    if args.non_dense:
        cases = [("--non-dense", dtype) for dtype in dtypes]

        def need(case, log2):
            return non_dense_bytes(case[1], 1 << log2)
    else:
        cases = [(mode, dtype) for mode in args.modes for dtype in dtypes]

        def need(case, log2):
            return grid_bytes(case[0], case[1], 1 << log2)
    available = _cli.device_memory(device)
    where = "free GPU memory" if device.type == "cuda" else "memory in this machine"
    for log2 in args.sizes:
        worst = max(cases, key=lambda case: need(case, log2))
        if need(worst, log2) > available:
            largest = max((size for size in range(63)
                           if all(need(case, size) <= available for case in cases)), default=0)
            parser.error(f"--sizes {log2}: 2^{log2} {_cli.dtype_name(worst[1])} elements "
                         f"({worst[0]}) need about {_cli.format_bytes(need(worst, log2))} with "
                         f"the rotated buffers, more than the {_cli.format_bytes(available)} of "
                         f"{where}; use sizes from 0 to {largest}")


def _header(device):
    info = tse.build_info()
    print(f"torch {torch.__version__}, torch_sigmoid_ext {tse.__version__} "
          f"({info['cpu_variant']} kernels, rounding: {info['rounding']}), {_machine(device)}, "
          f"CPU flags: {_cpu_flags()}")


def main(argv=None):
    parser = build_parser()
    started = _cli.start(parser, argv)
    if started is None:
        return 2
    args, device = started
    resolve(parser, args, device)
    with tse.rounding(args.rounding):
        rows = _run(args, device)
    csv_path = _cli.output_path(args.csv)
    if csv_path and rows:
        write_csv(rows, csv_path)
        print(f"wrote {csv_path}")
    plot_path = _cli.output_path(args.plot)
    if plot_path and rows and write_plot(rows, plot_path):
        print(f"wrote {plot_path}")
    return 0


def _run(args, device):
    """The chosen measurement, printed: its rows."""
    _header(device)
    if args.per_call:
        print(f"{PER_CALL_SIZE} float32 elements, 1 thread, {args.rounds} rounds, best of "
              f"{PER_CALL_BEST_OF} timings of about {args.min_time * 1e3:g} ms per side and "
              "round")
        rows = run_per_call(args)
        print_per_call(rows)
    elif args.non_dense:
        print(f"{args.samples} interleaved samples of about {args.min_time * 1e3:g} ms each")
        rows = run_non_dense(args, device)
        print_non_dense(rows)
    else:
        print(f"{args.samples} interleaved samples of about {args.min_time * 1e3:g} ms each")
        rows = run_grid(args, device)
        print_grid(rows, device)
    return rows


if __name__ == "__main__":
    sys.exit(main())
