"""torch_sigmoid_ext: sigmoid and its derivative as PyTorch custom ops, with C++ (SIMD) and
CUDA kernels. See the README for the API and the measured speed and accuracy."""

# The native library first: it defines the ops that the modules below register kernels for.
from . import _extension  # isort: skip
from . import _fake  # noqa: F401  (registers the fake kernels)
from . import _math_bits  # noqa: F401  (in place and out= through x.conj() and negative views)
from . import _unsupported  # noqa: F401  (refuses sparse, quantized, nested, MKL-DNN by name)
from . import autograd as _autograd  # noqa: F401  (registers the derivatives)
from .autograd import SigmoidFunction
from .functional import sigmoid, sigmoid_
from .module import Sigmoid, replace_sigmoid
from ._rounding import get_rounding, rounding, set_rounding
from . import _dtensor_hook  # noqa: F401  (DTensor's sharding rules, once DTensor is imported)

__version__ = "0.1.0"


def build_info() -> dict:
    """How this build was made: the torch it was compiled with and the oldest it loads in
    (``torch_target``), whether CUDA kernels are in it and for which architectures (``build``:
    what setup.py chose, and why), the CPU kernel variant in use and the rounding mode (see
    set_rounding)."""
    info = {
        "torch_version": _extension.BUILT_TORCH_VERSION,
        "torch_target": _extension.TORCH_TARGET,
    }
    info.update(_extension.native.build_info())
    info["rounding"] = get_rounding()
    info["build"] = _extension.BUILD_SUMMARY
    info["version"] = __version__
    return info


__all__ = [
    "Sigmoid",
    "SigmoidFunction",
    "build_info",
    "get_rounding",
    "replace_sigmoid",
    "rounding",
    "set_rounding",
    "sigmoid",
    "sigmoid_",
]

