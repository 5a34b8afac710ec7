"""Loads the native library, refusing a torch other than the one it was built against.

A C++ extension is tied to the exact torch it was compiled with. Loaded into another one it
fails with an undefined symbol, or worse, runs with a mismatched ABI. So the version is
checked first, from the file setup.py wrote at build time, and any failure to load becomes an
ImportError that says how to rebuild.
"""

import torch
from packaging.version import Version

_REBUILD = (
    "Rebuild it against the installed torch: "
    "`pip install --no-build-isolation --no-deps --force-reinstall .` in the source tree."
)

try:
    from . import _build_config
except ImportError as e:  # the package was imported from a source tree that was never built
    raise ImportError(
        "torch_sigmoid_ext: the native extension is not built. Build it with "
        "`pip install --no-build-isolation .` (or `-e .` for development) in the source tree, "
        "with torch already installed."
    ) from e

BUILT_TORCH_VERSION = _build_config.TORCH_VERSION

if Version(BUILT_TORCH_VERSION) != Version(torch.__version__):
    raise ImportError(
        f"torch_sigmoid_ext was built against torch {BUILT_TORCH_VERSION}, but torch "
        f"{torch.__version__} is installed. {_REBUILD}"
    )

try:
    from . import _C
except ImportError as e:
    raise ImportError(
        f"torch_sigmoid_ext: the native extension failed to load ({e}). {_REBUILD}"
    ) from e
