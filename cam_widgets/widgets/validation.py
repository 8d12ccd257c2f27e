"""Trait values set from Python, checked the way the browser clamps them.

Integer traits take any integral number (``np.int64`` from ``np.argmax`` included) and float traits
any real number (``np.float32`` included); range checks live with the widgets (``_check_trait``),
written with the helpers here, and raise ``ValueError`` with what is accepted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import traitlets as t


class Integer(t.Int):
    """``t.Int`` that also accepts NumPy integers (not bools), stored as ``int``."""

    def validate(self, obj, value):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return super().validate(obj, int(value))
        return super().validate(obj, value)


class Real(t.Float):
    """``t.Float`` that also accepts NumPy floats and integers (not bools), stored as ``float``."""

    def validate(self, obj, value):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return super().validate(obj, float(value))
        return super().validate(obj, value)


def index_in(value: int, size: int, what: str) -> int:
    """``0 <= value < size``."""
    if not 0 <= value < size:
        raise ValueError(f"{what} must be 0..{size - 1}, got {value}")
    return value


def fraction(value: float, what: str) -> float:
    """A finite value in ``[0, 1]``."""
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{what} must be between 0 and 1, got {value}")
    return value


def one_of(value: str, choices: Sequence[str], what: str) -> str:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")
    return value


def voxel_in(value: Sequence[int], shape: Sequence[int], what: str) -> list[int]:
    """A voxel index of ``shape`` (or ``[]``, the browser's "centre")."""
    value = list(value)
    if value and (len(value) != len(shape) or any(not 0 <= v < n for v, n in zip(value, shape))):
        raise ValueError(f"{what} must be {len(shape)} indices inside the shown shape {tuple(shape)}, got {value}")
    return value


def window_of(value: Sequence[float]) -> list[float]:
    """``[]`` (the image's full range) or ``[low, high]`` with finite ``low < high``."""
    value = list(value)
    if value and not (len(value) == 2 and all(math.isfinite(v) for v in value) and value[0] < value[1]):
        raise ValueError(f"window must be [] (full range) or [low, high] with finite low < high, got {value}")
    return value
