"""Rounding modes (issue 21): set_rounding, get_rounding and rounding(); what each mode
promises, checked bit for bit against the correctly rounded reference in
torch_sigmoid_ext.tools._numerics; and that reference itself, against hand-checked values and
decimal arithmetic, so that it cannot be silently wrong.

What the modes promise (torch_sigmoid_ext._rounding): in both, every float16 and bfloat16
result and the float32, float16 and bfloat16 backward are correctly rounded (to nearest, ties to
even, subnormal results included); "correct" adds the float32 forward, and refuses complex64.
Every CPU variant gives the same bits."""

import contextlib
import decimal
import math
import random
from fractions import Fraction

import numpy as np
import pytest
import torch

import torch_sigmoid_ext as tse
from torch_sigmoid_ext._extension import native
from torch_sigmoid_ext.tools import _numerics as num

MODES = ("default", "correct")
CPU_VARIANTS = ("generic", "avx2", "avx512", "avx512_bf16")
SUPPORTED_VARIANTS = tse.build_info()["cpu_variants_supported"].split(",")
HALF_TYPES = (torch.float16, torch.bfloat16)
# The five float32 inputs whose sigmoid is closest to a midpoint between two float32 values
# (the relative distance beside each), found by the reference over all 2^32 inputs: there
# sigmoid(x) = 1/2 + x/4 - x^3/48 + ... is a midpoint but for the cube.
HARD_FLOAT32 = [
    -2.0 ** -24,  # 2^-76.6
    2.0 ** -23,  # 2^-73.6
    -3 * 2.0 ** -24,  # 2^-71.8
    -5 * 2.0 ** -24,  # 2^-69.6
    3 * 2.0 ** -23,  # 2^-68.8
]


@pytest.fixture(autouse=True)
def _restore_rounding():
    """Every test leaves the process-wide mode as it found it, whatever it does."""
    before = tse.get_rounding()
    yield
    tse.set_rounding(before)


@contextlib.contextmanager
def _cpu_variant(name):
    if name not in SUPPORTED_VARIANTS:
        pytest.skip(f"this CPU cannot run the {name} kernels")
    original = tse.build_info()["cpu_variant"]
    assert native.set_cpu_variant(name)
    try:
        yield
    finally:
        native.set_cpu_variant(original)


def _mismatches(got, expected, inputs=()):
    """The first few elements whose bits differ (NaN included: there is one canonical NaN), as
    text naming the inputs, the result and the expected value; '' where all agree."""
    assert got.dtype == expected.dtype and got.shape == expected.shape
    view = num.INT_VIEW[got.dtype]
    differ = (got.cpu().view(view) != expected.view(view)).reshape(-1).nonzero().reshape(-1)
    lines = []
    for index in differ[:8].tolist():
        named = ", ".join(f"{t.reshape(-1)[index].item()!r}" for t in inputs)
        lines.append(f"({named}) -> {got.reshape(-1)[index].item()!r}, correctly rounded "
                     f"{expected.reshape(-1)[index].item()!r}")
    return f"{differ.numel()} of {got.numel()} differ: " + "; ".join(lines) if lines else ""


def _every_value(dtype):
    bits = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16)
    return bits.view(dtype)


def _next_up(t):
    """Each value moved one ULP away from zero (on the bits): what a 1-ULP error looks like."""
    view = num.INT_VIEW[t.dtype]
    return (t.view(view) + 1).view(t.dtype)


# --- The reference -------------------------------------------------------------------------

def _decimal_sigmoid(x, digits=80):
    with decimal.localcontext() as context:
        context.prec = digits
        value = decimal.Decimal(x)
        if value >= 0:
            return 1 / (1 + (-value).exp())
        exp_x = value.exp()
        return exp_x / (1 + exp_x)


