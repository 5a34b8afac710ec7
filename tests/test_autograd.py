"""Gradients: gradcheck and gradgradcheck through every entry point, what is saved for
backward, in-place rules, and the no-grad fast path."""

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import torch_sigmoid_ext as tse

ops = torch.ops.torch_sigmoid_ext


def _inplace(x):
    y = x * 1  # in-place needs a non-leaf
    tse.sigmoid_(y)
    return y


def _module_inplace(x):
    return tse.Sigmoid(inplace=True)(x * 1)


ENTRY_POINTS = {
    "functional": tse.sigmoid,
    "function": tse.SigmoidFunction.apply,
    "op": ops.sigmoid,
    "inplace": _inplace,
    "op_inplace": lambda x: (lambda y: (ops.sigmoid_(y), y)[1])(x * 1),
    "module": tse.Sigmoid(),
    "module_inplace": _module_inplace,
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_gradcheck_and_gradgradcheck(device, entry, dtype):
    x = torch.randn(4, 5, dtype=dtype, device=device, requires_grad=True)
    fn = ENTRY_POINTS[entry]
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_backward_op_gradients(device, dtype):
    g = torch.randn(6, dtype=dtype, device=device, requires_grad=True)
    y = torch.rand(6, dtype=dtype, device=device, requires_grad=True)
    assert gradcheck(ops.sigmoid_backward, (g, y))
    assert gradgradcheck(ops.sigmoid_backward, (g, y))


def test_op_and_function_share_one_derivative(device):
    # The op's Autograd kernel applies SigmoidFunction, as torch_sigmoid_ext.sigmoid does: the
    # same single saved tensor, the output, and the same bits.
    x = torch.randn(64, device=device, requires_grad=True)
    g = torch.randn(64, device=device)
    y_op, y_fn = ops.sigmoid(x), tse.SigmoidFunction.apply(x)
    assert "SigmoidFunction" in tse.sigmoid(x).grad_fn.name()
    assert "SigmoidFunction" in y_op.grad_fn.name()
    for y in (y_op, y_fn):
        (saved,) = y.grad_fn.saved_tensors  # autograd.Function nodes, both
        assert torch.equal(saved, y.detach())
    (gx_op,) = torch.autograd.grad(y_op, x, g)
    (gx_fn,) = torch.autograd.grad(y_fn, x, g)
    assert torch.equal(gx_op, gx_fn)
    assert torch.equal(gx_op, ops.sigmoid_backward(g, y_op.detach()))


def test_backward_op_records_only_what_needs_grad(device):
    g = torch.randn(5, device=device, requires_grad=True)
    y = torch.rand(5, device=device)
    b = ops.sigmoid_backward(g, y)
    assert b.requires_grad and b.grad_fn is not None
    (gg,) = torch.autograd.grad(b.sum(), g)
    torch.testing.assert_close(gg, y * (1 - y))
    with torch.no_grad():
        assert ops.sigmoid_backward(g, y).grad_fn is None
        assert ops.sigmoid(g).grad_fn is None
    assert ops.sigmoid_backward(g.detach(), y).grad_fn is None
    assert ops.sigmoid(g.detach()).grad_fn is None
    assert ops.sigmoid(g).grad_fn is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_gradients_match_torch(device, dtype):
    x = (torch.randn(100, device=device) * 4).to(dtype).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    g = torch.randn(100, device=device).to(dtype)
    (gx,) = torch.autograd.grad(tse.sigmoid(x), x, g, create_graph=True)
    (gx_ref,) = torch.autograd.grad(torch.sigmoid(x_ref), x_ref, g, create_graph=True)
    tol = dict(atol=1e-2, rtol=1e-2) if dtype == torch.bfloat16 else dict(atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(gx, gx_ref, **tol)
    (ggx,) = torch.autograd.grad(gx.sum(), x)
    (ggx_ref,) = torch.autograd.grad(gx_ref.sum(), x_ref)
    torch.testing.assert_close(ggx, ggx_ref, **tol)


def test_function_saves_only_the_output():
    x = torch.randn(8, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for fn in (tse.SigmoidFunction.apply, tse.sigmoid, ops.sigmoid):
            saved.clear()
            y = fn(x)
            assert len(saved) == 1
            assert saved[0] is y or torch.equal(saved[0], y)
            assert not torch.equal(saved[0], x)


def test_backward_uses_the_backward_op():
    x = torch.randn(8, requires_grad=True)
    y = tse.sigmoid(x)
    grad_fn = y.grad_fn
    assert "SigmoidFunction" in grad_fn.name()  # the public autograd.Function
    with torch.profiler.profile() as prof:
        y.sum().backward()
    names = {e.name for e in prof.events()}
    assert "torch_sigmoid_ext::sigmoid_backward" in names


def test_no_grad_skips_the_function():
    x = torch.randn(8, requires_grad=True)
    with torch.no_grad():
        y = tse.sigmoid(x)
    assert y.grad_fn is None and not y.requires_grad
    assert tse.sigmoid(torch.randn(3)).grad_fn is None


def test_inplace_on_leaf_that_requires_grad_raises_like_torch():
    leaf = torch.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.sigmoid_(leaf)
    before = leaf.detach().clone()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        tse.sigmoid_(leaf)
    assert torch.equal(leaf.detach(), before)
    with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
        tse.sigmoid_(leaf[:2])
    assert torch.equal(leaf.detach(), before)


def test_inplace_on_non_leaf_matches_torch():
    x = torch.randn(10, requires_grad=True)
    y = x * 2
    tse.sigmoid_(y)
    y.sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    y_ref = x_ref * 2
    torch.sigmoid_(y_ref)
    y_ref.sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_modifying_saved_output_is_detected():
    x = torch.randn(5, requires_grad=True)
    y = tse.sigmoid(x)
    with torch.no_grad():
        tse.sigmoid_(y)  # overwrites the saved output
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
