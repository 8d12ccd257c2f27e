"""``compare_methods``: every metric for every method x layer on one data set, in one call (DESIGN.md 10).

Per batch, each method x layer is explained once and its map handed (as ``maps=``) to every metric that
takes one; the original scores come from the explainer's cached forward pass; the random reference of
``segmentation_faithfulness`` and the randomised model copies of ``randomisation`` are shared by all maps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..methods import get_method
from ..probe import Progress, make_reporter
from ..targets import PixelSet
from .common import DEFAULT_BATCH_SIZE
from .deletion import average_drop, deletion_insertion
from .localisation import localisation
from .report import Comparison
from .results import MetricResult
from .road import road
from .sanity import RandomisationResult, random_logit, randomisation_correlations
from .segmentation import random_reference, segmentation_faithfulness

if TYPE_CHECKING:
    from ..explainer import CAMExplainer

MAP_METRICS: dict[str, Callable[..., MetricResult]] = {
    "deletion_insertion": deletion_insertion, "road": road, "average_drop": average_drop,
    "localisation": localisation, "segmentation_faithfulness": segmentation_faithfulness,
}
"""The metrics of a map (they take ``maps=``)."""
SANITY_METRICS = ("randomisation", "random_logit")
METRICS = (*MAP_METRICS, *SANITY_METRICS)
DEFAULT_METHODS = ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "respondcam")
"""The gradient methods: one backward pass each, so a comparison over a data set stays cheap."""


def compare_methods(explainer: CAMExplainer, data: Tensor | Iterable, methods: Sequence[object] = DEFAULT_METHODS,
                    layers: Sequence[object] = (None,), metrics: Sequence[str] | None = None, target: object = None,
                    masks: Tensor | None = None, options: Mapping[str, Mapping[str, Any]] | None = None,
                    seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True) -> Comparison:
    """A table (``.to_markdown()``) and curves (``.figure()``) of ``metrics`` for each method x layer.

    ``data``: a batch ``(B, C, *spatial)`` or an iterable of batches, each ``x``, ``(x, target)``,
    ``(x, target, masks)`` or a dict with keys ``x``, ``target``, ``masks``; ``target`` / ``masks`` given
    here apply to every batch instead. A ``PixelSet`` target makes it a segmentation comparison.
    ``metrics``: names from ``METRICS``; ``None`` takes every one that applies (``localisation`` when masks
    are given, ``segmentation_faithfulness`` for a ``PixelSet`` target, ``random_logit`` for class targets).
    ``options``: per-metric keyword arguments, e.g. ``{"road": {"noise": 0.0}, "deletion_insertion": {"steps": 10}}``.
    ``progress``: one bar over the comparison's steps (an explanation or a metric of one method x layer on one
    batch), or a callable ``progress(done, total)`` (``total`` None for a data set without a length).
    """
    options = _options(options)
    labels = _labels(methods)
    batches = 1 if isinstance(data, Tensor) else (len(data) if hasattr(data, "__len__") else None)
    outer, inner = progress, False   # one bar (or the user's callable) over the comparison; every call inside quiet
    report = None
    chosen: list[str] | None = None
    parts: dict[tuple[str, str], dict[str, list[MetricResult]]] = {}
    logit_draws = torch.Generator().manual_seed(seed)  # one stream over the data set, the same classes for every map
    for x, batch_target, batch_masks in _batches(data, target, masks):
        segmentation = isinstance(batch_target, PixelSet)
        chosen = chosen or _chosen(metrics, segmentation, batch_masks is not None)
        if report is None:
            steps = len(labels) * len(layers) * (1 + len(chosen))
            report = make_reporter(outer, steps * batches if batches else None, "compare_methods", "step")
        explained: dict[tuple[str, str], tuple[object, object, Tensor]] = {}
        for method, label in zip(methods, labels):
            for layer in layers:
                result = explainer.explain(x, batch_target, method, layer, progress=inner)
                explained.setdefault((label, result.layer), (method, layer, result.map.detach()))
                report(1)
        reference = None
        if "segmentation_faithfulness" in chosen:
            reference = random_reference(explainer, x, batch_target, seed=seed, batch_size=batch_size, progress=inner,
                                         **options.get("segmentation_faithfulness", {}))
        draws = logit_draws.get_state()
        for key, (method, layer, maps) in explained.items():
            got = parts.setdefault(key, {})
            for name in chosen:
                if name in MAP_METRICS:
                    kwargs = _map_metric_arguments(name, batch_target, batch_masks, reference)
                    value = MAP_METRICS[name](explainer, x, **kwargs, maps=maps, batch_size=batch_size,
                                              progress=inner, **options.get(name, {}))
                elif name == "random_logit":
                    logit_draws.set_state(draws)
                    value = random_logit(explainer, x, batch_target, method, layer, seed=logit_draws,
                                         progress=inner, **options.get(name, {}))
                else:
                    continue
                got.setdefault(name, []).append(value)
                report(1)
        if "randomisation" in chosen:
            pairs = [(method, layer) for method, layer, _ in explained.values()]
            steps, skipped, correlations = randomisation_correlations(
                explainer, x, batch_target, pairs, seed=seed, progress=inner, **options.get("randomisation", {}))
            for key, (method, layer, _) in explained.items():
                parts[key].setdefault("randomisation", []).append(
                    RandomisationResult(steps, skipped, correlations[(method, layer)]))
            report(len(labels) * len(layers))
    if report is not None:
        report(None)
    if chosen is None:
        raise ValueError("the data set gave no batches to compare on")
    results = {key: {name: type(values[0]).concat(values) for name, values in got.items()} for key, got in parts.items()}
    return Comparison(results, chosen)


def _map_metric_arguments(name: str, target: object, masks: Tensor | None, reference: Tensor | None) -> dict[str, Any]:
    if name == "localisation":
        return {"masks": masks, "target": target}
    if name == "segmentation_faithfulness":
        return {"pixel_set": target, "reference": reference}
    return {"target": target}


def _chosen(metrics: Sequence[str] | None, segmentation: bool, have_masks: bool) -> list[str]:
    if metrics is None:
        excluded = {"random_logit"} if segmentation else {"segmentation_faithfulness"}
        return [m for m in METRICS if m not in excluded and (have_masks or m != "localisation")]
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    if "localisation" in metrics and not have_masks:
        raise ValueError("localisation needs ground-truth masks: pass masks= or give batches as (x, target, masks)")
    if "segmentation_faithfulness" in metrics and not segmentation:
        raise ValueError("segmentation_faithfulness needs a PixelSet(c, mask) target")
    if "random_logit" in metrics and segmentation:
        raise ValueError("random_logit compares two classes' maps of a classifier; it takes no PixelSet target")
    return list(dict.fromkeys(metrics))


def _options(options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    options = dict(options or {})
    unknown = [name for name in options if name not in METRICS]
    if unknown:
        raise ValueError(f"options for unknown metric(s) {unknown}; the metrics are {sorted(METRICS)}")
    reserved = {"maps", "target", "masks", "pixel_set", "method", "layer", "batch_size", "progress", "reference"}
    for name, kwargs in options.items():
        clash = sorted(set(kwargs) & reserved)
        if clash:
            raise ValueError(f"options[{name!r}] sets {clash}, which compare_methods sets itself; pass them to "
                             "compare_methods instead (target=, masks=, batch_size=, progress=)")
    return {name: dict(kwargs) for name, kwargs in options.items()}


def _labels(methods: Sequence[object]) -> list[str]:
    if isinstance(methods, str) or not methods:
        raise ValueError(f"methods must be a non-empty list of method names or objects, got {methods!r}")
    labels: list[str] = []
    for method in methods:
        label = get_method(method).label
        labels.append(label if label not in labels else f"{label} #{labels.count(label) + 1}")
    return labels


def _batches(data: Any, target: object, masks: Tensor | None):
    if isinstance(data, Tensor):
        data = [data]
    for item in data:
        if isinstance(item, Mapping):
            unknown = sorted(set(item) - {"x", "target", "masks"})
            if unknown or "x" not in item:
                raise ValueError(f"a batch given as a dict has keys x, target, masks (x required); got {sorted(item)}")
            x, given_target, given_masks = item["x"], item.get("target"), item.get("masks")
        elif isinstance(item, (tuple, list)):
            if not 1 <= len(item) <= 3:
                raise ValueError(f"a batch tuple is (x,), (x, target) or (x, target, masks); got {len(item)} entries")
            x, given_target, given_masks = (*item, None, None)[:3]
        else:
            x, given_target, given_masks = item, None, None
        if given_target is not None and target is not None or given_masks is not None and masks is not None:
            raise ValueError("target / masks given both to compare_methods and in the batches: give each once")
        yield torch.as_tensor(x), (target if given_target is None else given_target), \
            (masks if given_masks is None else given_masks)
