"""DTensor's sharding rules for the ops (torch_sigmoid_ext.distributed), registered whatever the
order of a script's imports: now if DTensor is loaded, else as soon as it is. Importing DTensor
costs most of a second, so the package never does it itself."""

import sys
import warnings

_DTENSOR = "torch.distributed.tensor"


def _register_sharding_rules():
    try:
        from . import distributed  # noqa: F401
    except Exception as e:
        # Raising would fail the user's import of DTensor, for rules only our ops need.
        warnings.warn(
            "torch_sigmoid_ext: the DTensor sharding rules could not be registered "
            f"({type(e).__name__}: {e}), so DTensor will refuse torch_sigmoid_ext's ops; "
            "`import torch_sigmoid_ext.distributed` registers them, or shows the full error",
            RuntimeWarning,
        )


class _RegisterAfterDTensorImport:
    """A meta path finder that hands out DTensor's spec with the loader wrapped, so that the
    rules are registered once DTensor's module has run (Python has no post-import hook)."""

    def find_spec(self, name, path, target=None):
        if name != _DTENSOR:
            return None
        for finder in list(sys.meta_path):
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _LoaderThenRegister(spec.loader)
        return spec


class _LoaderThenRegister:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps its own loader: nothing but this one call goes through the wrapper.
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        if _DTENSOR_HOOK in sys.meta_path:
            sys.meta_path.remove(_DTENSOR_HOOK)
        _register_sharding_rules()


_DTENSOR_HOOK = _RegisterAfterDTensorImport()
if _DTENSOR in sys.modules:
    _register_sharding_rules()
else:
    sys.meta_path.insert(0, _DTENSOR_HOOK)
