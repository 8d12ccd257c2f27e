"""Score-CAM and Ablation-CAM: channel weights from extra forward passes (through the ``Probe``).

* Score-CAM (Wang et al. 2020, as the authors' code): ``H_k = (up(A_k) - min) / (max - min + 1e-8)``
  per sample and channel over the input's positions; ``alpha_k = y(softmax(model(x * H_k)))``, 0 for a
  constant channel (which gets no forward pass when it is constant in every sample, as dead channels after a
  ReLU are); ``L = ReLU(sum_k alpha_k A_k)``. No baseline, no softmax over channels.
* Ablation-CAM (Desai and Ramaswamy 2020): ``y_k`` the target with channel ``k`` of ``A`` set to 0 (a
  forward of the part above the layer), ``w_k = (y - y_k) / max(|y|, 1e-7)``; ``L = ReLU(sum_k w_k A_k)``.

This module imports nothing from the package.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import CAMMethod, Probe, positive_int
from .gradient import weighted_sum

SCORE_CAM_EPS = 1e-8
ABLATION_MIN_SCALE = 1e-7
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True, eq=False)
class _Batched(CAMMethod):
    """A perturbation method: ``batch_size`` rows (perturbations x samples) per forward pass."""

    batch_size: int = DEFAULT_BATCH_SIZE
    kind = "perturbation"

    def __post_init__(self) -> None:
        positive_int(self.batch_size, f"{type(self).__name__} batch_size")


@dataclass(frozen=True, eq=False)
class ScoreCAM(_Batched):
    """``ScoreCAM(batch_size=32)``: ``batch_size`` masked inputs per forward pass."""

    name = "scorecam"
    label = "Score-CAM"
    paper = "Wang et al. 2020"

    def compute(self, probe: Probe) -> tuple[Tensor, Tensor]:
        a, x = probe.activations, probe.input
        spatial = tuple(range(2, x.ndim))
        flat = a.flatten(2)
        live = (flat.amax(2) > flat.amin(2)).any(0).nonzero().flatten()  # channels not constant in every sample:
        constant = torch.zeros(a.shape[:2], dtype=torch.bool, device=a.device)  # the others get no forward pass

        def masked_inputs(indices: Tensor) -> Tensor:
            channels = live[indices]
            up = probe.upsample(a[:, channels])  # (B, m, *input)
            low, high = up.amin(spatial, keepdim=True), up.amax(spatial, keepdim=True)
            constant[:, channels] = (high == low).flatten(1)
            masks = ((up - low) / (high - low + SCORE_CAM_EPS)).to(x.dtype)
            return (x[:, None] * masks[:, :, None]).transpose(0, 1)  # (m, B, C, *input)

        scores = probe.scores_of_inputs(masked_inputs, len(live), self.batch_size, self.label)  # (L, T, B)
        alpha = scores.new_zeros(a.shape[1], *scores.shape[1:])
        alpha[live] = scores
        weights = alpha.permute(1, 2, 0).to(a.dtype).masked_fill(constant, 0)
        return weighted_sum(weights, a), weights


@dataclass(frozen=True, eq=False)
class AblationCAM(_Batched):
    """``AblationCAM(batch_size=32)``: ``batch_size`` ablated activations per forward pass above the layer."""

    name = "ablationcam"
    label = "Ablation-CAM"
    paper = "Desai and Ramaswamy 2020"
    runs_above_layer = True

    def compute(self, probe: Probe) -> tuple[Tensor, Tensor]:
        a = probe.activations

        def ablated(channels: Tensor) -> Tensor:
            rows = a[None].repeat(len(channels), *(1,) * a.ndim)  # (m, B, K, *S)
            rows[torch.arange(len(channels), device=a.device), :, channels] = 0
            return rows

        ablated_scores = probe.scores_above(ablated, a.shape[1], self.batch_size, self.label)  # (K, T, B)
        y = probe.scores
        weights = (y[None] - ablated_scores) / y.abs().clamp_min(ABLATION_MIN_SCALE)[None]
        weights = weights.permute(1, 2, 0).to(a.dtype)
        return weighted_sum(weights, a), weights
