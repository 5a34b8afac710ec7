"""python -m torch_sigmoid_ext compare: this package against torch.sigmoid, side by side.

For each dtype: forward and backward error against an extended-precision reference (max
absolute error, max ULP, share correctly rounded), for ours and for torch.sigmoid; a gradcheck
and gradgradcheck; and the forward time of both at a few sizes, measured as the benchmark
measures it (interleaved samples, rotated buffers), with a speedup only where the samples
agree. Exits 1 if our results break the documented bounds, so it doubles as an installation
check.
"""

import statistics
import sys

import numpy as np
import torch

import torch_sigmoid_ext as tse

from . import _cli, accuracy, benchmark, timing
from . import _numerics as num

PROG = f"{_cli.PROG} compare"

# The documented bounds (README, "Accuracy"): max ULP for forward, backward.
BOUNDS = {
    torch.float32: (2.0, 3.0),
    torch.float64: (2.0, 3.0),
    torch.float16: (1.0, 1.0),
    torch.bfloat16: (1.0, 1.0),
}
COMPLEX_RTOL = {torch.complex64: 1e-5, torch.complex128: 1e-12}
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
# (interleaved samples, seconds per sample) for each speed figure, without and with --quick:
# enough samples for the spread that decides whether a figure is noisy, in a run short
# enough for an installation check.
TIMING = {False: (21, 0.01), True: (11, 0.005)}
_name = _cli.dtype_name


def _real_rows(device, n):
    rows, ok = [], True
    for dtype in DTYPES:
        x = num.sample_inputs(dtype, n).to(device)
        ref = num.reference_sigmoid(x)
        fwd_bound, bwd_bound = BOUNDS[dtype]
        y_ours, y_torch = tse.sigmoid(x), torch.sigmoid(x)
        grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
        grad = grad.to(dtype).to(device)
        backward_ref = num.reference_sigmoid_backward(grad, y_ours)
        backward_ours = torch.ops.torch_sigmoid_ext.sigmoid_backward(grad, y_ours)
        backward_torch = torch.ops.aten.sigmoid_backward(grad, y_ours)
        if dtype in num.CORRECTLY_ROUNDED:
            correct = num.correctly_rounded_sigmoid(x)
        else:
            correct = num.rounded_reference(ref, dtype)
        for impl, y, backward in (("ours", y_ours, backward_ours),
                                  ("torch", y_torch, backward_torch)):
            ulp = num.ulp_error(y, ref, dtype)
            bulp = num.ulp_error(backward, backward_ref, dtype)
            finite = np.isfinite(ref)
            abs_err = float(np.max(np.abs(num.to_longdouble(y)[finite] - ref[finite])))
            same = (y.cpu() == correct) | (y.cpu().isnan() & correct.isnan())
            within = "-"
            if impl == "ours":
                within = "ok" if ulp.max() <= fwd_bound and bulp.max() <= bwd_bound else "BROKEN"
                ok &= within == "ok"
            rows.append((_name(dtype), impl, abs_err, num.format_ulp(ulp.max()),
                         same.double().mean().item(), num.format_ulp(bulp.max()), within))
    return rows, ok


def _complex_rows(device, n):
    rows, ok = [], True
    for dtype in COMPLEX_RTOL:
        x = num.sample_inputs(dtype, n).to(device)
        ref = torch.sigmoid(x.cpu().to(torch.complex128))
        y = tse.sigmoid(x).cpu().to(torch.complex128)
        finite = torch.isfinite(ref)
        rel = ((y - ref).abs() / ref.abs().clamp_min(1e-300))[finite].max().item()
        within = "ok" if rel <= COMPLEX_RTOL[dtype] else "BROKEN"
        rows.append((_name(dtype), rel, within))
        ok &= within == "ok"
    return rows, ok


def _gradchecks(device):
    real = torch.randn(16, dtype=torch.float64, device=device, requires_grad=True)
    complex_ = torch.randn(8, dtype=torch.complex128, device=device, requires_grad=True)
    return all(
        check(tse.sigmoid, (inputs,))
        for check in (torch.autograd.gradcheck, torch.autograd.gradgradcheck)
        for inputs in (real, complex_)
    )


