"""A folder of volume files as a data set (``VolumeFolder``), and ``save_subtomogram_folder`` to make one."""

from __future__ import annotations

import csv
import os
import posixpath
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from .headers import check_headers, error_message
from .loaders import SUPPORTED_EXTENSIONS, _import, _suffix, load_volume
from .subtomograms import SUBTOMOGRAM_CLASSES, make_subtomograms

LABELS_FILE = "labels.csv"
"""The labels file ``VolumeFolder`` reads from the root folder when no ``labels=`` is given."""

_SHOWN = 5  # bad files a warning or an all-bad error names before "... and N more"


class VolumeFolder(torch.utils.data.Dataset):
    """The volume files of a folder as a map-style data set of ``(x, label)`` pairs.

    Files: every file under ``root`` (recursively, following folder links) whose extension is one
    of ``extensions`` (case-insensitive), except hidden files and folders (names starting with
    ``.``, e.g. ``.ipynb_checkpoints``), in the order of their paths relative to ``root`` sorted as
    posix strings. ``sources`` holds those relative paths, ``paths`` the absolute ones.

    Labels, the first rule that applies:

    1. a labels file: ``labels=`` (a path, relative to the working directory) or ``labels.csv`` in
       ``root``. Rows ``path,label`` (an optional first row ``path,label`` is a header; blank rows
       are ignored); paths relative to ``root``. If every label is an integer (-1 for unknown),
       labels are those integers and ``class_names`` is ``[]``; otherwise every label is a class
       name, ``class_names`` their sorted set and a label its index. A file without a row gets -1;
       a row naming a file that is not listed, a duplicate row or a malformed row is a ``ValueError``;
    2. when no listed file lies directly in ``root``: the first-level subfolders are the classes,
       ``class_names`` their sorted names (empty ones too, so indices do not depend on the
       content), a file's label the index of the subfolder holding it;
    3. otherwise every label is -1 and ``class_names`` is ``[]``.

    ``ds[i]`` is ``(load_volume(paths[i], normalize=normalize), labels[i])``: a float32 tensor
    ``(1, H, W)`` or ``(1, D, H, W)``, z-scored unless ``normalize=False``, and an int.

    Checks (``check=True``): each file's header is read, never its data (see
    :func:`~cam_widgets.datasets.headers.sample_shape`): the file must open, hold real numbers of a
    shape ``load_volume`` accepts, not be shorter than its header announces, and give the sample
    shape of most readable files (ties: the shape met first in sorted order), kept in
    ``sample_shape``. NaN / inf values need the data, so they show at ``ds[i]``, as a
    ``ValueError`` naming the file. With ``on_error="skip"`` bad files are left out, listed in
    ``skipped`` as ``{"path": relative path, "error": message}`` and named in one warning; with
    ``"stop"`` a ``ValueError`` names every bad file and its error. ``check=False`` reads nothing
    until ``ds[i]`` (``sample_shape`` is ``None``, ``skipped`` empty). A missing package for a format
    (``mrcfile``, ``nibabel``) raises ``ImportError`` rather than skipping the files.

    The attributes are plain lists and paths, so the data set pickles (``DataLoader`` workers).

    Raises:
        ValueError: a missing root, no volume files, a bad labels file, every file bad, or bad
            files with ``on_error="stop"``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        normalize: bool = True,
        labels: str | os.PathLike[str] | None = None,
        on_error: str = "skip",
        check: bool = True,
        extensions: Sequence[str] = SUPPORTED_EXTENSIONS,
    ) -> None:
        if on_error not in ("skip", "stop"):
            raise ValueError(f"on_error must be 'skip' or 'stop', got {on_error!r}")
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            what = "is not a folder" if self.root.exists() else "does not exist"
            raise ValueError(f"VolumeFolder root {self.root} {what}; pass the folder holding the volume files.")
        self.normalize = bool(normalize)
        suffixes = _suffixes(extensions)
        sources = _list_files(self.root, suffixes)
        if not sources:
            raise ValueError(
                f"No volume files ({', '.join(suffixes)}) in {self.root} or its subfolders "
                "(hidden files and folders, named '.*', are not searched)."
            )
        labels_file = _labels_file(self.root, labels)
        if labels_file is not None:
            self.class_names, by_source = _read_labels(labels_file, self.root, sources)
            all_labels = [by_source.get(source, -1) for source in sources]
        elif all("/" in source for source in sources):
            self.class_names = sorted(e.name for e in self.root.iterdir() if e.is_dir() and not e.name.startswith("."))
            index = {name: i for i, name in enumerate(self.class_names)}
            all_labels = [index[source.split("/", 1)[0]] for source in sources]
        else:
            self.class_names, all_labels = [], [-1] * len(sources)

        self.sample_shape: tuple[int, ...] | None = None
        self.skipped: list[dict[str, str]] = []
        if check:
            self.sample_shape, errors = check_headers(self.root, sources)
            self.skipped = [{"path": source, "error": errors[source]} for source in sources if source in errors]
        if self.skipped:
            if on_error == "stop":
                lines = "".join(f"\n  {bad['path']}: {bad['error']}" for bad in self.skipped)
                raise ValueError(
                    f"{len(self.skipped)} of {len(sources)} files in {self.root} cannot be used "
                    f"(on_error='stop'; on_error='skip' leaves them out):{lines}"
                )
            if len(self.skipped) == len(sources):
                raise ValueError(
                    f"None of the {len(sources)} files in {self.root} can be used:{_summary(self.skipped)}"
                )
            warnings.warn(
                f"VolumeFolder skipped {len(self.skipped)} of {len(sources)} files in {self.root} that cannot be "
                f"used (all are listed in .skipped):{_summary(self.skipped)}",
                stacklevel=2,
            )
            keep = [i for i, source in enumerate(sources) if source not in errors]
            sources, all_labels = [sources[i] for i in keep], [all_labels[i] for i in keep]
        self.sources: list[str] = sources
        self.paths: list[Path] = [self.root / source for source in sources]
        self.labels: list[int] = all_labels

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.paths[index]
        try:
            x = load_volume(path, normalize=self.normalize)
        except ImportError:
            raise
        except Exception as err:  # the file changed, or holds NaN / inf: name it whatever went wrong
            raise ValueError(
                f"Sample {index}, {self.sources[index]} in {self.root}, cannot be read: {error_message(err)}"
            ) from err
        if self.sample_shape is not None and tuple(x.shape) != self.sample_shape:
            raise ValueError(
                f"Sample {index}, {self.sources[index]} in {self.root}, changed since the folder was checked: "
                f"shape {tuple(x.shape)}, not {self.sample_shape}"
            )
        return x, self.labels[index]

    def restricted(self, sources: Sequence[str]) -> VolumeFolder:
        """A copy holding exactly ``sources`` (relative paths of this folder), in that order: a run's samples
        when the folder is opened again (the files it skipped stay out). ``ValueError`` naming the ones missing."""
        index = {source: i for i, source in enumerate(self.sources)}
        missing = [source for source in sources if source not in index]
        if missing:
            raise ValueError(f"{len(missing)} of the {len(sources)} files are not in {self.root} any more, e.g. "
                             f"{', '.join(missing[:3])}")
        copy = object.__new__(VolumeFolder)
        copy.__dict__.update(self.__dict__)
        copy.sources = list(sources)
        copy.paths = [self.paths[index[source]] for source in sources]
        copy.labels = [self.labels[index[source]] for source in sources]
        return copy

    def __repr__(self) -> str:
        return (
            f"VolumeFolder({str(self.root)!r}: {len(self)} samples, {len(self.class_names)} classes, "
            f"{len(self.skipped)} skipped)"
        )


def save_subtomogram_folder(
    root: str | os.PathLike[str],
    n: int,
    snr: float | None = None,
    seed: int = 0,
    fmt: str = "npy",
    *,
    size: int = 32,
) -> Path:
    """Write ``make_subtomograms(n, size, snr, seed=seed)`` as a class-per-subfolder ``VolumeFolder``.

    Volume ``i`` of class ``c`` goes to ``root/<c>_<SUBTOMOGRAM_CLASSES[c]>/<i>.<fmt>`` as a float32
    ``(size, size, size)`` array (indices zero-padded, e.g. ``0_globule/007.npy``), and every class
    gets its folder, empty or not. The index prefix keeps the sorted folder order equal to
    ``SUBTOMOGRAM_CLASSES``, so ``VolumeFolder(root).labels`` are ``make_subtomograms``' labels and
    the zoo's subtomogram models' classes. All ``n`` volumes are simulated in memory at once.

    Args:
        root: a folder that does not exist yet or is empty.
        n: number of volumes, at least 1.
        snr, seed, size: as for :func:`make_subtomograms`.
        fmt: ``"npy"``, ``"npz"``, ``"mrc"`` (needs ``mrcfile``), ``"nii"`` or ``"nii.gz"`` (need ``nibabel``).

    Returns:
        ``root``, absolute.
    """
    write = _writer(fmt)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    root = Path(root).expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValueError(f"{root} exists and is not an empty folder; save_subtomogram_folder writes a new one.")
    volumes, labels = make_subtomograms(n, size=size, snr=snr, seed=seed)
    width = len(str(len(SUBTOMOGRAM_CLASSES) - 1))
    folders = [root / f"{c:0{width}d}_{name}" for c, name in enumerate(SUBTOMOGRAM_CLASSES)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    digits = len(str(n - 1))
    for i, (volume, label) in enumerate(zip(volumes, labels)):
        write(folders[label] / f"{i:0{digits}d}.{fmt}", volume[0])
    return root


def _writer(fmt: str) -> Callable[[Path, np.ndarray], None]:
    if fmt == "npy":
        return np.save
    if fmt == "npz":
        return lambda path, volume: np.savez_compressed(path, volume=volume)
    if fmt == "mrc":
        mrcfile = _import("mrcfile", "MRC")
        return lambda path, volume: mrcfile.new(path, data=volume).close()
    if fmt in ("nii", "nii.gz"):
        nibabel = _import("nibabel", "NIfTI")
        return lambda path, volume: nibabel.Nifti1Image(volume, np.eye(4)).to_filename(path)
    raise ValueError(f"fmt must be one of npy, npz, mrc, nii, nii.gz; got {fmt!r}")


def _suffixes(extensions: Sequence[str]) -> tuple[str, ...]:
    suffixes = tuple(dict.fromkeys(e.lower() for e in ((extensions,) if isinstance(extensions, str) else extensions)))
    unknown = [e for e in suffixes if e not in SUPPORTED_EXTENSIONS]
    if unknown or not suffixes:
        raise ValueError(
            f"extensions must be some of {', '.join(SUPPORTED_EXTENSIONS)} (what load_volume reads); "
            f"got {', '.join(unknown) if unknown else 'none'}"
        )
    return suffixes


def _list_files(root: Path, suffixes: tuple[str, ...]) -> list[str]:
    found, seen = [], set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in seen:  # a link back to a folder already walked
            subfolders[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        relative = PurePosixPath(Path(folder).relative_to(root).as_posix())
        found += [
            (relative / name).as_posix()
            for name in files
            if not name.startswith(".") and _suffix(Path(name)) in suffixes
        ]
    return sorted(found)


def _labels_file(root: Path, labels: str | os.PathLike[str] | None) -> Path | None:
    if labels is None:
        path = root / LABELS_FILE
        return path if path.is_file() else None
    path = Path(labels).expanduser()
    if not path.is_file():
        raise ValueError(f"labels file {path} does not exist; pass a CSV of path,label rows (or labels=None).")
    return path


def _read_labels(path: Path, root: Path, sources: list[str]) -> tuple[list[str], dict[str, int]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [(number, row) for number, row in enumerate(csv.reader(f), 1) if any(cell.strip() for cell in row)]
    if rows and [cell.strip().lower() for cell in rows[0][1]] == ["path", "label"]:
        rows = rows[1:]
    listed, entries = set(sources), {}  # entries: source -> (row number, label text)
    for number, row in rows:
        if len(row) != 2 or not row[1].strip():
            raise ValueError(f"{path} row {number} is {','.join(row)!r}; each row is path,label with a label.")
        source = posixpath.normpath(row[0].strip().replace("\\", "/"))
        if source in entries:
            raise ValueError(f"{path} rows {entries[source][0]} and {number} both label {source!r}; keep one.")
        if source not in listed:
            raise ValueError(
                f"{path} row {number} names {row[0]!r}, which is not one of the {len(listed)} volume files listed "
                f"in {root} (paths are relative to it; hidden files and other extensions are not listed)."
            )
        entries[source] = (number, row[1].strip())
    if all(_is_int(text) for _, text in entries.values()):
        for source, (number, text) in entries.items():
            if int(text) < -1:
                raise ValueError(
                    f"{path} row {number} labels {source!r} {text}; an integer label is >= 0, or -1 for unknown."
                )
        return [], {source: int(text) for source, (_, text) in entries.items()}
    names = sorted({text for _, text in entries.values()})
    index = {name: i for i, name in enumerate(names)}
    return names, {source: index[text] for source, (_, text) in entries.items()}


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _summary(bad: list[dict[str, str]]) -> str:
    lines = "".join(f"\n  {entry['path']}: {entry['error']}" for entry in bad[:_SHOWN])
    return lines + (f"\n  ... and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else "")
