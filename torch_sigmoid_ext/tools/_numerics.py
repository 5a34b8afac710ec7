"""Reference values and ULP errors, shared by the comparison, accuracy and benchmark tools and
the tests. The reference is computed in extended precision (numpy's longdouble: 64-bit mantissa
on x86, 113-bit on aarch64) with the stable form, so nothing overflows:

    x >= 0: 1 / (1 + e^-x)        x < 0: e^x / (1 + e^x)

For float32, float16 and bfloat16 there is also the correctly rounded result itself
(correctly_rounded_sigmoid, exact_sigmoid_backward): what the "correct" rounding mode promises,
bit for bit.
"""

import decimal
import math
from fractions import Fraction

import numpy as np
import torch

# dtype -> (mantissa bits, smallest normal exponent)
PRECISION = {
    torch.float32: (23, -126),
    torch.float64: (52, -1022),
    torch.float16: (10, -14),
    torch.bfloat16: (7, -126),
}
# dtype -> the largest exponent of a finite value
MAX_EXPONENT = {torch.float32: 127, torch.float64: 1023, torch.float16: 15, torch.bfloat16: 127}


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
    """The reference rounded once to dtype, to nearest, ties to even: the correctly rounded
    result except at ties so close that the reference cannot tell them apart (for sigmoid in
    float32, float16 and bfloat16, correctly_rounded_sigmoid settles those). Not torch's
    float64-to-16-bit conversion: it rounds twice, through float32."""
    values = reference.astype(np.float64)
    if dtype != torch.float64:
        scaled, ulp_exponent = _on_grid(np.abs(values), dtype)
        with np.errstate(invalid="ignore"):
            values = np.copysign(np.ldexp(np.rint(scaled), ulp_exponent), values)
    return _canonical_nans(torch.from_numpy(values).to(dtype))


# The correctly rounded results. The float64 reference is within a few float64 ULPs of the
# exact sigmoid (a relative error below 2^-50), so where it is further than this (relative)
# from every midpoint between two neighbours in the target dtype, it rounds as the exact value
# does. The few that are closer are settled in decimal arithmetic, whose exp is correctly
# rounded, at DECIMAL_DIGITS significant digits (more where that cannot tell them apart).
ESCALATION_WINDOW = 2.0 ** -40
DECIMAL_DIGITS = 60
CORRECTLY_ROUNDED = (torch.float32, torch.float16, torch.bfloat16)


def correctly_rounded_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """The exact sigmoid of each element of x (float32, float16 or bfloat16), rounded once to
    x's dtype: to nearest, ties to even, subnormal results included; NaN gives the canonical
    NaN. On the CPU, in x's shape."""
    return correctly_rounded_sigmoid_counted(x)[0]


def correctly_rounded_sigmoid_counted(x: torch.Tensor, reference=None):
    """correctly_rounded_sigmoid(x), and how many elements were settled in decimal arithmetic.
    reference: reference_sigmoid(x, np.float64), where the caller has it already."""
    if x.dtype not in CORRECTLY_ROUNDED:
        raise TypeError(f"correctly_rounded_sigmoid: {x.dtype} is not supported; use one of "
                        f"{', '.join(map(str, CORRECTLY_ROUNDED))}")
    x = x.detach().cpu()
    if reference is None:
        reference = reference_sigmoid(x, np.float64)
    reference = reference.reshape(-1)
    scaled, ulp_exponent = _on_grid(reference, x.dtype)
    whole = np.floor(scaled)
    # scaled has at most 25 bits above the point and whole all of them: this is exact
    past_midpoint = scaled - whole - 0.5
    rounded = whole + (past_midpoint > 0)
    hard = np.flatnonzero(np.abs(past_midpoint) <= ESCALATION_WINDOW * scaled)
    if hard.size:
        values = x.reshape(-1)[torch.from_numpy(hard)].to(torch.float64).tolist()
        midpoints = np.ldexp(whole[hard] + 0.5, ulp_exponent[hard]).tolist()
        above = [_sigmoid_above(value, midpoint) for value, midpoint in zip(values, midpoints)]
        rounded[hard] = whole[hard] + np.array(above, dtype=np.float64)
    # exact: every value is on dtype's grid
    result = _canonical_nans(torch.from_numpy(np.ldexp(rounded, ulp_exponent)).to(x.dtype))
    return result.reshape(x.shape), int(hard.size)


# The quiet NaN with no payload and a clear sign bit, which the kernels return for every NaN.
CANONICAL_NAN_BITS = {torch.float32: 0x7FC00000, torch.float64: 0x7FF8000000000000,
                      torch.float16: 0x7E00, torch.bfloat16: 0x7FC0}
# dtype -> the integer dtype of its width, to compare or set bits through a view
INT_VIEW = {torch.float32: torch.int32, torch.float64: torch.int64, torch.float16: torch.int16,
             torch.bfloat16: torch.int16}


