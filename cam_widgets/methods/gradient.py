"""Gradient CAM methods as pure functions of activations ``A`` and gradients ``g = dy/dA``.

Conventions (any number of spatial dims, 1D, 2D or 3D):

* ``A`` has shape ``(B, K, *S)``: batch, channels ``k``, spatial positions.
* ``g`` has the shape of ``A``, or extra leading dims (e.g. a class axis ``(C, B, K, *S)``)
  that broadcast against ``A``; every function reduces over the *trailing* spatial axes and
  the channel axis just before them, so one call can explain all classes at once.
* Each function returns the **raw** map ``(..., B, *S)`` at layer resolution, before the
  method's final ReLU.  Whether a method has a final ReLU is stated in ``METHODS``.

This module imports nothing from the package, hooks nothing and owns no model.
"""

from __future__ import annotations

import torch
from torch import Tensor

RESPOND_CAM_EPS = 1e-10


def _spatial_axes(activations: Tensor) -> tuple[int, ...]:
    """The spatial axes of ``A`` counted from the end, so extra leading dims of ``g`` broadcast."""
    return tuple(range(-(activations.ndim - 2), 0))


def _channel_axis(activations: Tensor) -> int:
    return -(activations.ndim - 1)


def weighted_sum(weights: Tensor, activations: Tensor) -> Tensor:
    """``L = sum_k w_k A_k`` for channel weights ``w`` shaped ``(..., B, K)`` (one contraction, no
    ``(..., B, K, *S)`` intermediate)."""
    flat = activations.flatten(2)
    return torch.einsum("...bk,bkn->...bn", weights, flat).unflatten(-1, activations.shape[2:])


# --- channel weights --------------------------------------------------------------------------


def gradcam_weights(activations: Tensor, gradients: Tensor) -> Tensor:
    """Grad-CAM (Selvaraju et al. 2017), Eq. 1: ``w_k = (1/Z) sum_ij dy/dA_k^ij``."""
    return gradients.mean(_spatial_axes(activations))


def gradcam_plus_plus_weights(activations: Tensor, gradients: Tensor) -> Tensor:
    """Grad-CAM++ (Chattopadhyay et al. 2018), closed form of Eq. 19 with ``Y = exp(S)``:

        alpha_k^ij = g_ij^2 / (2 g_ij^2 + S_k g_ij^3),   S_k = sum_ab A_k^ab
        w_k        = sum_ij alpha_k^ij ReLU(g_ij)

    ``S_k`` sums the activations over *all* positions ``ab`` and multiplies ``g^3`` at the
    position ``ij`` (the index pair that several libraries mix up).  ``alpha = 0`` where
    ``g <= 0`` or the denominator is 0; the paper's ``exp(S)`` factor only scales ``w`` and is
    dropped.
    """
    spatial = _spatial_axes(activations)
    g = gradients
    sum_a = activations.sum(spatial, keepdim=True)
    numerator = g.pow(2)
    denominator = 2 * g.pow(2) + sum_a * g.pow(3)
    defined = (g > 0) & (denominator != 0)
    alpha = torch.where(defined, numerator / torch.where(defined, denominator, 1), 0)
    return (alpha * torch.relu(g)).sum(spatial)


def respond_weights(activations: Tensor, gradients: Tensor, eps: float = RESPOND_CAM_EPS) -> Tensor:
    """Respond-CAM (Zhao et al. 2018), Eq. 1: ``a_k = sum_ijk A_k g_k / (sum_ijk A_k + eps)``.

    The same activation-weighted mean of the gradient is XGrad-CAM's weight (Fu et al. 2020,
    Eq. 9).  With signed activations (a layer before its ReLU) ``sum A_k`` can be close to 0 and
    the weight large: explain rectified layers where you can.
    """
    spatial = _spatial_axes(activations)
    return (activations * gradients).sum(spatial) / (activations.sum(spatial) + eps)


# --- raw maps ---------------------------------------------------------------------------------


