"""``evaluate_run``: metrics of a run's maps, per sample, into ``metrics/<name>/<method>/<layer>/<column>``.

    summary = evaluate_run("run.zarr", ["sum-to-score", "deletion"])
    summary["deletion/gradcam/maxpool2/deletion_auc"]                   # (mean, std, n)

The model and data recorded in the store are reopened (or given); each metric's chunks are flagged done as they
are written (``metrics/<name>/done``), so a killed evaluation resumes too. The means and standard deviations
are reduced across ranks with ``all_reduce``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import zarr
from torch import nn

from ..explainer import CAMExplainer
from .chunks import pending_chunks, run_chunks
from .compute import METRICS, Batch, Plan, batch_arrays, check_metrics
from .distributed import Ranks, join, shard
from .models import model_fingerprint
from .run import Run
from .samples import MaskSource, sources_of
from .store import Layout, RunStoreError, layout_of, make_flags, open_store

Summary = dict[str, tuple[float, float, int]]


def evaluate_run(run: str | os.PathLike[str] | Run, metrics: Sequence[str], model: nn.Module | None = None,
                 data: object = None, batch_size: int | None = None, workers: int = 0,
                 device: torch.device | str | None = None, progress: bool = True) -> Summary:
    """Compute ``metrics`` (names of :data:`cam_widgets.batch.METRICS`) for every method and layer of the run
    and every sample not yet done; returns ``{"<metric>/<method>/<layer>/<column>": (mean, std, n)}`` over
    all samples (NaNs left out). ``model`` / ``data`` default to the ones the store records."""
    path = run.path if isinstance(run, Run) else Path(run)
    ranks = join(device)
    group = open_store(path, mode="r+")
    attrs = dict(group.attrs)
    names = check_metrics(list(metrics), bool(attrs.get("segmentation")))
    model = _model(model, attrs, ranks)
    dataset = Run(path).dataset(data)
    plan = plan_of(attrs)
    masks = [MaskSource(*m) for m in attrs["arguments"].get("masks", [])]
    explainer = CAMExplainer(model, layers=list(plan.layers))
    layout = layout_of(group)
    for name in names:
        problem = _add_metric(path, group, layout, plan, name) if ranks.is_main else None
        ranks.raise_if_error(ranks.broadcast(problem))
        group = open_store(path, mode="r+")
        flags = [f"metrics/{name}/done"]
        pending = pending_chunks(group, flags, ranks)

        def compute(batch: Batch, name: str = name) -> dict[str, np.ndarray]:
            return batch_arrays(explainer, batch, plan, metrics=[name], with_maps=False)

        run_chunks(group, layout, pending, flags, compute, dataset, sources_of(dataset), masks, ranks,
                   batch_size or layout.chunk_size, workers, progress, name)
    return summarise(group, names, plan, layout, ranks)


def plan_of(attrs: dict) -> Plan:
    """The plan a store was made with (from its attributes)."""
    arguments = attrs["arguments"]
    return Plan(methods=tuple(attrs["methods"]), layers=tuple(attrs["layers"]), targets=tuple(attrs["targets"]),
                dtype=attrs["dtype"], input_maps=bool(attrs["input_maps"]), metrics=tuple(attrs.get("metrics", [])),
                masks={m[0]: int(m[1]) for m in arguments.get("masks", [])})


def _model(model: nn.Module | None, attrs: dict, ranks: Ranks) -> nn.Module:
    if model is None:
        if not attrs.get("model"):
            raise RunStoreError("the run was made from a model object, not a spec: pass model= (--model)")
        from .models import load_model

        model = load_model(attrs["model"])
    if model_fingerprint(model) != attrs["arguments"]["model"]:
        raise RunStoreError("the model is not the one the run explained (its weights' fingerprint differs): the "
                            "metrics would not belong to the stored maps; pass the run's model")
    return model.to(ranks.device) if ranks.device.type == "cuda" else model


def _add_metric(path: Path, group: zarr.Group, layout: Layout, plan: Plan, name: str) -> Exception | None:
    """Rank 0: make ``metrics/<name>`` (arrays and flags) unless it exists, atomically (made beside the store,
    then moved in)."""
    if f"metrics/{name}/done" in group:
        stored = group[f"metrics/{name}"].attrs.get("target")
        if stored != plan.metric_target:
            return RunStoreError(f"metrics/{name} was computed for target {stored!r}, not {plan.metric_target!r}")
        return None
    try:
        final = path / "metrics" / name
        shutil.rmtree(final, ignore_errors=True)  # a group without flags: an unfinished move
        temporary = path.with_name(f".{path.name}.metric-{name}-{uuid.uuid4().hex[:8]}")
        made = zarr.open_group(str(temporary), mode="w-")
        for method in plan.methods:
            for layer in plan.layers:
                for column in METRICS[name][1]:
                    made.create_array(f"{method}/{layer}/{column}", shape=(layout.n,), chunks=(layout.chunk_size,),
                                      dtype="float32", fill_value=np.nan)
        make_flags(made, "done", layout.n_chunks)
        made.attrs.update({"target": plan.metric_target, "computed_by": METRICS[name][2]})
        final.parent.mkdir(exist_ok=True)
        os.replace(temporary, final)
    except Exception as error:  # handed to every rank
        return error
    return None


def summarise(group: zarr.Group, names: Sequence[str], plan: Plan, layout: Layout, ranks: Ranks) -> Summary:
    """Mean, std and count of every stored column of ``names``, each rank reading a contiguous shard of the
    chunks, reduced with ``all_reduce``."""
    keys = [f"{name}/{method}/{layer}/{column}" for name in names for method in plan.methods
            for layer in plan.layers for column in METRICS[name][1]]
    chunks = shard(range(layout.n_chunks), ranks.rank, ranks.world)
    sums = torch.zeros(len(keys), 3, dtype=torch.float64)
    if chunks:
        start, stop = layout.chunk_range(chunks[0])[0], layout.chunk_range(chunks[-1])[1]
        for i, key in enumerate(keys):
            values = np.asarray(group[f"metrics/{key}"][start:stop], dtype=np.float64)
            values = values[np.isfinite(values)]
            sums[i] = torch.tensor([len(values), values.sum(), np.square(values).sum()])
    total = ranks.all_reduce_sum(sums)
    out: Summary = {}
    for key, (count, total_sum, squares) in zip(keys, total.tolist()):
        mean = total_sum / count if count else float("nan")
        std = float(np.sqrt(max(squares / count - mean * mean, 0.0))) if count else float("nan")
        out[key] = (mean, std, int(count))
    return out


def format_summary(summary: Summary) -> str:
    """One line per column: ``metric/method/layer/column: mean +- std (n)``."""
    return "\n".join(f"{key}: {mean:.4f} ± {std:.4f} (n={n})" for key, (mean, std, n) in summary.items())
