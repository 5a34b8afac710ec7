"""python -m torch_sigmoid_ext accuracy: how accurate this package and torch.sigmoid are,
side by side, over every float32, float16 and bfloat16 value and a float64 sample, in each
rounding mode of ours (torch_sigmoid_ext.set_rounding).

- float32: every bit pattern (all 2^32, in chunks); float16 and bfloat16: every value.
  Compared with the correctly rounded result (to nearest, ties to even, subnormal results
  included): a float64 reference computed stably (x < 0: e^x / (1 + e^x)), with the few values
  too close to a midpoint between two results for float64 to round settled in decimal
  arithmetic (_numerics.correctly_rounded_sigmoid).
- float64: a random and stratified sample against an extended-precision reference (numpy's
  longdouble), itself checked against mpmath on a subsample where mpmath is installed.
- The backward: sigmoid_backward(g, y) on a sample, against g * y * (1 - y) computed exactly
  (fractions) from the same g and y and rounded once.

For each dtype, device, implementation and rounding mode: how many results are not correctly
rounded, the max ULP error, the worst inputs, and how special values come out. For ours it also
checks that the vectorized path equals the scalar path bit for bit (lengths that are not a
multiple of the vector width, offsets, strided inputs), and that every CPU kernel variant gives
the same bits. Writes a JSON summary.
"""

import contextlib
import json
import math
import sys
import time

import numpy as np
import torch

import torch_sigmoid_ext as tse

from .._extension import native
from . import _cli, benchmark
from . import _numerics as num

PROG = f"{_cli.PROG} accuracy"
IMPLS = {"ours": tse.sigmoid, "torch": torch.sigmoid}
BACKWARD = {
    "ours": torch.ops.torch_sigmoid_ext.sigmoid_backward,
    "torch": torch.ops.aten.sigmoid_backward,
}
FLOAT_NAMES = _cli.DTYPES
ROUNDING_CHOICES = dict({mode: (mode,) for mode in _cli.ROUNDING_MODES},
                        both=_cli.ROUNDING_MODES)


def _runs(modes):
    """(implementation, rounding mode) for each measured run: ours in each mode, torch once
    (mode None: torch has one rounding)."""
    return [("ours", mode) for mode in modes] + [("torch", None)]


def _rounding(mode):
    return contextlib.nullcontext() if mode is None else tse.rounding(mode)


def _nest(results):
    """{(impl, mode): value} -> {"ours": {mode: value}, "torch": value}, the JSON's shape."""
    out = {}
    for (impl, mode), value in results.items():
        if mode is None:
            out[impl] = value
        else:
            out.setdefault(impl, {})[mode] = value
    return out


def _result(nested, impl, mode):
    """The inverse of _nest for one run."""
    return nested[impl] if mode is None else nested[impl][mode]


# sigmoid at the special values, the same for every dtype: +-0 and the smallest subnormals
# round to 0.5, and the largest finite values to 1 and +0, as the infinities do.
EXPECTED_SPECIAL = {
    "nan": "nan", "+inf": "1.0", "-inf": "+0", "+0": "0.5", "-0": "0.5",
    "+min_subnormal": "0.5", "-min_subnormal": "0.5", "+max": "1.0", "-max": "+0",
}


class _Stats:
    """Running max, worst inputs and correctly-rounded count over chunks."""

    def __init__(self, keep=5):
        self.keep, self.max, self.count, self.correct, self.worst = keep, 0.0, 0, 0, []
        # The same restricted to |x| <= 100 and to normal results: the numbers usually quoted
        # for torch.sigmoid, which the flush to zero of subnormal results would otherwise hide.
        self.max_normal, self.count_mid, self.correct_mid = 0.0, 0, 0

    def add(self, x, y, ref_rounded, err, dtype):
        finite_ref = ~np.isnan(err)
        self.count += int(finite_ref.sum())
        yv = y.detach().cpu()
        same = _same_elements(yv, ref_rounded)
        self.correct += int(same.sum())
        mid = torch.from_numpy(np.abs(x) <= 100)
        self.count_mid += int(mid.sum())
        self.correct_mid += int((same & mid).sum())
        normal = (ref_rounded.abs() >= torch.finfo(dtype).smallest_normal).numpy()
        if normal.any():
            self.max_normal = max(self.max_normal, float(err[normal].max()))
        if err.size:
            largest = np.argpartition(-err, min(self.keep, err.size - 1))[: self.keep]
            for index in largest:
                self.worst.append((float(err[index]), float(x[index]), float(yv[index]),
                                   float(ref_rounded[index])))
            self.worst = sorted(self.worst, reverse=True)[: self.keep]
            self.max = max(self.max, float(err.max()))

    def summary(self):
        return {
            "max_ulp": self.max,
            "not_correctly_rounded": self.count - self.correct,
            "correctly_rounded": self.correct / max(1, self.count),
            "n": self.count,
            "max_ulp_normal_results": self.max_normal,
            "correctly_rounded_abs_x_le_100": self.correct_mid / max(1, self.count_mid),
            "worst": [{"x": x, "ulp": error, "got": got, "correctly_rounded": rounded}
                      for error, x, got, rounded in self.worst],
        }


