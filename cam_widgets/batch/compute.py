"""What a data-set run computes for one batch: the scores, prediction, each method x layer x target's map and
the metrics, as ``{store path: (B, ...) NumPy array}`` ready to be written into the rows of the batch.

Targets (DESIGN.md section 11): ``predicted``, ``label``, ``class_<c>``, ``all`` (every class, batched
cotangents, ``(B, C, *layer_spatial)``) for class scores; ``mask_<name>`` (a pixel set) and ``class_<c>``
(the pixels the model predicts as ``c``, Seg-Grad-CAM's convention) for segmentation outputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..explainer import CAMExplainer
from ..metrics import sum_to_score
from ..targets import PixelSet, from_prediction

CLASS_TARGETS = ("predicted", "label")
TARGET_FORMS = "predicted, label, all, class_<c> (e.g. class_3) or mask_<name> (a --mask)"
FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class Plan:
    """What every batch computes. ``masks``: pixel-set name -> class of the ``mask_<name>`` targets."""

    methods: tuple[str, ...]
    layers: tuple[str, ...]
    targets: tuple[str, ...]
    dtype: str = "float16"
    input_maps: bool = False
    metrics: tuple[str, ...] = ()
    masks: Mapping[str, int] = field(default_factory=dict)

    @property
    def metric_target(self) -> str:
        """The target the per-target metrics explain: the run's first target but ``all`` (``predicted`` if none)."""
        return next((t for t in self.targets if t != "all"), "predicted")


def check_target(key: str, segmentation: bool, n_classes: int, masks: Mapping[str, int]) -> str:
    """``key`` if it names a target of this model, else a ``ValueError`` listing what is accepted."""
    if key.startswith("mask_"):
        name = key[len("mask_"):]
        if name not in masks:
            raise ValueError(f"target {key!r} needs a pixel set named {name!r} (--mask {name}=CLASS:PATH); "
                             f"given: {', '.join(masks) or 'none'}")
        return key
    match = re.fullmatch(r"class_(\d+)", key)
    if match:
        if int(match.group(1)) >= n_classes:
            raise ValueError(f"target {key!r}: the model outputs {n_classes} classes "
                             f"(class_0 .. class_{n_classes - 1})")
        return key
    if key in (*CLASS_TARGETS, "all"):
        if segmentation:
            raise ValueError(f"target {key!r} needs class scores (B, C); the model is a segmentation network: use "
                             "class_<c> (the pixels predicted as c) or mask_<name>")
        return key
    raise ValueError(f"unknown target {key!r}; targets are {TARGET_FORMS}")


def scores_of(output: Tensor) -> Tensor:
    """``(B, C)``: the logits, or for a segmentation output the mean logit of each class over the pixels."""
    return output if output.ndim == 2 else output.flatten(2).mean(2)


@dataclass
class Batch:
    """One batch: inputs on the model's device, labels (-1 unknown), pixel-set masks by name (``(B, *S)``)."""

    x: Tensor
    labels: Tensor
    masks: dict[str, Tensor] = field(default_factory=dict)


def target_object(key: str, batch: Batch, output: Tensor, plan: Plan) -> tuple[object, Tensor | None]:
    """The explainer's target for ``key`` and the rows it does not apply to (``label`` where it is -1)."""
    if key == "predicted":
        return scores_of(output).argmax(1), None
    if key == "label":
        unknown = batch.labels < 0
        return batch.labels.clamp(min=0).to(output.device), unknown
    if key.startswith("class_"):
        c = int(key[len("class_"):])
        return (PixelSet(c, from_prediction(output, c)) if output.ndim > 2 else c), None
    name = key[len("mask_"):]
    return PixelSet(plan.masks[name], batch.masks[name]), None


def map_arrays(explainer: CAMExplainer, batch: Batch, plan: Plan, output: Tensor) -> dict[str, np.ndarray]:
    """``maps/<method>/<layer>/<target>`` (and ``maps_input/...``) of the batch."""
    out: dict[str, np.ndarray] = {}
    for method in plan.methods:
        for layer in plan.layers:
            for key in plan.targets:
                if key == "all":
                    result, unknown = explainer.explain_all_classes(batch.x, method, layer, progress=False), None
                else:
                    target, unknown = target_object(key, batch, output, plan)
                    result = explainer.explain(batch.x, target, method, layer, progress=False)
                name = f"{method}/{layer}/{key}"
                out[f"maps/{name}"] = stored_values(_per_sample(result.raw, key), unknown, plan.dtype, name)
                if plan.input_maps:  # upsampled only when asked: it costs as much as a few percent of a pass
                    shown = _per_sample(result.map, key)
                    out[f"maps_input/{name}"] = stored_values(shown, unknown, plan.dtype, name)
    return out


