"""Property tests (hypothesis) over dtypes, shapes up to 6 dims (zero sizes included), strides
(permuted, sliced with steps, expanded), storage offsets and values (NaN, +-inf, +-0,
subnormals, +-largest finite):

- forward and backward agree with torch.sigmoid / ATen's sigmoid_backward within the tolerances
  of conftest.py, and with the extended-precision reference within test_ops.py's ULP bounds;
- a strided input gives the same bits as its contiguous copy (the scalar and the vector
  loops), under every CPU kernel variant; in place and out= give those bits too. Real dtypes
  compare every bit, NaN included (the kernels return one canonical NaN); complex ones let any
  NaN equal any NaN (see _same_bits).

CI runs a bounded number of examples. The long run:

    TORCH_SIGMOID_EXT_FUZZ_EXAMPLES=20000 python -m pytest -q tests/test_fuzz.py
"""

import os

import torch
from conftest import ALL_DTYPES, TOLERANCES
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops import ULP_BOUNDS

import torch_sigmoid_ext as tse
from torch_sigmoid_ext._extension import native
from torch_sigmoid_ext.tools import _numerics as num

ops = torch.ops.torch_sigmoid_ext
FUZZ = settings(
    max_examples=int(os.environ.get("TORCH_SIGMOID_EXT_FUZZ_EXAMPLES", "60")), deadline=None
)
VARIANTS = tse.build_info()["cpu_variants_supported"].split(",")
# Largest size per dimension, by the number of dimensions: at most a few thousand elements,
# and one or two dims long enough for the vector loops and their tails.
MAX_SIZE = {0: 1, 1: 300, 2: 40, 3: 12, 4: 6, 5: 4, 6: 3}


def _specials(dtype):
    real = {torch.complex64: torch.float32, torch.complex128: torch.float64}.get(dtype, dtype)
    info = torch.finfo(real)
    return [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, info.tiny, -info.tiny,
            info.smallest_normal / 4, -info.smallest_normal / 4, info.max, -info.max,
            1e-30, -1e-30, 88.7, -88.7, 103.9, -103.9, 745.0, -745.0, 17.0, -17.0]


@st.composite
def strided_inputs(draw, expand=True):
    """A tensor view of a drawn dtype, shape, strides and storage offset, and a function that
    builds the same view over other storage (for in place)."""
    dtype = draw(st.sampled_from(ALL_DTYPES))
    ndim = draw(st.integers(0, 6))
    shape = [draw(st.integers(0, MAX_SIZE[ndim])) for _ in range(ndim)]
    perm = draw(st.permutations(range(ndim)))
    steps = [draw(st.integers(1, 3)) for _ in range(ndim)]
    starts = [draw(st.integers(0, 2)) for _ in range(ndim)]
    expanded = [expand and s != 1 and draw(st.integers(0, 4)) == 0 for s in shape]
    offset = draw(st.integers(0, 5))
    base = [1 if e else st_ + max(s - 1, 0) * sp + 1
            for s, sp, st_, e in zip(shape, steps, starts, expanded)]
    numel = 1
    for b in base:
        numel *= b

    def view(flat):
        t = flat[offset:offset + numel].view([base[p] for p in perm])
        t = t.permute([perm.index(i) for i in range(ndim)])
        t = t[tuple(slice(0, 1) if e else slice(a, a + max(s - 1, 0) * sp + 1, sp) if s else
                    slice(a, a)
                    for s, sp, a, e in zip(shape, steps, starts, expanded))]
        return t.expand(shape)

    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.5, 4.0, 30.0, 120.0, 800.0]))
    gen = torch.Generator().manual_seed(seed)
    flat = torch.randn(offset + numel, generator=gen, dtype=torch.float64) * scale
    specials = draw(st.lists(st.sampled_from(_specials(dtype)), max_size=12))
    if flat.numel():
        where = torch.randint(flat.numel(), (len(specials),), generator=gen)
        flat[where] = torch.tensor(specials, dtype=torch.float64)
    if dtype.is_complex:
        imag = torch.randn(flat.shape, generator=gen, dtype=torch.float64) * scale
        flat = torch.complex(flat, imag.roll(1))
    flat = flat.to(dtype)
    return view(flat), view, flat


