"""Trait values set from Python, checked the way the browser clamps them.

Integer traits take any integral number (``np.int64`` from ``np.argmax`` included), float traits
any real number (``np.float32`` included) and bool traits NumPy bools; range checks live with the
widgets (``_check_trait``), written with the helpers here, and raise ``ValueError`` with what is
accepted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
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


class Boolean(t.Bool):
    """``t.Bool`` that also accepts NumPy bools (``np.True_`` from a comparison), stored as ``bool``."""

    def validate(self, obj, value):
        if isinstance(value, np.bool_):
            return bool(value)
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
    """A voxel index of ``shape`` (the input's own indices), or ``[]``: the browser's "centre"."""
    value = list(value)
    if value and (len(value) != len(shape) or any(not 0 <= v < n for v, n in zip(value, shape))):
        raise ValueError(f"{what} must be [] or {len(shape)} indices inside the input's shape {tuple(shape)}, got {value}")
    return value


def point_in(value: Sequence[float], shape: Sequence[int], what: str) -> list[float]:
    """A point in voxel coordinates of ``shape`` (finite, ``0 <= v <= n - 1`` per dim), or ``[]``: the centre."""
    value = list(value)
    if value and (len(value) != len(shape) or any(not (math.isfinite(v) and 0 <= v <= n - 1) for v, n in zip(value, shape))):
        raise ValueError(f"{what} must be [] (the centre) or {len(shape)} voxel coordinates, each in 0..n-1 of the "
                         f"input's shape {tuple(shape)}, got {value}")
    return value


ZOOM_RANGE = (1.0, 64.0)
"""``zoom``: 1 fits the panel, 64 is the closest the browser zooms in."""


def zoom_of(value: float) -> float:
    low, high = ZOOM_RANGE
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"zoom must be a finite number in {low:g}..{high:g} (1 = fit), got {value}")
    return value


def channel_of(value: str | int, n_channels: int) -> str | int:
    """``"mean"``, ``"rgb"`` (only with 3 channels) or a channel index ``0..n_channels - 1``."""
    index = isinstance(value, int) and not isinstance(value, bool)
    if value == "mean" or (value == "rgb" and n_channels == 3) or (index and 0 <= value < n_channels):
        return value
    choices = "'mean', 'rgb'" if n_channels == 3 else "'mean'"
    why = " ('rgb' needs exactly 3 channels)" if value == "rgb" else ""
    raise ValueError(f"channel must be {choices} or a channel index 0..{n_channels - 1} for an input with "
                     f"{n_channels} channel(s){why}, got {value!r}")


def window_of(value: Sequence[float]) -> list[float]:
    """``[]`` (the image's full range) or ``[low, high]`` with finite ``low < high``."""
    value = list(value)
    if value and not (len(value) == 2 and all(math.isfinite(v) for v in value) and value[0] < value[1]):
        raise ValueError(f"window must be [] (full range) or [low, high] with finite low < high, got {value}")
    return value
