"""FullGrad (Srinivas and Fleuret 2019, as the official code): the input-gradient and every bias-gradient.

    S = psi(dy/dx * x) summed over input channels + sum over bias modules of up(psi(b * dy/dz)) summed over channels

``b`` a convolution's bias or a BatchNorm's effective bias ``b - mu * gamma / sqrt(var + eps)``, ``z`` the
module's output; ``psi(t) = (|t| - min|t|) / (max(|t| - min|t|) + 1e-6)``, min and max per sample over all
channels and positions of that term; ``up`` bilinear / trilinear with ``align_corners=False`` (the official
code uses True). The map is at the input's resolution and uses no single layer. This module imports
nothing from the package.
"""

from __future__ import annotations

from torch import Tensor

from .base import CAMMethod, Probe

PSI_EPS = 1e-6


def psi(terms: Tensor) -> Tensor:
    """FullGrad's post-processing of ``(T, B, K, *S)`` terms: ``|t|`` min-max scaled per ``(T, B)``."""
    magnitude = terms.abs()
    flat = magnitude.flatten(2)
    low = flat.amin(2).reshape(*terms.shape[:2], *(1,) * (terms.ndim - 2))
    shifted = magnitude - low
    high = shifted.flatten(2).amax(2).reshape(low.shape)
    return shifted / (high + PSI_EPS)


def fullgrad(probe: Probe) -> Tensor:
    """The raw FullGrad saliency ``(T, B, *input)``."""
    input_term, bias_terms = probe.input_and_bias_gradients()
    saliency = psi(input_term).sum(2)
    for bias, gradient in bias_terms:
        term = bias.reshape(-1, *(1,) * (gradient.ndim - 3)) * gradient
        saliency = saliency + probe.upsample(psi(term).sum(2))
    return saliency


class FullGrad(CAMMethod):
    """FullGrad: every bias module and the input gradient; the result's ``layer`` is "all biases"."""

    name = "fullgrad"
    label = "FullGrad"
    paper = "Srinivas and Fleuret 2019"
    kind = "input-gradient"

    def compute(self, probe: Probe) -> tuple[Tensor, None]:
        return fullgrad(probe), None
