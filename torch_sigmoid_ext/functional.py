"""The functional API: torch_sigmoid_ext.sigmoid and torch_sigmoid_ext.sigmoid_."""

import torch
from torch.overrides import handle_torch_function, has_torch_function, has_torch_function_unary

from .autograd import (
    SigmoidFunction,
    below_autograd,
    no_autograd_needed,
    sigmoid__no_grad,
    sigmoid_out_no_grad,
)

_ops = torch.ops.torch_sigmoid_ext


def sigmoid(input: torch.Tensor, *, out: torch.Tensor = None) -> torch.Tensor:
    """Elementwise sigmoid, 1 / (1 + exp(-input)): a drop-in for ``torch.sigmoid``.

    Args:
        input: a tensor of any shape and layout on the CPU or a CUDA device. float32, float64,
            float16, bfloat16 (computed in float32, rounded once), complex64 and complex128 are
            supported; integer and bool inputs give the default float dtype.
        out: optional tensor to write into, as torch's ``out=``: resized to input's shape if
            needed; its dtype must be one the result can be cast to. Not differentiable.

    Returns:
        A tensor of input's shape, and its strides when input is dense (channels_last stays
        channels_last). Differentiable, including double backward; only the output is saved.
    """
    # __torch_function__ first, as torch's own Python functions do: torch.fx tracing (its
    # Proxy is no tensor), TorchFunctionModes and tensor subclasses that override it.
    if out is not None:
        if has_torch_function((input, out)):
            return handle_torch_function(sigmoid, (input, out), input, out=out)
        try:
            if no_autograd_needed(input, out):
                sigmoid_out_no_grad(input, out)  # past the op's Python Autograd kernel
            else:
                _ops.sigmoid.out(input, out=out)  # traced, or refused under autograd
        except Exception:
            _check_tensors("sigmoid", input, out)
            raise
        return out
    if has_torch_function_unary(input):
        return handle_torch_function(sigmoid, (input,), input)
    try:
        if no_autograd_needed(input):
            # No gradient needed: the op below the autograd layer, whose Python kernel would
            # cost more than the kernel itself at small sizes.
            with below_autograd():
                return _ops.sigmoid.default(input)
        if torch.compiler.is_compiling():
            return _ops.sigmoid.default(input)  # Dynamo must see the op, and its autograd
        # The same derivative as the op's, without the op's Python autograd kernel.
        return SigmoidFunction.apply(input)
    except Exception:
        _check_tensors("sigmoid", input)
        raise


def sigmoid_(input: torch.Tensor) -> torch.Tensor:
    """In-place sigmoid, a drop-in for ``torch.sigmoid_`` / ``Tensor.sigmoid_``.

    input must be floating-point or complex and must not have elements that share memory.
    Under autograd it follows torch's rules: allowed on a tensor that is not a leaf (the
    overwritten values are the saved output), an error on a leaf that requires grad.
    Returns input.
    """
    if has_torch_function_unary(input):
        return handle_torch_function(sigmoid_, (input,), input)
    try:
        if no_autograd_needed(input):
            sigmoid__no_grad(input)  # past the op's Python Autograd kernel
        else:
            _ops.sigmoid_.default(input)  # traced, or recorded by autograd
    except Exception:
        _check_tensors("sigmoid_", input)
        raise
    return input


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
