"""Synthetic run stores for the DatasetBrowser tests and bench, written with the writer API
(``cam_widgets.batch.store``): known random scores, labels, maps and metric columns, so that the tests
compute every expected value independently with numpy. ``SyntheticRun`` keeps what was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cam_widgets.batch.store import Layout, create_store, mark_done

CLASS_NAMES = ["ribosome", "proteasome", "tric", "membrane", "empty"]


class VolumeList(torch.utils.data.Dataset):
    """A data set in memory: ``(x, label)`` pairs, ``x`` a ``(1, *spatial)`` float32 tensor; ``reads``
    counts the samples read."""

    def __init__(self, volumes: np.ndarray, labels: np.ndarray):
        self.volumes, self.labels, self.reads = volumes, labels, 0

    def __len__(self) -> int:
        return len(self.volumes)

    def __getitem__(self, i: int):
        self.reads += 1
        return torch.from_numpy(self.volumes[i][None].copy()), int(self.labels[i])


@dataclass
class SyntheticRun:
    path: Path
    scores: np.ndarray
    prediction: np.ndarray
    label: np.ndarray
    source: np.ndarray
    maps: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    available: np.ndarray
    volumes: np.ndarray | None = None
    data: VolumeList | None = field(default=None, repr=False)


def write_store(path: Path, n: int = 40, n_classes: int = 5, chunk_size: int = 8, spatial: tuple[int, ...] = (12, 12, 12),
                layer_shape: tuple[int, ...] = (3, 3, 3), methods: tuple[str, ...] = ("gradcam", "respondcam"),
                layers: tuple[str, ...] = ("conv2",), targets: tuple[str, ...] = ("predicted",),
                metrics: dict[str, tuple[str, ...]] | None = None, done: np.ndarray | None = None, seed: int = 0,
                dtype: str = "float32", with_volumes: bool = True, data_folder: str | None = None) -> SyntheticRun:
    """A store of ``n`` samples; every map key ``method/layer/target`` (``all``: one map per class) holds
    random maps; ``done`` (one flag per chunk, default all True) marks the chunks written."""
    rng = np.random.default_rng(seed)
    metrics = {"sum-to-score/gradcam/conv2": ("l1", "tau")} if metrics is None else metrics
    keys = [f"{m}/{l}/{t}" for m in methods for l in layers for t in targets]
    shapes = {k: ((n_classes, *layer_shape) if k.endswith("/all") else tuple(layer_shape)) for k in keys}
    layout = Layout(n=n, n_classes=n_classes, chunk_size=chunk_size, dtype=dtype, maps=shapes, metrics=metrics)
    attrs = {"complete": False, "class_names": CLASS_NAMES[:n_classes], "methods": list(methods),
             "layers": list(layers), "targets": list(targets), "input_maps": False,
             "metrics": sorted({k.split("/")[0] for k in metrics}), "input_shape": [1, *spatial],
             "spatial_ndim": len(spatial), "segmentation": False, "data": data_folder, "model": None,
             "provenance": {"command": None}, "skipped": []}
    group = create_store(path, layout, attrs)
    scores = rng.normal(size=(n, n_classes)).astype(np.float32)
    prediction = scores.argmax(1).astype(np.int64)
    label = rng.integers(-1, n_classes, size=n).astype(np.int64)
    source = np.array([f"class_{label[i] if label[i] >= 0 else 'x'}/vol_{i:05d}.npy" for i in range(n)])
    maps = {k: rng.normal(size=(n, *shape)).astype(dtype) for k, shape in shapes.items()}
    columns = {f"{k}/{c}": rng.normal(size=n).astype(np.float32) for k, cs in metrics.items() for c in cs}
    done = np.ones(layout.n_chunks, dtype=bool) if done is None else np.asarray(done, dtype=bool)
    available = np.repeat(done, chunk_size)[:n]
    for chunk in np.flatnonzero(done):
        a, b = layout.chunk_range(int(chunk))
        group["scores"][a:b] = scores[a:b]
        group["prediction"][a:b] = prediction[a:b]
        group["label"][a:b] = label[a:b]
        group["source"][a:b] = source[a:b]
        for k, values in maps.items():
            group[f"maps/{k}"][a:b] = values[a:b]
        for k, values in columns.items():
            group[f"metrics/{k}"][a:b] = values[a:b]
        mark_done(group["done"], int(chunk))
    group.attrs["complete"] = bool(done.all())
    volumes = data = None
    if with_volumes:
        volumes = rng.normal(size=(n, *spatial)).astype(np.float32)
        data = VolumeList(volumes, label)
    return SyntheticRun(Path(path), scores, prediction, label, source, maps, columns, available, volumes, data)


def write_big_store(path: Path, n: int = 100_000, chunk_size: int = 64, layer_shape: tuple[int, ...] = (10, 10, 10),
                    seed: int = 0) -> Path:
    """The bench's store: ``n`` samples in chunks of ``chunk_size``, two float16 maps and a metric, written a
    few chunks at a time with numpy (no model), every chunk flagged done."""
    rng = np.random.default_rng(seed)
    maps = {"gradcam/maxpool2/predicted": layer_shape, "respondcam/maxpool2/predicted": layer_shape}
    metrics = {"sum-to-score/gradcam/maxpool2": ("l1", "tau")}
    layout = Layout(n=n, n_classes=5, chunk_size=chunk_size, dtype="float16", maps=maps, metrics=metrics)
    attrs = {"complete": True, "class_names": CLASS_NAMES, "methods": ["gradcam", "respondcam"], "layers": ["maxpool2"],
             "targets": ["predicted"], "input_maps": False, "metrics": ["sum-to-score"], "input_shape": [1, 40, 40, 40],
             "spatial_ndim": 3, "segmentation": False, "data": None, "model": None, "provenance": {}, "skipped": []}
    group = create_store(path, layout, attrs)
    step = chunk_size * 64
    for a in range(0, n, step):
        b = min(a + step, n)
        scores = rng.normal(size=(b - a, 5)).astype(np.float32)
        group["scores"][a:b] = scores
        group["prediction"][a:b] = scores.argmax(1)
        group["label"][a:b] = rng.integers(0, 5, size=b - a)
        group["source"][a:b] = np.array([f"vol_{i:06d}.npy" for i in range(a, b)])
        for key in maps:
            group[f"maps/{key}"][a:b] = rng.normal(size=(b - a, *layer_shape)).astype(np.float16)
        for column in metrics["sum-to-score/gradcam/maxpool2"]:
            group[f"metrics/sum-to-score/gradcam/maxpool2/{column}"][a:b] = rng.normal(size=b - a).astype(np.float32)
    group["done"][:] = True
    return Path(path)
