"""Eigen-CAM and Eigen-Grad-CAM (Muhammad and Yeasin 2020): the first principal component of a layer.

Per sample, ``M`` is the positions x channels matrix of the features (``A`` for Eigen-CAM, ``g * A`` for
Eigen-Grad-CAM), centred over the positions; ``M = U S V^T``; the map is the projection ``M v_1`` on the
first right singular vector. The SVD's sign is arbitrary: ours makes ``sum_k v_1k >= 0`` (the projection
then correlates non-negatively with ``sum_k`` of the centred features), so the map is reproducible.
All samples (and classes) are one batched ``torch.linalg.svd`` on the tensors' device.

This module imports nothing from the package.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import CAMMethod, Probe


def first_component(features: Tensor, spatial_ndim: int) -> Tensor:
    """``(..., K, *S) -> (..., *S)``: each ``(K, *S)`` block projected on its first right singular vector."""
    spatial = features.shape[features.ndim - spatial_ndim:]
    channels = features.shape[-spatial_ndim - 1]
    matrix = features.reshape(-1, channels, spatial.numel()).transpose(1, 2)  # (N, Z, K)
    centred = matrix - matrix.mean(1, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    v = vh[:, 0, :]  # (N, K)
    sign = torch.where(v.sum(1, keepdim=True) < 0, -1.0, 1.0).to(v.dtype)
    projection = torch.einsum("nzk,nk->nz", centred, v * sign)
    return projection.reshape(*features.shape[:-spatial_ndim - 1], *spatial)


def eigencam(activations: Tensor) -> Tensor:
    """Eigen-CAM: ``L = ReLU(M v_1)`` with ``M`` the centred positions x channels matrix of ``A``; class-agnostic."""
    return first_component(activations, activations.ndim - 2)


def eigengradcam(activations: Tensor, gradients: Tensor) -> Tensor:
    """Eigen-Grad-CAM: the same on ``g * A`` (class-dependent)."""
    return first_component(gradients * activations, activations.ndim - 2)


class EigenCAM(CAMMethod):
    """Eigen-CAM: the first principal component of ``A``, the same map for every target."""

    name = "eigencam"
    label = "Eigen-CAM"
    paper = "Muhammad and Yeasin 2020"
    kind = "activation"
    class_agnostic = True

    def compute(self, probe: Probe) -> tuple[Tensor, None]:
        targets = probe.scores.shape[0]
        return eigencam(probe.activations)[None].repeat(targets, *(1,) * (probe.activations.ndim - 1)), None


class EigenGradCAM(CAMMethod):
    """Eigen-Grad-CAM: the first principal component of ``g * A``."""

    name = "eigengradcam"
    label = "Eigen-Grad-CAM"
    paper = "Muhammad and Yeasin 2020"

    def compute(self, probe: Probe) -> tuple[Tensor, None]:
        return eigengradcam(probe.activations, probe.gradients()), None
