"""The loop every data-set job runs: this rank's run chunks, batch by batch, each chunk written whole and then
flagged done; rank 0 shows one progress bar for the whole job (the flags of every rank's chunks)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import zarr
from tqdm import tqdm  # a text bar: also in a notebook, where it stays readable in the saved outputs

from .compute import Batch
from .distributed import Ranks, shard
from .samples import MaskSource, batches
from .store import Layout, mark_done, read_flags

POLL_SECONDS = 1.0
"""How often rank 0 reads the other ranks' flags for the progress bar."""

Compute = Callable[[Batch], dict[str, np.ndarray]]


def done_chunks(group: zarr.Group, flag_paths: Sequence[str]) -> np.ndarray:
    """``(n_chunks,)`` bool: the run chunks that every flag of ``flag_paths`` marks done."""
    done = np.ones(group["done"].shape, dtype=bool)
    for path in flag_paths:
        done &= read_flags(group[path])
    return done


def pending_chunks(group: zarr.Group, flag_paths: Sequence[str], ranks: Ranks) -> list[int]:
    """The run chunks some flag of ``flag_paths`` does not mark done, as rank 0 reads them."""
    pending = [int(c) for c in np.flatnonzero(~done_chunks(group, flag_paths))] if ranks.is_main else None
    return ranks.broadcast(pending)


def run_chunks(group: zarr.Group, layout: Layout, pending: list[int], flag_paths: Sequence[str], compute: Compute,
               dataset, sources: Sequence[str], masks: Sequence[MaskSource], ranks: Ranks, batch_size: int,
               workers: int, progress: bool, what: str) -> None:
    """Compute and write this rank's contiguous shard of ``pending`` chunks; returns when every rank's are done."""
    mine = shard(pending, ranks.rank, ranks.world)
    rows = [row for chunk in mine for row in range(*layout.chunk_range(chunk))]
    bar = tqdm(total=layout.samples_in(pending), desc=what, unit="sample", disable=not (progress and ranks.is_main), smoothing=0.1)
    watcher = _Watcher(group, layout, pending, flag_paths, bar) if ranks.is_main and ranks.distributed else None
    writer = _ChunkWriter(group, layout, flag_paths, bar if watcher is None else None)
    pin = ranks.device.type == "cuda"
    try:
        for indices, x, labels, batch_masks in batches(dataset, sources, masks, rows, batch_size, workers, pin):
            device = ranks.device
            batch = Batch(x.to(device, non_blocking=pin), labels,
                          {name: m.to(device) for name, m in batch_masks.items()})
            writer.add(indices, split_to_fit(compute, batch))
            if watcher is not None:
                watcher.poll()
        writer.finish()
        if watcher is not None:
            watcher.wait()
    finally:
        bar.close()
    ranks.barrier()


def split_to_fit(compute: Compute, batch: Batch) -> dict[str, np.ndarray]:
    """``compute(batch)``, in halves (recursively) when the batch does not fit in the device's memory."""
    try:
        return compute(batch)
    except (torch.cuda.OutOfMemoryError, RuntimeError) as error:
        if not _out_of_memory(error) or len(batch.x) == 1:
            raise
    if batch.x.is_cuda:
        torch.cuda.empty_cache()
    half = len(batch.x) // 2
    parts = [Batch(batch.x[s], batch.labels[s], {k: v[s] for k, v in batch.masks.items()})
             for s in (slice(0, half), slice(half, None))]
    first, second = (split_to_fit(compute, part) for part in parts)
    return {key: np.concatenate([first[key], second[key]]) for key in first}


def _out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in text or "not enough memory" in text


class _ChunkWriter:
    """Collects rows per run chunk; writes a chunk when all its rows are in, then sets its flags."""

    def __init__(self, group: zarr.Group, layout: Layout, flag_paths: Sequence[str], bar: tqdm | None):
        self.group, self.layout, self.flag_paths, self.bar = group, layout, list(flag_paths), bar
        self.open: dict[int, dict[str, np.ndarray]] = {}
        self.filled: dict[int, int] = {}

    def add(self, indices: list[int], arrays: dict[str, np.ndarray]) -> None:
        size = self.layout.chunk_size
        for position, row in enumerate(indices):
            chunk = row // size
            start, stop = self.layout.chunk_range(chunk)
            buffer = self.open.setdefault(chunk, {k: np.empty((stop - start, *v.shape[1:]), v.dtype)
                                                  for k, v in arrays.items()})
            for key, values in arrays.items():
                buffer[key][row - start] = values[position]
            self.filled[chunk] = self.filled.get(chunk, 0) + 1
            if self.filled[chunk] == stop - start:
                self._write(chunk)

    def _write(self, chunk: int) -> None:
        start, stop = self.layout.chunk_range(chunk)
        for key, values in self.open.pop(chunk).items():
            self.group[key][start:stop] = values
        for path in self.flag_paths:
            mark_done(self.group[path], chunk)
        del self.filled[chunk]
        if self.bar is not None:
            self.bar.update(stop - start)

    def finish(self) -> None:
        if self.open:  # every row of every chunk of the shard was given: nothing may stay open
            raise RuntimeError(f"run chunks {sorted(self.open)} were left incomplete")


class _Watcher:
    """Rank 0's view of the whole job: the flags of every pending chunk, read at most once per second."""

    def __init__(self, group: zarr.Group, layout: Layout, pending: list[int], flag_paths: Sequence[str], bar: tqdm):
        self.group, self.layout, self.pending, self.paths, self.bar = group, layout, pending, flag_paths, bar
        self.last, self.shown = 0.0, 0

    def poll(self, force: bool = False) -> bool:
        """Update the bar; True when every pending chunk is done."""
        if not force and time.monotonic() - self.last < POLL_SECONDS:
            return False
        self.last = time.monotonic()
        done = done_chunks(self.group, self.paths)
        finished = [c for c in self.pending if done[c]]
        count = self.layout.samples_in(finished)
        self.bar.update(count - self.shown)
        self.shown = count
        return len(finished) == len(self.pending)

    def wait(self) -> None:
        while not self.poll(force=True):
            time.sleep(POLL_SECONDS / 4)