def _all_values(dtype, start, count, step=1):
    """Every step-th bit pattern of dtype in [start, start + count), as a tensor of dtype."""
    bits = torch.arange(start, start + count, step, dtype=torch.int64)
    width = dtype.itemsize * 8
    bits = torch.where(bits >= 1 << (width - 1), bits - (1 << width), bits)
    return bits.to(num.INT_VIEW[dtype]).view(dtype)


def sweep_exhaustive(dtype, device, chunk_bits, quick, modes):
    """Forward errors of both implementations, ours in each rounding mode, over every value (or
    a stride of them), against the correctly rounded result."""
    width = dtype.itemsize * 8
    total = 1 << width
    chunk = min(total, 1 << chunk_bits)
    step = 1
    if quick and width == 32:
        step = 4099  # a prime stride through all 2^32 patterns: about a million values
        chunk = total
    starts = list(range(0, total, chunk))
    runs = _runs(modes)
    stats = {run: _Stats() for run in runs}
    settled = 0
    with _cli.progress(len(starts), f"{_name(dtype)} forward") as bar:
        for start in starts:
            x = _all_values(dtype, start, chunk, step)
            x = x[~x.isnan()]  # NaN inputs are covered by the special values
            ref = num.reference_sigmoid(x, np.float64)  # for the ULP errors: exact enough
            ref_rounded, hard = num.correctly_rounded_sigmoid_counted(x, ref)
            settled += hard
            xd, x64 = x.to(device), x.to(torch.float64).numpy()
            for impl, mode in runs:
                with _rounding(mode):
                    y = IMPLS[impl](xd)
                stats[impl, mode].add(x64, y, ref_rounded, num.ulp_error(y, ref, dtype), dtype)
            bar.update()
    out = _nest({run: s.summary() for run, s in stats.items()})
    out["reference"] = {"settled_in_decimal": settled}
    return out


