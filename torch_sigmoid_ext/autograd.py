"""Autograd for the ops. The derivative is written once, here, and is one op, sigmoid_backward:

    y = sigmoid(x)                          dy/dx: grad -> sigmoid_backward(grad, y)
    sigmoid_backward(g, y) = g * y * (1 - y)

Only the output y is saved for backward, never the input x. For complex tensors the formulas
carry conjugates as ATen's do.

It reaches autograd three ways, all through `sigmoid_vjp`:
- `torch.library.register_autograd` on the sigmoid op, for calls to
  `torch.ops.torch_sigmoid_ext.sigmoid` and for torch.compile;
- `SigmoidFunction`, the same as a public autograd.Function, which `torch_sigmoid_ext.sigmoid`
  uses in eager mode: it skips the op's Python autograd kernel, half a training step's cost at
  1024 elements (docs/speed.md);
- the Autograd kernels of sigmoid_ and sigmoid.out below (register_autograd takes no op that
  mutates).
sigmoid_backward has its own derivative (double backward), also registered here.
"""

import warnings

import torch

_ops = torch.ops.torch_sigmoid_ext


def below_autograd():
    """A context in which the ops dispatch straight to their kernels: for callers that have
    already settled autograd, outside tracing (Dynamo cannot trace it)."""
    return torch._C._AutoDispatchBelowAutograd()


def no_autograd_needed(*tensors):
    """True where the op can skip the autograd layer: nothing to record, and not tracing.

    (On the path of every call, so written for speed: a generator and `any` cost half a
    microsecond, a third of the whole call at 1024 elements.)
    """
    if torch.is_grad_enabled():
        for t in tensors:
            if t.requires_grad:
                return False
    return not torch.compiler.is_dynamo_compiling()


def sigmoid_vjp(grad, output):
    """Gradient of sigmoid at the input, from the saved output: grad * y * (1 - y)."""
    if no_autograd_needed(grad, output):  # a plain backward, not create_graph=True
        with below_autograd():
            return _ops.sigmoid_backward.default(grad, output)
    return _ops.sigmoid_backward.default(grad, output)  # recorded: double backward


class SigmoidFunction(torch.autograd.Function):
    """sigmoid as an autograd Function: runs the op and saves only its output.

    (forward takes ctx rather than using a separate setup_context: Function.apply then skips
    binding default arguments with inspect.signature, a third of its per-call cost.)
    """

    @staticmethod
    def forward(ctx, x):
        if torch.compiler.is_compiling():
            output = _ops.sigmoid.default(x)
        else:
            with below_autograd():
                output = _ops.sigmoid.default(x)
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx, grad):
        (output,) = ctx.saved_tensors
        return sigmoid_vjp(grad, output)


def _sigmoid_setup_context(ctx, inputs, output):
    ctx.save_for_backward(output)  # the output, never the input


def _sigmoid_backward(ctx, grad):
    (output,) = ctx.saved_tensors
    return sigmoid_vjp(grad, output)


def _sigmoid_backward_setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)  # grad_output, output


def _sigmoid_backward_backward(ctx, grad):
    # sigmoid_backward(g, y) = g * conj(y (1 - y)):
    #   d/dg = sigmoid_backward(grad, conj(y)),  d/dy = conj(grad) * g * (1 - 2 conj(y))
    grad_output, output = ctx.saved_tensors
    grad_grad_output = grad_output_grad = None
    if ctx.needs_input_grad[0]:
        grad_grad_output = _ops.sigmoid_backward.default(grad, output.conj())
    if ctx.needs_input_grad[1]:
        grad_output_grad = grad.conj() * grad_output * (1 - 2 * output.conj())
    return grad_grad_output, grad_output_grad


class SigmoidInplaceFunction(torch.autograd.Function):
    """sigmoid_ under autograd: the tensor is overwritten by its output, which is saved."""

    @staticmethod
    def forward(ctx, x):
        with below_autograd():
            _ops.sigmoid_.default(x)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        (output,) = ctx.saved_tensors
        return sigmoid_vjp(grad, output)


def _needs_grad(*tensors):
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def bump_version(t):
    # As ATen's in-place and out= kernels do, so that autograd notices a saved tensor was
    # overwritten.
    if not t.is_inference():
        torch.autograd.graph.increment_version(t)


def warn_if_resized(x, out):
    """torch's resize_output warning, which the stable C++ API cannot give."""
    if not (x.is_nested or out.is_nested) and out.numel() != 0 and out.shape != x.shape:
        warnings.warn(
            f"torch_sigmoid_ext.sigmoid: an output with one or more elements was resized since "
            f"it had shape {list(out.shape)}, which does not match the required output shape "
            f"{list(x.shape)}. As for torch's out= functions this is deprecated; resize out to "
            "zero elements first (out.resize_(0)) to reuse it.",
            UserWarning,
            stacklevel=4,  # the caller of torch_sigmoid_ext.sigmoid, past sigmoid_out_no_grad
        )


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


def sigmoid__no_grad(x):
    """sigmoid_ with nothing to record: the kernel, then the version bump ATen's would do."""
    with below_autograd():
        _ops.sigmoid_.default(x)
    bump_version(x)


def sigmoid_out_no_grad(x, out):
    """sigmoid.out with nothing to record: torch's resize warning, the kernel, the bump."""
    warn_if_resized(x, out)
    with below_autograd():
        _ops.sigmoid.out(x, out=out)
    bump_version(out)


def _sigmoid__autograd(x):
    if _needs_grad(x):
        _check_inplace_allowed(x)
        SigmoidInplaceFunction.apply(x)  # mark_dirty bumps the version
        return
    sigmoid__no_grad(x)


def _sigmoid_out_autograd(x, *, out):
    if _needs_grad(x, out):
        raise RuntimeError(
            "torch_sigmoid_ext.sigmoid(): functions with out=... arguments don't support "
            "automatic differentiation, but one of the arguments requires grad; call it "
            "without out= to get a gradient"
        )
    sigmoid_out_no_grad(x, out)


torch.library.register_autograd(
    "torch_sigmoid_ext::sigmoid", _sigmoid_backward, setup_context=_sigmoid_setup_context
)
torch.library.register_autograd(
    "torch_sigmoid_ext::sigmoid_backward",
    _sigmoid_backward_backward,
    setup_context=_sigmoid_backward_setup_context,
)
_lib = torch.library.Library("torch_sigmoid_ext", "IMPL")
_lib.impl("sigmoid_", _sigmoid__autograd, "Autograd")
_lib.impl("sigmoid.out", _sigmoid_out_autograd, "Autograd")
