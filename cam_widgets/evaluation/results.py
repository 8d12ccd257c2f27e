"""Result records of the metrics, and running a metric over a data set.

Every result is a dataclass whose per-sample fields have the batch first (``(B,)`` or ``(B, K)``)
and whose shared fields (``fractions``, ``percentiles``, ``layers``, ...) describe the columns.
``summary()`` gives ``{name: (mean, std)}`` over the samples (NaN values left out) for the main
values; results of several batches join with ``concat``. ``over_data`` lets a metric take a data
set (an iterable of batches) where it takes a batch.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import Tensor

R = TypeVar("R", bound="MetricResult")


@dataclass
class MetricResult:
    """Base of the metrics' results: ``MAIN`` names the main per-sample values, ``SHARED`` the fields that are
    not per sample, ``COLUMNS`` maps a ``(B, K)`` main field to the shared field that labels its columns."""

    MAIN: ClassVar[tuple[str, ...]] = ()
    SHARED: ClassVar[tuple[str, ...]] = ()
    COLUMNS: ClassVar[dict[str, str]] = {}
    REFERENCES: ClassVar[dict[str, str]] = {}
    """A main value's reference (``{"score_drop": "random_score_drop"}``): tabulated beside it, not as a column."""

    def summary(self) -> dict[str, tuple[float, float]]:
        """``{name: (mean, std)}`` of each main value over the samples (population std, NaNs left out);
        a ``(B, K)`` value gives one entry per column, named ``name@label``."""
        out: dict[str, tuple[float, float]] = {}
        for name in self.MAIN:
            values = torch.as_tensor(getattr(self, name)).double().cpu()
            if values.ndim == 1:
                out[name] = mean_std(values)
                continue
            labels = getattr(self, self.COLUMNS[name]) if name in self.COLUMNS else range(values.shape[1])
            for column, label in zip(values.T, labels):
                out[f"{name}@{_label(label)}"] = mean_std(column)
        return out

    def table(self) -> dict[str, Tensor]:
        """``{name: (B,)}``: the values ``compare_methods`` tabulates, the main ones but the references, a
        ``(B, K)`` one as its mean over the columns (NaNs left out), named ``"name (mean over <columns>)"``."""
        references = set(self.REFERENCES.values())
        return {self._table_name(name): self._per_sample(name) for name in self.MAIN if name not in references}

    def references(self) -> dict[str, Tensor]:
        """``{table name: (B,)}``: the reference of each tabulated value that has one (random positions)."""
        return {self._table_name(name): self._per_sample(reference) for name, reference in self.REFERENCES.items()}

    def _table_name(self, name: str) -> str:
        values = getattr(self, name)
        return name if values.ndim == 1 else f"{name} (mean over {self.COLUMNS.get(name, 'columns')})"

    def _per_sample(self, name: str) -> Tensor:
        values = torch.as_tensor(getattr(self, name)).double().cpu()
        return values if values.ndim == 1 else values.nanmean(1)

    @property
    def n(self) -> int:
        """How many samples."""
        first = next(f.name for f in fields(self) if f.name not in self.SHARED)
        return len(getattr(self, first))

    def __str__(self) -> str:
        lines = [f"{type(self).__name__} (n={self.n})"]
        lines += [f"  {name}: {mean:.4f} ± {std:.4f}" for name, (mean, std) in self.summary().items()]
        return "\n".join(lines)

    @classmethod
    def concat(cls: type[R], results: list[R]) -> R:
        """One result from the results of several batches (per-sample fields joined along the batch)."""
        if not results:
            raise ValueError("the data set gave no batches to evaluate")
        values: dict[str, Any] = {}
        for f in fields(cls):
            parts = [getattr(r, f.name) for r in results]
            if f.name in cls.SHARED:
                if any(not _same(parts[0], p) for p in parts[1:]):
                    raise ValueError(f"the batches disagree on {f.name}, so their results cannot be joined")
                values[f.name] = parts[0]
            elif isinstance(parts[0], Tensor):
                values[f.name] = torch.cat(parts)
            else:
                values[f.name] = [v for p in parts for v in p]
        return cls(**values)


def mean_std(values: Tensor) -> tuple[float, float]:
    """``(mean, population std)`` of the values that are not NaN (NaNs when none is)."""
    kept = values[~torch.isnan(values)]
    if kept.numel() == 0:
        return math.nan, math.nan
    return float(kept.mean()), float(kept.std(unbiased=False))


def _label(label: object) -> str:
    value = float(label) if isinstance(label, (int, float, np.number, Tensor)) else label
    return f"{value:g}" if isinstance(value, float) else str(value)


def _same(a: object, b: object) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.shape == b.shape and bool(torch.equal(a.cpu(), b.cpu()))
    return a == b


def over_data(metric: Callable[..., R]) -> Callable[..., R]:
    """Let ``metric(explainer, x, ...)`` also take a data set for ``x``: any iterable of batches (a list, a
    ``DataLoader``). Each item is a batch ``x``; a tuple ``(x, a, b, ...)`` whose further entries are the
    metric's next arguments in order (``(x, target)`` for most metrics, ``(x, masks)`` for ``localisation``,
    ``(x, pixel_set)`` for ``segmentation_faithfulness``); or a dict of arguments by name
    (``{"x": x, "target": t, "maps": m}``). The per-batch results are joined; ``progress=True`` shows a bar
    over the batches."""
    names = list(inspect.signature(metric).parameters)[2:]

    @functools.wraps(metric)
    def run(explainer: Any, x: Any, *args: Any, **kwargs: Any) -> R:
        if isinstance(x, (Tensor, np.ndarray)):
            return metric(explainer, torch.as_tensor(x), *args, **kwargs)
        if isinstance(x, (str, bytes, Mapping)) or not hasattr(x, "__iter__"):
            raise TypeError(f"x must be a batch tensor (B, C, *spatial) or an iterable of batches, got {type(x).__name__}")
        fixed = dict(zip(names, args)) | kwargs
        results = []
        for item in _batches(x, fixed.get("progress", True), metric.__name__):
            batch, given = _unpack(item, names)
            clash = sorted(set(given) & set(fixed))
            if clash:
                raise ValueError(f"{', '.join(clash)} given both as an argument and in the data set's batches: give it once")
            results.append(metric(explainer, batch, **fixed, **given))
        return type(results[0]).concat(results) if results else _no_batches()

    return run


def _no_batches() -> Any:
    raise ValueError("the data set gave no batches to evaluate")


def _batches(data: Any, progress: Any, what: str):
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(data, desc=what, unit="batch", delay=2.0, leave=False)
    return data


def _unpack(item: Any, names: list[str]) -> tuple[Tensor, dict[str, Any]]:
    if isinstance(item, Mapping):
        if "x" not in item:
            raise ValueError(f"a batch given as a dict needs the input under 'x', got keys {sorted(item)}")
        unknown = sorted(set(item) - {"x", *names})
        if unknown:
            raise ValueError(f"unknown argument(s) {unknown} in a batch; accepted: {['x', *names]}")
        return torch.as_tensor(item["x"]), {k: v for k, v in item.items() if k != "x"}
    if isinstance(item, (tuple, list)):
        if not item:
            raise ValueError("an empty tuple is not a batch")
        extra = list(item[1:])
        if len(extra) > len(names):
            raise ValueError(f"a batch tuple has {len(item)} entries; at most {len(names) + 1}: (x, {', '.join(names)})")
        return torch.as_tensor(item[0]), dict(zip(names, extra))
    return torch.as_tensor(item), {}
