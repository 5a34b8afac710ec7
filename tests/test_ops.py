"""The ops against torch.sigmoid and an extended-precision reference, over dtype, layout and
device; out= and in-place semantics; opcheck; fake and meta kernels."""

import numpy as np
import pytest
import torch
from conftest import ALL_DTYPES, LAYOUTS, REAL_DTYPES, TOLERANCES

import torch_sigmoid_ext as tse
from torch_sigmoid_ext.tools import _numerics as num

ops = torch.ops.torch_sigmoid_ext
# Max ULP against the reference: forward, backward.
ULP_BOUNDS = {
    torch.float32: (2, 3),
    torch.float64: (2, 3),
    torch.float16: (1, 1),
    torch.bfloat16: (1, 1),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_forward_matches_torch(device, dtype, layout):
    x = LAYOUTS[layout](dtype, device)
    y = tse.sigmoid(x)
    expected = torch.sigmoid(x)
    assert y.dtype == expected.dtype and y.shape == expected.shape
    if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
        assert y.stride() == expected.stride()
    torch.testing.assert_close(y, expected, **TOLERANCES[dtype])
    if dtype in ULP_BOUNDS and x.numel():
        assert num.ulp_error(y, num.reference_sigmoid(x), dtype).max() <= ULP_BOUNDS[dtype][0]


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_backward_op_matches_aten(device, dtype, layout):
    y = torch.sigmoid(LAYOUTS[layout](dtype, device))
    g = LAYOUTS[layout](dtype, device).flip(0) if y.dim() else LAYOUTS[layout](dtype, device)
    result = ops.sigmoid_backward(g, y)
    torch.testing.assert_close(result, torch.ops.aten.sigmoid_backward(g, y), **TOLERANCES[dtype])
    if dtype in ULP_BOUNDS and y.numel():
        ulp = num.ulp_error(result, num.reference_sigmoid_backward(g, y), dtype)
        assert ulp.max() <= ULP_BOUNDS[dtype][1]


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.bool])
def test_integer_input_gives_default_float(device, dtype):
    x = torch.arange(-5, 6, device=device).to(dtype)
    y = tse.sigmoid(x)
    assert y.dtype == torch.get_default_dtype()
    torch.testing.assert_close(y, torch.sigmoid(x))
    out = torch.empty(0, device=device)
    torch.testing.assert_close(tse.sigmoid(x, out=out), torch.sigmoid(x))


def test_integer_input_follows_default_dtype(device):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert tse.sigmoid(torch.arange(3, device=device)).dtype == torch.float64
    finally:
        torch.set_default_dtype(old)


@pytest.mark.parametrize("dtype", REAL_DTYPES)
def test_special_values(device, dtype):
    x = torch.tensor([float("nan"), float("inf"), float("-inf"), 0.0, -0.0], dtype=dtype)
    y = tse.sigmoid(x.to(device)).cpu()
    assert y[0].isnan()
    assert y[1] == 1 and y[2] == 0 and not y[2].signbit()
    assert y[3] == 0.5 and y[4] == 0.5


def test_float32_subnormal_tail_is_not_flushed(device):
    # Here the true result is subnormal; torch.sigmoid returns 0.
    x = torch.linspace(-103.9, -87.4, 20001, device=device)
    y = tse.sigmoid(x)
    assert (y > 0).all()
    assert num.ulp_error(y, num.reference_sigmoid(x), torch.float32).max() <= 2


@pytest.mark.parametrize("dtype", REAL_DTYPES)
def test_dense_sample_within_bounds(device, dtype):
    x = num.sample_inputs(dtype, 1 << 15).to(device)
    y = tse.sigmoid(x)
    assert num.ulp_error(y, num.reference_sigmoid(x), dtype).max() <= ULP_BOUNDS[dtype][0]


# out=


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_out_matches_functional(device, dtype):
    x = LAYOUTS["contiguous"](dtype, device)
    out = torch.empty_like(x)
    result = tse.sigmoid(x, out=out)
    assert result is out
    assert torch.equal(out, tse.sigmoid(x))


