"""Volume files checked from their headers alone (``VolumeFolder``'s checks): ``sample_shape``, ``check_headers``."""

from __future__ import annotations

import math
import os
import zipfile
from collections import Counter
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.lib.format as npy_format

from .loaders import SUPPORTED_EXTENSIONS, _channel_first_shape, _import, _npz_member, _suffix

_Header = tuple[tuple[int, ...], np.dtype, int, int]  # shape, dtype, data offset, bytes available from offset 0


def sample_shape(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """The shape of ``load_volume(path)``, e.g. ``(1, D, H, W)``, read from the file's header, not its data.

    Checks what a header tells: the file opens as its format (MRC headers strictly, as ``mrcfile``
    does), an ``.npz`` holds exactly one array, the data type is real numbers (bool, integer or
    float), the shape is one ``load_volume`` accepts, and, for ``.npy``, ``.npz``, MRC and ``.nii``
    (not ``.nii.gz``), that the file is long enough for the data its header announces. Values are
    not read, so NaN or inf values and damage inside compressed data show only when the file is
    loaded.

    Raises:
        ValueError: naming what is wrong; or the reading library's own error (``OSError``,
            ``zipfile.BadZipFile``, ``nibabel``'s ``ImageFileError``, ...) for an unreadable file.
        ImportError: when the package for the file format is not installed.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix not in _READERS:
        raise ValueError(
            f"Unsupported file extension {suffix or '(none)'!r} of {path}; "
            f"supported: {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    shape, dtype, offset, size = _READERS[suffix](path)
    if dtype.kind not in "biuf":
        raise ValueError(f"data type {dtype} is not real numbers (bool, integer or float)")
    result = _channel_first_shape(shape)
    needed = math.prod(shape) * dtype.itemsize
    if size >= 0 and size - offset < needed:
        raise ValueError(
            f"truncated: {max(size - offset, 0)} bytes of data where the header announces {needed} "
            f"({dtype} of shape {shape})"
        )
    return result


def check_headers(root: Path, sources: list[str]) -> tuple[tuple[int, ...] | None, dict[str, str]]:
    """The sample shape of most files ``root / source`` (ties: the first in ``sources``) and each bad file's error.

    A file is bad when :func:`sample_shape` raises (``ImportError`` is raised, not recorded) or when
    its shape differs from the majority's. The shape is ``None`` when no file is readable.
    """
    shapes, errors = {}, {}
    for source in sources:
        try:
            shapes[source] = sample_shape(root / source)
        except ImportError:
            raise
        except Exception as err:  # whatever a reader raises, the file cannot be used: record why
            errors[source] = error_message(err)
    if not shapes:
        return None, errors
    common, count = Counter(shapes.values()).most_common(1)[0]
    for source, shape in shapes.items():
        if shape != common:
            errors[source] = (
                f"sample shape {shape} differs from {common}, the shape of {count} of the {len(shapes)} readable files"
            )
    return common, errors


def error_message(err: Exception) -> str:
    """``str(err)``, or the exception's type name when that is empty."""
    return str(err) or type(err).__name__


def _npy_header(fp: BinaryIO) -> tuple[tuple[int, ...], np.dtype, int]:
    version = npy_format.read_magic(fp)
    read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    shape, _, dtype = read(fp)
    return tuple(shape), dtype, fp.tell()


def _npy(path: Path) -> _Header:
    with open(path, "rb") as fp:
        return *_npy_header(fp), os.fstat(fp.fileno()).st_size


def _npz(path: Path) -> _Header:
    if not zipfile.is_zipfile(path):  # np.load would try it as a pickle
        raise ValueError("not an .npz archive (a zip file)")
    with np.load(path, allow_pickle=False) as archive:
        name = _npz_member(archive, path)
        member = name + ".npy" if name + ".npy" in archive.zip.namelist() else name
        with archive.zip.open(member) as fp:
            return *_npy_header(fp), archive.zip.getinfo(member).file_size


def _mrc(path: Path) -> _Header:
    mrcfile = _import("mrcfile", "MRC")
    with mrcfile.open(path, mode="r", header_only=True) as mrc:
        header = mrc.header
        shape = mrcfile.utils.data_shape_from_header(header)
        dtype = mrcfile.utils.data_dtype_from_header(header)
        offset = header.nbytes + int(header.nsymbt)
    return tuple(shape), np.dtype(dtype), offset, path.stat().st_size


def _nifti(path: Path) -> _Header:
    nibabel = _import("nibabel", "NIfTI")
    image = nibabel.load(path)
    compressed = _suffix(path) == ".nii.gz"
    size = -1 if compressed else path.stat().st_size  # a gzip's data length is unknown without reading it
    return tuple(image.shape), np.dtype(image.get_data_dtype()), int(image.dataobj.offset), size


_READERS = {".npy": _npy, ".npz": _npz, ".mrc": _mrc, ".map": _mrc, ".rec": _mrc, ".nii": _nifti, ".nii.gz": _nifti}
