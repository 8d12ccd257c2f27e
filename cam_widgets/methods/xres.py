"""Seg-XRes-CAM (Hasany et al. 2023): HiResCAM with the gradient pooled over windows of positions.

``L = ReLU(sum_k pooled(g)_k * A_k)``: ``g`` max- (or mean-) pooled in windows of ``p`` positions per
spatial dim (stride ``p``; windows at the far edges reduce over what they contain, no padding), each
position taking its window's value (nearest upsampling). ``p = 1`` is HiResCAM. This module imports
nothing from the package.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from .base import CAMMethod, Probe, positive_int

_POOLS = {"max": (F.max_pool1d, F.max_pool2d, F.max_pool3d), "mean": (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)}


def pooled_gradients(gradients: Tensor, spatial_ndim: int, pool: int, mode: str) -> Tensor:
    """``g`` ``(..., K, *S)`` pooled in windows of ``pool`` per spatial dim, each position given its window's value."""
    spatial = gradients.shape[gradients.ndim - spatial_ndim:]
    flat = gradients.reshape(-1, *gradients.shape[gradients.ndim - spatial_ndim - 1:])
    window = tuple(min(pool, n) for n in spatial)  # an axis shorter than p is one window (avg_pool3d refuses more)
    pooled = _POOLS[mode][spatial_ndim - 1](flat, window, stride=pool, ceil_mode=True)
    for axis, size in enumerate(spatial):
        pooled = pooled.repeat_interleave(pool, dim=2 + axis).narrow(2 + axis, 0, size)
    return pooled.reshape(gradients.shape)


def xrescam(activations: Tensor, gradients: Tensor, pool: int = 2, mode: str = "max") -> Tensor:
    """The raw Seg-XRes-CAM ``sum_k pooled(g)_k * A_k`` ``(..., B, *S)``."""
    spatial_ndim = activations.ndim - 2
    return (pooled_gradients(gradients, spatial_ndim, pool, mode) * activations).sum(-spatial_ndim - 1)


@dataclass(frozen=True, eq=False)
class XResCAM(CAMMethod):
    """``XResCAM(pool=2, mode="max")``: Seg-XRes-CAM with windows of ``pool`` positions per spatial dim."""

    pool: int = 2
    mode: str = "max"
    name = "xrescam"
    label = "Seg-XRes-CAM"
    paper = "Hasany et al. 2023"

    def __post_init__(self) -> None:
        positive_int(self.pool, "XResCAM pool")
        if self.mode not in _POOLS:
            raise ValueError(f"XResCAM mode must be 'max' or 'mean', got {self.mode!r}")

    def compute(self, probe: Probe) -> tuple[Tensor, None]:
        return xrescam(probe.activations, probe.gradients(), self.pool, self.mode), None
