"""python -m torch_sigmoid_ext compare: this package against torch.sigmoid, side by side.

For each dtype: forward and backward error against an extended-precision reference (max
absolute error, max ULP, share correctly rounded), for ours and for torch.sigmoid; a gradcheck
and gradgradcheck; and the time of both at a few sizes. Exits 1 if our results break the
documented bounds, so it doubles as an installation check.
"""

import argparse
import sys
import time

import numpy as np
import torch

import torch_sigmoid_ext as tse

from . import _numerics as num

# The documented bounds (README, "Guarantees"): max ULP for forward, backward.
BOUNDS = {
    torch.float32: (2.0, 3.0),
    torch.float64: (2.0, 3.0),
    torch.float16: (1.0, 1.0),
    torch.bfloat16: (1.0, 1.0),
}
COMPLEX_RTOL = {torch.complex64: 1e-5, torch.complex128: 1e-12}
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def _name(dtype):
    return str(dtype).replace("torch.", "")


def _real_rows(device, n):
    rows, ok = [], True
    for dtype in DTYPES:
        x = num.sample_inputs(dtype, n).to(device)
        ref = num.reference_sigmoid(x)
        fwd_bound, bwd_bound = BOUNDS[dtype]
        y_ours, y_torch = tse.sigmoid(x), torch.sigmoid(x)
        g = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(dtype).to(device)
        bref = num.reference_sigmoid_backward(g, y_ours)
        b_ours = torch.ops.torch_sigmoid_ext.sigmoid_backward(g, y_ours)
        b_torch = torch.ops.aten.sigmoid_backward(g, y_ours)
        correct = num.rounded_reference(ref, dtype)
        for impl, y, b in (("ours", y_ours, b_ours), ("torch", y_torch, b_torch)):
            ulp = num.ulp_error(y, ref, dtype)
            bulp = num.ulp_error(b, bref, dtype)
            finite = np.isfinite(ref)
            abs_err = float(np.max(np.abs(num.to_longdouble(y)[finite] - ref[finite])))
            same = (y.cpu() == correct) | (y.cpu().isnan() & correct.isnan())
            rows.append(
                (_name(dtype), impl, abs_err, ulp.max(), 100 * same.double().mean().item(),
                 bulp.max())
            )
            if impl == "ours" and (ulp.max() > fwd_bound or bulp.max() > bwd_bound):
                ok = False
    return rows, ok


def _complex_rows(device, n):
    rows, ok = [], True
    for dtype in COMPLEX_RTOL:
        x = num.sample_inputs(dtype, n).to(device)
        ref = torch.sigmoid(x.cpu().to(torch.complex128))
        y = tse.sigmoid(x).cpu().to(torch.complex128)
        finite = torch.isfinite(ref)
        rel = ((y - ref).abs() / ref.abs().clamp_min(1e-300))[finite].max().item()
        rows.append((_name(dtype), rel))
        ok &= rel <= COMPLEX_RTOL[dtype]
    return rows, ok


def _gradchecks(device):
    x = torch.randn(16, dtype=torch.float64, device=device, requires_grad=True)
    z = torch.randn(8, dtype=torch.complex128, device=device, requires_grad=True)
    return all(
        check(tse.sigmoid, (t,))
        for check in (torch.autograd.gradcheck, torch.autograd.gradgradcheck)
        for t in (x, z)
    )


def _time(fn, x, repeats):
    for _ in range(3):
        fn(x)
    samples = []
    for _ in range(5):
        if x.is_cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) / repeats)
    return float(np.median(samples))


def _timing_rows(device, sizes):
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for size in sizes:
            x = torch.randn(size, device=device).to(dtype)
            repeats = max(3, min(2000, (1 << 22) // size))
            t_ours = _time(tse.sigmoid, x, repeats)
            t_torch = _time(torch.sigmoid, x, repeats)
            rows.append((_name(dtype), size, t_ours * 1e6, t_torch * 1e6, t_torch / t_ours))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m torch_sigmoid_ext compare",
        description="Compare torch_sigmoid_ext with torch.sigmoid: accuracy, gradients, speed.",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="smaller samples, fewer sizes")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    n = 1 << (12 if args.quick else 16)

    info = tse.build_info()
    print(f"torch_sigmoid_ext {info['version']} on {device}, torch {torch.__version__}, "
          f"CPU kernels: {info['cpu_variant']}, threads: {torch.get_num_threads()}")

    real, real_ok = _real_rows(device, n)
    print("\nAccuracy against an extended-precision reference (the same inputs for both):")
    print(f"{'dtype':<10}{'impl':<7}{'max abs err':>13}{'max ULP':>9}{'correctly rounded':>19}"
          f"{'backward max ULP':>18}")
    for dt, impl, abs_err, ulp, cr, bulp in real:
        print(f"{dt:<10}{impl:<7}{abs_err:>13.3e}{ulp:>9.2f}{cr:>18.2f}%{bulp:>18.2f}")
    cplx, cplx_ok = _complex_rows(device, n)
    for dt, rel in cplx:
        print(f"{dt:<10}ours   max relative error vs torch.sigmoid in complex128: {rel:.2e}")

    grads_ok = _gradchecks(device)
    print(f"\ngradcheck and gradgradcheck (float64, complex128): {'pass' if grads_ok else 'FAIL'}")

    sizes = [1 << 10, 1 << 16] if args.quick else [1 << 10, 1 << 16, 1 << 20, 1 << 22]
    print("\nForward time, median of 5 (full grid: python -m torch_sigmoid_ext.benchmark):")
    print(f"{'dtype':<10}{'elements':>10}{'ours us':>11}{'torch us':>11}{'speedup':>9}")
    for dt, size, t_ours, t_torch, ratio in _timing_rows(device, sizes):
        print(f"{dt:<10}{size:>10}{t_ours:>11.2f}{t_torch:>11.2f}{ratio:>8.2f}x")

    ok = real_ok and cplx_ok and grads_ok
    print("\nagreement: " + ("OK" if ok else "FAILED (outside the documented bounds)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
