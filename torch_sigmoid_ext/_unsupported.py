"""Refusals for the layouts the ops do not support: sparse (COO, CSR, CSC, BSR, BSC), quantized,
nested and MKL-DNN tensors. Without them such a tensor reaches the dispatcher with no kernel and
the user gets the dispatcher's generic "Could not run ... with arguments from the 'SparseCPU'
backend". With them every op refuses by name, says which argument is the problem and what to do
instead, before anything is written. Registered whether or not this build has kernels for the
device, so that a CUDA sparse tensor is refused by name in a CPU-only build too.
"""

import torch

_SPARSE = {
    torch.sparse_coo: "torch.sparse_coo",
    torch.sparse_csr: "torch.sparse_csr",
    torch.sparse_csc: "torch.sparse_csc",
    torch.sparse_bsr: "torch.sparse_bsr",
    torch.sparse_bsc: "torch.sparse_bsc",
}

_KEYS = [
    "SparseCPU", "SparseCUDA", "SparseMeta",
    "SparseCsrCPU", "SparseCsrCUDA", "SparseCsrMeta",
    "QuantizedCPU", "QuantizedCUDA",
    "NestedTensorCPU", "NestedTensorCUDA", "NestedTensorMeta",
    "MkldnnCPU",
]


def layout_problem(t):
    """What is wrong with t and what to do instead; None if t is a strided tensor."""
    if t.layout in _SPARSE:
        return (f"is a sparse tensor (layout {_SPARSE[t.layout]}), which is not supported; "
                "convert it with .to_dense() first")
    if t.is_quantized:
        return "is a quantized tensor, which is not supported; call .dequantize() first"
    if t.is_nested:
        return ("is a nested tensor, which is not supported; apply the op to each component "
                "(.unbind()) or to .values()")
    if t.is_mkldnn:
        return "is an MKL-DNN tensor, which is not supported; convert it with .to_dense() first"
    return None


def _refusal(overload):
    name = f"torch_sigmoid_ext.{overload._schema.name.split('::')[1]}"
    arguments = [a.name for a in overload._schema.arguments]

    def refuse(*args, **kwargs):
        given = dict(zip(arguments, args), **kwargs)
        for argument in arguments:
            value = given.get(argument)
            problem = layout_problem(value) if isinstance(value, torch.Tensor) else None
            if problem:
                raise RuntimeError(f"{name}: {argument} {problem}")
        raise RuntimeError(f"{name}: the arguments' layouts are not supported; pass dense "
                           "(strided) tensors")

    return refuse


_ops = torch.ops.torch_sigmoid_ext
_lib = torch.library.Library("torch_sigmoid_ext", "IMPL")
for _overload in (_ops.sigmoid.default, _ops.sigmoid_.default, _ops.sigmoid.out,
                  _ops.sigmoid_backward.default):
    for _key in _KEYS:
        _lib.impl(_overload, _refusal(_overload), _key)
