"""Segmentation faithfulness: does removing what a Seg-CAM points at change the segmentation? (DESIGN.md 10)

For a pixel set ``M`` of class ``c`` and each fraction ``k``: remove (set to 0 in every channel) the top
``k`` of the positions ranked by the map, and report

    score_drop_k = (y - y_k) / max(|y|, 1e-7),     y = sum_{u in M} f(x)_{c,u}   (the explained target)
    dice_k       = 2 |S ∩ S_k| / (|S| + |S_k|),     S = {u in M : argmax_c' f(x)_{c',u} = c}

(``dice_k = 1`` when both sets are empty: they are equal); the same for the same number of positions
drawn uniformly without replacement (``RANDOM_DRAWS`` draws, averaged) as the reference. A faithful
map drops ``y`` and the Dice far more than the random positions do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor

from ..probe import Progress
from ..targets import PixelSet, class_index
from .common import DEFAULT_BATCH_SIZE, Scorer, count_of, maps_for, pixel_weights, ranking, removal_masks
from .results import MetricResult, over_data

if TYPE_CHECKING:
    from ..explainer import CAMExplainer

RANDOM_DRAWS = 5
DEFAULT_FRACTIONS = (0.05, 0.1, 0.2, 0.5)


@dataclass
class SegmentationFaithfulness(MetricResult):
    """``fractions`` ``(F,)``; ``score_drop``, ``dice`` ``(B, F)`` for the map's top positions;
    ``random_score_drop``, ``random_dice`` ``(B, F)`` for random positions (the reference)."""

    fractions: Tensor
    score_drop: Tensor
    dice: Tensor
    random_score_drop: Tensor
    random_dice: Tensor

    MAIN: ClassVar[tuple[str, ...]] = ("score_drop", "dice", "random_score_drop", "random_dice")
    SHARED: ClassVar[tuple[str, ...]] = ("fractions",)
    COLUMNS: ClassVar[dict[str, str]] = dict.fromkeys(MAIN, "fractions")
    REFERENCES: ClassVar[dict[str, str]] = {"score_drop": "random_score_drop", "dice": "random_dice"}


@over_data
def segmentation_faithfulness(explainer: CAMExplainer, x: Tensor, pixel_set: PixelSet, method: object = "gradcam",
                              layer: object = None, fractions: tuple[float, ...] = DEFAULT_FRACTIONS, seed: int = 0,
                              maps: Tensor | None = None, reference: Tensor | None = None,
                              batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True) -> SegmentationFaithfulness:
    """Score drop and Dice after removing each fraction of the map's top positions, and of random ones.

    ``pixel_set``: the explained ``PixelSet(c, M)`` (the Seg-CAM's target). ``fractions``: shares of the
    positions in (0, 1]. ``seed``: the random reference's generator (see ``random_reference``);
    ``reference``: that reference computed once for this batch, to share it between several maps.
    ``F`` forward passes per sample, plus ``RANDOM_DRAWS F`` for the reference.
    """
    shares = _fractions(fractions)
    _require_pixel_set(pixel_set)
    maps = maps_for(explainer, x, pixel_set, method, layer, maps, progress)
    scorer = Scorer(explainer, x, pixel_set, batch_size, progress)
    top = _removal_effects(scorer, pixel_set, [ranking(maps)], shares)[0]
    if reference is None:
        reference = _reference(scorer, pixel_set, shares, seed)
    elif tuple(reference.shape) != tuple(top.shape):
        raise ValueError(f"reference has shape {tuple(reference.shape)}; random_reference for this batch and these "
                         f"fractions has shape {tuple(top.shape)}")
    return SegmentationFaithfulness(torch.tensor(shares, dtype=torch.float64), top[..., 0], top[..., 1],
                                    reference[..., 0], reference[..., 1])


def random_reference(explainer: CAMExplainer, x: Tensor, pixel_set: PixelSet,
                     fractions: tuple[float, ...] = DEFAULT_FRACTIONS, seed: int = 0,
                     batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True) -> Tensor:
    """``(B, F, 2)``: score drop and Dice for positions drawn uniformly without replacement, averaged over
    ``RANDOM_DRAWS`` draws. The draws come from a CPU generator seeded by ``seed`` (so every device draws the
    same positions): ``RANDOM_DRAWS`` permutations of ``(B, P)`` in turn, so they depend on the batch."""
    _require_pixel_set(pixel_set)
    return _reference(Scorer(explainer, x, pixel_set, batch_size, progress), pixel_set, _fractions(fractions), seed)


def _reference(scorer: Scorer, pixel_set: PixelSet, shares: list[float], seed: int) -> Tensor:
    batch, positions = scorer.x.shape[0], scorer.x[0, 0].numel()
    generator = torch.Generator().manual_seed(seed)
    orders = [torch.rand(batch, positions, generator=generator).argsort(1).to(scorer.x.device)
              for _ in range(RANDOM_DRAWS)]
    return _removal_effects(scorer, pixel_set, orders, shares).mean(0)


def _removal_effects(scorer: Scorer, pixel_set: PixelSet, orders: list[Tensor], shares: list[float]) -> Tensor:
    """``(len(orders), B, F, 2)``: score drop and Dice with the first ``count_of(100 k, P)`` positions of each
    order removed, for each share ``k``."""
    x, batch, n = scorer.x, scorer.x.shape[0], len(shares)
    counts = torch.tensor([count_of(100 * f, x[0, 0].numel()) for f in shares], device=x.device)

    def make(indices: Tensor) -> Tensor:
        removed = torch.cat([removal_masks(orders[int(i) // n], counts[int(i) % n: int(i) % n + 1]) for i in indices])
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        return torch.where(removed.reshape(len(indices), batch, 1, *x.shape[2:]), zero, x[None])

    members = pixel_weights(pixel_set, scorer.output) != 0
    classes = class_index(pixel_set.classes, scorer.output)
    before = _predicted(scorer.output, classes, members)
    y = pixel_set(scorer.output)

    def reduce(outputs: Tensor) -> Tensor:
        after = _predicted(outputs, classes, members)
        return torch.stack([(y - pixel_set(outputs)) / y.abs().clamp_min(1e-7), _dice(before, after)], dim=1)

    values = scorer.run(make, len(orders) * n, "segmentation faithfulness", reduce).double().cpu()
    return values.reshape(len(orders), n, batch, 2).transpose(1, 2)


def _require_pixel_set(pixel_set: object) -> None:
    if not isinstance(pixel_set, PixelSet):
        raise TypeError(f"segmentation_faithfulness explains a PixelSet(c, mask) target, got {pixel_set!r}")


def _fractions(fractions: tuple[float, ...]) -> list[float]:
    shares = [float(f) for f in fractions]
    if not shares or any(not 0 < f <= 1 for f in shares):
        raise ValueError(f"fractions must be shares of the positions in (0, 1], e.g. (0.05, 0.1, 0.2, 0.5), got {fractions!r}")
    return shares


def _predicted(outputs: Tensor, classes: Tensor, members: Tensor) -> Tensor:
    """``(B, *S)`` bool: ``{u in M : argmax_c f_{c,u} = c_b}``."""
    shape = (-1, *[1] * (outputs.ndim - 2))
    return (outputs.argmax(1) == classes.reshape(shape)) & members


def _dice(a: Tensor, b: Tensor) -> Tensor:
    """``(B,)`` ``2 |a ∩ b| / (|a| + |b|)``, 1 where both are empty."""
    both = (a & b).flatten(1).sum(1).double()
    sizes = (a.flatten(1).sum(1) + b.flatten(1).sum(1)).double()
    return torch.where(sizes > 0, 2 * both / sizes.clamp_min(1), torch.ones_like(sizes))
