"""torch_sigmoid_ext: sigmoid and its derivative as PyTorch custom ops, with C++ (SIMD) and
CUDA kernels. See the README for the API and the measured speed and accuracy."""

import sys as _sys

# The native library first: it defines the ops that the modules below register kernels for.
from ._extension import _C  # isort: skip
from . import _fake  # noqa: F401  (registers the fake kernels)
from . import autograd as _autograd  # noqa: F401  (registers the derivatives)
from .autograd import SigmoidFunction
from .functional import sigmoid, sigmoid_
from .module import Sigmoid, replace_sigmoid

# DTensor sharding rules: `import torch_sigmoid_ext.distributed` registers them. Importing DTensor
# costs most of a second, so the package does it only where DTensor is already loaded.
if "torch.distributed.tensor" in _sys.modules:
    from . import distributed as _distributed  # noqa: F401

__version__ = "0.1.0"


def build_info() -> dict:
    """How this build was made: the torch it was built against, whether CUDA kernels are in
    it and for which architectures, and the CPU kernel variant in use."""
    info = dict(_C.build_info())
    info["version"] = __version__
    return info


__all__ = [
    "Sigmoid",
    "SigmoidFunction",
    "build_info",
    "replace_sigmoid",
    "sigmoid",
    "sigmoid_",
]