def test_out_resizes_like_torch(device):
    x = torch.randn(3, 4, device=device)
    out = torch.empty(0, device=device)
    tse.sigmoid(x, out=out)
    assert out.shape == (3, 4)
    out = torch.empty(7, device=device)  # torch warns, then resizes
    tse.sigmoid(x, out=out)
    assert out.shape == (3, 4)
    assert torch.equal(out, tse.sigmoid(x))


def test_out_non_contiguous_and_wider_dtype(device):
    x = torch.randn(8, 6, device=device)
    out = torch.zeros(6, 8, device=device).t()
    tse.sigmoid(x, out=out)
    assert torch.equal(out, tse.sigmoid(x))
    wide = torch.empty(8, 6, dtype=torch.float64, device=device)
    tse.sigmoid(x, out=wide)
    assert torch.equal(wide, tse.sigmoid(x).double())


def test_out_may_be_the_input(device):
    x = torch.randn(100, device=device)
    expected = tse.sigmoid(x)
    tse.sigmoid(x, out=x)
    assert torch.equal(x, expected)


def test_out_is_not_differentiable():
    x = torch.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="out=.*don't support automatic differentiation"):
        tse.sigmoid(x, out=torch.empty(3))
    with torch.no_grad():
        tse.sigmoid(x, out=torch.empty(3))


# In place


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced", "channels_last", "empty"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_inplace_matches_torch(device, dtype, layout):
    x = LAYOUTS[layout](dtype, device)
    expected = tse.sigmoid(x)
    base_ptr = x.data_ptr()
    result = tse.sigmoid_(x)
    assert result is x and x.data_ptr() == base_ptr
    assert torch.equal(x, expected)


def test_inplace_on_slice_leaves_the_rest(device):
    base = torch.randn(10, 10, device=device)
    before = base.clone()
    tse.sigmoid_(base[2:5, ::2])
    assert torch.equal(base[2:5, ::2], tse.sigmoid(before[2:5, ::2]))
    mask = torch.ones_like(base, dtype=torch.bool)
    mask[2:5, ::2] = False
    assert torch.equal(base[mask], before[mask])


def test_inplace_bumps_version(device):
    x = torch.randn(4, device=device)
    version = x._version
    tse.sigmoid_(x)
    assert x._version > version
    out = torch.empty(4, device=device)
    version = out._version
    tse.sigmoid(x, out=out)
    assert out._version > version


def test_inplace_complex_conj_view(device):
    z = torch.randn(6, dtype=torch.complex64, device=device)
    view = z.conj()
    expected = torch.sigmoid(view)
    tse.sigmoid_(view)
    torch.testing.assert_close(view, expected, **TOLERANCES[torch.complex64])


def test_conj_input_is_respected(device):
    z = torch.randn(6, dtype=torch.complex128, device=device)
    torch.testing.assert_close(tse.sigmoid(z.conj()), torch.sigmoid(z.conj()))


# Errors: each names the op and leaves every argument as it was.


def _assert_fails(fn, match, *tensors):
    before = [t.clone() for t in tensors]
    with pytest.raises(RuntimeError, match=match):
        fn()
    for t, b in zip(tensors, before):
        assert torch.equal(t, b) and t.shape == b.shape


def test_backward_rejects_mismatched_arguments(device):
    g, y = torch.randn(3, 4, device=device), torch.rand(3, 4, device=device)
    _assert_fails(lambda: ops.sigmoid_backward(g, y[:2]), r"sigmoid_backward.*shape", g, y)
    _assert_fails(lambda: ops.sigmoid_backward(g.double(), y), r"sigmoid_backward.*dtype", g, y)
    _assert_fails(
        lambda: ops.sigmoid_backward(g.long(), y.long()), r"sigmoid_backward.*not supported", g, y
    )


def test_backward_rejects_mixed_devices():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    g, y = torch.randn(3), torch.rand(3, device="cuda")
    with pytest.raises(RuntimeError, match="sigmoid_backward.*device"):
        ops.sigmoid_backward(g, y)


