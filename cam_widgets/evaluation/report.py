"""``Comparison``: what ``compare_methods`` returns, a table (Markdown) and curves (Plotly)."""

from __future__ import annotations

import math
from dataclasses import dataclass


from .results import MetricResult, mean_std

BETTER = {
    ("deletion_insertion", "deletion_auc"): "lower", ("deletion_insertion", "insertion_auc"): "higher",
    ("road", "combined"): "higher", ("average_drop", "drop"): "lower", ("average_drop", "increase"): "higher",
    ("localisation", "mass"): "higher", ("localisation", "rank"): "higher", ("localisation", "pointing"): "higher",
    ("localisation", "energy"): "higher",
    ("segmentation_faithfulness", "score_drop (mean over fractions)"): "higher",
    ("segmentation_faithfulness", "dice (mean over fractions)"): "lower",
    ("randomisation", "correlation (mean over layers)"): "lower", ("random_logit", "correlation"): "lower",
}
"""Which way each tabulated value is better (a faithful map: low deletion AUC, a sane one: low correlation
with the maps of a randomised model); values without an entry are references (random positions)."""
ARROW = {"lower": "↓", "higher": "↑"}
SHORT = {"deletion_insertion": "", "road": "ROAD ", "average_drop": "", "localisation": "", "random_logit": "random logit ",
         "segmentation_faithfulness": "", "randomisation": "randomisation "}


@dataclass
class Comparison:
    """``results[(method label, layer)][metric]``: each metric's result over the whole data set; ``metrics``:
    the metrics run, in order. ``rows()``, ``to_markdown()``, ``figure()``."""

    results: dict[tuple[str, str], dict[str, MetricResult]]
    metrics: list[str]

    def columns(self) -> list[tuple[str, str]]:
        """``(metric, value)`` of each tabulated column, in order."""
        seen: dict[tuple[str, str], None] = {}
        for got in self.results.values():
            for metric in self.metrics:
                if metric in got:
                    seen.update(dict.fromkeys((metric, name) for name in got[metric].table()))
        return list(seen)

    def rows(self) -> list[dict]:
        """One dict per method x layer: ``method``, ``layer``, ``n`` and ``(mean, std)`` per column
        (``"metric: value"``; population std, NaNs left out, so ``n`` counts the samples), and the mean of a
        value's reference under ``"metric: value (reference)"``."""
        rows = []
        for (method, layer), got in self.results.items():
            row: dict = {"method": method, "layer": layer}
            for metric, name in self.columns():
                if metric in got:
                    values = got[metric].table()[name]
                    row[f"{metric}: {name}"] = mean_std(values)
                    if name in got[metric].references():
                        row[f"{metric}: {name} (reference)"] = mean_std(got[metric].references()[name])
                    row["n"] = max(row.get("n", 0), len(values))
            rows.append(row)
        return rows

    def best(self, column: tuple[str, str]) -> tuple[str, str] | None:
        """The ``(method, layer)`` with the best mean in ``column`` (None for a reference column, or when every
        row has the same mean)."""
        better = BETTER.get(column)
        means = {(r["method"], r["layer"]): r.get(f"{column[0]}: {column[1]}", (math.nan,))[0] for r in self.rows()}
        means = {k: v for k, v in means.items() if not math.isnan(v)}
        if better is None or len(set(means.values())) < 2:
            return None   # a reference column, or nothing to choose between
        return (min if better == "lower" else max)(means, key=means.get)

    def to_markdown(self, digits: int = 3) -> str:
        """The table: one row per method x layer, ``mean ± std`` per value, the best of each column in bold,
        arrows saying which way is better."""
        columns = self.columns()
        header = ["method", "layer", *[_title(c) for c in columns], "n"]
        best = {c: self.best(c) for c in columns}
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows():
            cells = [row["method"], f"`{row['layer']}`"]
            for column in columns:
                mean, std = row.get(f"{column[0]}: {column[1]}", (math.nan, math.nan))
                text = "n/a" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"
                reference = row.get(f"{column[0]}: {column[1]} (reference)")
                if reference is not None and not math.isnan(mean):
                    text += f" (random {reference[0]:.{digits}f})"
                cells.append(f"**{text}**" if best[column] == (row["method"], row["layer"]) else text)
            lines.append("| " + " | ".join([*cells, str(row.get("n", 0))]) + " |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()

    def figure(self):
        """A Plotly figure of the curves: deletion and insertion, ROAD (MoRF solid, LeRF dashed), segmentation
        faithfulness (the map's positions solid, random ones dashed) and randomisation, means over samples."""
        from .figure import comparison_figure

        return comparison_figure(self)


def _title(column: tuple[str, str]) -> str:
    metric, name = column
    arrow = ARROW.get(BETTER.get(column, ""), "")
    return f"{SHORT.get(metric, '')}{name.replace('_', ' ')} {arrow}".strip()
