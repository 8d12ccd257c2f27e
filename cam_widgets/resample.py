"""N-D resampling of maps to the input's size, and their preparation for display.

Order of operations (fixed): raw map at layer resolution -> the method's ReLU -> ``upsample``
-> ``normalize`` for display -> ``to_uint8`` for the browser.  This module imports nothing from
the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def upsample(maps: Tensor, size: Sequence[int]) -> Tensor:
    """Resize ``(..., *S)`` maps to ``(..., *size)``: linear / bilinear / trilinear by the number
    of spatial dims, ``align_corners=False`` (pixel centres aligned, as the input's pixels are)."""
    size = tuple(int(s) for s in size)
    spatial_ndim = len(size)
    if spatial_ndim not in _MODES:
        raise ValueError(f"can upsample 1, 2 or 3 spatial dims, got size {size}")
    leading = maps.shape[: maps.ndim - spatial_ndim]
    if tuple(maps.shape[maps.ndim - spatial_ndim:]) == size:
        return maps
    flat = maps.reshape(-1, 1, *maps.shape[maps.ndim - spatial_ndim:])
    resized = F.interpolate(flat, size=size, mode=_MODES[spatial_ndim], align_corners=False)
    return resized.reshape(*leading, *size)


def normalize(maps: Tensor, signed: bool = False, spatial_ndim: int | None = None) -> Tensor:
    """Scale each map for display: ``[min, max] -> [0, 1]``, or for signed maps (Respond-CAM)
    ``x / max|x|`` into ``[-1, 1]`` so that 0 stays at the centre of a diverging colormap.

    The extremes are taken over the last ``spatial_ndim`` dims (default: all but the first).
    A constant map becomes all zeros rather than NaN.
    """
    spatial_ndim = maps.ndim - 1 if spatial_ndim is None else spatial_ndim
    axes = tuple(range(maps.ndim - spatial_ndim, maps.ndim))
    if signed:
        scale = maps.abs().amax(axes, keepdim=True)
        return torch.where(scale > 0, maps / torch.where(scale > 0, scale, 1), 0)
    low = maps.amin(axes, keepdim=True)
    span = maps.amax(axes, keepdim=True) - low
    return torch.where(span > 0, (maps - low) / torch.where(span > 0, span, 1), 0)


def to_uint8(maps: Tensor, vmin: float, vmax: float) -> Tensor:
    """Quantise ``[vmin, vmax] -> {0..255}`` (values outside are clipped); ``vmin == vmax`` gives 0."""
    span = vmax - vmin
    if span <= 0:
        return torch.zeros_like(maps, dtype=torch.uint8)
    scaled = (maps - vmin) * (255.0 / span)
    return scaled.round().clamp(0, 255).to(torch.uint8)