HAND_CHECKED = [
    # (dtype, x, correctly rounded sigmoid(x), why)
    (torch.float32, 0.0, 0.5, "exact"),
    (torch.float32, -0.0, 0.5, "exact"),
    (torch.float32, math.inf, 1.0, "limit"),
    (torch.float32, -math.inf, 0.0, "limit"),
    # 1/2 - 2^-26 is the midpoint below 1/2; -x^3/48 = 2^-77.6 lifts sigmoid above it
    (torch.float32, -2.0 ** -24, 0.5, "just above a midpoint"),
    (torch.float32, -3 * 2.0 ** -24, 0.5 - 2.0 ** -25, "just above a midpoint"),
    # 1/2 + 3 * 2^-25 is a midpoint whose even neighbour is above it: float64 rounds to the tie
    # and ties to even would go up, but sigmoid is just below it
    (torch.float32, 3 * 2.0 ** -23, 0.5 + 2.0 ** -24, "just below a midpoint"),
    (torch.float32, 2.0 ** -23, 0.5, "just below a midpoint"),
    # e^-104 = 6.83e-46 is below 2^-150 = 7.01e-46, half the smallest subnormal
    (torch.float32, -104.0, 0.0, "below half the smallest subnormal"),
    # e^-103 = 1.855e-45 = 1.32 * 2^-149
    (torch.float32, -103.0, 2.0 ** -149, "subnormal"),
    (torch.float32, -1e30, 0.0, "far below"),
    (torch.float32, 1e30, 1.0, "far above"),
    # 1 - e^-17 = 1 - 4.14e-8 is closer to 1 - 2^-24 = 1 - 5.96e-8 than to 1
    (torch.float32, 17.0, 1.0 - 2.0 ** -24, "just below 1"),
    (torch.float32, 18.0, 1.0, "rounds to 1"),
    (torch.float16, -3 * 2.0 ** -11, 0.5 - 2.0 ** -12, "just above a midpoint"),
    (torch.float16, -18.0, 0.0, "e^-18 = 1.52e-8 is below 2^-25 = 2.98e-8"),
    (torch.float16, -17.0, 2.0 ** -24, "e^-17 = 4.14e-8 = 0.69 * 2^-24"),
    (torch.bfloat16, -3 * 2.0 ** -8, 0.5 - 2.0 ** -9, "just above a midpoint"),
    (torch.bfloat16, 3 * 2.0 ** -7, 0.5 + 2.0 ** -8, "just below a midpoint"),
    (torch.bfloat16, -3 * 2.0 ** -7, 0.5 - 3 * 2.0 ** -9, "near a value, not a midpoint"),
]


@pytest.mark.parametrize("dtype, x, expected, why", HAND_CHECKED,
                         ids=[f"{case[0]}-{case[1]!r}" for case in HAND_CHECKED])
def test_reference_hand_checked(dtype, x, expected, why):
    got = num.correctly_rounded_sigmoid(torch.tensor([x], dtype=dtype))
    assert got.dtype == dtype
    assert _mismatches(got, torch.tensor([expected], dtype=dtype)) == "", why


def test_reference_nan_is_canonical_and_shape_kept():
    payloads = torch.tensor([0x7FC00001, -0x00400000, 0x7F800001], dtype=torch.int32)
    x = payloads.view(torch.float32).reshape(3, 1)
    got = num.correctly_rounded_sigmoid(x)
    assert got.shape == (3, 1)
    assert got.view(torch.int32).reshape(-1).tolist() == [0x7FC00000] * 3