def _timing_rows(device, sizes, samples, min_time):
    grid = [(dtype, size) for dtype in (torch.float32, torch.bfloat16) for size in sizes]
    rows = []
    with _cli.progress(len(grid), "timing") as bar:
        for dtype, size in grid:
            ours, theirs, _ = benchmark.callables("forward", dtype, size, device)
            (ours_times, torch_times), wait = timing.measure((ours, theirs), device, samples,
                                                             min_time)
            speedup = timing.speedup(torch_times, ours_times, wait)
            rows.append((_name(dtype), f"2^{size.bit_length() - 1}",
                         statistics.median(ours_times) * 1e6,
                         statistics.median(torch_times) * 1e6, speedup.spread,
                         timing.format_ratio(speedup.value, speedup.noisy)))
            bar.update()
    return rows


def _bounds_text(bounds, fmt):
    dtypes = {}
    for dtype, bound in bounds.items():
        dtypes.setdefault(bound, []).append(_name(dtype))
    return "; ".join(f"{fmt(bound)} for {' and '.join(names)}" for bound, names in dtypes.items())


# The columns the accuracy tool's table shares, with their legends, written once there.
_SHARED = {column.name: column for column in accuracy.FORWARD_COLUMNS}
ACCURACY_COLUMNS = [
    _SHARED["dtype"],
    _SHARED["impl"],
    _cli.Column("max abs err", "the largest |result - reference| where the reference is "
                "finite", "{:.3e}"),
    _SHARED["max ULP"],
    _SHARED["rounded"]._replace(fmt="{:.2%}"),
    _SHARED["bwd max ULP"],
    _cli.Column("bounds", "for ours: ok where max ULP and bwd max ULP are within the documented "
                "bounds (" + _bounds_text(BOUNDS, lambda pair: f"{pair[0]:g} and {pair[1]:g}") +
                "), else BROKEN, and compare exits 1; - for torch, which promises none",
                align="<"),
]
COMPLEX_COLUMNS = [
    _SHARED["dtype"],
    _cli.Column("max rel err", "the largest |ours - torch.sigmoid in complex128| over |the "
                "latter|, where that is finite", "{:.2e}"),
    _cli.Column("bounds", "ok where max rel err is within " +
                _bounds_text(COMPLEX_RTOL, "{:g}".format) + ", else BROKEN, and compare exits 1",
                align="<"),
]
TIMING_COLUMNS = [benchmark.grid_columns()[name] for name in
                  ("dtype", "size", "ours us", "torch us", "spread", "speedup")]


def build_parser():
    parser = _cli.parser(PROG, __doc__)
    parser.add_argument("--device", default=None,
                        help="cpu or cuda (default: cuda where there is a GPU and this build "
                        "has CUDA kernels, else cpu)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller accuracy samples and fewer sizes timed (default: off)")
    parser.add_argument("--samples", type=_cli.int_in(1, 10000, "--samples"),
                        help=f"interleaved samples per speed figure (default: {TIMING[False][0]}; "
                        f"with --quick {TIMING[True][0]})")
    return parser


def main(argv=None):
    started = _cli.start(build_parser(), argv)
    if started is None:
        return 2
    args, device = started
    n = 1 << (12 if args.quick else 16)

    info = tse.build_info()
    print(f"torch_sigmoid_ext {info['version']} on {device}, torch {torch.__version__}, "
          f"CPU kernels: {info['cpu_variant']}, threads: {torch.get_num_threads()}, "
          f"rounding: {info['rounding']}")
    print(f"built with {info['build']}")

    real, real_ok = _real_rows(device, n)
    print("\nAccuracy against an extended-precision reference, on the same inputs for both:\n")
    print(_cli.table(ACCURACY_COLUMNS, real))
    cplx, cplx_ok = _complex_rows(device, n)
    print("\nComplex inputs, ours against torch.sigmoid computed in complex128:\n")
    print(_cli.table(COMPLEX_COLUMNS, cplx))

    grads_ok = _gradchecks(device)
    print(f"\ngradcheck and gradgradcheck (float64, complex128): {'pass' if grads_ok else 'FAIL'}")

    sizes = [1 << 10, 1 << 16] if args.quick else [1 << 10, 1 << 16, 1 << 20, 1 << 22]
    samples, min_time = TIMING[args.quick]
    samples = args.samples or samples
    print(f"\nForward speed of sigmoid(x), {samples} interleaved samples per row, each call on "
          f"the next of several\nbuffers (more sizes and modes: {benchmark.PROG}):\n")
    print(_cli.table(TIMING_COLUMNS, _timing_rows(device, sizes, samples, min_time)))

    ok = real_ok and cplx_ok and grads_ok
    print("\nagreement: " + ("OK" if ok else "FAILED (outside the documented bounds)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
