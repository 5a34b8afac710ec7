"""torch_sigmoid_ext: sigmoid and its derivative as PyTorch custom ops, with C++ (SIMD) and
CUDA kernels. See the README for the API and the measured speed and accuracy."""

# The native library first: it defines the ops that the modules below register kernels for.
from ._extension import BUILD_SUMMARY as _BUILD_SUMMARY, _C  # isort: skip
from . import _fake  # noqa: F401  (registers the fake kernels)
from . import autograd as _autograd  # noqa: F401  (registers the derivatives)
from .autograd import SigmoidFunction
from .functional import sigmoid, sigmoid_
from .module import Sigmoid, replace_sigmoid
from . import _dtensor_hook  # noqa: F401  (DTensor's sharding rules, once DTensor is imported)

__version__ = "0.1.0"


def build_info() -> dict:
    """How this build was made: the torch it was built against, whether CUDA kernels are in
    it and for which architectures (``build``: what setup.py chose, and why), and the CPU
    kernel variant in use."""
    info = dict(_C.build_info())
    info["build"] = _BUILD_SUMMARY
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

