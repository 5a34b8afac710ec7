"""Reference values and ULP errors, shared by the comparison, accuracy and benchmark tools and
the tests. The reference is computed in extended precision (numpy's longdouble: 64-bit mantissa
on x86, 113-bit on aarch64) with the stable form, so nothing overflows:

    x >= 0: 1 / (1 + e^-x)        x < 0: e^x / (1 + e^x)
"""

import numpy as np
import torch

# dtype -> (mantissa bits, smallest normal exponent)
PRECISION = {
    torch.float32: (23, -126),
    torch.float64: (52, -1022),
    torch.float16: (10, -14),
    torch.bfloat16: (7, -126),
}


def to_longdouble(t: torch.Tensor, precision=np.longdouble) -> np.ndarray:
    """Exact: every float16/bfloat16/float32/float64 value is a float64 value."""
    return t.detach().cpu().to(torch.float64).numpy().astype(precision, copy=False)


def reference_sigmoid(x: torch.Tensor, precision=np.longdouble) -> np.ndarray:
    """precision: np.longdouble, or np.float64, exact enough for float32 and narrower results
    and faster (the exhaustive float32 sweep uses it)."""
    values = to_longdouble(x, precision)
    out = np.empty_like(values)
    positive = values >= 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        out[positive] = 1 / (1 + np.exp(-values[positive]))
        exp_x = np.exp(values[~positive])  # NaN lands here and stays NaN
        out[~positive] = exp_x / (1 + exp_x)
    return out


def reference_sigmoid_backward(grad: torch.Tensor, output: torch.Tensor) -> np.ndarray:
    """grad * y * (1 - y) for the given grad and y, exactly as stored."""
    grad_values, y = to_longdouble(grad), to_longdouble(output)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return grad_values * y * (1 - y)


def ulp_error(result: torch.Tensor, reference: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """|result - reference| in units in the last place of dtype at the reference, subnormal
    spacing included. NaN where both are NaN counts as 0, a NaN on one side only as inf."""
    mantissa_bits, min_exponent = PRECISION[dtype]
    ref = reference
    y = to_longdouble(result, ref.dtype)  # computed in the reference's precision
    magnitude = np.abs(ref)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        _, exponent = np.frexp(magnitude.astype(np.float64))
        exponent = np.where(magnitude == 0, min_exponent, np.maximum(exponent - 1, min_exponent))
        ulp = np.ldexp(ref.dtype.type(1), (exponent - mantissa_bits).astype(np.int64))
        err = np.abs(y - ref) / ulp
    both_nan = np.isnan(y) & np.isnan(ref)
    err = np.where(both_nan, 0.0, err)
    err = np.where(np.isnan(err), np.inf, err)  # NaN on one side, or inf minus inf
    same_inf = np.isinf(y) & np.isinf(ref) & (np.sign(y) == np.sign(ref))
    return np.where(same_inf, 0.0, err).astype(np.float64)


def rounded_reference(reference: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """The correctly rounded result: the reference rounded once to dtype (via float64, which is
    exact enough except at ties so close that longdouble cannot tell them apart)."""
    return torch.from_numpy(reference.astype(np.float64)).to(dtype)


def sample_inputs(dtype: torch.dtype, n: int = 1 << 16, seed: int = 0) -> torch.Tensor:
    """A sample that covers where sigmoid is hard: a dense sweep of its whole range, the
    subnormal tail, values near the point where it saturates to 1, and the special values."""
    gen = torch.Generator().manual_seed(seed)
    lo = -760.0 if dtype == torch.float64 else -110.0
    parts = [
        torch.linspace(-20, 20, n, dtype=torch.float64),
        torch.linspace(lo, -80, n // 4, dtype=torch.float64),
        torch.linspace(15, 40, n // 8, dtype=torch.float64),
        torch.randn(n, generator=gen, dtype=torch.float64) * 8,
        torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-30, -1e-30]),
    ]
    x = torch.cat(parts)
    if dtype.is_complex:
        real = torch.float64 if dtype == torch.complex128 else torch.float32
        x = x.to(real)
        y = x.roll(1)
        finite = torch.isfinite(x) & torch.isfinite(y)
        return torch.complex(x[finite].clamp(-50, 50), y[finite].clamp(-50, 50)).to(dtype)
    return x.to(dtype)


def format_ulp(value: float, digits: int = 2) -> str:
    """A ULP error for a table: fixed-point where small, else three figures, so that a flushed
    or overflowed result (millions of ULPs, 1e15 in float64) does not take a column's width."""
    return f"{value:.{digits}f}" if value < 1e4 else f"{value:.3g}"