def gradcam(activations: Tensor, gradients: Tensor) -> Tensor:
    """Grad-CAM: ``L = ReLU(sum_k w_k A_k)``, ``w_k`` the spatial mean of ``g_k``."""
    return weighted_sum(gradcam_weights(activations, gradients), activations)


def gradcam_plus_plus(activations: Tensor, gradients: Tensor) -> Tensor:
    """Grad-CAM++: ``L = ReLU(sum_k w_k A_k)`` with the weights of ``gradcam_plus_plus_weights``."""
    return weighted_sum(gradcam_plus_plus_weights(activations, gradients), activations)


def hirescam(activations: Tensor, gradients: Tensor) -> Tensor:
    """HiResCAM (Draelos and Carin 2021): ``L = ReLU(sum_k g_k * A_k)``, element-wise, no mean."""
    return (gradients * activations).sum(_channel_axis(activations))


def xgradcam(activations: Tensor, gradients: Tensor) -> Tensor:
    """XGrad-CAM (Fu et al. 2020): ``L = ReLU(sum_k w_k A_k)``, ``w_k = sum A_k g_k / sum A_k``."""
    return weighted_sum(respond_weights(activations, gradients), activations)


def layercam(activations: Tensor, gradients: Tensor) -> Tensor:
    """LayerCAM (Jiang et al. 2021), Eq. 6-7: ``L = ReLU(sum_k ReLU(g_k) * A_k)``."""
    return (torch.relu(gradients) * activations).sum(_channel_axis(activations))


def respondcam(activations: Tensor, gradients: Tensor, eps: float = RESPOND_CAM_EPS) -> Tensor:
    """Respond-CAM (Zhao et al. 2018), Eq. 2: ``L = sum_k a_k A_k``, signed, **no ReLU**.

    Sum-to-score: with one linear layer after ``A``, ``sum L = y - b`` (supplementary Eq. 10).
    """
    return weighted_sum(respond_weights(activations, gradients, eps), activations)


CAM_CONSTANCY = 1e-5
"""``cam`` accepts ``g`` as spatially constant when it deviates from its channel's mean by at most this
fraction of ``max |g|`` over the whole tensor (DESIGN.md section 9)."""


def cam_weights(activations: Tensor, gradients: Tensor) -> Tensor:
    """CAM (Zhou et al. 2016), Eq. 2's ``w_k^c``: the linear weights of a GAP + linear head.

    With ``y = sum_k w_k mean(A_k) + b`` the gradient ``g_k = w_k / Z`` is the same at all ``Z`` positions,
    so ``w_k = Z * mean(g_k)``. A gradient that varies over the positions means the head is not of that form,
    and CAM is not defined there: ``ValueError`` (Grad-CAM is CAM's generalisation).
    """
    spatial = _spatial_axes(activations)
    mean = gradients.mean(spatial, keepdim=True)
    deviation = float((gradients - mean).abs().amax()) if gradients.numel() else 0.0
    scale = float(gradients.abs().amax()) if gradients.numel() else 0.0
    if deviation > CAM_CONSTANCY * scale:
        raise ValueError(
            "cam (Zhou et al. 2016) is defined only where the explained score is global average pooling of this "
            "layer followed by one linear layer, so that dy/dA is the same at every position; here it varies "
            f"(its spread over the positions is {deviation / scale:.1%} of its largest value): explain a GAP + linear "
            "head's input, or use "
            "method='gradcam', CAM's generalisation to any head (equal to cam / Z on a GAP + linear head)"
        )
    positions = activations[0, 0].numel()
    return positions * mean.flatten(-len(spatial))[..., 0]


def cam(activations: Tensor, gradients: Tensor) -> Tensor:
    """CAM: ``L = ReLU(sum_k w_k A_k)`` with the GAP + linear head's weights ``w_k`` (``cam_weights``)."""
    return weighted_sum(cam_weights(activations, gradients), activations)
