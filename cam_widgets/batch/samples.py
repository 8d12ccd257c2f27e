"""The samples of a data-set run: any torch ``Dataset`` (items ``x``, ``(x, label, ...)`` or MONAI-style dicts
with ``"image"`` / ``"label"``) or a folder (``VolumeFolder``), with pixel-set masks, loaded by a ``DataLoader``
whose batches never leave the rows a rank owns."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..datasets import VolumeFolder, load_volume
from ..metrics import batch_input

MASK_FORM = ("NAME=CLASS:PATH (PATH: one mask file for every sample, or a folder with one per sample, named as "
             "the sample)")


@dataclass(frozen=True)
class MaskSource:
    """Pixel set ``name`` of class ``cls``: one mask file for every sample, or a folder of per-sample files
    at the sample's relative path. Nonzero voxels are the set (a float mask gives weights)."""

    name: str
    cls: int
    path: str

    def load(self, source: str) -> Tensor:
        path = Path(self.path)
        file = path / source if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"pixel set {self.name!r}: no mask file {file} for sample {source}")
        return load_volume(file, normalize=False)[0]


def parse_mask(text: str) -> MaskSource:
    """``"tumour=1:masks/"`` -> ``MaskSource("tumour", 1, "masks/")``."""
    name, equals, rest = text.partition("=")
    cls, colon, path = rest.partition(":")
    if not equals or not colon or not name or not path or not cls.strip().isdigit():
        raise ValueError(f"--mask {text!r}: expected {MASK_FORM}")
    if not Path(path).exists():
        raise ValueError(f"--mask {text!r}: {path} does not exist")
    return MaskSource(name, int(cls), str(Path(path).resolve()))


def as_dataset(data: object, normalize: bool = True, on_error: str = "skip") -> Dataset:
    """A folder path becomes a ``VolumeFolder`` (its files checked); a ``Dataset`` is used as it is."""
    if isinstance(data, (str, os.PathLike)):
        return VolumeFolder(data, normalize=normalize, on_error=on_error)
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise TypeError(f"data must be a folder of volumes or a map-style torch Dataset (with __len__ and "
                        f"__getitem__), got {type(data).__name__}")
    return data


def sources_of(dataset: Dataset) -> list[str]:
    """Each sample's path relative to its folder, or ``"#<index>"`` for a data set that is not a folder."""
    sources = getattr(dataset, "sources", None)
    return list(sources) if sources is not None else [f"#{i}" for i in range(len(dataset))]


def split_item(item: object) -> tuple[Tensor, int]:
    """``(x, label)`` of one data-set item (``x`` as :func:`cam_widgets.metrics.batch_input` finds it; label -1
    when the item has none)."""
    x = batch_input(item)
    if isinstance(item, Mapping):
        label = item.get("label", -1)
    else:
        label = item[1] if isinstance(item, (tuple, list)) and len(item) > 1 else -1
    label = torch.as_tensor(label)
    if label.numel() != 1 or label.is_floating_point():
        label = torch.tensor(-1)  # a label map (segmentation) is not a class label
    return torch.as_tensor(x), int(label)


class _Rows(Dataset):
    """Item ``i`` of the data set as ``(i, x, label, masks)``."""

    def __init__(self, dataset: Dataset, sources: Sequence[str], masks: Sequence[MaskSource]):
        self.dataset, self.sources, self.masks = dataset, list(sources), list(masks)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Tensor, int, dict[str, Tensor]]:
        x, label = split_item(self.dataset[index])
        return index, x, label, {m.name: m.load(self.sources[index]) for m in self.masks}


def _collate(items: list) -> tuple[list[int], Tensor, Tensor, dict[str, Tensor]]:
    indices = [item[0] for item in items]
    x = torch.stack([item[1] for item in items])
    labels = torch.tensor([item[2] for item in items], dtype=torch.int64)
    masks = {name: torch.stack([item[3][name] for item in items]) for name in items[0][3]}
    return indices, x, labels, masks


def batches(dataset: Dataset, sources: Sequence[str], masks: Sequence[MaskSource], rows: Sequence[int],
            batch_size: int, workers: int, pin_memory: bool) -> Iterator[tuple[list[int], Tensor, Tensor, dict]]:
    """``(indices, x, labels, masks)`` over ``rows`` in order, ``batch_size`` rows each, loaded by ``workers``
    background processes (0: in this one) while the model computes."""
    order = [list(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]
    loader = DataLoader(_Rows(dataset, sources, masks), batch_sampler=order, num_workers=workers,
                        collate_fn=_collate, pin_memory=pin_memory, persistent_workers=False,
                        prefetch_factor=2 if workers else None)
    yield from loader