_INT_OF_SIZE = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def _same_bits(a, b):
    """Bit for bit; -0 and +0 differ. Real kernels return one canonical quiet NaN, so NaN bits
    compare too. The complex formula (scalar, std::exp) makes no such promise: there any NaN
    equals any NaN, whatever its sign and payload."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    complex_ = a.is_complex()
    a, b = (t.clone(memory_format=torch.contiguous_format).reshape(-1) for t in (a, b))
    if complex_:
        a, b = torch.view_as_real(a).reshape(-1), torch.view_as_real(b).reshape(-1)
    bits = _INT_OF_SIZE[a.element_size()]
    if not complex_:
        return torch.equal(a.view(bits), b.view(bits))
    nan_a, nan_b = a.isnan(), b.isnan()
    keep = ~nan_a
    return torch.equal(nan_a, nan_b) and torch.equal(a.view(bits)[keep], b.view(bits)[keep])


def _close_to_torch(result, expected, dtype):
    torch.testing.assert_close(result, expected, equal_nan=True, **TOLERANCES[dtype])


@FUZZ
@given(strided_inputs())
def test_forward_against_torch_reference_and_contiguous(case):
    x, _, _ = case
    dtype = x.dtype
    y = tse.sigmoid(x)
    assert y.shape == x.shape and y.dtype == dtype
    if not dtype.is_complex or torch.isfinite(x).all():
        # torch's complex sigmoid treats infinities differently (NaN against a limit).
        _close_to_torch(y, torch.sigmoid(x), dtype)
    if dtype in ULP_BOUNDS and x.numel():
        assert num.ulp_error(y, num.reference_sigmoid(x), dtype).max() <= ULP_BOUNDS[dtype][0]
    contiguous = x.contiguous()
    old = tse.build_info()["cpu_variant"]
    try:
        for variant in VARIANTS:
            assert native.set_cpu_variant(variant)
            assert _same_bits(tse.sigmoid(x), y), variant
            assert _same_bits(tse.sigmoid(contiguous), y), variant
    finally:
        native.set_cpu_variant(old)


@FUZZ
@given(strided_inputs(expand=False), st.booleans())
def test_inplace_and_out_give_the_same_bits(case, out_transposed):
    x, view, flat = case
    y = tse.sigmoid(x)
    copy = flat.clone()
    target = view(copy)
    tse.sigmoid_(target)
    assert _same_bits(target, y)
    untouched = torch.ones(copy.shape, dtype=torch.bool)
    view(untouched)[...] = False
    assert _same_bits(copy[untouched], flat[untouched])  # nothing outside the view written
    out = torch.empty(tuple(reversed(x.shape)), dtype=y.dtype)
    out = out.permute(tuple(reversed(range(x.dim())))) if out_transposed else out.reshape(x.shape)
    assert _same_bits(tse.sigmoid(x, out=out), y)


@FUZZ
@given(strided_inputs(), st.data())
def test_backward_against_aten_reference_and_contiguous(case, data):
    x, _, _ = case
    dtype = x.dtype
    y = tse.sigmoid(x)
    g = data.draw(strided_inputs(), label="grad_output")[0]
    if g.shape != x.shape:  # then x's values reversed, with x's strides
        g = x.flip(list(range(x.dim())))
    if g.dtype != dtype:
        g = (g.real if g.is_complex() and not dtype.is_complex else g).to(dtype)
    result = ops.sigmoid_backward(g, y)
    if torch.isfinite(g).all() or not dtype.is_complex:
        _close_to_torch(result, torch.ops.aten.sigmoid_backward(g, y), dtype)
    if dtype in ULP_BOUNDS and y.numel():
        ulp = num.ulp_error(result, num.reference_sigmoid_backward(g, y), dtype)
        assert ulp.max() <= ULP_BOUNDS[dtype][1]
    assert _same_bits(ops.sigmoid_backward(g.contiguous(), y.contiguous()), result)
    if dtype.is_floating_point:
        xr = x.detach().requires_grad_()
        (gx,) = torch.autograd.grad(tse.sigmoid(xr), xr, g)
        assert _same_bits(gx, result)
