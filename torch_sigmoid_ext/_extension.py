"""Loads the native library, refusing a torch other than the one it was built against.

A C++ extension is tied to the exact torch it was compiled with. Loaded into another one it
fails with an undefined symbol, or worse, runs with a mismatched ABI. So the version is
checked first, from the file setup.py wrote at build time, and any failure to load becomes an
ImportError that says how to rebuild. A source tree without the library says so, and names the
installed copy it hides when Python finds the tree first (run from inside it).
"""

import importlib.machinery
import sys
from pathlib import Path

import torch
from packaging.version import Version

_PACKAGE = __package__
_REBUILD = (
    "Rebuild it against the installed torch: "
    "`pip install --no-build-isolation --no-deps --force-reinstall .` in the source tree."
)


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


# Looked for in this folder only: an editable install's finder would otherwise hand out the
# library of its own tree. Before the build config, which a source tree keeps from a build.
if importlib.machinery.PathFinder.find_spec(f"{_PACKAGE}._C", [str(_SOURCE)]) is None:
    raise _not_built()

try:
    from . import _build_config
except ImportError as e:
    raise _not_built() from e

BUILT_TORCH_VERSION = _build_config.TORCH_VERSION
BUILD_SUMMARY = _build_config.BUILD_SUMMARY

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
