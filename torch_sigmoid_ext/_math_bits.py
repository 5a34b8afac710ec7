"""The mutating ops on a tensor with a lazy conjugate or negation (x.conj(), x.conj().imag).

torch's own fallback for those bits clones such an argument, runs the op on the clone and copies
it back, but it reads the mutated tensor from the op's return, and the mutating ops here return
nothing (torch.library's rule). So for them these kernels step past the Conjugate and Negative
keys, and the C++ kernel resolves the bits itself: it computes into a fresh tensor and copy_
writes through the bits. The functional ops keep torch's fallback, which hands them resolved
inputs.
"""

import torch

_ops = torch.ops.torch_sigmoid_ext
_BITS = torch._C.DispatchKeySet(torch._C.DispatchKey.Conjugate) | torch._C.DispatchKeySet(
    torch._C.DispatchKey.Negative
)


def _sigmoid_(x):
    with torch._C._ExcludeDispatchKeyGuard(_BITS):
        _ops.sigmoid_.default(x)


def _sigmoid_out(x, *, out):
    with torch._C._ExcludeDispatchKeyGuard(_BITS):
        _ops.sigmoid.out(x, out=out)


_lib = torch.library.Library("torch_sigmoid_ext", "IMPL")
for _key in ("Conjugate", "Negative"):
    _lib.impl("sigmoid_", _sigmoid_, _key)
    _lib.impl("sigmoid.out", _sigmoid_out, _key)
