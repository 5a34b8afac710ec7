"""How results are rounded: set_rounding, get_rounding and the rounding context manager.

"default": every float16 and bfloat16 result correctly rounded (the value of the dtype nearest
the exact one, ties to even), forward and backward; float32 within 1.66 ULP forward and 1 ULP
backward. "correct": float32 correctly rounded too, forward and backward, for every input, at a
cost in speed (README, Correct rounding). float64 keeps its kernel in both modes, and complex64
is refused in "correct" mode (its formula is not correctly rounded). The mode is process-wide,
like torch's numerics switches, and read by every call, eager or compiled.
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

    ``"correct"``: every float32 result, forward and backward, is the float nearest the exact
    value (ties to even), so it is the same bits on every CPU variant and on CUDA.
    ``"default"``: the faster float32 kernels (within 1.66 ULP forward, 1 ULP backward). 16-bit
    results are correctly rounded in both; float64 is the same in both.
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
