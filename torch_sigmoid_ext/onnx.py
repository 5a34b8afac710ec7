"""ONNX export: the package's sigmoid becomes the standard ONNX ``Sigmoid``, so the exported file
runs in any ONNX runtime without this package.

    import torch_sigmoid_ext.onnx
    torch_sigmoid_ext.onnx.export(model, (x,), "model.onnx")

``export`` is ``torch.onnx.export`` (the torch.export-based exporter unless ``dynamo=False``)
with the mapping added. To call ``torch.onnx.export`` yourself, pass
``custom_translation_table=torch_sigmoid_ext.onnx.TRANSLATION_TABLE``; for the legacy
TorchScript exporter (``dynamo=False``), importing this module registers the mapping.

In-place sigmoid (``Sigmoid(inplace=True)``, ``sigmoid_``) cannot be exported as it is: the
op mutates its input and returns nothing, so the torch.export-based exporter refuses it, and
the TorchScript exporter silently leaves it out of the graph (nothing uses its result).
``export`` therefore runs the package's ``Sigmoid`` modules out of place while it exports; an
ONNX runtime plans its own memory, so nothing is lost. A forward that calls ``sigmoid_``
itself must call ``sigmoid`` to be exported.
"""

import contextlib

import torch

from .module import Sigmoid

try:
    from onnxscript import opset18 as op
except ImportError as e:
    raise ImportError(
        "torch_sigmoid_ext.onnx needs onnxscript, which torch.onnx's exporter uses: "
        "`pip install onnx onnxscript`"
    ) from e


def sigmoid_to_onnx(input):
    """torch_sigmoid_ext::sigmoid as ONNX: the standard Sigmoid of the default domain."""
    return op.Sigmoid(input)


TRANSLATION_TABLE = {torch.ops.torch_sigmoid_ext.sigmoid.default: sigmoid_to_onnx}


def _sigmoid_symbolic(g, input):
    return g.op("Sigmoid", input)


# Sigmoid is in every opset, so the mapping holds from the first one the exporter supports.
if hasattr(torch.onnx, "register_custom_op_symbolic"):  # the legacy exporter, gone in time
    torch.onnx.register_custom_op_symbolic("torch_sigmoid_ext::sigmoid", _sigmoid_symbolic, 7)


@contextlib.contextmanager
def _out_of_place(model):
    """Runs model's in-place Sigmoid modules out of place, restoring them afterwards."""
    inplace = []
    if isinstance(model, torch.nn.Module):
        inplace = [m for m in model.modules() if isinstance(m, Sigmoid) and m.inplace]
    for m in inplace:
        m.inplace = False
    try:
        yield
    finally:
        for m in inplace:
            m.inplace = True


def export(model, args, f=None, **kwargs):
    """``torch.onnx.export(model, args, f, **kwargs)`` with this package's sigmoid mapped to
    ONNX ``Sigmoid``. ``dynamo`` defaults to True (the torch.export-based exporter); a
    ``custom_translation_table`` passed in is merged with ours. Returns what
    ``torch.onnx.export`` returns (an ``ONNXProgram`` for the dynamo exporter)."""
    kwargs.setdefault("dynamo", True)
    if kwargs["dynamo"]:
        kwargs["custom_translation_table"] = {
            **TRANSLATION_TABLE, **(kwargs.get("custom_translation_table") or {})
        }
    with _out_of_place(model):
        return torch.onnx.export(model, args, f, **kwargs)
