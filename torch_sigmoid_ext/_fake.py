"""Fake (meta) kernels: the output's shape, dtype and strides without computing anything.

They let FakeTensor, torch.compile, torch.export and meta tensors handle the ops. Each one
allocates exactly as the C++ op does (csrc/sigmoid_ops.cpp) and runs the same checks.
"""

import torch

_NAMESPACE = "torch_sigmoid_ext"
_SUPPORTED = (
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.complex64,
    torch.complex128,
)


def result_dtype(x: torch.Tensor) -> torch.dtype:
    """As torch.sigmoid: integer and bool inputs give the default float dtype."""
    if x.dtype.is_floating_point or x.dtype.is_complex:
        return x.dtype
    return torch.get_default_dtype()


def _check_dtype(dtype, op, name):
    if dtype not in _SUPPORTED:
        raise RuntimeError(
            f"torch_sigmoid_ext.{op}: {name} has dtype {dtype}, which is not supported; use "
            "float32, float64, float16, bfloat16, complex64 or complex128"
        )


@torch.library.register_fake(f"{_NAMESPACE}::sigmoid")
def _sigmoid_fake(x):
    dtype = result_dtype(x)
    _check_dtype(dtype, "sigmoid", "the input")
    return torch.empty_like(x, dtype=dtype, memory_format=torch.preserve_format)


@torch.library.register_fake(f"{_NAMESPACE}::sigmoid_")
def _sigmoid__fake(x):
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(
            "torch_sigmoid_ext.sigmoid_: in-place sigmoid needs a floating-point or complex "
            f"tensor, but got {x.dtype}; use torch_sigmoid_ext.sigmoid(x), which returns a new "
            "tensor"
        )
    _check_dtype(x.dtype, "sigmoid_", "the input")


@torch.library.register_fake(f"{_NAMESPACE}::sigmoid.out")
def _sigmoid_out_fake(x, *, out):
    # Here too for a meta tensor beside a real one: the Meta key wins the dispatch, so this
    # kernel is the only one that sees the call.
    if out.device != x.device:
        raise RuntimeError(
            f"torch_sigmoid_ext.sigmoid: out is on {out.device} but the input is on {x.device}; "
            "pass an out tensor on the input's device"
        )
    dtype = result_dtype(x)
    _check_dtype(dtype, "sigmoid", "the input")
    if not torch.can_cast(dtype, out.dtype):
        raise RuntimeError(
            f"torch_sigmoid_ext.sigmoid: the result has dtype {dtype}, which can't be cast to "
            f"out's dtype {out.dtype}; pass a floating-point out tensor"
        )
    if out.shape != x.shape:
        out.resize_(x.shape)


@torch.library.register_fake(f"{_NAMESPACE}::sigmoid_backward")
def _sigmoid_backward_fake(grad_output, output):
    if grad_output.device != output.device:  # as in sigmoid.out's fake kernel
        raise RuntimeError(
            f"torch_sigmoid_ext.sigmoid_backward: grad_output is on {grad_output.device} but "
            f"output is on {output.device}; move both to the same device"
        )
    torch._check(
        grad_output.shape == output.shape,
        lambda: f"torch_sigmoid_ext.sigmoid_backward: grad_output has shape "
        f"{list(grad_output.shape)} but output has shape {list(output.shape)}; they must be the "
        "same shape",
    )
    torch._check(
        grad_output.dtype == output.dtype,
        lambda: f"torch_sigmoid_ext.sigmoid_backward: grad_output has dtype {grad_output.dtype} "
        f"but output has dtype {output.dtype}; they must have the same dtype",
    )
    _check_dtype(output.dtype, "sigmoid_backward", "output")
    return torch.empty_like(output, memory_format=torch.preserve_format)