def sweep_float64(device, n, quick, modes):
    """float64: uniform bit patterns, a dense [-40, 40] sweep and the tails."""
    gen = torch.Generator().manual_seed(0)
    n = n // 16 if quick else n
    bits = torch.randint(-(1 << 62), 1 << 62, (n,), generator=gen, dtype=torch.int64) * 2
    parts = [
        bits.view(torch.float64),
        (torch.rand(n, generator=gen, dtype=torch.float64) - 0.5) * 80,
        -745.2 + torch.rand(n // 4, generator=gen, dtype=torch.float64) * 40,
        30 + torch.rand(n // 4, generator=gen, dtype=torch.float64) * 10,
    ]
    x = torch.cat(parts)
    x = x[~x.isnan()]
    ref = num.reference_sigmoid(x)
    ref_rounded = num.rounded_reference(ref, torch.float64)
    stats = {}
    for impl, mode in _runs(modes):
        with _rounding(mode):
            y = IMPLS[impl](x.to(device))
        impl_stats = _Stats()
        impl_stats.add(x.numpy(), y, ref_rounded, num.ulp_error(y, ref, torch.float64),
                       torch.float64)
        stats[impl, mode] = impl_stats.summary()
    stats = _nest(stats)
    step = max(1, x.numel() // 2000)
    stats["reference_check"] = _mpmath_check(x[::step], ref[::step])
    return stats


def _mpmath_check(x, ref):
    """The largest gap, in float64 ULPs, between the longdouble reference and mpmath."""
    try:
        import mpmath
    except ImportError:
        return {"skipped": "mpmath is not installed"}
    mpmath.mp.prec = 200
    worst = 0.0
    for xi, ri in zip(x.tolist(), ref):
        exact = mpmath.mpf(1) / (1 + mpmath.exp(-mpmath.mpf(xi)))
        ulp = math.ulp(float(exact)) if float(exact) else 2.0 ** -1074
        worst = max(worst, abs(float((mpmath.mpf(float(ri)) - exact) / ulp)))
    return {"max_ulp_longdouble_vs_mpmath": worst, "n": len(x)}


def sweep_backward(dtype, device, n, modes):
    """sigmoid_backward(g, y) on y = sigmoid(x) for a sample of x, against g * y * (1 - y)
    computed exactly from the same g and y (a Python loop: a sample, not every pair)."""
    gen = torch.Generator().manual_seed(1)
    x = num.sample_inputs(dtype, n, seed=2)
    x = x[~x.isnan()]
    y = tse.sigmoid(x)
    g = (torch.randn(x.shape, generator=gen) * 3).to(dtype)
    ref = num.reference_sigmoid_backward(g, y)
    exact = num.exact_sigmoid_backward(g, y)
    out = {}
    for impl, mode in _runs(modes):
        with _rounding(mode):
            result = BACKWARD[impl](g.to(device), y.to(device)).cpu()
        out[impl, mode] = {
            "max_ulp": float(num.ulp_error(result, ref, dtype).max()),
            # the value: +0 and -0 count as one (x + 0.0 is +0 for both)
            "not_correctly_rounded": int((~_same_elements(result + 0.0, exact + 0.0)).sum()),
            "n": int(x.numel()),
        }
    return _nest(out)


def special_values(dtype, device, modes):
    info = torch.finfo(dtype)
    cases = {
        "nan": float("nan"), "+inf": float("inf"), "-inf": float("-inf"), "+0": 0.0, "-0": -0.0,
        "+min_subnormal": info.smallest_normal * info.eps,
        "-min_subnormal": -info.smallest_normal * info.eps,
        "+max": info.max, "-max": -info.max,
    }
    x = torch.tensor(list(cases.values()), dtype=dtype)
    out = {}
    for impl, mode in _runs(modes):
        with _rounding(mode):
            y = IMPLS[impl](x.to(device)).cpu()
        out[impl, mode] = {name: _show(value) for name, value in zip(cases, y.tolist())}
    return _nest(out)


def _show(value):
    if math.isnan(value):
        return "nan"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "+0"
    return repr(value)


def check_paths(dtype, device, modes):
    """Our vectorized and scalar paths, and every CPU variant, bit for bit, in each mode."""
    out = {}
    for mode in modes:
        with tse.rounding(mode):
            out[mode] = _check_paths(dtype, device)
    return out


def _check_paths(dtype, device):
    x = num.sample_inputs(dtype, 1 << 14)
    x = x.to(device)
    strided = torch.stack([x, x], dim=1)[:, 0]  # the scalar loop
    reference = tse.sigmoid(strided)
    problems = []
    for offset in range(0, 5):
        for length in list(range(1, 70)) + [127, 128, 129, 1000, 4097]:
            if offset + length > x.numel():
                continue
            got = tse.sigmoid(x[offset: offset + length])
            if not _same_bits(got, reference[offset: offset + length]):
                problems.append(f"offset {offset} length {length}")
    if not _same_bits(tse.sigmoid(x), reference):
        problems.append("whole contiguous tensor vs strided")
    variants = {}
    if device.type == "cpu":
        original = tse.build_info()["cpu_variant"]
        try:
            for variant in tse.build_info()["cpu_variants_supported"].split(","):
                native.set_cpu_variant(variant)
                variants[variant] = tse.sigmoid(x)
        finally:
            native.set_cpu_variant(original)
        base = variants.get("generic")
        for variant, y in variants.items():
            if not _same_bits(y, base):
                problems.append(f"variant {variant} differs from generic")
    return {"bit_identical": not problems, "problems": problems[:20],
            "variants_compared": sorted(variants)}


def _same_bits(first, second):
    """Bit for bit, NaN included: the kernels return one canonical quiet NaN."""
    return torch.equal(first.view(num.INT_VIEW[first.dtype]),
                       second.view(num.INT_VIEW[second.dtype]))


def _same_elements(first, second):
    """Elementwise, bit for bit (NaN included, as _same_bits): a bool tensor."""
    return first.view(num.INT_VIEW[first.dtype]) == second.view(num.INT_VIEW[second.dtype])


_name = _cli.dtype_name


def run(args):
    device = torch.device(args.device)
    started = time.time()
    meta = benchmark.machine_columns(device)
    modes = ROUNDING_CHOICES[args.rounding]
    report = {
        "device": str(device), "torch": torch.__version__, "package": tse.__version__,
        "cpu_variant": tse.build_info()["cpu_variant"], "machine": meta["machine"],
        "cpu_flags": meta["cpu_flags"], "commit": meta["commit"], "quick": args.quick,
        "rounding": list(modes), "dtypes": {},
    }
    for name in args.dtypes:
        dtype = FLOAT_NAMES[name]
        if dtype == torch.float64:
            forward = sweep_float64(device, args.float64_samples, args.quick, modes)
        else:
            forward = sweep_exhaustive(dtype, device, args.chunk_bits, args.quick, modes)
        report["dtypes"][name] = {
            "forward": forward,
            "backward": sweep_backward(dtype, device, BACKWARD_SAMPLE[args.quick], modes),
            "special_values": special_values(dtype, device, modes),
            "paths": check_paths(dtype, device, modes),
        }
    report["seconds"] = round(time.time() - started, 1)
    return report


FORWARD_COLUMNS = [
    _cli.Column("dtype", "the dtype of input and output", align="<"),
    _cli.Column("impl", "ours: torch_sigmoid_ext.sigmoid; torch: torch.sigmoid", align="<"),
    _cli.Column("rounding", "ours: the rounding mode (torch_sigmoid_ext.set_rounding); - for "
                "torch, which has one", align="<"),
    _cli.Column("inputs", "how many inputs were compared (NaN inputs: see special values)",
                "{:,}"),
    _cli.Column("max ULP", "the largest error in units in the last place of the dtype"),
    _cli.Column("normal max ULP", "the same over the results that are normal numbers: leaves "
                "out the subnormal results, which torch.sigmoid flushes to zero"),
    _cli.Column("not rounded", "how many results are not the exact sigmoid rounded once to the "
                "dtype (to nearest, ties to even): 0 where every one is correctly rounded; for "
                "float64 against the extended-precision reference rounded", "{:,}"),
    _cli.Column("rounded", "the share of results that are correctly rounded", "{:.3%}"),
    _cli.Column("rounded |x|<=100", "the same over the inputs with |x| <= 100", "{:.3%}"),
    _cli.Column("bwd max ULP", "the same as max ULP for sigmoid_backward(grad, y), against "
                "grad * y * (1 - y) in extended precision from the same grad and y"),
    _cli.Column("bwd not rounded", "how many sigmoid_backward(grad, y) results, of the "
                "backward sample, are not grad * y * (1 - y) computed exactly and rounded once "
                "(+0 and -0 count as one)",
                "{:,}"),
    _cli.Column("worst x", "the input with the largest error", "{:.9g}"),
]
CHECK_COLUMNS = [
    _cli.Column("dtype", "the dtype of input and output", align="<"),
    _cli.Column("same bits", "whether ours gives the same bits on its vectorized and scalar "
                "paths (lengths 1 to 4097, offsets 0 to 4, a strided input) and under each CPU "
                "variant (listed), in every rounding mode measured, or the first cases that "
                "differ and in which mode", align="<"),
    _cli.Column("special ours", "sigmoid at NaN, +-inf, +-0, +- the smallest subnormal and +- "
                "the largest finite value: as expected (NaN -> nan; +inf, +max -> 1; -inf, -max "
                "-> +0; the rest -> 0.5), or each input that is not -> what came out, and in "
                "which mode", align="<"),
    _cli.Column("special torch", "the same for torch.sigmoid", align="<"),
]


def _special(values):
    wrong = [f"{x} -> {y}" for x, y in values.items() if y != EXPECTED_SPECIAL[x]]
    return "; ".join(wrong) or "as expected"


def _special_in_modes(by_mode):
    wrong = {mode: _special(values) for mode, values in by_mode.items()}
    wrong = {mode: text for mode, text in wrong.items() if text != "as expected"}
    return "; ".join(f"{mode}: {text}" for mode, text in wrong.items()) or "as expected"


def _paths_in_modes(by_mode):
    problems = [f"{mode}: {problem}" for mode, paths in by_mode.items()
                for problem in paths["problems"][:3]]
    if problems:
        return "NO: " + "; ".join(problems[:3])
    compared = sorted({name for paths in by_mode.values() for name in paths["variants_compared"]})
    return "yes" + (f" ({', '.join(compared)})" if compared else "")


def forward_rows(report):
    """The rows of the error table: each dtype, ours in each mode, then torch."""
    rows = []
    for name, results in report["dtypes"].items():
        for impl, mode in _runs(report["rounding"]):
            forward = _result(results["forward"], impl, mode)
            backward = _result(results["backward"], impl, mode)
            rows.append((name, impl, mode or "-", forward["n"],
                         num.format_ulp(forward["max_ulp"], 3),
                         num.format_ulp(forward["max_ulp_normal_results"], 3),
                         forward["not_correctly_rounded"], forward["correctly_rounded"],
                         forward["correctly_rounded_abs_x_le_100"],
                         num.format_ulp(backward["max_ulp"], 3),
                         backward["not_correctly_rounded"],
                         forward["worst"][0]["x"] if forward["worst"] else "-"))
    return rows


def print_report(report):
    print(f"accuracy on {report['device']}, torch {report['torch']}, "
          f"torch_sigmoid_ext {report['package']} ({report['cpu_variant']}), rounding modes: "
          f"{', '.join(report['rounding'])}{' [quick sample]' if report['quick'] else ''}")
    print("\nError against the correctly rounded result, on the same inputs for all:\n")
    checks = []
    for name, results in report["dtypes"].items():
        special = results["special_values"]
        checks.append((name, _paths_in_modes(results["paths"]),
                       _special_in_modes(special["ours"]), _special(special["torch"])))
    print(_cli.table(FORWARD_COLUMNS, forward_rows(report)))
    print("\nChecks:\n")
    print(_cli.table(CHECK_COLUMNS, checks))


# About the most bytes of memory each input takes while a chunk is compared: the input, its
# float64 copy and reference, the correctly rounded result and its temporaries, every result
# and the numpy temporaries of ulp_error(). The float64 sample holds 2.5 inputs per
# --float64-samples, each in extended precision.
BYTES_PER_VALUE = 200
BYTES_PER_FLOAT64_SAMPLE = 2.5 * 200
DEFAULT_CHUNK_BITS = 24
DEFAULT_FLOAT64_SAMPLES = 1 << 22
MIN_CHUNK_BITS = 8
MIN_FLOAT64_SAMPLES = 16
# The backward sample, as sample_inputs(n) (about 2.4 n values), without and with --quick: its
# exact reference is a Python loop, about 10 microseconds a value.
BACKWARD_SAMPLE = {False: 1 << 14, True: 1 << 12}


def build_parser():
    memory = _cli.physical_memory()
    max_chunk_bits = max(MIN_CHUNK_BITS, min(32, (memory // BYTES_PER_VALUE).bit_length() - 1))
    max_float64 = max(MIN_FLOAT64_SAMPLES, int(memory // BYTES_PER_FLOAT64_SAMPLE))
    parser = _cli.parser(PROG, __doc__)
    parser.add_argument("--device", default=None,
                        help="cpu or cuda (default: cuda where there is a GPU and this build "
                        "has CUDA kernels, else cpu)")
    parser.add_argument("--dtypes", nargs="+", default=list(FLOAT_NAMES),
                        choices=list(FLOAT_NAMES),
                        help="the dtypes to sweep (default: all: %s)" % " ".join(FLOAT_NAMES))
    parser.add_argument("--rounding", default="both", choices=list(ROUNDING_CHOICES),
                        help="the rounding modes of ours to measure (torch_sigmoid_ext."
                        "set_rounding): default, correct, or both, one after the other "
                        "(default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a strided sample of float32 and a smaller float64 sample "
                        "(default: off)")
    parser.add_argument("--chunk-bits", default=DEFAULT_CHUNK_BITS,
                        type=_cli.int_in(MIN_CHUNK_BITS, max_chunk_bits,
                                         "--chunk-bits (bounded by this machine's memory)"),
                        help="log2 of the inputs compared at once; the largest this machine's "
                        f"memory holds is {max_chunk_bits} (default: %(default)s)")
    parser.add_argument("--float64-samples", default=DEFAULT_FLOAT64_SAMPLES,
                        type=_cli.int_in(MIN_FLOAT64_SAMPLES, max_float64,
                                         "--float64-samples (bounded by this machine's memory)"),
                        help="random float64 bit patterns, and as many values in [-40, 40], "
                        "compared (default: %(default)s)")
    parser.add_argument("--json", default=f"{_cli.RESULTS_DIR}/accuracy.json",
                        help="where to write the summary; '' for nowhere (default: "
                        "%(default)s)")
    return parser


def main(argv=None):
    started = _cli.start(build_parser(), argv)
    if started is None:
        return 2
    args, device = started
    args.device = str(device)
    report = run(args)
    print_report(report)
    path = _cli.output_path(args.json)
    if path:
        with open(path, "w") as json_file:
            json.dump(report, json_file, indent=1)
        print(f"wrote {path}")
    ok = all(paths["bit_identical"] for results in report["dtypes"].values()
             for paths in results["paths"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