def _canonical_nans(values: torch.Tensor) -> torch.Tensor:
    """values with every NaN made the canonical NaN, in place: torch's conversions from
    float64 keep no single NaN (bfloat16's vectorized one gives 0xFFFF)."""
    values.view(INT_VIEW[values.dtype])[values.isnan()] = CANONICAL_NAN_BITS[values.dtype]
    return values


def _on_grid(values, dtype):
    """values (float64, >= 0) in units of dtype's spacing where each lies, subnormal spacing
    included, and that spacing's exponent: values = scaled * 2^ulp_exponent, exactly."""
    mantissa_bits, min_exponent = PRECISION[dtype]
    with np.errstate(invalid="ignore"):
        _, exponent = np.frexp(values)  # values = f * 2^exponent, 1/2 <= f < 1
    ulp_exponent = np.maximum(exponent.astype(np.int64) - 1, min_exponent) - mantissa_bits
    return np.ldexp(values, -ulp_exponent), ulp_exponent


def _sigmoid_above(x: float, midpoint: float) -> bool:
    """Whether the exact sigmoid(x) is above midpoint (never equal: sigmoid(x) is rational only
    at x = 0, where it is 1/2, on every grid)."""
    for digits in (DECIMAL_DIGITS, 4 * DECIMAL_DIGITS):
        with decimal.localcontext() as context:
            context.prec = digits
            context.rounding = decimal.ROUND_HALF_EVEN
            value = decimal.Decimal(x)
            if value >= 0:
                sigmoid = 1 / (1 + (-value).exp())
            else:
                exp_x = value.exp()
                sigmoid = exp_x / (1 + exp_x)
            # three roundings of at most half a unit in the last digit each
            if abs(sigmoid - decimal.Decimal(midpoint)) > sigmoid.scaleb(3 - digits):
                return sigmoid > decimal.Decimal(midpoint)
    raise ArithmeticError(f"sigmoid({x!r}) is within 10^-{4 * DECIMAL_DIGITS - 3} of "
                          f"{midpoint!r}: cannot round it")


def round_fraction(value: Fraction, dtype: torch.dtype) -> float:
    """value rounded once to dtype (float32, float64, float16, bfloat16): to nearest, ties to
    even, subnormal results included, beyond the largest finite value to +-inf. Returned as the
    Python float holding that dtype value exactly (-0.0 where a negative value rounds to 0)."""
    if value == 0:
        return 0.0
    mantissa_bits, min_exponent = PRECISION[dtype]
    numerator, denominator = abs(value.numerator), value.denominator
    exponent = numerator.bit_length() - denominator.bit_length()  # floor(log2) or one more
    if numerator << max(0, -exponent) < denominator << max(0, exponent):
        exponent -= 1
    ulp_exponent = max(exponent, min_exponent) - mantissa_bits
    if ulp_exponent >= 0:
        denominator <<= ulp_exponent
    else:
        numerator <<= -ulp_exponent
    whole, rest = divmod(numerator, denominator)
    if 2 * rest > denominator or (2 * rest == denominator and whole & 1):
        whole += 1
    if whole.bit_length() + ulp_exponent > MAX_EXPONENT[dtype] + 1:
        magnitude = math.inf
    else:
        magnitude = math.ldexp(whole, ulp_exponent)
    return -magnitude if value < 0 else magnitude


def exact_sigmoid_backward(grad: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """sigmoid_backward(grad, output) = grad * output * (1 - output), computed exactly from the
    stored values and rounded once to their dtype (float32, float64, float16, bfloat16; see
    round_fraction). Where an input is NaN or infinite, IEEE arithmetic decides, as for
    grad * (1 - output) * output, and so it does for the sign of an exact zero; NaN results are
    the canonical NaN. grad and output: the same shape and dtype. On the CPU; a Python loop,
    for samples (about 10 µs an element)."""
    if grad.shape != output.shape or grad.dtype != output.dtype:
        raise ValueError(f"exact_sigmoid_backward: grad is {grad.dtype} {tuple(grad.shape)} "
                         f"and output {output.dtype} {tuple(output.shape)}; pass the same shape "
                         "and dtype")
    if output.dtype not in PRECISION:
        raise TypeError(f"exact_sigmoid_backward: {output.dtype} is not supported; use one of "
                        f"{', '.join(map(str, PRECISION))}")
    dtype = output.dtype
    values = [_backward_one(g, y, dtype)
              for g, y in zip(grad.detach().cpu().reshape(-1).tolist(),
                              output.detach().cpu().reshape(-1).tolist())]
    rounded = torch.tensor(values, dtype=torch.float64).to(dtype)  # exact: on dtype's grid
    return _canonical_nans(rounded).reshape(output.shape)


def _backward_one(grad: float, y: float, dtype: torch.dtype) -> float:
    if math.isfinite(grad) and math.isfinite(y):
        exact = Fraction(grad) * Fraction(y) * (1 - Fraction(y))
        if exact:
            return round_fraction(exact, dtype)
    # A zero factor, an infinity or a NaN: float64 gives what IEEE arithmetic in dtype would
    # (no product of finite dtype values overflows or underflows to zero in float64).
    value = grad * (1.0 - y) * y
    return math.nan if math.isnan(value) else value


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
