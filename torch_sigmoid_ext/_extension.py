"""Loads the native library: it registers the ops' schemas and CPU (and CUDA) kernels with torch.

The library uses only torch's stable ABI, built for a target torch version (TORCH_TARGET in
setup.py), so it loads in that torch and any later one, whichever torch it was compiled with.
An older torch is refused here with an ImportError that says so. The library is no Python
module: torch.ops.load_library loads it, and the few plain C functions it exports besides the
ops (how it was built, the CPU-variant switch) are read through ctypes. A source tree without
the library says so, and names the installed copy it hides when Python finds the tree first
(run from inside it).
"""

import ctypes
import importlib.machinery
import os
import sys
import warnings
from pathlib import Path

import torch
from torch.torch_version import TorchVersion

_PACKAGE = __package__


def installed_copy(source, path=None):
    """The folder of an installed torch_sigmoid_ext other than source, or None.

    Read from the distributions' metadata in path (default sys.path), never imported: the
    source tree found first on sys.path hides an installed copy from the import system.
    """
    import json  # here, not at the top: only a failed import needs them
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    source = Path(source).resolve()
    for dist in metadata.distributions(name=_PACKAGE, path=sys.path if path is None else path):
        url = json.loads(dist.read_text("direct_url.json") or "{}")
        if url.get("dir_info", {}).get("editable"):  # pip install -e: the package is in that tree
            where = Path(unquote(urlparse(url["url"]).path)) / _PACKAGE
        else:
            init = [f for f in dist.files or () if f.as_posix() == f"{_PACKAGE}/__init__.py"]
            if not init:
                continue
            where = Path(dist.locate_file(init[0])).parent
        if where.is_dir() and where.resolve() != source:
            return where.resolve()
    return None


def not_built_message(source, installed):
    """Why the native library is missing from source: never built, or the wrong copy imported."""
    if installed is None:
        return (
            "torch_sigmoid_ext: the native extension is not built. Build it with "
            "`pip install --no-build-isolation .` (or `-e .` for development) in the source "
            "tree, with torch already installed."
        )
    return (
        "torch_sigmoid_ext: the native extension is not built in the source tree at "
        f"{Path(source).parent}, and you are importing from that tree, which shadows the "
        f"installed torch_sigmoid_ext at {installed}. Run from another folder, or install with "
        "`pip install --no-build-isolation -e .` to work in the source tree."
    )


_SOURCE = Path(__file__).resolve().parent


def _not_built():
    return ImportError(not_built_message(_SOURCE, installed_copy(_SOURCE)))


def find_library(folder):
    """The native library in folder, or None: _C.abi3.so, as setup.py builds it, before a
    library named for one Python that an older build may have left."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    for suffix in sorted(suffixes, key=lambda s: "abi3" not in s):
        path = Path(folder) / f"_C{suffix}"
        if path.is_file():
            return path
    return None


class NativeLibrary:
    """The library's C functions besides the ops."""

    def __init__(self, path):
        self.path = str(path)
        lib = ctypes.CDLL(self.path)
        text, int64 = ctypes.c_char_p, ctypes.c_int64
        for name, restype, argtypes in [
            ("with_cuda", ctypes.c_int, []),
            ("cuda_archs", text, []),
            ("compiler", text, []),
            ("cpu_variant", text, []),
            ("cpu_variants_supported", text, []),
            ("set_cpu_variant", ctypes.c_int, [text]),
            ("cpu_streaming_min_bytes", int64, []),
            ("set_cpu_streaming_min_bytes", int64, [int64]),
            ("set_rounding", ctypes.c_int, [ctypes.c_int]),
        ]:
            fn = getattr(lib, f"torch_sigmoid_ext_{name}")
            fn.restype, fn.argtypes = restype, argtypes
        self._lib = lib

    def _call(self, name, *args):
        result = getattr(self._lib, f"torch_sigmoid_ext_{name}")(*args)
        return result.decode() if isinstance(result, bytes) else result

    def build_info(self):
        archs = self._call("cuda_archs")
        return {
            "cuda": bool(self._call("with_cuda")),
            "cuda_archs": [a for a in archs.split(";") if a],
            "cpu_variant": self._call("cpu_variant"),
            "cpu_variants_supported": self._call("cpu_variants_supported"),
            "cpu_streaming_min_bytes": self._call("cpu_streaming_min_bytes"),
            "compiler": self._call("compiler"),
        }

    def set_rounding(self, mode):
        """Sets the rounding mode, 0 (default) or 1 (correct), or only reads it with -1; returns
        the mode before."""
        return self._call("set_rounding", mode)

    def set_cpu_variant(self, name):
        """Switches the CPU kernel variant for this process; False if this CPU cannot run it."""
        return bool(self._call("set_cpu_variant", name.encode()))

    def set_cpu_streaming_min_bytes(self, nbytes):
        """Calls touching at least nbytes write with streaming stores; returns the old value."""
        return self._call("set_cpu_streaming_min_bytes", int(nbytes))