def test_out_rejects_integer_dtype(device):
    x, out = torch.randn(4, device=device), torch.arange(4, device=device)
    _assert_fails(lambda: tse.sigmoid(x, out=out), r"sigmoid.*can't be cast.*torch\.int64", x, out)


def test_out_rejects_partial_overlap(device):
    base = torch.randn(10, device=device)
    _assert_fails(lambda: tse.sigmoid(base[:6], out=base[4:]), r"sigmoid.*partially overlaps", base)


def test_out_rejects_internal_overlap(device):
    x = torch.randn(3, 4, device=device)
    out = torch.zeros(1, 4, device=device).expand(3, 4)
    _assert_fails(lambda: tse.sigmoid(x, out=out), r"sigmoid.*share memory", x, out)


def test_inplace_rejects_integer_and_bool(device):
    for t in (torch.arange(4, device=device), torch.ones(4, dtype=torch.bool, device=device)):
        _assert_fails(lambda: tse.sigmoid_(t), r"sigmoid_.*floating-point or complex", t)


def test_inplace_rejects_expanded(device):
    x = torch.randn(1, 4, device=device).expand(3, 4)
    _assert_fails(lambda: tse.sigmoid_(x), r"sigmoid_.*share memory", x)


def test_rejects_sparse():
    x = torch.randn(4, 4).to_sparse()
    with pytest.raises((RuntimeError, NotImplementedError), match="sigmoid"):
        tse.sigmoid(x)


# Fake and meta kernels, opcheck


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "channels_last", "zero_dim"])
def test_meta_tensors(layout):
    x = LAYOUTS[layout](torch.float32, "cpu")
    m = tse.sigmoid(x.to("meta"))
    real = tse.sigmoid(x)
    assert m.device.type == "meta" and m.shape == real.shape and m.stride() == real.stride()
    assert ops.sigmoid_backward(m, m).shape == real.shape
    assert tse.sigmoid(torch.arange(3, device="meta")).dtype == torch.float32


def test_fake_tensor_mode():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        x = mode.from_tensor(torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last))
        y = tse.sigmoid(x)
        assert y.stride() == x.stride()
        with pytest.raises(RuntimeError, match="sigmoid_backward.*shape"):
            ops.sigmoid_backward(y, y[:1])


def _opcheck(op, args, kwargs=None):
    result = torch.library.opcheck(op, args, kwargs)
    assert all(v == "SUCCESS" for v in result.values()), result


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_functional_ops(device, dtype, requires_grad):
    x = torch.randn(5, 7, dtype=dtype, device=device, requires_grad=requires_grad)
    _opcheck(ops.sigmoid.default, (x,))
    y = torch.sigmoid(x).detach().requires_grad_(requires_grad)
    g = torch.randn_like(y).requires_grad_(requires_grad)
    _opcheck(ops.sigmoid_backward.default, (g, y))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_inplace(device, requires_grad):
    x = torch.randn(5, 7, device=device, requires_grad=requires_grad)
    _opcheck(ops.sigmoid_.default, (x * 1,))  # a non-leaf, as in-place under autograd requires


def test_opcheck_out(device):
    x = torch.randn(5, 7, device=device)
    _opcheck(ops.sigmoid.out, (x,), {"out": torch.empty(5, 7, device=device)})
    # An out= that must be resized: eager and fake behaviour are checked, but not AOT
    # dispatch, because torch 2.14's functionalization cannot resize a custom op's mutated
    # argument (torch 2.13's could).
    result = torch.library.opcheck(
        ops.sigmoid.out, (x,), {"out": torch.empty(0, device=device)},
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )
    assert all(v == "SUCCESS" for v in result.values()), result


def test_numerics_helper_detects_errors():
    # The ULP measure the tests rely on must see a 1-ULP change.
    x = torch.tensor([0.3, -95.0])
    y = tse.sigmoid(x)
    bumped = torch.nextafter(y, torch.tensor(2.0))
    err = num.ulp_error(bumped, num.reference_sigmoid(x), torch.float32)
    assert np.all(err >= 0.5) and np.all(err <= 1.5)
