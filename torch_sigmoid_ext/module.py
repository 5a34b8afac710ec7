"""torch_sigmoid_ext.Sigmoid, a drop-in for torch.nn.Sigmoid, and replace_sigmoid."""

import torch
from torch import nn

from .functional import sigmoid, sigmoid_


class Sigmoid(nn.Module):
    """Applies sigmoid elementwise: a drop-in for ``torch.nn.Sigmoid``.

    Args:
        inplace: overwrite the input instead of allocating an output. It saves one tensor of
            the input's size; use it where nothing else needs the input afterwards.

    Shape: any; the output has the input's shape. It has no parameters and no buffers, so its
    state dict is empty and loads into (or from) ``nn.Sigmoid`` either way.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            sigmoid_(input)  # TorchScript sees the op, which returns nothing
            return input
        return sigmoid(input)

    def _get_name(self) -> str:
        # nn.Module's repr prints this; the package prefix tells it apart from nn.Sigmoid.
        return "torch_sigmoid_ext.Sigmoid"

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


def replace_sigmoid(model: nn.Module) -> nn.Module:
    """Swaps every ``nn.Sigmoid`` submodule of model for ``torch_sigmoid_ext.Sigmoid``, in place.

    Returns model, so that ``model = replace_sigmoid(build_model())`` reads naturally. A model
    that is itself an ``nn.Sigmoid`` cannot be changed in place: its replacement is returned.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"torch_sigmoid_ext.replace_sigmoid: model must be a torch.nn.Module, not "
            f"{type(model).__name__}; pass the model whose nn.Sigmoid submodules to swap"
        )
    if type(model) is nn.Sigmoid:
        return Sigmoid()
    for name, child in model.named_children():
        if type(child) is nn.Sigmoid:
            setattr(model, name, Sigmoid())
        else:
            replace_sigmoid(child)
    return model
