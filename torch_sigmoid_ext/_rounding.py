"""How results are rounded: set_rounding, get_rounding and the rounding context manager.

"default": float32 forward within 1.66 ULP of the exact value; everything else correctly
rounded (the float32 backward, and every float16 and bfloat16 result). "correct": the float32
forward correctly rounded too, for every input, at a cost. float64 keeps its kernel in both,
and complex64 is refused in "correct" mode (its formula is not correctly rounded). The mode is
process-wide, like torch's numerics switches, and read by every call, eager or compiled.
"""

import contextlib

from ._extension import native

MODES = ("default", "correct")


def _check(mode):
    if mode not in MODES:
        raise ValueError(
            f"torch_sigmoid_ext.set_rounding: unknown rounding mode {mode!r}; use one of "
            f"{', '.join(map(repr, MODES))}")
    return MODES.index(mode)


def set_rounding(mode: str) -> None:
    """Sets how torch_sigmoid_ext rounds, for the whole process, from the next call on.

    ``"correct"``: every float32 result is the float nearest the exact sigmoid (ties to even),
    on every CPU variant and on CUDA, so results are the same bits everywhere. ``"default"``:
    the faster float32 forward (within 1.66 ULP). Other dtypes round the same in both.
    """
    native.set_rounding(_check(mode))


def get_rounding() -> str:
    """The rounding mode in effect: ``"default"`` or ``"correct"``."""
    return MODES[native.set_rounding(-1)]


@contextlib.contextmanager
def rounding(mode: str):
    """Within the block, round as ``mode`` says (see set_rounding); the mode before is restored
    on the way out. Process-wide, as set_rounding is: other threads see it too."""
    index = _check(mode)
    previous = native.set_rounding(index)
    try:
        yield
    finally:
        native.set_rounding(previous)
