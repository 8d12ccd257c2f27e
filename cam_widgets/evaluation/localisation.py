"""Localisation of a map against a ground-truth mask ``G`` (DESIGN.md section 10), N-D.

With ``m`` the map ``(B, *input_spatial)``, ``m+ = relu(m)`` and ``P`` the number of positions:

* relevance mass (Arras et al. 2022): ``sum_{u in G} m+_u / sum_u m+_u`` (NaN when ``m+`` is 0 everywhere);
* relevance rank (Arras et al. 2022): ``|{top-|G| positions of m} & G| / |G|``, the ranking by descending
  value with ties in C order (``common.ranking``);
* pointing game (Zhang et al. 2018): 1.0 when the argmax of ``m`` (the first in C order) lies within
  ``tolerance`` voxels of ``G`` (Euclidean distance between voxel indices, ``0``: inside ``G``), else 0.0;
* energy-based pointing game (Wang et al. 2020, Score-CAM): the relevance mass of
  ``n = (m - min m) / (max m - min m)`` (NaN for a constant map).

An empty ``G`` gives NaN for all four, never a hit. No forward pass beyond the explanation (none with ``maps=``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..explainer import CAMExplainer
from ..layers import LayerSpec
from ..methods import CAMMethod
from ..probe import Progress
from .common import DEFAULT_BATCH_SIZE, maps_for, ranking
from .results import MetricResult, over_data


@dataclass
class LocalisationResult(MetricResult):
    """Per sample, float64 ``(B,)``: ``mass`` (relevance mass in ``G``), ``rank`` (relevance rank accuracy),
    ``pointing`` (1.0 hit, 0.0 miss), ``energy`` (energy-based pointing game); NaN where undefined."""

    mass: Tensor
    rank: Tensor
    pointing: Tensor
    energy: Tensor

    MAIN = ("mass", "rank", "pointing", "energy")


@over_data
def localisation(explainer: CAMExplainer, x: Tensor, masks: Tensor, target: object = None,
                 method: str | CAMMethod = "gradcam", layer: LayerSpec | None = None, tolerance: float = 0,
                 maps: Tensor | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: Progress = True) -> LocalisationResult:
    """Relevance mass, relevance rank, pointing game and energy-based pointing game of ``.map`` (or ``maps``)
    against ``masks`` ``(B, *input_spatial)``: bool, or integers that are all 0 or 1 (floats are refused:
    threshold a soft mask first). ``tolerance``: the pointing game's radius in voxels. ``batch_size`` is
    accepted for a uniform signature (the metric runs no scoring pass).

        r = localisation(explainer, x, masks, tolerance=2); r.summary()
    """
    tolerance = _check_tolerance(tolerance)
    masks = _check_masks(masks, x)
    m = maps_for(explainer, x, target, method, layer, maps, progress)
    g = masks.to(m.device)
    return LocalisationResult(*(v.cpu() for v in (relevance_mass(m, g), relevance_rank(m, g),
                                                   pointing_game(m, g, tolerance), energy_pointing_game(m, g))))


def relevance_mass(maps: Tensor, masks: Tensor) -> Tensor:
    """``(B,)`` ``sum_G m+ / sum m+``; NaN for an empty ``G`` or a map with no positive value."""
    positive = maps.flatten(1).double().clamp_min(0)
    return _mass(positive, masks.flatten(1))


def relevance_rank(maps: Tensor, masks: Tensor) -> Tensor:
    """``(B,)`` the share of the top ``|G|`` positions (descending, ties in C order) that lie in ``G``."""
    g = masks.flatten(1)
    size = g.sum(1)
    in_order = g.gather(1, ranking(maps.double()))
    top = torch.arange(g.shape[1], device=g.device) < size[:, None]
    rank = (in_order & top).sum(1).double() / size.clamp_min(1)
    return _nan_where(rank, size == 0)


def pointing_game(maps: Tensor, masks: Tensor, tolerance: float = 0) -> Tensor:
    """``(B,)`` 1.0 when ``min_{u in G} |u - argmax m| <= tolerance`` (voxel indices, the first argmax in C
    order), else 0.0; NaN for an empty ``G``."""
    g = masks.flatten(1)
    peak = maps.flatten(1).argmax(1)  # the first maximal position
    if tolerance < 1:  # only the peak itself is that close
        hit = g.gather(1, peak[:, None])[:, 0]
    else:
        distance2 = torch.zeros(g.shape, dtype=torch.float64, device=g.device)
        for coordinate in _coordinates(maps.shape[1:], g.device):
            distance2 += (coordinate[None] - coordinate[peak][:, None]).square()
        hit = (distance2.masked_fill(~g, math.inf).amin(1) <= tolerance**2)
    return _nan_where(hit.double(), g.sum(1) == 0)


def energy_pointing_game(maps: Tensor, masks: Tensor) -> Tensor:
    """``(B,)`` the relevance mass of the map min-max normalised per sample; NaN for a constant map or an
    empty ``G``."""
    flat = maps.flatten(1).double()
    low, high = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    span = high - low
    normalised = (flat - low) / torch.where(span > 0, span, 1)
    return _nan_where(_mass(normalised, masks.flatten(1)), span[:, 0] == 0)


# --- helpers -------------------------------------------------------------------------------------


def _mass(values: Tensor, g: Tensor) -> Tensor:
    total = values.sum(1)
    inside = torch.where(g, values, 0).sum(1)
    return _nan_where(inside / torch.where(total > 0, total, 1), (total <= 0) | (g.sum(1) == 0))


def _nan_where(values: Tensor, undefined: Tensor) -> Tensor:
    return torch.where(undefined, torch.full_like(values, math.nan), values)


def _coordinates(shape: torch.Size, device: torch.device) -> list[Tensor]:
    """One ``(P,)`` float64 tensor per spatial axis: each flat position's index along it (C order)."""
    grids = torch.meshgrid(*(torch.arange(n, dtype=torch.float64, device=device) for n in shape), indexing="ij")
    return [grid.reshape(-1) for grid in grids]


def _check_tolerance(tolerance: object) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not math.isfinite(tolerance) \
            or tolerance < 0:
        raise ValueError(f"tolerance is the pointing game's radius in voxels, a finite number >= 0, got {tolerance!r}")
    return float(tolerance)


def _check_masks(masks: object, x: Tensor) -> Tensor:
    """Bool ``(B, *input_spatial)``; integer 0/1 masks are accepted as bool, anything else refused."""
    if not isinstance(masks, Tensor):
        try:
            masks = torch.as_tensor(np.asarray(masks))
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"masks must be a bool tensor or array (B, *input_spatial), got "
                            f"{type(masks).__name__}") from error
    expected = (x.shape[0], *x.shape[2:])
    if tuple(masks.shape) != expected:
        raise ValueError(f"masks has shape {tuple(masks.shape)}; for x of shape {tuple(x.shape)} give one ground-truth "
                         f"mask per sample at the input's spatial size, {expected}")
    if masks.dtype == torch.bool:
        return masks
    if masks.is_floating_point() or masks.is_complex():
        raise TypeError(f"masks must be bool (or integers 0 / 1), got dtype {masks.dtype}; threshold a soft mask "
                        "first, e.g. masks > 0.5")
    if bool(((masks != 0) & (masks != 1)).any()):
        raise ValueError(f"masks has integer values other than 0 and 1 ({sorted(masks.unique().tolist())[:6]}...): a "
                         "label map? give the mask of one object, e.g. labels == k")
    return masks != 0
