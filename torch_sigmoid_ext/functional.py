"""The functional API: torch_sigmoid_ext.sigmoid and torch_sigmoid_ext.sigmoid_."""

import torch
from torch.overrides import (
    handle_torch_function,
    has_torch_function,
    has_torch_function_unary,
)

from .autograd import (
    below_ad_inplace_or_view,
    below_autograd,
    check_mutable,
    mutated,
    plain,
    shape_before,
    sigmoid__autograd,
    sigmoid_autograd,
    transforms_active,
    warn_if_resized,
)

_ops = torch.ops.torch_sigmoid_ext
# The ops' C++ callables, past OpOverload.__call__'s Python frame.
_sigmoid = _ops.sigmoid.default._op
_sigmoid_out = _ops.sigmoid.out._op
_sigmoid_ = _ops.sigmoid_.default._op


def sigmoid(input: torch.Tensor, *, out: torch.Tensor = None) -> torch.Tensor:
    """Elementwise sigmoid, 1 / (1 + exp(-input)): a drop-in for ``torch.sigmoid``.

    Args:
        input: a tensor of any shape and layout on the CPU or a CUDA device. float32, float64,
            float16, bfloat16 (computed in float32, correctly rounded), complex64 and complex128
            are supported; integer and bool inputs give the default float dtype. float32 is
            correctly rounded too under ``set_rounding("correct")``.
        out: optional tensor to write into, as torch's ``out=``: resized to input's shape if
            needed; its dtype must be one the result can be cast to. Not differentiable.

    Returns:
        A tensor of input's shape, and its strides when input is dense (channels_last stays
        channels_last). Differentiable (twice), with forward-mode AD, ``torch.func`` transforms
        and ``vmap``; only the output is saved. TorchScript compiles a call to it as the op.
    """
    # __torch_function__ first, as torch's own Python functions do: torch.fx tracing (its
    # Proxy is no tensor), TorchFunctionModes and tensor subclasses that override it.
    if out is not None:
        if has_torch_function((input, out)):
            return handle_torch_function(sigmoid, (input, out), input, out=out)
        try:
            if _recorded():
                _ops.sigmoid.out(input, out=out)
            elif plain(input, out):
                check_mutable(out, "sigmoid", "out")
                old_shape = shape_before(out)
                with below_ad_inplace_or_view():
                    _sigmoid_out(input, out=out)
                mutated(out)
                warn_if_resized(old_shape, input, out, stacklevel=2)
            else:
                _sigmoid_out(input, out=out)  # the op's Autograd kernel refuses or runs it
        except Exception:
            _check_tensors("sigmoid", input, out)
            raise
        return out
    if has_torch_function_unary(input):
        return handle_torch_function(sigmoid, (input,), input)
    try:
        if _recorded():
            return _ops.sigmoid.default(input)
        if plain(input):
            # Nothing to record: the op below the autograd layer, whose Python kernel would cost
            # more than the computation at small sizes.
            with below_autograd():
                return _sigmoid(input)
        if transforms_active():
            return _ops.sigmoid.default(input)  # torch.func's dispatch key takes it from there
        return sigmoid_autograd(input)  # what the op's Autograd kernel does, without its cost
    except Exception:
        _check_tensors("sigmoid", input)
        raise


def sigmoid_(input: torch.Tensor) -> torch.Tensor:
    """In-place sigmoid, a drop-in for ``torch.sigmoid_`` / ``Tensor.sigmoid_``.

    input must be floating-point or complex and must not have elements that share memory.
    Under autograd it follows torch's rules: allowed on a tensor that is not a leaf (the
    overwritten values are the saved output), an error on a leaf that requires grad. Forward AD
    updates input's tangent. Returns input.
    """
    if has_torch_function_unary(input):
        return handle_torch_function(sigmoid_, (input,), input)
    try:
        if _recorded():
            _ops.sigmoid_.default(input)
        elif plain(input):
            check_mutable(input, "sigmoid_", "the input")
            with below_ad_inplace_or_view():
                _sigmoid_(input)
            mutated(input)
        else:
            sigmoid__autograd(input)  # autograd, forward AD or a transform
    except Exception:
        _check_tensors("sigmoid_", input)
        raise
    return input


def _recorded():
    """Where Dynamo or the TorchScript tracer is recording: the op itself goes into the graph."""
    return torch.compiler.is_dynamo_compiling() or torch._C._get_tracing_state() is not None


# TorchScript compiles a call to these functions as the op (they take keyword-only arguments and
# try blocks, which it cannot compile). sigmoid_'s op returns nothing, as TorchScript then sees.
torch.jit._builtins._register_builtin(sigmoid, "torch_sigmoid_ext::sigmoid")
torch.jit._builtins._register_builtin(sigmoid_, "torch_sigmoid_ext::sigmoid_")


def _check_tensors(op, input, out=None):
    """torch's TypeError where an argument is not a tensor. Called only once a call has failed,
    so that calls that succeed pay nothing for it."""
    if not isinstance(input, torch.Tensor):
        name, arg = "argument 'input' (position 1)", input
    elif out is not None and not isinstance(out, torch.Tensor):
        name, arg = "argument 'out'", out
    else:
        return
    raise TypeError(
        f"torch_sigmoid_ext.{op}(): {name} must be Tensor, not {type(arg).__name__}"
    ) from None