# Looked for in this folder only: an editable install's finder would otherwise hand out the
# library of its own tree. Before the build config, which a source tree keeps from a build.
_PATH = find_library(_SOURCE)
if _PATH is None:
    raise _not_built()

try:
    from . import _build_config
except ImportError as e:
    raise _not_built() from e

BUILT_TORCH_VERSION = _build_config.TORCH_VERSION
TORCH_TARGET = _build_config.TORCH_TARGET
BUILD_SUMMARY = _build_config.BUILD_SUMMARY

# The floor is the target's first dev build, so its pre-releases and source builds load too.
if TorchVersion(torch.__version__) < TorchVersion(f"{TORCH_TARGET}.0.dev0"):
    raise ImportError(
        f"torch_sigmoid_ext needs torch {TORCH_TARGET} or newer, but torch {torch.__version__} "
        f"is installed: the library uses torch's stable ABI as of {TORCH_TARGET}, which older "
        f"torch lacks. Upgrade torch (`pip install -U 'torch>={TORCH_TARGET}'`)."
    )

try:
    torch.ops.load_library(str(_PATH))
    native = NativeLibrary(_PATH)
except (OSError, RuntimeError, AttributeError) as e:
    raise ImportError(
        f"torch_sigmoid_ext: the native library {_PATH} failed to load ({e}). Rebuild it: "
        "`pip install --no-build-isolation --force-reinstall .` in the source tree."
    ) from e


def cpu_variant_problem():
    """Why TORCH_SIGMOID_EXT_CPU_VARIANT cannot be honoured, in a sentence; None where it is
    unset, empty or names a variant this CPU runs (the library then uses it)."""
    forced = os.environ.get("TORCH_SIGMOID_EXT_CPU_VARIANT", "")
    supported = native.build_info()["cpu_variants_supported"].split(",")
    if not forced or forced in supported:
        return None
    return (
        f"TORCH_SIGMOID_EXT_CPU_VARIANT={forced!r} is not a CPU kernel variant this CPU runs; "
        f"it runs {', '.join(supported)}. Using {native.build_info()['cpu_variant']} instead; "
        "set it to one of those, or unset it for the best"
    )


def _run_as_tool():
    """Whether this process is `python -m torch_sigmoid_ext[.tools...]`: the tools refuse a bad
    variant themselves, in one line (sys.orig_argv is the command line as typed)."""
    argv = getattr(sys, "orig_argv", [])
    return any(flag == "-m" and module.split(".")[0] == _PACKAGE
               for flag, module in zip(argv, argv[1:]))


# The library falls back to the best variant by itself; a user who asked for another hears why.
if (_problem := cpu_variant_problem()) is not None and not _run_as_tool():
    warnings.warn(f"torch_sigmoid_ext: {_problem}.", RuntimeWarning, stacklevel=2)