def _random_inputs(dtype, count, seed):
    """Values where sigmoid is neither 0, 1/2 nor 1 in dtype, spread over every binade that
    matters: uniform in [-110, 30], near 0 on a log scale, and the subnormal-result region."""
    rng = random.Random(seed)
    low = {torch.float16: -18.0}.get(dtype, -105.0)
    values = [rng.uniform(low, 30.0) for _ in range(count)]
    values += [rng.choice((-1, 1)) * 2.0 ** rng.uniform(-30, 2) for _ in range(count)]
    values += [rng.uniform(low, low + 17) for _ in range(count)]
    return torch.tensor(values, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("dtype", num.CORRECTLY_ROUNDED, ids=str)
def test_reference_equals_decimal(dtype):
    # Independent of the float64 stage and of its window: sigmoid in 80-digit decimal, rounded
    # exactly (round_fraction, checked below on its own).
    x = torch.cat([_random_inputs(dtype, 200, seed=3),
                   torch.tensor(HARD_FLOAT32, dtype=torch.float64).to(dtype)])
    expected = torch.tensor([num.round_fraction(Fraction(_decimal_sigmoid(v)), dtype)
                             for v in x.tolist()], dtype=torch.float64).to(dtype)
    assert _mismatches(num.correctly_rounded_sigmoid(x), expected, (x,)) == ""


def test_float64_stage_is_well_inside_the_window():
    # The escalation is safe only while the float64 reference's error is far below the window.
    x = _random_inputs(torch.float32, 300, seed=4)
    reference = num.reference_sigmoid(x, np.float64)
    worst = max(abs(Fraction(float(ref)) - Fraction(_decimal_sigmoid(value))) /
                Fraction(_decimal_sigmoid(value))
                for value, ref in zip(x.tolist(), reference.tolist()))
    assert worst < num.ESCALATION_WINDOW / 2 ** 8


@pytest.mark.parametrize("dtype", HALF_TYPES, ids=str)
def test_reference_every_16_bit_value_against_decimal_near_midpoints(dtype):
    # Every 16-bit input whose sigmoid is within 2^-20 (relative) of a midpoint: a wider net
    # than the reference's window, each settled again here in decimal.
    x = _every_value(dtype)
    x = x[~x.isnan()]
    reference = num.reference_sigmoid(x, np.float64)
    scaled, _ = num._on_grid(reference, dtype)
    near = np.abs(scaled - np.floor(scaled) - 0.5) <= 2.0 ** -20 * scaled
    x = x[torch.from_numpy(near)]
    assert x.numel() >= 5  # the inputs like -3 * 2^-11 are there
    expected = torch.tensor([num.round_fraction(Fraction(_decimal_sigmoid(v)), dtype)
                             for v in x.tolist()], dtype=torch.float64).to(dtype)
    assert _mismatches(num.correctly_rounded_sigmoid(x), expected, (x,)) == ""


ROUND_FRACTION_CASES = [
    # (value, dtype, rounded): ties go to the even neighbour
    (Fraction(1) + Fraction(1, 2 ** 24), torch.float32, 1.0),
    (Fraction(1) + Fraction(3, 2 ** 24), torch.float32, 1 + 2.0 ** -22),
    (Fraction(1) + Fraction(3, 2 ** 25), torch.float32, 1 + 2.0 ** -23),
    (Fraction(1, 2 ** 150), torch.float32, 0.0),
    (Fraction(3, 2 ** 150), torch.float32, 2.0 ** -148),
    (Fraction(1, 2 ** 150) + Fraction(1, 2 ** 400), torch.float32, 2.0 ** -149),
    (-Fraction(1, 2 ** 151), torch.float32, -0.0),
    (Fraction(1, 3), torch.float32, float(np.float32(1 / 3))),
    # the largest float32 is (2 - 2^-23) * 2^127: half an ULP above it is a tie with 2^128,
    # whose mantissa is even, so it overflows
    (Fraction(2 ** 128 - 2 ** 104), torch.float32, float(np.finfo(np.float32).max)),
    (Fraction(2 ** 128 - 2 ** 103 - 1), torch.float32, float(np.finfo(np.float32).max)),
    (Fraction(2 ** 128 - 2 ** 103), torch.float32, math.inf),
    (-Fraction(2 ** 200), torch.float32, -math.inf),
    (Fraction(65520), torch.float16, math.inf),
    (Fraction(65519), torch.float16, 65504.0),
    (Fraction(1, 2 ** 25), torch.float16, 0.0),
    (Fraction(3, 2 ** 25), torch.float16, 2.0 ** -23),
    (Fraction(1) + Fraction(1, 2 ** 8), torch.bfloat16, 1.0),
    (Fraction(1) + Fraction(3, 2 ** 8), torch.bfloat16, 1 + 2.0 ** -6),
    (Fraction(3, 2 ** 134), torch.bfloat16, 2.0 ** -132),
    (Fraction(3, 2 ** 135), torch.bfloat16, 2.0 ** -133),
    (Fraction(1, 10), torch.float64, 0.1),
]


@pytest.mark.parametrize("value, dtype, expected", ROUND_FRACTION_CASES)
def test_round_fraction_hand_checked(value, dtype, expected):
    got = num.round_fraction(value, dtype)
    assert got == expected and math.copysign(1, got) == math.copysign(1, expected), got


@pytest.mark.parametrize("dtype, numpy_type", [(torch.float32, np.float32),
                                               (torch.float16, np.float16)], ids=str)
def test_round_fraction_equals_numpy_conversion(dtype, numpy_type):
    # numpy rounds a float64 to float32 and float16 once, to nearest even: an independent check,
    # over every exponent where the dtype's normals, subnormals, zeros and overflows lie.
    rng = random.Random(5)
    low, high = (-160, 130) if dtype == torch.float32 else (-27, 17)
    values = [rng.choice((-1, 1)) * math.ldexp(rng.random(), rng.randrange(low, high))
              for _ in range(4000)]
    # values with a 1 just past the dtype's precision: ties and near-ties
    values += [math.ldexp(rng.getrandbits(12) * 2 + 1, rng.randrange(low, high) - 12)
               for _ in range(1000)]
    with np.errstate(over="ignore"):
        expected = [float(numpy_type(value)) for value in values]
    got = [num.round_fraction(Fraction(value), dtype) for value in values]
    assert [(v, g, e) for v, g, e in zip(values, got, expected)
            if g != e or math.copysign(1, g) != math.copysign(1, e)] == []


def test_round_fraction_float64_equals_python_division():
    # Python's int / int is correctly rounded to float64.
    rng = random.Random(6)
    for _ in range(2000):
        value = Fraction(rng.getrandbits(200) + 1, rng.getrandbits(rng.randrange(1, 900)) + 1)
        assert num.round_fraction(value, torch.float64) == float(value), value


def test_exact_backward_against_float64():
    # g * y * (1 - y) in float64 from float16 values: g and y have 11 bits and 1 - y at most 25
    # for y >= 2^-14, so the product is exact in float64 and its one rounding to float16 (numpy:
    # once, to nearest even) is the correctly rounded result.
    gen = torch.Generator().manual_seed(7)
    g = (torch.randn(3000, generator=gen) * 100).to(torch.float16)
    y = (torch.rand(3000, generator=gen) * 2.5 - 0.5).to(torch.float16)
    y = torch.where(y.abs() < 2 ** -14, torch.tensor(0.25, dtype=torch.float16), y)
    gd, yd = g.double().numpy(), y.double().numpy()
    with np.errstate(over="ignore"):
        expected = torch.from_numpy((gd * yd * (1 - yd)).astype(np.float16))
    assert _mismatches(num.exact_sigmoid_backward(g, y), expected, (g, y)) == ""


def test_exact_backward_refuses_mismatched_arguments():
    with pytest.raises(ValueError, match="exact_sigmoid_backward"):
        num.exact_sigmoid_backward(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="exact_sigmoid_backward"):
        num.exact_sigmoid_backward(torch.ones(3), torch.ones(3, dtype=torch.float16))


@pytest.mark.parametrize("dtype", num.CORRECTLY_ROUNDED, ids=str)
def test_comparison_catches_one_ulp(dtype):
    # The checks below compare bits; a 1-ULP error anywhere, or another NaN, must show.
    x = _random_inputs(dtype, 50, seed=8)
    expected = num.correctly_rounded_sigmoid(x)
    assert _mismatches(expected.clone(), expected) == ""
    for index in (0, 77, expected.numel() - 1):
        wrong = expected.clone()
        wrong[index] = _next_up(wrong[index:index + 1])[0]
        report = _mismatches(wrong, expected, (x,))
        assert report.startswith(f"1 of {x.numel()} differ: ({x[index].item()!r})"), report
    nan = torch.tensor([math.nan], dtype=dtype)
    assert _mismatches(torch.tensor([-1], dtype=num.INT_VIEW[dtype]).view(dtype), nan) != ""
    grad, y = x, torch.sigmoid(x)
    exact = num.exact_sigmoid_backward(grad, y)
    assert _mismatches(_next_up(exact), exact) != ""


# --- The API -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_set_and_get(mode):
    tse.set_rounding(mode)
    assert tse.get_rounding() == mode
    assert tse.build_info()["rounding"] == mode


def test_context_manager_restores_the_mode():
    tse.set_rounding("default")
    with tse.rounding("correct"):
        assert tse.get_rounding() == "correct"
        with tse.rounding("default"):
            assert tse.get_rounding() == "default"
        assert tse.get_rounding() == "correct"
    assert tse.get_rounding() == "default"


def test_context_manager_restores_on_exception():
    tse.set_rounding("correct")
    with pytest.raises(KeyError, match="inside"):
        with tse.rounding("default"):
            assert tse.get_rounding() == "default"
            raise KeyError("inside")
    assert tse.get_rounding() == "correct"


@pytest.mark.parametrize("mode", ["exact", "Correct", "", None, 1])
def test_unknown_mode_is_refused(mode):
    tse.set_rounding("correct")
    with pytest.raises(ValueError, match=r"torch_sigmoid_ext\.set_rounding: unknown rounding "
                                         r"mode .*'default', 'correct'"):
        tse.set_rounding(mode)
    with pytest.raises(ValueError, match="torch_sigmoid_ext"):
        with tse.rounding(mode):
            pass
    assert tse.get_rounding() == "correct"


def test_mode_is_read_at_each_call():
    # The same tensor, called in each mode: the float32 results differ where the default mode
    # is not correctly rounded (about 4% of inputs), and "correct" gives the reference.
    x = torch.linspace(-10, 10, 4001)
    expected = num.correctly_rounded_sigmoid(x)
    with tse.rounding("default"):
        default = tse.sigmoid(x)
    with tse.rounding("correct"):
        correct = tse.sigmoid(x)
    with tse.rounding("default"):
        again = tse.sigmoid(x)
    assert _mismatches(correct, expected, (x,)) == ""
    assert _mismatches(default, expected) != "", "the default mode is correctly rounded here"
    assert torch.equal(default.view(torch.int32), again.view(torch.int32))


# --- Forward -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def every_16_bit():
    """dtype -> (every value, its correctly rounded sigmoid)."""
    out = {}
    for dtype in HALF_TYPES:
        x = _every_value(dtype)
        out[dtype] = x, num.correctly_rounded_sigmoid(x)
    return out


@pytest.mark.parametrize("variant", CPU_VARIANTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", HALF_TYPES, ids=str)
def test_16_bit_forward_correctly_rounded_on_every_input(every_16_bit, dtype, mode, variant):
    x, expected = every_16_bit[dtype]
    with _cpu_variant(variant), tse.rounding(mode):
        got = tse.sigmoid(x)
        strided = tse.sigmoid(torch.stack([x, x], dim=1)[:, 0])  # the scalar loop
    assert _mismatches(got, expected, (x,)) == ""
    assert _mismatches(strided, expected, (x,)) == ""


def _float32_around(centres, ulps):
    """Every float32 within ulps bit patterns of each centre (the centres as float32)."""
    bits = torch.tensor(centres, dtype=torch.float64).to(torch.float32).view(torch.int32)
    offsets = torch.arange(-ulps, ulps + 1, dtype=torch.int32)
    return (bits[:, None] + offsets).reshape(-1).view(torch.float32)


def _float32_between(low, high):
    """Every float32 in [low, high] for low < high <= 0."""
    start = torch.tensor([high], dtype=torch.float32).view(torch.int32).item()
    stop = torch.tensor([low], dtype=torch.float32).view(torch.int32).item()
    return torch.arange(start, stop + 1, dtype=torch.int32).view(torch.float32)


def _strided_float32(step):
    bits = torch.arange(0, 1 << 32, step, dtype=torch.int64)
    return torch.where(bits >= 1 << 31, bits - (1 << 32), bits).to(torch.int32).view(
        torch.float32)


@pytest.fixture(scope="module")
def float32_sample():
    """A stratified float32 sample and its correctly rounded sigmoid: every 4093rd bit pattern
    (4093 is prime: every exponent and mantissa pattern turns up), a window around each power
    of two in x and around each x where sigmoid(x) crosses a power of two (2^-k and 1 - 2^-k:
    the binade edges of the result), every input whose result is subnormal or near 2^-150
    (x in [-104, -87]), tiny |x| (multiples of 2^-25: sigmoid(x) is near a midpoint there), the
    known hard inputs and the special values."""
    info = torch.finfo(torch.float32)
    powers = [sign * 2.0 ** e for e in range(-149, 128) for sign in (1, -1)]
    result_edges = [-math.log(2.0 ** k - 1) for k in range(2, 150)]
    result_edges += [math.log(2.0 ** k - 1) for k in range(2, 26)]
    tiny = [sign * j * 2.0 ** -25 for j in range(1, 1 << 12) for sign in (1, -1)]
    special = [0.0, -0.0, math.inf, -math.inf, math.nan, info.max, -info.max, info.tiny,
               -info.tiny, info.smallest_normal * info.eps, -info.smallest_normal * info.eps]
    x = torch.cat([
        _strided_float32(4093),
        _float32_around(powers, 64),
        _float32_around(result_edges, 64),
        _float32_between(-104.0, -87.0),
        torch.tensor(tiny + HARD_FLOAT32 + special, dtype=torch.float32),
    ])
    return x, num.correctly_rounded_sigmoid(x)


@pytest.mark.parametrize("variant", CPU_VARIANTS)
def test_float32_correct_mode_on_a_stratified_sample(float32_sample, variant):
    x, expected = float32_sample
    with _cpu_variant(variant), tse.rounding("correct"):
        got = tse.sigmoid(x)
    assert _mismatches(got, expected, (x,)) == ""


@pytest.mark.parametrize("variant", CPU_VARIANTS)
def test_float32_correct_mode_scalar_path_and_every_length(float32_sample, variant):
    # The scalar loop (a strided input) and the vector loops' tails give the same bits.
    x, expected = float32_sample
    x, expected = x[:1 << 16], expected[:1 << 16]
    with _cpu_variant(variant), tse.rounding("correct"):
        strided = tse.sigmoid(torch.stack([x, x], dim=1)[:, 0])
        pieces = [tse.sigmoid(x[offset:offset + length])
                  for offset, length in ((0, 1), (1, 7), (3, 17), (5, 33), (9, 4097))]
    assert _mismatches(strided, expected, (x,)) == ""
    for piece, (offset, length) in zip(pieces, ((0, 1), (1, 7), (3, 17), (5, 33), (9, 4097))):
        assert _mismatches(piece, expected[offset:offset + length]) == ""


SPECIAL = [  # (x, sigmoid(x)) in every mode
    (math.nan, math.nan), (math.inf, 1.0), (-math.inf, 0.0), (0.0, 0.5), (-0.0, 0.5),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", num.CORRECTLY_ROUNDED, ids=str)
def test_special_values(dtype, mode):
    x = torch.tensor([value for value, _ in SPECIAL], dtype=dtype)
    nan_payload = torch.tensor([-1], dtype=num.INT_VIEW[dtype]).view(dtype)  # a negative NaN
    x = torch.cat([x, nan_payload])
    expected = torch.tensor([result for _, result in SPECIAL] + [math.nan], dtype=dtype)
    with tse.rounding(mode):
        assert _mismatches(tse.sigmoid(x), expected, (x,)) == ""


def test_float64_is_the_same_in_both_modes():
    x = num.sample_inputs(torch.float64, 1 << 12)
    with tse.rounding("default"):
        default = tse.sigmoid(x)
    with tse.rounding("correct"):
        correct = tse.sigmoid(x)
    assert _mismatches(correct, default, (x,)) == ""


# --- Backward ------------------------------------------------------------------------------

def _random_bits(dtype, n, gen):
    """n random bit patterns of dtype: every finite value, infinity and NaN can turn up."""
    width = dtype.itemsize * 8
    bits = torch.randint(-(1 << (width - 1)), 1 << (width - 1), (n,), generator=gen)
    return bits.to(num.INT_VIEW[dtype]).view(dtype)


# (grad, y) whose exact grad y (1 - y) lies just off a midpoint between two neighbours of the
# dtype, while its rounding to the precision the kernels compute in (double for float32, float
# for the 16-bit types) lands on that midpoint: rounding twice gets these wrong, and random
# pairs almost never reach them (one in 2^28 for float32). Found by a search over random
# pairs; test_near_midpoint_pairs_are_near_midpoints checks that they are. (Hexadecimal: exact.)
NEAR_MIDPOINT_HEX = {
    torch.float32: [("0x1.572cbp+0", "0x1.d27b5ap-8"), ("0x1.fea6e8p+0", "0x1.5e881ap-7"),
                    ("0x1.ecef7ap+0", "0x1.e1364ep-5"), ("0x1.82188ep+0", "0x1.781b0cp-6")],
    torch.float16: [("0x1.c28p+0", "0x1.41p-5"), ("0x1.4ep+0", "0x1.cb8p-4"),
                    ("0x1.554p+0", "0x1.df8p-2"), ("0x1.8acp+0", "0x1.4a4p-3"),
                    ("0x1.9cp+0", "0x1.758p-7"), ("0x1.764p+0", "0x1.5a8p-8")],
    torch.bfloat16: [("0x1.84p+0", "0x1.8p-34"), ("0x1.8p+0", "0x1.8cp-25"),
                     ("0x1.fp+0", "0x1.ap-43"), ("0x1.4ep+0", "0x1.b2p-12"),
                     ("0x1.34p+0", "0x1.4ap-14")],
}
NEAR_MIDPOINT_PAIRS = {dtype: [(float.fromhex(g), float.fromhex(y)) for g, y in pairs]
                       for dtype, pairs in NEAR_MIDPOINT_HEX.items()}
WORKING_PRECISION = {torch.float32: torch.float64, torch.float16: torch.float32,
                     torch.bfloat16: torch.float32}


def test_near_midpoint_pairs_are_near_midpoints():
    for dtype, pairs in NEAR_MIDPOINT_PAIRS.items():
        for g, y in pairs:
            exact = Fraction(g) * Fraction(y) * (1 - Fraction(y))
            working = num.round_fraction(exact, WORKING_PRECISION[dtype])
            low = num.round_fraction(Fraction(working) * (1 - Fraction(1, 1 << 30)), dtype)
            high = num.round_fraction(Fraction(working) * (1 + Fraction(1, 1 << 30)), dtype)
            assert Fraction(working) != exact and low < high, (dtype, g, y)
            assert Fraction(working) == (Fraction(low) + Fraction(high)) / 2, (dtype, g, y)


def _backward_pairs(dtype, n=5000):
    """(grad, y): every pair of the targeted values (subnormal y, y near 1, 0 and 1, tiny y,
    huge and negative y, grad at the extremes, results that underflow and overflow,
    infinities, NaN), the near-midpoint pairs with grad of either sign, then random pairs: y in
    [0, 1] as autograd sees it, and bit patterns."""
    info = torch.finfo(dtype)
    eps, tiny, subnormal = info.eps, info.smallest_normal, info.smallest_normal * info.eps
    ys = [0.0, -0.0, 1.0, 0.5, 0.25, 1 - eps / 2, 1 - eps, 1 - 2 * eps, 1 + eps, 2.0 ** -29,
          2.0 ** -40, subnormal, 3 * subnormal, tiny, tiny - subnormal, -subnormal, 2.0 ** 53,
          -2.0 ** 53, 2.0 ** 60, info.max, -info.max, -0.5, -1.0, -3.0, 2.0, 1e4, math.inf,
          -math.inf, math.nan]
    gs = [1.0, -1.0, 3.0, info.max, -info.max, tiny, -tiny, 3.75 * tiny, -1.3 * tiny, subnormal,
          -subnormal, 0.0, -0.0, 1e-3, 2.0 ** -20, math.inf, -math.inf, math.nan]
    hard = [(sign * g, y) for g, y in NEAR_MIDPOINT_PAIRS[dtype] for sign in (1, -1)]
    gen = torch.Generator().manual_seed(9)
    g = torch.cat([torch.tensor([g for g in gs for _ in ys] + [g for g, _ in hard], dtype=dtype),
                   (torch.randn(n, generator=gen) * 4).to(dtype),
                   _random_bits(dtype, n, gen)])
    y = torch.cat([torch.tensor([y for _ in gs for y in ys] + [y for _, y in hard], dtype=dtype),
                   torch.sigmoid(torch.randn(n, generator=gen, dtype=torch.float64) * 12)
                   .to(dtype),
                   _random_bits(dtype, n, gen)])
    return g, y


@pytest.fixture(scope="module")
def backward_cases():
    """dtype -> (grad, y, the exact grad * y * (1 - y) rounded once)."""
    out = {}
    for dtype in num.CORRECTLY_ROUNDED:
        g, y = _backward_pairs(dtype)
        out[dtype] = g, y, num.exact_sigmoid_backward(g, y)
    return out


def test_backward_cases_cover_what_they_say(backward_cases):
    # The targeted pairs must reach underflow, overflow, subnormal and NaN results, or the
    # test below would not check them.
    g, y, exact = backward_cases[torch.float32]
    assert exact.isinf().any() and exact.isnan().any()
    assert ((exact != 0) & (exact.abs() < torch.finfo(torch.float32).smallest_normal)).any()
    underflow = (exact == 0) & (g != 0) & (y != 0) & (y != 1) & g.isfinite() & y.isfinite()
    assert underflow.any()


def _backward(g, y, variant, mode):
    """sigmoid_backward(g, y) under variant and mode, contiguous and strided (the scalar loop)."""
    with _cpu_variant(variant), tse.rounding(mode):
        return (torch.ops.torch_sigmoid_ext.sigmoid_backward(g, y),
                torch.ops.torch_sigmoid_ext.sigmoid_backward(
                    torch.stack([g, g], dim=1)[:, 0], torch.stack([y, y], dim=1)[:, 0]))


@pytest.mark.parametrize("variant", CPU_VARIANTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", num.CORRECTLY_ROUNDED, ids=str)
def test_backward_correctly_rounded(backward_cases, dtype, mode, variant):
    # Values: -0 and +0 count as one here; their signs are the next test's. The float32
    # backward is correctly rounded in "correct" mode; by default it is within 1 ULP.
    g, y, exact = backward_cases[dtype]
    for got in _backward(g, y, variant, mode):
        if dtype == torch.float32 and mode == "default":
            assert _beyond_one_ulp(got, g, y) == ""
        else:
            assert _mismatches(got + 0.0, exact + 0.0, (g, y)) == ""


def _beyond_one_ulp(got, g, y):
    """The results more than 1 ULP (of the float32 spacing at the exact value) from
    g y (1 - y), computed exactly; '' where none is."""
    lines = []
    for gi, yi, ri in zip(g.tolist(), y.tolist(), got.tolist()):
        if not all(map(math.isfinite, (gi, yi, ri))):
            continue
        exact = Fraction(gi) * Fraction(yi) * (1 - Fraction(yi))
        if abs(exact) >= 2.0**128:
            continue
        spacing = Fraction(2) ** max(math.frexp(float(abs(exact)))[1] - 24, -149) if exact else \
            Fraction(2) ** -149
        if abs(Fraction(ri) - exact) > spacing:
            lines.append(f"({gi!r}, {yi!r}) -> {ri!r}")
    return f"{len(lines)} beyond 1 ULP: " + "; ".join(lines[:8]) if lines else ""


@pytest.mark.parametrize("variant", CPU_VARIANTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", num.CORRECTLY_ROUNDED, ids=str)
def test_backward_zero_has_the_sign_ieee_gives(backward_cases, dtype, mode, variant):
    # A zero result is signed as g * (1 - y) * y in IEEE arithmetic, as torch's
    # sigmoid_backward gives it: -0 for g = -1, y = 0; for g = 0, y = 2^53; for an underflow
    # of a negative product.
    g, y, exact = backward_cases[dtype]
    zero = exact == 0
    assert exact[zero].signbit().any() and not exact[zero].signbit().all()
    assert torch.equal(torch.ops.aten.sigmoid_backward(g, y)[zero].signbit(),
                       exact[zero].signbit())
    for got in _backward(g, y, variant, mode):
        assert _mismatches(got[zero], exact[zero], (g[zero], y[zero])) == ""


# --- complex -------------------------------------------------------------------------------

def _calls(dtype):
    x = torch.randn(6, dtype=dtype)
    return {
        "sigmoid": lambda: tse.sigmoid(x),
        "sigmoid_": lambda: tse.sigmoid_(x.clone()),
        "out": lambda: tse.sigmoid(x, out=torch.empty_like(x)),
    }


@pytest.mark.parametrize("call", ["sigmoid", "sigmoid_", "out"])
def test_complex64_is_refused_in_correct_mode(call):
    with tse.rounding("correct"):
        with pytest.raises((RuntimeError, ValueError), match="sigmoid"):
            _calls(torch.complex64)[call]()
    with tse.rounding("default"):
        _calls(torch.complex64)[call]()


def test_complex64_refusal_changes_nothing():
    # Refused with the argument checks: an out= is not resized, an input not overwritten.
    x = torch.randn(6, dtype=torch.complex64)
    before = x.clone()
    out = torch.empty(0, dtype=torch.complex64)
    y = torch.full((6,), 0.5, dtype=torch.complex64)
    with tse.rounding("correct"):
        for call in (lambda: tse.sigmoid(x, out=out), lambda: tse.sigmoid_(x),
                     lambda: torch.ops.torch_sigmoid_ext.sigmoid_backward(y, y)):
            with pytest.raises(RuntimeError, match="complex64"):
                call()
    assert out.shape == (0,) and torch.equal(x, before)


@pytest.mark.parametrize("mode", MODES)
def test_complex128_works_in_both_modes(mode):
    x = num.sample_inputs(torch.complex128, 1 << 8)
    with tse.rounding(mode):
        got = tse.sigmoid(x)
    torch.testing.assert_close(got, torch.sigmoid(x), rtol=1e-12, atol=1e-300)
