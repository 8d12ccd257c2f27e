"""The table behind ``DatasetBrowser``: per-sample columns of a run store, read lazily and cached, and the
numpy that sorts, filters, pages and bins them. Nothing here reads a map array except the ``disagreement``
column, computed on demand chunk by chunk and cached.

Columns: ``index``, ``source``, ``label``, ``prediction``, ``correct`` (1 / 0, NaN where the label is
unknown), ``score`` (the predicted class's logit: the largest), ``probability`` (its softmax), one column per
stored metric (``"<metric>/<method>/<layer>/<column>"``) and ``disagreement``. Sorting is stable, NaN last in both
directions; rows whose run chunk is not done are left out.

``disagreement`` of two maps (the raw maps at layer resolution, flattened; for a stored ``all`` target the
predicted class's map) is ``1 - r``, ``r`` Pearson's correlation (``measure="pearson"``) or Spearman's (the
Pearson correlation of the average ranks, ``"spearman"``): 0 for maps that agree, 1 for unrelated ones, 2 for
opposite ones; NaN where a map is constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import rankdata

BASE_COLUMNS = ("index", "source", "label", "prediction", "correct", "score", "probability")
KINDS = {"index": "int", "source": "str", "label": "class", "prediction": "class", "correct": "bool",
         "score": "float", "probability": "float"}
MEASURES = ("pearson", "spearman")
CORRECT = ("all", "correct", "incorrect")
BINS = 30


def disagreement(a: np.ndarray, b: np.ndarray, measure: str = "pearson") -> np.ndarray:
    """``1 - r`` per row of two ``(n, ...)`` map batches (see the module doc)."""
    x = a.reshape(len(a), -1).astype(np.float64)
    y = b.reshape(len(b), -1).astype(np.float64)
    if measure == "spearman":
        x, y = rankdata(x, axis=1), rankdata(y, axis=1)
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    denominator = np.sqrt((x * x).sum(1) * (y * y).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(1) / denominator
    return np.where(denominator > 0, 1.0 - r, np.nan)


class RunTable:
    """The columns of ``run`` (a ``cam_widgets.batch.Run``); only ``done`` is read when it is made."""

    def __init__(self, run):
        self.run = run
        self.n = run.n
        self.available = run.available
        self.class_names = run.class_names
        self.metric_columns: dict[str, tuple[str, str, str, str]] = {}
        for name in run.metric_names:
            for method in run.methods:
                for layer in run.layers:
                    if f"metrics/{name}/{method}/{layer}" in run.group:
                        for column in run.metric(name, method, layer):
                            self.metric_columns[f"{name}/{method}/{layer}/{column}"] = (name, method, layer, column)
        self._columns: dict[str, np.ndarray] = {}
        self._disagreements: dict[tuple, np.ndarray] = {}
        self.disagreement_key: tuple | None = None  # (map_a, map_b, measure) of the ``disagreement`` column

    # --- the columns -------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return [*BASE_COLUMNS, *self.metric_columns, *(["disagreement"] if self.disagreement_key else [])]

    def kind(self, name: str) -> str:
        return KINDS.get(name, "float")

    def numeric(self) -> list[str]:
        """The columns a histogram and a range filter take."""
        return [name for name in self.names() if self.kind(name) == "float"]

    def spec(self) -> list[dict]:
        """The ``columns`` trait: ``{name, label, sub, kind}`` per column, in table order."""
        out = []
        for name in self.names():
            label, sub = name, ""
            if name in self.metric_columns:
                metric, method, layer, column = self.metric_columns[name]
                label, sub = column, f"{metric} · {method} · {layer}"
            elif name == "disagreement":
                a, b, measure = self.disagreement_key
                label, sub = "disagreement", f"1 - {measure}: {a.split('/')[0]} vs {b.split('/')[0]}"
            out.append({"name": name, "label": label, "sub": sub, "kind": self.kind(name)})
        return out

    def check(self, name: str, what: str = "column", numeric: bool = False) -> str:
        choices = self.numeric() if numeric else self.names()
        if name not in choices:
            extra = "" if name != "disagreement" else " (set disagreement_methods to two stored methods first)"
            raise ValueError(f"unknown {what} {name!r}{extra}; valid: {', '.join(choices)}")
        return name

    def column(self, name: str) -> np.ndarray:
        """The ``(N,)`` values of column ``name`` (read once, then cached)."""
        if name == "disagreement":
            if self.disagreement_key is None:
                raise ValueError("no disagreement column: set disagreement_methods to two stored methods")
            return self._disagreements[self.disagreement_key]
        if name not in self._columns:
            self._columns[name] = self._read(self.check(name))
        return self._columns[name]

    def _read(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Column ``name`` of every sample, or of the samples ``rows`` only (a partial read)."""
        run = self.run

        def read(array):
            return np.asarray(array[:] if rows is None else array.oindex[rows])

        def get(other: str) -> np.ndarray:
            if other in self._columns or rows is None:
                return self.column(other) if rows is None else self._columns[other][rows]
            return self._read(other, rows)

        if name == "index":
            return np.arange(self.n) if rows is None else np.asarray(rows)
        if name == "source":
            return np.array(read(run.group["source"]).tolist(), dtype=str)
        if name in ("label", "prediction"):
            return read(run.group[name]).astype(np.int64)
        if name == "correct":
            label, prediction = get("label"), get("prediction")
            return np.where(label >= 0, (label == prediction).astype(np.float64), np.nan)
        if name in ("score", "probability"):
            if rows is None:
                if "_scores" not in self._columns:
                    self._columns["_scores"] = np.asarray(run.scores[:], dtype=np.float64)  # one read for both columns
                scores = self._columns["_scores"].copy()
            else:
                scores = read(run.scores).astype(np.float64).reshape(-1, len(self.class_names))
            # the predicted class is the argmax of the scores, so its logit is the row's largest: no read of
            # `prediction` (a second pass over every chunk) is needed; rows not yet written are NaN
            written = np.isfinite(scores).all(1)
            scores = np.where(written[:, None], scores, 0.0)
            top = scores.max(1)
            if name == "probability":
                top = 1.0 / np.exp(scores - top[:, None]).sum(1)
            return np.where(written, top, np.nan)
        metric, method, layer, column = self.metric_columns[name]
        return read(run.metric(metric, method, layer)[column]).astype(np.float64)

    def rows(self, indices: np.ndarray, names: Sequence[str]) -> list[dict]:
        """JSON rows of the samples ``indices`` (NaN as None); uncached columns are read for those rows only."""
        indices = np.asarray(indices, dtype=np.int64)
        out = [{} for _ in indices]
        for name in names:
            if name in self._columns or name == "disagreement":
                values = self.column(name)[indices]
            else:
                values = self._read(name, indices) if len(indices) else []
            for row, value in zip(out, values):
                row[name] = _json(value)
        return out

    # --- the disagreement column -------------------------------------------------------------------

    def set_disagreement(self, map_a: str, map_b: str, measure: str,
                         progress: Callable[[int, int], None] | None = None) -> None:
        """Compute (or take from the cache) ``disagreement`` of the stored maps ``map_a`` and ``map_b``
        (``"method/layer/target"``), one run chunk at a time over the chunks that are done."""
        key = (map_a, map_b, measure)
        if key not in self._disagreements:
            a, b = (self.run.cams(*k.split("/")) for k in (map_a, map_b))
            values = np.full(self.n, np.nan)
            size, done = self.run.chunk_size, np.flatnonzero(self.run.done)
            for step, chunk in enumerate(done):
                lo, hi = int(chunk) * size, min((int(chunk) + 1) * size, self.n)
                x, y = np.asarray(a[lo:hi]), np.asarray(b[lo:hi])
                if map_a.endswith("/all") or map_b.endswith("/all"):
                    picked = np.maximum(self.column("prediction")[lo:hi], 0)
                    x = x[np.arange(hi - lo), picked] if map_a.endswith("/all") else x
                    y = y[np.arange(hi - lo), picked] if map_b.endswith("/all") else y
                values[lo:hi] = disagreement(x, y, measure)
                if progress:
                    progress(step + 1, len(done))
            self._disagreements[key] = values
        self.disagreement_key = key

    def clear_disagreement(self) -> None:
        self.disagreement_key = None

    # --- sorting, filtering, binning -----------------------------------------------------------------

    def order(self, name: str, descending: bool) -> np.ndarray:
        """Every sample index sorted by column ``name`` (stable; NaN last both ways)."""
        values = self.column(name)
        if values.dtype.kind in "US":
            values = np.unique(values, return_inverse=True)[1]
        values = values.astype(np.float64)
        return np.argsort(-values if descending else values, kind="stable")

    def mask(self, prediction: Sequence[int] = (), label: Sequence[int] = (), correct: str = "all",
             range_column: str = "", value_range: Sequence[float] = ()) -> np.ndarray:
        """``(N,)`` bool: available samples passing the filters (empty lists: any class; ``value_range``
        ``[low, high]`` inclusive on ``range_column``, NaN out)."""
        keep = self.available.copy()
        if prediction:
            keep &= np.isin(self.column("prediction"), list(prediction))
        if label:
            keep &= np.isin(self.column("label"), list(label))
        if correct != "all":
            keep &= self.column("correct") == (1.0 if correct == "correct" else 0.0)
        if value_range:
            values = self.column(range_column)
            keep &= (values >= value_range[0]) & (values <= value_range[1])
        return keep

    def histogram(self, name: str, keep: np.ndarray, bins: int = BINS) -> dict:
        """``{column, edges, counts, missing}``: counts of column ``name``'s finite values over ``keep``."""
        values = self.column(name)[keep]
        finite = values[np.isfinite(values)]
        if not finite.size:
            return {"column": name, "edges": [], "counts": [], "missing": int(values.size)}
        low, high = float(finite.min()), float(finite.max())
        if high == low:
            low, high = low - 0.5, high + 0.5
        counts, edges = np.histogram(finite, bins=bins, range=(low, high))
        return {"column": name, "edges": edges.tolist(), "counts": counts.tolist(),
                "missing": int(values.size - finite.size)}


def _json(value: object) -> object:
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return str(value) if isinstance(value, np.str_) else value
