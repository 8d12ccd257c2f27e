"""Load a user's image or volume (array or file) as a channel-first float32 tensor."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".npy", ".npz", ".mrc", ".map", ".rec", ".nii", ".nii.gz")
"""File extensions :func:`load_volume` reads (case-insensitive)."""

_ACCEPTED_SHAPES = "(H, W), (D, H, W), (1, D, H, W) or (D, H, W, 1)"


def load_volume(
    path_or_array: str | os.PathLike[str] | np.ndarray | torch.Tensor, *, normalize: bool = True
) -> torch.Tensor:
    """Load a 2D image or 3D volume as a new float32 tensor with a leading channel axis.

    Accepts an array (NumPy or torch) or a file: ``.npy``; ``.npz`` holding exactly one array;
    MRC ``.mrc`` / ``.map`` / ``.rec`` (needs ``mrcfile``); NIfTI ``.nii`` / ``.nii.gz`` (needs
    ``nibabel``). Arrays keep the index order of their source: MRC data as ``mrcfile`` gives it,
    ``(z, y, x)``; NIfTI data as ``nibabel`` gives it, ``(i, j, k)``, with its scaling applied and
    without reorientation.

    Shapes: ``(H, W)`` gives ``(1, H, W)``; ``(D, H, W)`` gives ``(1, D, H, W)``; a 4D array with a
    single channel first, ``(1, D, H, W)``, or last, ``(D, H, W, 1)``, gives ``(1, D, H, W)``.
    Add the batch axis with ``.unsqueeze(0)``.

    Args:
        path_or_array: the array, or the path of a file with one of ``SUPPORTED_EXTENSIONS``.
        normalize: z-score the values, ``(x - mean(x)) / std(x)`` (a constant input becomes all
            zeros); otherwise keep them as they are.

    Raises:
        ValueError: for an unsupported shape or file extension, an ``.npz`` file that does
            not hold exactly one array, or NaN / inf values.
        ImportError: when the package for the file format is not installed.
    """
    if isinstance(path_or_array, torch.Tensor):
        data, source = path_or_array.detach().cpu().numpy(), "the tensor"
    elif isinstance(path_or_array, np.ndarray):
        data, source = path_or_array, "the array"
    else:
        data, source = _read(Path(path_or_array)), str(path_or_array)
    x = np.array(_channel_first(np.asarray(data)), dtype=np.float32)
    finite = np.isfinite(x)
    if not finite.all():
        raise ValueError(
            f"{source} holds {int(x.size - finite.sum())} NaN or inf value(s) of {x.size} (or values beyond float32's "
            "range); a CAM of it would be NaN: replace them first, e.g. np.nan_to_num(data, nan=0.0)"
        )
    if normalize:
        x -= x.mean(dtype=np.float64)
        std = x.std(dtype=np.float64)
        if std > 0:
            x /= std
    return torch.from_numpy(x)


def _channel_first(data: np.ndarray) -> np.ndarray:
    _channel_first_shape(data.shape)
    if data.ndim in (2, 3):
        return data[None]
    if data.shape[0] == 1:
        return data
    return np.moveaxis(data, -1, 0)


def _channel_first_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape ``load_volume`` gives data of ``shape``, or the ``ValueError`` it raises."""
    shape = tuple(shape)
    if len(shape) in (2, 3):
        return (1, *shape)
    if len(shape) == 4 and shape[0] == 1:
        return shape
    if len(shape) == 4 and shape[-1] == 1:
        return (1, *shape[:-1])
    raise ValueError(
        f"Unsupported shape {shape}: expected a 2D image or a single-channel 3D volume, "
        f"shaped {_ACCEPTED_SHAPES}."
    )


def _suffix(path: Path) -> str:
    """The lower-case extension of ``path`` as ``SUPPORTED_EXTENSIONS`` spells it (``.nii.gz`` whole)."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def _read(path: Path) -> np.ndarray:
    suffix = _suffix(path)
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return archive[_npz_member(archive, path)]
    if suffix in (".mrc", ".map", ".rec"):
        mrcfile = _import("mrcfile", "MRC")
        with mrcfile.open(path, mode="r") as mrc:
            return np.array(mrc.data)
    if suffix in (".nii", ".nii.gz"):
        nibabel = _import("nibabel", "NIfTI")
        return nibabel.load(path).get_fdata(dtype=np.float32)
    raise ValueError(
        f"Unsupported file extension {suffix or '(none)'!r} of {path}; "
        f"supported: {', '.join(SUPPORTED_EXTENSIONS)}."
    )


def _npz_member(archive: np.lib.npyio.NpzFile, path: Path) -> str:
    """The name of the one array in ``archive`` (read from ``path``), or the ``ValueError`` saying it has not one."""
    if len(archive.files) != 1:
        names = ", ".join(archive.files) or "none"
        raise ValueError(
            f"{path} holds {len(archive.files)} arrays ({names}); "
            "load_volume reads an .npz with exactly one. Pass the array instead: "
            "load_volume(np.load(path)[key])."
        )
    return archive.files[0]


def _import(package: str, file_format: str) -> ModuleType:
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f"Reading {file_format} files needs the '{package}' package: "
            f"pip install {package} (or pip install cam_widgets[io])."
        ) from err