def _per_sample(values: Tensor, key: str) -> Tensor:
    """Samples first: ``explain_all_classes`` gives ``(C, B, ...)``."""
    return values.transpose(0, 1) if key == "all" else values


def stored_values(values: Tensor, unknown: Tensor | None, dtype: str, name: str) -> np.ndarray:
    """The values as stored: NaN on rows without a target; float16 only when every value fits in it."""
    array = values.detach().float().cpu().numpy()
    if unknown is not None and bool(unknown.any()):
        array[unknown.cpu().numpy()] = np.nan
    if dtype == "float16":
        peak = float(np.nanmax(np.abs(array))) if np.isfinite(array).any() else 0.0
        if peak > FLOAT16_MAX:
            raise OverflowError(f"the map {name} reaches {peak:.4g}, beyond float16's range (+-{FLOAT16_MAX:.0f}): "
                                "store the maps in float32 (--dtype float32, or dtype='float32')")
    return array.astype(dtype)


# --- metrics -------------------------------------------------------------------------------------------

MetricFunction = Callable[[CAMExplainer, Batch, object, str, str], dict[str, Tensor]]


def _sum_to_score(explainer: CAMExplainer, batch: Batch, target: object, method: str, layer: str) -> dict:
    result = sum_to_score(explainer.explain_all_classes(batch.x, method, layer, progress=False))
    return {"l1": torch.as_tensor(result.l1), "tau": torch.as_tensor(result.tau)}


def _deletion(explainer: CAMExplainer, batch: Batch, target: object, method: str, layer: str) -> dict:
    from ..evaluation import deletion_insertion

    result = deletion_insertion(explainer, batch.x, target, method, layer, progress=False)
    return {"deletion_auc": result.deletion_auc, "insertion_auc": result.insertion_auc}


def _average_drop(explainer: CAMExplainer, batch: Batch, target: object, method: str, layer: str) -> dict:
    from ..evaluation import average_drop

    result = average_drop(explainer, batch.x, target, method, layer, progress=False)
    return {"drop": result.drop, "increase": result.increase}


METRICS: dict[str, tuple[MetricFunction, tuple[str, ...], str]] = {
    "sum-to-score": (_sum_to_score, ("l1", "tau"), "cam_widgets.metrics.sum_to_score over all classes"),
    "deletion": (_deletion, ("deletion_auc", "insertion_auc"), "cam_widgets.evaluation.deletion_insertion"),
    "average-drop": (_average_drop, ("drop", "increase"), "cam_widgets.evaluation.average_drop"),
}
"""Metrics a run can store: name -> (function, columns, what computes it)."""


def check_metrics(names: Sequence[str], segmentation: bool) -> tuple[str, ...]:
    for name in names:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; metrics are {', '.join(METRICS)}")
        if name == "sum-to-score" and segmentation:
            raise ValueError("sum-to-score needs class scores (B, C); the model is a segmentation network")
    return tuple(names)


def metric_arrays(explainer: CAMExplainer, batch: Batch, plan: Plan, output: Tensor,
                  metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """``metrics/<metric>/<method>/<layer>/<column>`` of the batch, for the plan's metric target."""
    out: dict[str, np.ndarray] = {}
    target, unknown = target_object(plan.metric_target, batch, output, plan)
    for name in metrics:
        function, columns, _ = METRICS[name]
        for method in plan.methods:
            for layer in plan.layers:
                values = function(explainer, batch, target, method, layer)
                for column in columns:
                    array = torch.as_tensor(values[column]).double().cpu().numpy().astype(np.float32)
                    if unknown is not None and name != "sum-to-score":
                        array[unknown.cpu().numpy()] = np.nan
                    out[f"metrics/{name}/{method}/{layer}/{column}"] = array
    return out


def batch_arrays(explainer: CAMExplainer, batch: Batch, plan: Plan, metrics: Sequence[str] | None = None,
                 with_maps: bool = True) -> dict[str, np.ndarray]:
    """Everything the store holds for the batch's rows (``metrics``: default the plan's)."""
    output = explainer.predict(batch.x)
    scores = scores_of(output)
    out: dict[str, np.ndarray] = {}
    if with_maps:
        out["scores"] = scores.float().cpu().numpy()
        out["prediction"] = scores.argmax(1).cpu().numpy().astype(np.int64)
        out["label"] = batch.labels.cpu().numpy().astype(np.int64)
        out.update(map_arrays(explainer, batch, plan, output))
    out.update(metric_arrays(explainer, batch, plan, output, plan.metrics if metrics is None else metrics))
    explainer.clear()
    return out
