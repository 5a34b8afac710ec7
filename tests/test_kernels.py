"""The CPU kernels: every ISA variant gives the same bits as the portable one, the vector path
the same bits as the scalar path, whatever the length, offset, stride or thread count; and the
accuracy bounds hold on a dense sample and on every 16-bit value."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import torch_sigmoid_ext as tse
from torch_sigmoid_ext._extension import native
from torch_sigmoid_ext.tools import _numerics as num

ops = torch.ops.torch_sigmoid_ext
VARIANTS = tse.build_info()["cpu_variants_supported"].split(",")
REAL = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


@pytest.fixture
def variant():
    """Restores the variant in use after a test switches it."""
    original = tse.build_info()["cpu_variant"]
    yield lambda name: native.set_cpu_variant(name) or pytest.fail(f"cannot run {name}")
    native.set_cpu_variant(original)


def _same_bits(a, b):
    """Equal bit for bit, NaN results included (the kernels return one canonical NaN)."""
    return torch.equal(a.view(_int_view(a.dtype)), b.view(_int_view(b.dtype)))


def _int_view(dtype):
    return {8: torch.int64, 4: torch.int32, 2: torch.int16}[dtype.itemsize]


def _sample(dtype, n=1 << 15):
    return num.sample_inputs(dtype, n)


def test_generic_variant_is_always_available():
    assert "generic" in VARIANTS
    assert tse.build_info()["cpu_variant"] in VARIANTS
    assert native.set_cpu_variant("no-such-variant") is False


@pytest.mark.parametrize("name", [v for v in VARIANTS if v != "generic"])
@pytest.mark.parametrize("dtype", REAL)
def test_variant_matches_generic_bit_for_bit(variant, name, dtype):
    x = _sample(dtype)
    g = torch.randn(x.shape).to(dtype)
    results = {}
    for v in ("generic", name):
        variant(v)
        y = tse.sigmoid(x)
        results[v] = (y, ops.sigmoid_backward(g, y.nan_to_num()))
    assert _same_bits(results["generic"][0], results[name][0])
    assert _same_bits(results["generic"][1], results[name][1])


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("dtype", REAL)
def test_vector_and_scalar_paths_agree(variant, name, dtype):
    variant(name)
    base = _sample(dtype, 1 << 12)[:4000]
    # Strided inputs take the scalar loop; contiguous runs the vector loop and a scalar tail.
    strided = torch.stack([base, base], dim=1)[:, 0]
    assert not strided.is_contiguous()
    reference = tse.sigmoid(strided)
    for offset in (0, 1, 3):
        for length in (1, 7, 8, 15, 16, 17, 31, 33, 63, 100):
            chunk = base[offset : offset + length]
            assert _same_bits(tse.sigmoid(chunk), reference[offset : offset + length])
    assert _same_bits(tse.sigmoid(base), reference)
    g = torch.randn(base.shape).to(dtype)
    y = reference.nan_to_num()
    g_strided = torch.stack([g, g], dim=1)[:, 0]
    assert _same_bits(ops.sigmoid_backward(g, y), ops.sigmoid_backward(g_strided, y))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("dtype", REAL)
def test_fast_and_full_paths_agree(variant, name, dtype):
    # The vector loops take a cheaper formula when every lane of a group of vectors is in its
    # range (|x| <= 16 for float32, 35 for float64, 86 for 16-bit types), and the full
    # formula otherwise. Each probe value sits in a row of 64 with tame neighbours (fast path
    # where the probe allows it), and again with a NaN beside it (full path): same bits, and
    # the same as the scalar loop's.
    variant(name)
    edges = [16.0, 35.0, 86.0, 87.5, 104.0, 760.0]
    factors = (0.999, 0.9999999, 1.0, 1.0000001, 1.001)
    probes = [s * e * f for e in edges for s in (1, -1) for f in factors]
    probes += torch.linspace(-120, 120, 2001).tolist()
    x = torch.tensor(probes, dtype=torch.float64).to(dtype)
    x = x[~x.isnan()]
    rows = torch.full((x.numel(), 64), 0.25, dtype=dtype)
    rows[:, 0] = x
    with_nan = rows.clone()
    with_nan[:, 1] = float("nan")
    fast = tse.sigmoid(rows)[:, 0]
    full = tse.sigmoid(with_nan)[:, 0]
    scalar = tse.sigmoid(torch.stack([x, x], dim=1)[:, 0])
    assert _same_bits(fast, full)
    assert _same_bits(fast, scalar)
    # And a shuffled sample, where most pairs mix lanes in and out of range.
    base = _sample(dtype, 1 << 12)
    base = base[torch.randperm(base.numel(), generator=torch.Generator().manual_seed(0))]
    strided = torch.stack([base, base], dim=1)[:, 0]
    assert _same_bits(tse.sigmoid(base), tse.sigmoid(strided))


@pytest.fixture
def streaming():
    """Lets a test set the call size (bytes touched) from which the kernels stream stores."""
    original = native.set_cpu_streaming_min_bytes(tse.build_info()["cpu_streaming_min_bytes"])
    yield native.set_cpu_streaming_min_bytes
    native.set_cpu_streaming_min_bytes(original)


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("dtype", REAL)
def test_streaming_stores_give_the_same_bits(variant, streaming, name, dtype):
    # Calls that touch 48 MiB and more (1.5 times the L3's size, if larger) write with
    # non-temporal stores after the elements before the first 64-byte boundary; here every
    # call does, from any offset.
    variant(name)
    x = _sample(dtype, 1 << 14)
    g = torch.randn(x.shape).to(dtype)
    y_plain = tse.sigmoid(x)
    b_plain = ops.sigmoid_backward(g, y_plain.nan_to_num())
    streaming(0)
    assert _same_bits(tse.sigmoid(x), y_plain)
    assert _same_bits(ops.sigmoid_backward(g, y_plain.nan_to_num()), b_plain)
    for offset in (1, 3, 5, 17):
        out = torch.empty(x.numel() + offset, dtype=dtype)[offset:]
        tse.sigmoid(x, out=out)
        assert _same_bits(out, y_plain)
        inplace = x.clone()
        tse.sigmoid_(inplace)
        assert _same_bits(inplace, y_plain)


def test_streaming_threshold_default():
    # 1.5 times the larger of 32 MiB and the L3 size Linux reports (see sigmoid_kernel.h).
    l3 = 0
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            text = f.read().strip()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        l3 = int(text.rstrip("KMG")) * scale
    except (OSError, ValueError):
        pass
    assert tse.build_info()["cpu_streaming_min_bytes"] == max(32 << 20, l3) // 2 * 3


@pytest.mark.parametrize("dtype", REAL)
def test_thread_count_does_not_change_bits(dtype):
    x = _sample(dtype, 1 << 18)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = tse.sigmoid(x)
        torch.set_num_threads(max(2, threads))
        many = tse.sigmoid(x)
    finally:
        torch.set_num_threads(threads)
    assert _same_bits(one, many)


def test_environment_variable_forces_the_portable_variant():
    code = "import torch_sigmoid_ext as t; print(t.build_info()['cpu_variant'])"
    env = dict(os.environ, TORCH_SIGMOID_EXT_CPU_VARIANT="generic")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "generic"


def _every_float32_between(lo, hi):
    """Every float32 value in [lo, hi] (lo < hi, same sign), in order."""
    a, b = torch.tensor([lo, hi], dtype=torch.float32).view(torch.int32).tolist()
    bits = torch.arange(min(a, b), max(a, b) + 1, dtype=torch.int64).to(torch.int32)
    return bits.view(torch.float32)


@pytest.mark.parametrize("name", VARIANTS)
def test_float32_dense_sample_within_2_ulp(variant, name):
    variant(name)
    x = torch.cat([
        _every_float32_between(-104.0, -87.0),  # subnormal results; torch.sigmoid gives 0
        _every_float32_between(16.5, 16.7),  # where the result reaches 1
        _every_float32_between(-16.7, -16.5),
        torch.linspace(-20, 20, 1 << 19),
        (torch.rand(1 << 19) - 0.5) * 220,
        torch.tensor([0.0, -0.0, float("inf"), float("-inf"), 1e-45, -1e-45, 3.4e38, -3.4e38]),
    ])
    assert x.numel() > 3_000_000
    y = tse.sigmoid(x)
    assert num.ulp_error(y, num.reference_sigmoid(x), torch.float32).max() <= 2
    # Above ~16.6 the result is 1 or the float just below it, whichever is correctly rounded.
    big = x > 16.6
    assert torch.equal(y[big], num.rounded_reference(num.reference_sigmoid(x[big]), torch.float32))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_every_16_bit_value(dtype):
    x = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(dtype)
    y = tse.sigmoid(x)
    ref = num.reference_sigmoid(x)
    assert num.ulp_error(y, ref, dtype).max() <= 1
    correct = num.rounded_reference(ref, dtype)
    finite = ~x.isnan()
    assert (y[finite] == correct[finite]).double().mean() >= 0.999
    # Backward: within 1 ULP of the extended-precision formula for the same g and y.
    g = torch.randn(x.shape).to(dtype)
    yf = y[finite]
    b = ops.sigmoid_backward(g[finite], yf)
    assert num.ulp_error(b, num.reference_sigmoid_backward(g[finite], yf), dtype).max() <= 1


@pytest.mark.parametrize("name", [v for v in VARIANTS if v != "generic"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_every_16_bit_value_matches_generic(variant, name, dtype):
    # Every value, not a sample: the 16-bit kernels round a float32 result once, and a variant
    # whose float32 result differed in its last bit would show only near a rounding midpoint.
    x = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(dtype)
    results = {}
    for v in ("generic", name):
        variant(v)
        results[v] = tse.sigmoid(x)
    assert _same_bits(results["generic"], results[name])


def test_float32_backward_within_3_ulp():
    y = tse.sigmoid(torch.linspace(-30, 30, 1 << 18))
    g = torch.randn(y.shape)
    b = ops.sigmoid_backward(g, y)
    assert np.max(num.ulp_error(b, num.reference_sigmoid_backward(g, y), torch.float32)) <= 3


QUIET_NAN_BITS = {torch.float32: 0x7FC00000, torch.float64: 0x7FF8000000000000,
                  torch.float16: 0x7E00, torch.bfloat16: 0x7FC0}


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("dtype", REAL)
def test_every_nan_gives_the_canonical_quiet_nan(variant, name, dtype):
    variant(name)
    width = dtype.itemsize * 8
    mantissa = {torch.float32: 23, torch.float64: 52, torch.float16: 10, torch.bfloat16: 7}[dtype]
    exp_all_ones = ((1 << (width - 1)) - 1) ^ ((1 << mantissa) - 1)
    payloads = [1, 2, (1 << mantissa) - 1, 1 << (mantissa - 1), (1 << (mantissa - 1)) + 5]
    patterns = [exp_all_ones | p for p in payloads]  # signalling and quiet, positive
    patterns += [p - (1 << width) + (1 << (width - 1)) for p in patterns]  # the same, negative
    bits = torch.tensor(patterns, dtype=torch.int64).to(_int_view(dtype))
    x = bits.view(dtype).repeat(9)  # long enough for the vector loop and a scalar tail
    assert x.isnan().all()
    expected = torch.full((x.numel(),), QUIET_NAN_BITS[dtype], dtype=torch.int64)
    for y in (tse.sigmoid(x), tse.sigmoid(torch.stack([x, x], 1)[:, 0])):
        assert torch.equal(y.view(_int_view(dtype)).to(torch.int64) & ((1 << width) - 1), expected)
    g = torch.ones_like(x)
    b = ops.sigmoid_backward(g, x)
    assert torch.equal(b.view(_int_view(dtype)).to(torch.int64) & ((1 << width) - 1), expected)
