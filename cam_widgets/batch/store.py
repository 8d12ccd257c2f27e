"""The Zarr store of a data-set run (DESIGN.md section 11; the layout is documented in ``docs/store.md``).

A store is made atomically: under a temporary name beside the target, renamed into place when every array
exists, so a path that exists is a whole store. A run chunk is ``chunk_size`` samples; every array's storage
chunks align with run chunks along N, and each run chunk has its own ``done`` flag (one storage chunk per flag),
set only after every array of that chunk is written. Ranks write only their own chunks, so no two processes ever
write the same file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr

FORMAT = "cam_widgets.run/1"
"""The root attribute ``format`` of every store this package writes."""

MAP_DTYPES = ("float16", "float32")


class RunStoreError(ValueError):
    """A store that is missing, foreign, corrupt, or made with other arguments than the ones given."""


@dataclass(frozen=True)
class Layout:
    """What a store holds: ``n`` samples of ``n_classes`` scores in chunks of ``chunk_size``; ``maps`` /
    ``input_maps``: ``"<method>/<layer>/<target>"`` -> per-sample shape; ``metrics``:
    ``"<metric>/<method>/<layer>"`` -> column names."""

    n: int
    n_classes: int
    chunk_size: int
    dtype: str = "float16"
    maps: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    input_maps: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    metrics: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk_size)

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        """``(start, stop)`` of run chunk ``chunk`` along N."""
        start = chunk * self.chunk_size
        return start, min(start + self.chunk_size, self.n)

    def samples_in(self, chunks: Sequence[int]) -> int:
        """How many samples the run chunks ``chunks`` hold (the last chunk may be short)."""
        return sum(stop - start for start, stop in map(self.chunk_range, chunks))


def layout_of(group: zarr.Group) -> Layout:
    """The store's sample count, classes and chunking (the maps' shapes are in the arrays themselves)."""
    return Layout(n=int(group.attrs["n"]), n_classes=int(group["scores"].shape[1]),
                  chunk_size=int(group.attrs["chunk_size"]), dtype=str(group.attrs["dtype"]))


def check_layout(layout: Layout) -> None:
    if layout.n < 1:
        raise RunStoreError("the data set has no samples to explain")
    if not isinstance(layout.chunk_size, int) or layout.chunk_size < 1:
        raise RunStoreError(f"chunk_size must be a positive number of samples, got {layout.chunk_size!r}")
    if layout.dtype not in MAP_DTYPES:
        raise RunStoreError(f"the maps' dtype must be one of {', '.join(MAP_DTYPES)}, got {layout.dtype!r}")


def create_store(path: str | os.PathLike[str], layout: Layout, attrs: Mapping[str, object],
                 fill: Callable[[zarr.Group], None] | None = None) -> zarr.Group:
    """Make the store at ``path`` (which must not exist) with every array of ``layout``, atomically.

    The arrays are made under ``.<name>.creating-<id>`` beside ``path``, ``fill(group)`` writes what else the
    store starts with (the ``source`` column, ...), and the folder is renamed to ``path`` at the end; left-overs
    of a creation that was killed are removed first."""
    check_layout(layout)
    target = Path(path)
    if target.exists():
        raise RunStoreError(f"{target} exists already; open it instead of creating it")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_unfinished(target)
    temporary = target.with_name(f".{target.name}.creating-{uuid.uuid4().hex[:12]}")
    group = zarr.open_group(str(temporary), mode="w-")
    group.attrs.update({"format": FORMAT, "n": layout.n, "chunk_size": layout.chunk_size,
                        "n_chunks": layout.n_chunks, "dtype": layout.dtype, **attrs})
    _make_arrays(group, layout)
    if fill is not None:
        fill(group)
    os.replace(temporary, target)
    return zarr.open_group(str(target), mode="r+")


def remove_unfinished(target: Path) -> None:
    """Delete what creations of ``target`` that never finished left beside it."""
    for leftover in target.parent.glob(f".{target.name}.creating-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _make_arrays(group: zarr.Group, layout: Layout) -> None:
    n, size = layout.n, layout.chunk_size
    group.create_array("scores", shape=(n, layout.n_classes), chunks=(size, layout.n_classes), dtype="float32",
                       fill_value=np.nan)
    group.create_array("prediction", shape=(n,), chunks=(size,), dtype="int64", fill_value=-1)
    group.create_array("label", shape=(n,), chunks=(size,), dtype="int64", fill_value=-1)
    group.create_array("source", shape=(n,), chunks=(size,), dtype=str)
    for prefix, maps in (("maps", layout.maps), ("maps_input", layout.input_maps)):
        for key, shape in maps.items():
            group.create_array(f"{prefix}/{key}", shape=(n, *shape), chunks=(size, *shape), dtype=layout.dtype,
                               fill_value=np.nan)
    for key, columns in layout.metrics.items():
        for column in columns:
            group.create_array(f"metrics/{key}/{column}", shape=(n,), chunks=(size,), dtype="float32",
                               fill_value=np.nan)
    make_flags(group, "done", layout.n_chunks)


def make_flags(group: zarr.Group, name: str, n_chunks: int) -> zarr.Array:
    """``n_chunks`` completion flags, one storage chunk (one file) each, all False."""
    return group.create_array(name, shape=(n_chunks,), chunks=(1,), dtype="bool", fill_value=False,
                              compressors=None)


def open_store(path: str | os.PathLike[str], mode: str = "r") -> zarr.Group:
    """The store at ``path``; :class:`RunStoreError` when it is missing, not a Zarr group, or not a cam_widgets run."""
    target = Path(path)
    if not target.exists():
        raise RunStoreError(f"no run store at {target}: run `python -m cam_widgets explain ... --out {target}` first")
    try:
        group = zarr.open_group(str(target), mode=mode)
        found = group.attrs.get("format")
    except Exception as error:  # zarr raises several types for a folder that is not a (readable) group
        raise RunStoreError(f"{target} is not a cam_widgets run store (not a readable Zarr group: "
                            f"{type(error).__name__}: {error})") from error
    if found != FORMAT:
        raise RunStoreError(f"{target} is not a cam_widgets run store: its 'format' attribute is {found!r}, "
                            f"expected {FORMAT!r}; it is left unchanged")
    missing = [name for name in ("scores", "prediction", "label", "source", "done") if name not in group]
    if missing:
        raise RunStoreError(f"{target} is a corrupt cam_widgets run store: it lacks {', '.join(missing)}")
    return group


def read_flags(flags: zarr.Array) -> np.ndarray:
    """The completion flags; a flag whose file cannot be read (a write cut short by a kill) counts as not done."""
    listed = _flags_from_files(flags)
    if listed is not None:
        return listed
    try:
        return np.asarray(flags[:], dtype=bool)
    except Exception:  # one unreadable flag file: read them one by one
        out = np.zeros(flags.shape, dtype=bool)
        for i in range(len(out)):
            try:
                out[i] = bool(flags[i])
            except Exception:
                out[i] = False
        return out


def _flags_from_files(flags: zarr.Array) -> np.ndarray | None:
    """The flags of a local store read as zarr defines them, without its per-chunk overhead (0.3 ms per flag: a
    10^5-sample store has 1563): flag ``k`` is True when the file ``<array>/c/<k>`` holds the byte 1, False when
    it is missing (the fill value) or holds anything else. ``None`` when the array is not stored that way."""
    codecs = flags.metadata.codecs
    encoding = getattr(flags.metadata, "chunk_key_encoding", None)
    if (not isinstance(flags.store, zarr.storage.LocalStore) or len(codecs) != 1
            or type(codecs[0]).__name__ != "BytesCodec" or getattr(encoding, "separator", None) != "/"
            or flags.metadata.chunk_grid.chunk_shape != (1,) or flags.dtype != np.bool_):
        return None
    folder = Path(flags.store.root) / flags.path / "c"
    out = np.zeros(flags.shape, dtype=bool)
    if folder.is_dir():
        for entry in os.scandir(folder):
            if entry.name.isdigit() and int(entry.name) < len(out) and entry.stat().st_size == 1:
                with open(entry.path, "rb") as file:
                    out[int(entry.name)] = file.read(1) == b"\x01"
    return out


def mark_done(flags: zarr.Array, chunk: int) -> None:
    """Set run chunk ``chunk``'s flag: call it only after every array of that chunk is written."""
    flags[chunk] = True


def differing_arguments(stored: Mapping[str, object], given: Mapping[str, object]) -> list[str]:
    """Lines ``name: stored -> given`` for every argument that would change the stored content."""
    lines = []
    for name in sorted(set(stored) | set(given)):
        old, new = stored.get(name), given.get(name)
        if _normalised(old) != _normalised(new):
            lines.append(f"{name}: stored {_short(old)}, given {_short(new)}")
    return lines


def _normalised(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_normalised(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _normalised(v) for k, v in value.items()}
    return value


def _short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_sources(group: zarr.Group) -> list[str]:
    """The ``source`` column: each sample's path relative to the data folder."""
    return [str(s) for s in group["source"][:]]
