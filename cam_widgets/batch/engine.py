"""``explain_dataset``: every sample of a data set explained into a Zarr store, resumable, on one process or many.

    run = explain_dataset(model, VolumeFolder("subtomos/"), methods=["respondcam"], layers=["maxpool2"],
                          out="run.zarr")
    run.scores, run.cams("respondcam", "maxpool2")[123]

Run it again with the same arguments after a kill: the chunks already flagged done are kept, the others are
computed, and the store ends as an uninterrupted run's. Under ``torchrun`` each rank explains a contiguous
shard of the chunks still to do.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import zarr
from torch import nn

from ..explainer import CAMExplainer, autograd_enabled
from ..methods import get_method
from .chunks import pending_chunks, run_chunks
from .compute import METRICS, Batch, Plan, batch_arrays, check_metrics, check_target, scores_of
from .distributed import Ranks, join
from .evaluate import summarise
from .models import model_fingerprint
from .run import Run
from .samples import MaskSource, as_dataset, sources_of, split_item
from .store import Layout, RunStoreError, create_store, differing_arguments, layout_of, make_flags, open_store

DEFAULT_CHUNK_SIZE = 64


def explain_dataset(
    model: nn.Module, data: object, methods: Sequence[str] = ("gradcam",), layers: Sequence[str] | None = None,
    targets: Sequence[str] = ("predicted",), out: str | os.PathLike[str] = "run.zarr", *,
    metrics: Sequence[str] = (), dtype: str = "float16", input_maps: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE, batch_size: int | None = None, workers: int = 0,
    masks: Sequence[MaskSource] = (), on_error: str = "skip", normalize: bool = True,
    class_names: Sequence[str] | None = None, output: object = None, device: torch.device | str | None = None,
    model_spec: str | None = None, command: Sequence[str] | None = None, progress: bool = True,
) -> Run:
    """Explain every sample of ``data`` (a folder of volumes or a torch ``Dataset``) with each of ``methods``
    at each of ``layers`` (default: the deepest spatial layer) for each of ``targets`` (``predicted``,
    ``label``, ``all``, ``class_<c>``, ``mask_<name>``) into the Zarr store ``out``; ``metrics``
    (``sum-to-score``, ``deletion``, ``average-drop``) are computed in the same pass.

    ``dtype``: of the stored maps (float16 unless ``"float32"``); ``input_maps``: also store the shown maps at
    input resolution; ``chunk_size``: samples per run chunk (the unit of resumption); ``batch_size`` (default
    ``chunk_size``; a batch that does not fit in memory is split in halves) and ``workers`` (DataLoader
    processes) change only the speed. ``model_spec`` / ``command``: recorded as provenance (the CLI sets them).
    ``device``: where the model runs (moved there; default: where it is, ``cuda:LOCAL_RANK`` under torchrun).
    Returns the opened :class:`Run`, its ``summary`` the metrics' ``{key: (mean, std, n)}`` reduced over ranks.
    """
    ranks = join(device)
    if device is not None or ranks.device.type == "cuda":
        model = model.to(ranks.device)
    else:
        ranks.device = next(iter(model.parameters()), torch.zeros(())).device
    dataset = _dataset_on_every_rank(data, normalize, on_error, ranks)
    ranks.raise_if_error(dataset)
    explainer = CAMExplainer(model, layers=layers, output=output)
    plan = None
    if ranks.is_main:
        request = Request(methods, targets, metrics, dtype, input_maps, chunk_size, masks, class_names,
                          normalize, model_spec, command, data)
        plan = _checked(lambda: _prepare(explainer, model, ranks.device, dataset, out, request))
    plan = ranks.broadcast(plan)
    ranks.raise_if_error(plan)
    group = open_store(out, mode="r+")
    layout = layout_of(group)
    explainer = CAMExplainer(model, layers=list(plan.layers), output=output)
    flags = ["done", *(f"metrics/{name}/done" for name in plan.metrics)]
    pending = pending_chunks(group, flags, ranks)

    def compute(batch: Batch) -> dict[str, np.ndarray]:
        return batch_arrays(explainer, batch, plan)

    run_chunks(group, layout, pending, flags, compute, dataset, sources_of(dataset), masks, ranks,
               batch_size or chunk_size, workers, progress, "explain")
    run = Run(out)
    run.summary = summarise(group, plan.metrics, plan, layout, ranks)
    run.computed = layout.samples_in(pending)
    return run


def _dataset_on_every_rank(data: object, normalize: bool, on_error: str, ranks: Ranks):
    """A folder is listed and checked by rank 0 and handed to the others; a data set object is every rank's own
    (each rank's script made it)."""
    if isinstance(data, (str, os.PathLike)):
        return ranks.broadcast(_checked(lambda: as_dataset(data, normalize, on_error)) if ranks.is_main else None)
    return as_dataset(data)


def _checked(make):
    """``make()``, or the exception it raised (rank 0 hands it to the other ranks, which raise it too)."""
    try:
        return make()
    except Exception as error:  # re-raised on every rank
        return error


@dataclass(frozen=True)
class Request:
    """The arguments of ``explain_dataset`` that shape the store's content and attributes."""

    methods: Sequence[str]
    targets: Sequence[str]
    metrics: Sequence[str]
    dtype: str
    input_maps: bool
    chunk_size: int
    masks: Sequence[MaskSource]
    class_names: Sequence[str] | None
    normalize: bool
    model_spec: str | None
    command: Sequence[str] | None
    data: object


def _prepare(explainer: CAMExplainer, model: nn.Module, device: torch.device, dataset, out, a: Request) -> Plan:
    """Rank 0: check the arguments on the first sample, then create the store or check it matches them."""
    sources = sources_of(dataset)
    if not len(dataset):
        raise ValueError("the data set has no samples to explain")
    x0, _ = split_item(dataset[0])
    first = x0[None].to(device)
    with autograd_enabled():
        output = explainer.predict(first)
    segmentation = output.ndim > 2
    n_classes = int(output.shape[1])
    mask_classes = {m.name: m.cls for m in a.masks}
    targets = tuple(check_target(t, segmentation, n_classes, mask_classes) for t in a.targets)
    methods = tuple(get_method(m).name for m in a.methods)
    plan = Plan(methods=methods, layers=tuple(explainer.layers), targets=targets, dtype=a.dtype,
                input_maps=bool(a.input_maps), metrics=check_metrics(a.metrics, segmentation),
                masks=mask_classes)
    arguments = {
        "model": model_fingerprint(model), "data": _digest(sources), "n": len(sources), "methods": list(methods),
        "layers": list(plan.layers), "targets": list(targets), "dtype": plan.dtype, "input_maps": plan.input_maps,
        "chunk_size": a.chunk_size, "metrics": list(plan.metrics), "normalize": bool(a.normalize),
        "masks": [[m.name, m.cls, m.path] for m in a.masks],
    }
    if Path(out).exists():
        group = open_store(out, mode="r")
        different = differing_arguments(dict(group.attrs.get("arguments", {})), arguments)
        if different:
            raise RunStoreError(f"{out} holds a run made with other arguments, so it is left unchanged; differing: "
                                + "; ".join(different) + ". Write to another --out, or delete the store to start over")
        return plan
    maps = _map_shapes(explainer, first, output, plan) if methods else {}
    layout = Layout(n=len(sources), n_classes=n_classes, chunk_size=a.chunk_size, dtype=plan.dtype, maps=maps,
                    input_maps={k: _input_shape(k, maps, x0) for k in maps} if plan.input_maps else {},
                    metrics={f"{m}/{method}/{layer}": METRICS[m][1] for m in plan.metrics
                             for method in methods for layer in plan.layers})

    def fill(group: zarr.Group) -> None:
        group["source"][:] = np.asarray(sources, dtype=str)
        for name in plan.metrics:
            make_flags(group, f"metrics/{name}/done", layout.n_chunks)
            group[f"metrics/{name}"].attrs.update({"target": plan.metric_target, "computed_by": METRICS[name][2]})

    create_store(out, layout, _attributes(a, plan, arguments, dataset, x0, segmentation, n_classes), fill)
    return plan


def _map_shapes(explainer: CAMExplainer, first: torch.Tensor, output: torch.Tensor,
                plan: Plan) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of each stored map, from one Grad-CAM map per layer of the first sample."""
    shapes = {}
    target = scores_of(output).argmax(1) if output.ndim == 2 else _first_pixel_set(output)
    for layer in plan.layers:
        layer_shape = tuple(explainer.explain(first, target, "gradcam", layer, progress=False).raw.shape[1:])
        for method in plan.methods:
            shape = tuple(first.shape[2:]) if get_method(method).kind == "input-gradient" else layer_shape
            for key in plan.targets:
                shapes[f"{method}/{layer}/{key}"] = (int(output.shape[1]), *shape) if key == "all" else shape
    explainer.clear()
    return shapes


def _first_pixel_set(output: torch.Tensor):
    from ..targets import PixelSet, all_pixels

    return PixelSet(0, all_pixels(output.shape[2:]))


def _input_shape(key: str, maps: dict[str, tuple[int, ...]], x0: torch.Tensor) -> tuple[int, ...]:
    leading = maps[key][:1] if key.endswith("/all") else ()
    return (*leading, *x0.shape[1:])


def _attributes(a: Request, plan: Plan, arguments: dict, dataset, x0: torch.Tensor, segmentation: bool,
                n_classes: int) -> dict:
    names = list(a.class_names or getattr(dataset, "class_names", None) or [])
    if names and len(names) != n_classes:
        raise ValueError(f"got {len(names)} class names for a model with {n_classes} classes")
    data = a.data
    folder = str(Path(data).resolve()) if isinstance(data, (str, os.PathLike)) else None
    return {
        "class_names": names, "methods": list(plan.methods), "layers": list(plan.layers),
        "targets": list(plan.targets), "input_maps": plan.input_maps, "metrics": list(plan.metrics),
        "input_shape": list(x0.shape), "spatial_ndim": x0.ndim - 1, "segmentation": segmentation,
        "normalize": bool(a.normalize), "data": folder, "model": a.model_spec,
        "skipped": list(getattr(dataset, "skipped", [])), "arguments": arguments,
        "provenance": _provenance(arguments["model"], a.command),
    }


def _provenance(fingerprint: str, command: Sequence[str] | None) -> dict:
    from importlib.metadata import version

    return {"cam_widgets": version("cam_widgets"), "torch": torch.__version__, "zarr": zarr.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0], "model_fingerprint": fingerprint,
            "command": list(command) if command is not None else None,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _digest(sources: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sources).encode()).hexdigest()
