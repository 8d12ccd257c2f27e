"""``Run``: a data-set run's store, opened lazily (nothing but the attributes is read until asked).

    run = open_run("run.zarr")
    run.scores[:10], run.prediction[:], run.cams("respondcam", "maxpool2")[123]
    run.metric("deletion", "gradcam", "maxpool2")["deletion_auc"][:]
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np
import zarr
from torch import nn

from .store import RunStoreError, open_store, read_flags, read_sources

RESOLUTIONS = {"layer": "maps", "input": "maps_input"}


class Run:
    """The store of a run made by :func:`cam_widgets.batch.explain_dataset` (or ``python -m cam_widgets explain``)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.group = open_store(self.path)
        self.attrs: dict = dict(self.group.attrs)
        self.summary: dict[str, tuple[float, float, int]] = {}
        """Set by ``explain_dataset``: the run's metrics, ``{"<metric>/<method>/<layer>/<column>": (mean, std, n)}``."""
        self.computed = 0
        """Set by ``explain_dataset``: how many samples that call computed (the others were done before)."""

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{int(self.done.sum())}/{len(self.done)} chunks done"
        return (f"Run({str(self.path)!r}: {self.n} samples, methods {self.methods}, layers {self.layers}, "
                f"targets {self.targets}, {state})")

    def __len__(self) -> int:
        return self.n

    # --- what the run holds --------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return int(self.attrs["n"])

    @property
    def chunk_size(self) -> int:
        return int(self.attrs["chunk_size"])

    @property
    def methods(self) -> list[str]:
        return list(self.attrs.get("methods", []))

    @property
    def layers(self) -> list[str]:
        return list(self.attrs.get("layers", []))

    @property
    def targets(self) -> list[str]:
        return list(self.attrs.get("targets", []))

    @property
    def done(self) -> np.ndarray:
        """One flag per run chunk: every array of that chunk is written (read afresh on each access)."""
        return read_flags(self.group["done"])

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    @property
    def available(self) -> np.ndarray:
        """``(N,)`` bool: the samples whose chunk is done."""
        return np.repeat(self.done, self.chunk_size)[: self.n]

    @property
    def scores(self) -> zarr.Array:
        """``(N, C)`` float32 logits (lazy)."""
        return self.group["scores"]

    @property
    def prediction(self) -> zarr.Array:
        return self.group["prediction"]

    @property
    def label(self) -> zarr.Array:
        """``(N,)`` int64 true labels, -1 where unknown."""
        return self.group["label"]

    @cached_property
    def source(self) -> np.ndarray:
        """``(N,)`` each sample's path relative to the data folder (``"#<index>"`` for a plain data set)."""
        return np.asarray(read_sources(self.group), dtype=object)

    @property
    def class_names(self) -> list[str]:
        names = list(self.attrs.get("class_names") or [])
        return names or [str(c) for c in range(self.group["scores"].shape[1])]

    def cams(self, method: str, layer: str, target: str = "predicted", resolution: str = "layer") -> zarr.Array:
        """The stored maps of ``method`` at ``layer`` for ``target`` (lazy): raw at layer resolution
        (``(N, *layer_spatial)``, ``(N, C, ...)`` for ``"all"``), or ``resolution="input"`` for the shown map
        upsampled to the input (when the run stored it)."""
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
        key = f"{RESOLUTIONS[resolution]}/{method}/{layer}/{target}"
        if key not in self.group:
            stored = ", ".join(self.map_keys(resolution)) or "none"
            raise KeyError(f"the run holds no {resolution}-resolution map {method}/{layer}/{target}; stored: {stored}")
        return self.group[key]

    def map_keys(self, resolution: str = "layer") -> list[str]:
        """``"<method>/<layer>/<target>"`` of every stored map at ``resolution``."""
        prefix = RESOLUTIONS[resolution]
        if prefix not in self.group:
            return []
        return sorted(f"{m}/{l}/{t}" for m in self.methods for l in self.layers for t in self.targets
                      if f"{prefix}/{m}/{l}/{t}" in self.group)

    @property
    def metric_names(self) -> list[str]:
        """The metrics the store holds values of (from the explain run or ``evaluate``)."""
        if "metrics" not in self.group:
            return []
        return sorted(name for name, _ in self.group["metrics"].groups())

    def metric(self, name: str, method: str, layer: str) -> dict[str, zarr.Array]:
        """``{column: (N,) float32}`` of metric ``name`` for ``method`` at ``layer`` (NaN where not computed)."""
        key = f"metrics/{name}/{method}/{layer}"
        if key not in self.group:
            raise KeyError(f"the run holds no metric {name} for {method} at {layer}; metrics: "
                           f"{', '.join(self.metric_names) or 'none'} (add one: python -m cam_widgets evaluate "
                           f"{self.path} --metrics {name})")
        return {column: array for column, array in sorted(self.group[key].arrays())}

    def metric_done(self, name: str) -> np.ndarray:
        """The completion flags of metric ``name``, one per run chunk."""
        return read_flags(self.group[f"metrics/{name}/done"])

    # --- what the run was made from ------------------------------------------------------------------

    def dataset(self, data: object = None):
        """The data set the run explained, checked against the stored ``source`` column: ``data`` (a folder, or
        a data set object) or, by default, the folder the run recorded; a folder is reopened with exactly the
        run's files (those it skipped stay out)."""
        from ..datasets import VolumeFolder
        from .samples import as_dataset, sources_of

        if data is None:
            data = self.attrs.get("data")
            if not data:
                raise RunStoreError("the run was made from a data set in memory, not a folder: pass the data set "
                                    "yourself (data=, --data)")
            if not Path(data).is_dir():
                raise RunStoreError(f"the run's data folder {data} does not exist here: pass data= (or --data) "
                                    "with where the volumes are now")
        stored = read_sources(self.group)
        if isinstance(data, (str, os.PathLike)):
            folder = VolumeFolder(data, normalize=bool(self.attrs.get("normalize", True)), check=False)
            try:
                return folder.restricted(stored)
            except ValueError as error:
                raise RunStoreError(f"the data is not the run's: {error}") from None
        dataset = as_dataset(data)
        if len(dataset) != self.n:
            raise RunStoreError(f"the data set has {len(dataset)} samples, the run {self.n}: pass the data set "
                                "the run explained")
        if hasattr(dataset, "sources") and sources_of(dataset) != stored:
            raise RunStoreError("the data set's files are not the run's (its `sources` differ from the stored "
                                "`source` column): pass the data set the run explained")
        return dataset

    def model(self) -> nn.Module:
        """The model the run explained, loaded again from the recorded spec (``module:callable`` or TorchScript)."""
        from .models import load_model

        spec = self.attrs.get("model")
        if not spec:
            raise RunStoreError("the run was made from a model object, not a spec: pass the model yourself "
                                "(--model module:callable or a TorchScript file)")
        return load_model(spec)


def open_run(path: str | os.PathLike[str]) -> Run:
    """Open a run store lazily; :class:`RunStoreError` for a missing, foreign or corrupt store."""
    return Run(path)
