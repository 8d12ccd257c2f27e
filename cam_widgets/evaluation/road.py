"""ROAD, RemOve And Debias (Rong et al. 2022): scores after removing positions by the map and filling them with
the noisy linear imputer (``imputer.py``); DESIGN.md section 10.

With positions ranked by the map (descending, ties in C order) and ``n_p = floor(p P / 100 + 0.5)``:

    MoRF_p = score(impute(x, first n_p positions)) - score(x)
    LeRF_p = score(impute(x, last n_p positions)) - score(x)
    combined = (mean_p LeRF_p - mean_p MoRF_p) / 2

A faithful map has a low MoRF (removing what it ranks first hurts) and a high LeRF (removing what it ranks last
does not), so a high ``combined``: pytorch-grad-cam's ``ROADCombined``, whose percentile is the share of positions
kept (its ``p`` is our ``100 - p``). Scores: the class probability (class targets), the mean class-c probability
over the pixel set (``PixelSet``), the callable target on the raw output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor

from ..probe import Progress
from .common import DEFAULT_BATCH_SIZE, Scorer, count_of, maps_for, ranking, removal_masks
from .imputer import add_noise, impute_disjoint, linear_impute
from .results import MetricResult, over_data

if TYPE_CHECKING:
    from ..explainer import CAMExplainer

PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


@dataclass
class RoadResult(MetricResult):
    """``percentiles`` ``(P,)``: the share of positions removed (%); ``morf``, ``lerf`` ``(B, P)``: the score change
    after removing the most / least relevant ``p`` %; ``combined`` ``(B,)``: ``(mean LeRF - mean MoRF) / 2``."""

    percentiles: Tensor
    morf: Tensor
    lerf: Tensor
    combined: Tensor

    MAIN: ClassVar[tuple[str, ...]] = ("combined",)
    SHARED: ClassVar[tuple[str, ...]] = ("percentiles",)
    COLUMNS: ClassVar[dict[str, str]] = {"morf": "percentiles", "lerf": "percentiles"}


@over_data
def road(explainer: CAMExplainer, x: Tensor, target: object = None, method: object = "gradcam",
         layer: object = None, percentiles: Sequence[float] = PERCENTILES, noise: float = 0.01, seed: int = 0,
         maps: Tensor | None = None, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True) -> RoadResult:
    """ROAD's MoRF and LeRF score changes of ``x`` ``(B, C, *spatial)`` at ``percentiles`` (each in (0, 100), in
    any order, kept in the given order), and the combined score.

    Removed positions (every channel) are filled by ``noisy_linear_impute`` with ``noise`` (the standard
    deviation of the Gaussian added there; 0 for none). The imputations go in pairs: MoRF at each percentile in
    the given order, each followed by LeRF at its partner, the percentile as many places from the largest as it is
    from the smallest (``100 - p`` for a symmetric list such as the default); a pair that removes no position twice
    (MoRF at ``p`` and LeRF at ``100 - p`` cover the input once) is solved as one system. One ``torch.Generator`` on
    the model's device, seeded by ``seed``, draws the noise in that order, within each imputation one
    ``(C, *spatial)`` draw per sample in batch order, so the values do not depend on ``batch_size``; a data set's
    batches each start from ``seed``. ``maps``: ``(B, *spatial)`` maps from any source instead of ``method``.
    ``2 P`` imputed inputs per sample, ``batch_size`` rows per forward pass.

    >>> r = ev.road(explainer, x, method="gradcam", noise=0.0)
    >>> r.combined, r.morf, r.lerf
    """
    levels = _check_percentiles(percentiles)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite float >= 0 (the imputer's noise standard deviation), got {noise!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int (it seeds the imputer's noise), got {seed!r}")
    maps = maps_for(explainer, x, target, method, layer, maps, progress)
    scorer = Scorer(explainer, x, target, batch_size, progress)
    x = scorer.x
    batch, spatial, count = x.shape[0], tuple(x.shape[2:]), len(levels)
    order = ranking(maps.to(x.device))
    counts = [count_of(p, order.shape[1]) for p in levels]
    ascending = sorted(range(count), key=lambda i: levels[i])
    partner = {i: ascending[count - 1 - r] for r, i in enumerate(ascending)}
    where = torch.tensor(counts, device=x.device)
    morf = removal_masks(order, where).reshape(count, batch, *spatial)
    lerf = removal_masks(order.flip(1), where).reshape(count, batch, *spatial)
    masks = [m for i in range(count) for m in (morf[i], lerf[partner[i]])]        # item 2i, 2i + 1
    generator = torch.Generator(device=x.device).manual_seed(seed)
    pending: dict[int, Tensor] = {}

    def make(indices: Tensor) -> Tensor:
        pairs = sorted({t // 2 for t in indices.tolist() if t not in pending})
        joint = [i for i in pairs if counts[i] + counts[partner[i]] <= order.shape[1]]
        apart = [i for i in pairs if i not in joint]
        if joint:
            stack = x.repeat(len(joint), *[1] * (x.ndim - 1))
            mates = [partner[i] for i in joint]
            first, second = impute_disjoint(stack, morf[joint].flatten(0, 1), lerf[mates].flatten(0, 1))
            for n, i in enumerate(joint):
                pending[2 * i], pending[2 * i + 1] = first[n * batch:(n + 1) * batch], second[n * batch:(n + 1) * batch]
        if apart:
            items = [t for i in apart for t in (2 * i, 2 * i + 1)]
            filled = linear_impute(x.repeat(len(items), *[1] * (x.ndim - 1)), torch.cat([masks[t] for t in items]))
            pending.update({t: filled[n * batch:(n + 1) * batch] for n, t in enumerate(items)})
        return torch.stack([add_noise(pending.pop(t), masks[t], noise, generator) for t in indices.tolist()])

    scores = scorer(make, 2 * count, "ROAD imputations").double().cpu()
    change = (scores - scorer.original.double().cpu()[None]).T           # (B, 2P): item order
    morf_change = change[:, 0::2]
    lerf_change = change[:, [2 * partner[j] + 1 for j in range(count)]]          # partner is its own inverse
    combined = (lerf_change.mean(1) - morf_change.mean(1)) / 2
    return RoadResult(torch.tensor(levels, dtype=torch.float64), morf_change.contiguous(), lerf_change.contiguous(),
                      combined)


def _check_percentiles(percentiles: object) -> list[float]:
    accepted = "a non-empty sequence of numbers strictly between 0 and 100, e.g. (10, 20, ..., 90)"
    if isinstance(percentiles, Tensor) or hasattr(percentiles, "tolist"):
        percentiles = percentiles.tolist()
    if isinstance(percentiles, (str, bytes)) or not isinstance(percentiles, Sequence):
        raise TypeError(f"percentiles must be {accepted}; got {percentiles!r}")
    if not percentiles or any(isinstance(p, bool) or not isinstance(p, (int, float)) for p in percentiles):
        raise ValueError(f"percentiles must be {accepted}; got {percentiles!r}")
    bad = [p for p in percentiles if not 0 < p < 100]
    if bad:
        raise ValueError(f"percentiles must be {accepted} (the share of positions removed); {bad} are not")
    return [float(p) for p in percentiles]
