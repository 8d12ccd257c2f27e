"""Deletion / insertion (Petsiuk et al. 2018, as torchcam defines them) and average drop / increase in
confidence (Chattopadhyay et al. 2018, torchcam's definition); DESIGN.md section 10.

Deletion: with positions ranked by the map (descending, ties in C order), the score of ``x`` with its
top ``n_k`` positions set to the baseline in every channel, for ``n_k = 0, s, 2s, ..., P``
(``s = ceil(P / steps)``); insertion: the score of the baseline with those positions restored from ``x``.
``AUC = trapezoid(curve, n_k / P)``. A faithful map has a low deletion AUC and a high insertion AUC.

Average drop: ``O = score(m * x)`` with ``m`` the map min-max normalised per sample (a constant map
gives ``m = 0``), ``AD = max(0, Y - O) / (Y + 1e-7)``, ``IC = 1[O > Y]`` (``Y = score(x)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor

from ..probe import Progress
from .common import DEFAULT_BATCH_SIZE, Scorer, maps_for, ranking, removal_masks
from .results import MetricResult, over_data

if TYPE_CHECKING:
    from ..explainer import CAMExplainer

Baseline = float | Tensor | Callable[[Tensor], Tensor]


@dataclass
class DeletionInsertion(MetricResult):
    """``fractions`` ``(K,)``: the share of positions removed (deletion) or restored (insertion) at each point;
    ``deletion_curve``, ``insertion_curve`` ``(B, K)``: the scores there; ``deletion_auc``, ``insertion_auc`` ``(B,)``."""

    fractions: Tensor
    deletion_curve: Tensor
    insertion_curve: Tensor
    deletion_auc: Tensor
    insertion_auc: Tensor

    MAIN: ClassVar[tuple[str, ...]] = ("deletion_auc", "insertion_auc")
    SHARED: ClassVar[tuple[str, ...]] = ("fractions",)


@dataclass
class AverageDrop(MetricResult):
    """``drop`` ``(B,)``: ``max(0, Y - O) / (Y + 1e-7)``; ``increase`` ``(B,)``: 1.0 where ``O > Y``, else 0.0."""

    drop: Tensor
    increase: Tensor

    MAIN: ClassVar[tuple[str, ...]] = ("drop", "increase")


def deletion_counts(positions: int, steps: int) -> list[int]:
    """``0, s, 2s, ..., P`` with ``s = ceil(P / steps)`` (``P`` last, once)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int (points along the curve), got {steps!r}")
    step = math.ceil(positions / steps)
    return [*range(0, positions, step), positions]


@over_data
def deletion_insertion(explainer: CAMExplainer, x: Tensor, target: object = None, method: object = "gradcam",
                       layer: object = None, steps: int = 20, baseline: Baseline = 0.0, maps: Tensor | None = None,
                       batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True) -> DeletionInsertion:
    """Deletion and insertion curves of ``x`` ``(B, C, *spatial)`` and their areas.

    ``baseline``: what removed positions become, a float, a tensor broadcastable to ``x``, or a callable
    ``x -> tensor`` (e.g. a blurred ``x``). ``maps``: ``(B, *spatial)`` maps from any source instead of
    ``method``. Scores: the class probability (class targets), the mean class-c probability over the
    pixel set (``PixelSet``), or the callable target on the raw output. ``2 (K - 2) + 1`` forward passes
    per sample (the all-baseline input is deletion's last point and insertion's first), ``batch_size`` rows each.
    """
    maps = maps_for(explainer, x, target, method, layer, maps, progress)
    scorer = Scorer(explainer, x, target, batch_size, progress)
    x = scorer.x
    floor = _baseline_of(baseline, x)
    order = ranking(maps)
    counts = deletion_counts(order.shape[1], steps)
    inner = counts[1:-1]
    # job 0: the all-baseline input; then deletion at each inner count; then insertion at each inner count
    job_counts = torch.tensor([counts[-1], *inner, *inner], device=x.device)
    inserting = torch.tensor([False] + [False] * len(inner) + [True] * len(inner), device=x.device)

    def make(indices: Tensor) -> Tensor:
        top = removal_masks(order, job_counts[indices]).reshape(len(indices), x.shape[0], 1, *x.shape[2:])
        keep_x = top == inserting[indices].reshape(-1, 1, 1, *[1] * (x.ndim - 2))
        return torch.where(keep_x, x[None], floor[None])

    scores = scorer(make, len(job_counts), "deletion and insertion").double().cpu()
    original = scorer.original.double().cpu()[None]
    deletion = torch.cat([original, scores[1:1 + len(inner)], scores[:1]]).T
    insertion = torch.cat([scores[:1], scores[1 + len(inner):], original]).T
    fractions = torch.tensor(counts, dtype=torch.float64) / counts[-1]
    return DeletionInsertion(fractions, deletion, insertion, torch.trapezoid(deletion, fractions, dim=1),
                             torch.trapezoid(insertion, fractions, dim=1))


def _baseline_of(baseline: Baseline, x: Tensor) -> Tensor:
    if callable(baseline) and not isinstance(baseline, Tensor):
        baseline = baseline(x)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float, Tensor)):
        raise TypeError(f"baseline must be a float, a tensor broadcastable to x or a callable x -> tensor, got {baseline!r}")
    value = torch.as_tensor(baseline, dtype=x.dtype, device=x.device)
    try:
        return torch.broadcast_to(value, x.shape)
    except RuntimeError:
        raise ValueError(f"baseline of shape {tuple(value.shape)} does not broadcast to x's shape {tuple(x.shape)}") from None


def min_max(maps: Tensor) -> Tensor:
    """Each sample's map scaled to [0, 1]: ``(m - min) / (max - min)``; 0 where the map is constant."""
    flat = maps.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    span = high - low
    scaled = torch.where(span > 0, (flat - low) / torch.where(span > 0, span, 1), torch.zeros_like(flat))
    return scaled.reshape(maps.shape)


@over_data
def average_drop(explainer: CAMExplainer, x: Tensor, target: object = None, method: object = "gradcam",
                 layer: object = None, maps: Tensor | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: Progress = True) -> AverageDrop:
    """Average drop and increase in confidence: the score of ``x`` masked by its normalised map against the
    score of ``x`` (one forward pass per sample)."""
    maps = maps_for(explainer, x, target, method, layer, maps, progress)
    scorer = Scorer(explainer, x, target, batch_size, progress)
    masked = (min_max(maps).to(scorer.x.dtype)[:, None] * scorer.x)[None]
    masked_scores = scorer(lambda indices: masked, 1, "average drop")[0].double().cpu()
    original = scorer.original.double().cpu()
    drop = torch.relu(original - masked_scores) / (original + 1e-7)
    return AverageDrop(drop, (masked_scores > original).double())
