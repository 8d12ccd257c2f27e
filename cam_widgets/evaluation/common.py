"""What every metric of ``cam_widgets.evaluation`` shares (DESIGN.md section 10).

* ``Scorer``: the score of modified inputs, batched on the model's device. Score: the class
  probability ``softmax(f(x), dim=1)[c]`` for class targets; for ``PixelSet(c, M)`` the mean over
  ``M`` of the class-c probability (the weighted mean ``sum_u w_u p_u / sum_u w_u`` for float
  weights); a callable target is applied to the raw output.
* ``maps_for``: the map evaluated, ``.map`` of an explanation at input resolution, or the user's ``maps=``.
* ``ranking`` / ``count_of``: positions by descending map value, ties in C order (one stable
  sort); "p % of P positions" is ``floor(p * P / 100 + 0.5)``.
* ``spearman``: Spearman's rank correlation per row (average ranks for ties).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..checks import on_model_device
from ..layers import call_model
from ..probe import Progress, make_reporter
from ..targets import ClassScore, PixelSet, Target, as_target

if TYPE_CHECKING:
    from ..explainer import CAMExplainer

DEFAULT_BATCH_SIZE = 64


class Scorer:
    """The score of one batch ``x`` ``(B, C, *spatial)`` and of inputs made from it, for one target.

    ``target``: as ``explain`` takes it (``None``: the predicted class of the unmodified ``x``).
    ``scorer(make, count)`` is ``(count, B)``: the scores of ``make(indices)``, an ``(m, B, C, *spatial)``
    stack of ``m`` modified batches, ``batch_size`` rows per forward pass in whole groups of ``B``
    (so a callable target always sees outputs shaped like the batch's).
    """

    def __init__(self, explainer: CAMExplainer, x: Tensor, target: object = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int (rows per forward pass), got {batch_size!r}")
        self.explainer, self.batch_size, self.progress = explainer, batch_size, progress
        self.x = on_model_device(explainer.model, x)
        self.output = explainer.predict(self.x)
        self.target: Target = as_target(target, self.output)
        self.original = self.scores_of_outputs(self.output)
        """``(B,)``: the score of the unmodified ``x``."""

    @property
    def batch(self) -> int:
        return self.x.shape[0]

    def scores_of_outputs(self, outputs: Tensor) -> Tensor:
        """``(B,)`` scores of one group's selected outputs ``(B, C, ...)``."""
        target = self.target
        if isinstance(target, ClassScore):
            return ClassScore(target.classes)(outputs.softmax(1))
        if isinstance(target, PixelSet):
            probabilities = outputs.softmax(1)
            weights = pixel_weights(target, outputs).to(probabilities.dtype)
            total = PixelSet(target.classes, weights)(probabilities)
            return total / weights.flatten(1).sum(1)
        return target(outputs)

    def __call__(self, make: Callable[[Tensor], Tensor], count: int, what: str = "evaluation passes") -> Tensor:
        return self.run(make, count, what, self.scores_of_outputs)

    def run(self, make: Callable[[Tensor], Tensor], count: int, what: str,
            reduce: Callable[[Tensor], Tensor]) -> Tensor:
        """``(count, B, ...)``: ``reduce(outputs)`` of each modified batch, ``reduce`` mapping one group's
        selected outputs ``(B, C, ...)`` to per-sample values ``(B, ...)``."""
        batch = self.batch
        per_pass = max(1, math.ceil(self.batch_size / batch))
        report = make_reporter(self.progress, count, what)
        pieces = []
        model = self.explainer.model
        try:
            with torch.no_grad():
                for start in range(0, count, per_pass):
                    indices = torch.arange(start, min(count, start + per_pass), device=self.x.device)
                    rows = make(indices)
                    output = self.explainer._select_output(call_model(model, rows.flatten(0, 1)))
                    pieces.extend(reduce(group) for group in output.unflatten(0, (len(indices), batch)))
                    report(len(indices))
        finally:
            report(None)
        if not pieces:
            return self.original.new_zeros(0, batch)
        return torch.stack(pieces).detach()


def pixel_weights(target: PixelSet, outputs: Tensor) -> Tensor:
    """``(B, *S)`` the pixel set's weights for a batch of outputs, broadcast as ``PixelSet`` does."""
    mask = target.mask.to(outputs.device)
    spatial = tuple(outputs.shape[2:])
    return mask.expand(outputs.shape[0], *spatial) if tuple(mask.shape) == spatial else mask


def maps_for(explainer: CAMExplainer, x: Tensor, target: object, method: object, layer: object,
             maps: Tensor | None, progress: Progress = True) -> Tensor:
    """``(B, *input_spatial)``: the user's ``maps`` (checked) or ``explain(...).map`` (after the final ReLU,
    signed maps as they are, at input resolution)."""
    expected = (x.shape[0], *x.shape[2:])
    if maps is None:
        return explainer.explain(x, target=target, method=method, layer=layer, progress=progress).map.detach()
    if not isinstance(maps, Tensor):
        maps = torch.as_tensor(maps)
    if tuple(maps.shape) != expected:
        raise ValueError(
            f"maps has shape {tuple(maps.shape)}; for x of shape {tuple(x.shape)} give one map per sample at the "
            f"input's resolution, {expected} (upsample a layer-resolution map first, e.g. with cam_widgets.resample.upsample)"
        )
    if not maps.is_floating_point():
        raise TypeError(f"maps must be a float tensor, got dtype {maps.dtype}")
    if not bool(torch.isfinite(maps).all()):
        raise ValueError("maps has NaN or inf values: a ranking of positions needs finite maps")
    return maps.detach().to(x.device)


def ranking(maps: Tensor) -> Tensor:
    """``(B, P)``: flat position indices by descending map value, ties in C order (one stable sort)."""
    return torch.argsort(maps.flatten(1), dim=1, descending=True, stable=True)


def count_of(percent: float, positions: int) -> int:
    """How many positions are ``percent`` % of ``positions``: ``floor(p * P / 100 + 0.5)``."""
    return int(math.floor(percent * positions / 100 + 0.5))


def removal_masks(order: Tensor, counts: Tensor) -> Tensor:
    """``(m, B, P)`` bool: True at the first ``counts[i]`` positions of each sample's ``order``."""
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    return ranks[None] < counts.to(order.device)[:, None, None]


def spearman(a: Tensor, b: Tensor) -> Tensor:
    """``(B,)`` Spearman's rho between the rows of ``a`` and ``b`` ``(B, ...)``: the Pearson correlation of their
    average ranks (ties share the mean rank, as ``scipy.stats.spearmanr``); NaN where either row is constant.
    ``a`` may also be ``centred_ranks`` of a map, computed once for several comparisons."""
    ra = a if isinstance(a, CentredRanks) else centred_ranks(a)
    rb = centred_ranks(b)
    denominator = (ra.norm * rb.norm)
    rho = (ra.values * rb.values).sum(1) / denominator
    return torch.where(denominator > 0, rho, torch.full_like(rho, float("nan")))


class CentredRanks:
    """A map's average ranks minus their mean, per row, and their norms (what ``spearman`` needs of one side)."""

    def __init__(self, values: Tensor):
        self.values = values
        self.norm = values.square().sum(1).sqrt()


def centred_ranks(maps: Tensor) -> CentredRanks:
    """``CentredRanks`` of ``maps`` ``(B, ...)``, in float64."""
    ranks = average_ranks(maps.flatten(1).double())
    return CentredRanks(ranks - ranks.mean(1, keepdim=True))


def average_ranks(values: Tensor) -> Tensor:
    """``(B, N)`` ranks 1..N of each row, ties given the mean of the ranks they span."""
    order = torch.argsort(values, dim=1)    # tied values get the same mean rank, so their order does not matter
    ordered = values.gather(1, order)
    n = values.shape[1]
    new_run = torch.ones_like(ordered, dtype=torch.bool)
    new_run[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run_id = new_run.cumsum(1) - 1                                   # (B, N) index of each element's tie run
    position = torch.arange(1, n + 1, dtype=values.dtype, device=values.device).expand_as(ordered)
    run_sum = torch.zeros_like(ordered).scatter_add_(1, run_id, position)
    run_size = torch.zeros_like(ordered).scatter_add_(1, run_id, torch.ones_like(position))
    mean_rank = (run_sum / run_size.clamp_min(1)).gather(1, run_id)
    return torch.empty_like(values).scatter_(1, order, mean_rank)
