"""The mutating ops on a tensor with a lazy conjugate or negation (x.conj(), x.conj().imag).

torch's own fallback for those bits clones such an argument, runs the op on the clone and copies
it back, but it reads the mutated tensor from the op's return, and the mutating ops here return
nothing (torch.library's rule). So these kernels, which the dispatcher reaches only for a tensor
that carries such a bit, compute on resolved copies and write back with copy_, which writes
through the bits. The C++ kernels never see a lazy bit, and calls without one pay nothing. The
functional ops keep torch's fallback, which hands them resolved inputs.
"""

import torch

_ops = torch.ops.torch_sigmoid_ext
_BITS = torch._C.DispatchKeySet(torch._C.DispatchKey.Conjugate) | torch._C.DispatchKeySet(
    torch._C.DispatchKey.Negative
)


def _resolved(t):
    return t.resolve_conj().resolve_neg()


def _sigmoid_(x):
    with torch._C._ExcludeDispatchKeyGuard(_BITS):
        result = _resolved(x)  # a copy: x has a bit
        _ops.sigmoid_.default(result)  # every check of sigmoid_ before x is written
        x.copy_(result)


def _sigmoid_out(x, *, out):
    with torch._C._ExcludeDispatchKeyGuard(_BITS):
        target = _resolved(out)  # out itself, or a copy if out has a bit
        _ops.sigmoid.out(_resolved(x), out=target)
        if target is not out:
            if out.shape != target.shape:
                out.resize_(target.shape)
            out.copy_(target)


_lib = torch.library.Library("torch_sigmoid_ext", "IMPL")
for _key in ("Conjugate", "Negative"):
    _lib.impl("sigmoid_", _sigmoid_, _key)
    _lib.impl("sigmoid.out", _sigmoid_out, _key)
