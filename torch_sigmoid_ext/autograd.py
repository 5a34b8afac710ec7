"""Autograd for the ops. The derivative is one op, sigmoid_backward, used everywhere:

    y = sigmoid(x)                          dy/dx: grad -> sigmoid_backward(grad, y)
    sigmoid_backward(g, y) = g * y * (1 - y)

The functional ops' autograd is registered in C++ (csrc/sigmoid_autograd.cpp), where a call
through the dispatcher pays no Python: `torch.ops.torch_sigmoid_ext.sigmoid` and
`torch_sigmoid_ext.sigmoid` under autograd use it, and it holds sigmoid_backward's own
derivative (double backward). Here are `SigmoidFunction` (the same as an autograd.Function,
public API) and the Autograd kernels of the in-place and out= ops.

Only the output y is saved for backward, never the input x. For complex tensors the formulas
carry conjugates as ATen's do.
"""

import torch

from ._extension import _C

_ops = torch.ops.torch_sigmoid_ext


def no_autograd_needed(*tensors):
    """True where the op can skip the autograd layer: nothing to record, and not tracing.

    (On the path of every call, so written for speed: a generator and `any` cost half a
    microsecond, a third of the whole call at 1024 elements.)
    """
    if torch.is_grad_enabled():
        for t in tensors:
            if t.requires_grad:
                return False
    # Only Dynamo must see the dispatcher op rather than the pybind call; make_fx and
    # torch.export trace below Python and record the op either way (tests/test_compile.py).
    return not torch.compiler.is_dynamo_compiling()


def sigmoid_vjp(grad, output):
    """Gradient of sigmoid at the input, from the saved output: grad * y * (1 - y)."""
    if no_autograd_needed(grad, output):  # a plain backward, not create_graph=True
        return _C._sigmoid_backward_no_autograd(grad, output)
    return _ops.sigmoid_backward(grad, output)


class SigmoidFunction(torch.autograd.Function):
    """sigmoid as an autograd Function: runs the C++ op and saves only its output.

    (forward takes ctx rather than using a separate setup_context: Function.apply then skips
    binding default arguments with inspect.signature, a third of its per-call cost.)
    """

    @staticmethod
    def forward(ctx, x):
        output = _ops.sigmoid(x) if torch.compiler.is_compiling() else _C._sigmoid_no_autograd(x)
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx, grad):
        (output,) = ctx.saved_tensors
        return sigmoid_vjp(grad, output)


class SigmoidInplaceFunction(torch.autograd.Function):
    """sigmoid_ under autograd: the tensor is overwritten by its output, which is saved."""

    @staticmethod
    def forward(ctx, x):
        _ops.sigmoid_(x)  # grad mode is off in here: the no-grad path of the kernel below
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        (output,) = ctx.saved_tensors
        return sigmoid_vjp(grad, output)


def _needs_grad(*tensors):
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _bump_version(t):
    # As ATen's in-place kernels do, so that autograd notices a saved tensor was overwritten.
    if not t.is_inference():
        torch.autograd.graph.increment_version(t)


def _check_inplace_allowed(x):
    # torch.sigmoid_'s rule, checked before anything is written so that a refused call leaves
    # the tensor as it was (autograd's own check comes after the kernel has run).
    if x.is_leaf:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation "
            "(torch_sigmoid_ext.sigmoid_); apply it to a copy, or under torch.no_grad()"
        )
    if x._is_view() and x._base.is_leaf and x._base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation (torch_sigmoid_ext.sigmoid_); apply it to a copy, or under "
            "torch.no_grad()"
        )


def _sigmoid__autograd(x):
    if _needs_grad(x):
        _check_inplace_allowed(x)
        SigmoidInplaceFunction.apply(x)  # mark_dirty bumps the version
        return
    with torch._C._AutoDispatchBelowAutograd():
        _ops.sigmoid_(x)
    _bump_version(x)


def _sigmoid_out_autograd(x, *, out):
    if _needs_grad(x, out):
        raise RuntimeError(
            "torch_sigmoid_ext.sigmoid(): functions with out=... arguments don't support "
            "automatic differentiation, but one of the arguments requires grad; call it "
            "without out= to get a gradient"
        )
    with torch._C._AutoDispatchBelowAutograd():
        _ops.sigmoid.out(x, out=out)
    _bump_version(out)


# The functional ops' autograd, sigmoid's and sigmoid_backward's, is registered in C++
# (csrc/sigmoid_autograd.cpp), where it costs no Python per call. The mutating ones get their
# Autograd kernels here.
_lib = torch.library.Library("torch_sigmoid_ext", "IMPL")
_lib.impl("sigmoid_", _sigmoid__autograd, "Autograd")
_lib.impl("sigmoid.out", _sigmoid_out_autograd, "Autograd")
