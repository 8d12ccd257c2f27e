"""The curves of a ``Comparison`` as one Plotly figure (a panel per curve, a colour per method x layer)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .report import Comparison

PANELS = (  # (metric, title, x field, [(y field, dash)], x title, y title)
    ("deletion_insertion", "Deletion (lower is better)", "fractions", [("deletion_curve", "solid")],
     "fraction removed", "score"),
    ("deletion_insertion", "Insertion (higher is better)", "fractions", [("insertion_curve", "solid")],
     "fraction restored", "score"),
    ("road", "ROAD: MoRF solid, LeRF dashed", "percentiles", [("morf", "solid"), ("lerf", "dash")],
     "percent imputed", "score change"),
    ("segmentation_faithfulness", "Segmentation faithfulness (higher is better)", "fractions",
     [("score_drop", "solid")], "fraction removed", "relative score drop"),
    ("randomisation", "Cascading randomisation", "layers", [("correlation", "solid")],
     "randomised down to", "Spearman correlation"),
)
REFERENCES = {"segmentation_faithfulness": ("random_score_drop", "random positions (the reference)")}
"""Curves the metric computes once for all maps (``compare_methods`` shares them): drawn once, in grey."""
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def comparison_figure(comparison: Comparison):
    """``plotly.graph_objects.Figure``: the mean curve of each method x layer in each panel that has data."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = [p for p in PANELS if p[0] in comparison.metrics]
    if not panels:
        raise ValueError(f"no curves to draw: the metrics run ({comparison.metrics}) have none; "
                         "deletion_insertion, road, segmentation_faithfulness and randomisation do")
    cols = len(panels) if len(panels) <= 3 else 2
    rows = math.ceil(len(panels) / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=[p[1] for p in panels],
                           horizontal_spacing=0.08, vertical_spacing=0.18)
    for index, (metric, _, x_field, curves, x_title, y_title) in enumerate(panels):
        row, col = index // cols + 1, index % cols + 1
        for number, ((method, layer), got) in enumerate(comparison.results.items()):
            if metric not in got:
                continue
            result = got[metric]
            xs = getattr(result, x_field)
            xs = list(xs) if isinstance(xs, list) else xs.tolist()
            for field, dash in curves:
                figure.add_trace(go.Scatter(
                    x=xs, y=_mean(getattr(result, field)).tolist(), mode="lines+markers",
                    name=f"{method} · {layer}", legendgroup=f"{method} · {layer}",
                    showlegend=index == 0 and dash == "solid",
                    line={"color": COLOURS[number % len(COLOURS)], "dash": dash}, marker={"size": 4},
                    hovertemplate=f"{method} · {layer}<br>{x_title} %{{x}}<br>{y_title} %{{y:.4f}}<extra>{field}</extra>",
                ), row=row, col=col)
        if metric in REFERENCES:
            _add_reference(figure, comparison, metric, x_field, row, col)
        figure.update_xaxes(title_text=x_title, row=row, col=col)
        figure.update_yaxes(title_text=y_title, row=row, col=col)
    figure.update_layout(height=330 * rows + 110, margin={"l": 60, "r": 20, "t": 110, "b": 60},
                         legend={"orientation": "h", "x": 0, "y": 0.995, "yanchor": "top", "yref": "container"})
    return figure


def _add_reference(figure, comparison: Comparison, metric: str, x_field: str, row: int, col: int) -> None:
    import plotly.graph_objects as go

    field, name = REFERENCES[metric]
    result = next(got[metric] for got in comparison.results.values() if metric in got)
    figure.add_trace(go.Scatter(
        x=getattr(result, x_field).tolist(), y=_mean(getattr(result, field)).tolist(), mode="lines+markers",
        name=name, line={"color": "#888888", "dash": "dash"}, marker={"size": 4},
        hovertemplate=f"{name}<br>%{{x}}: %{{y:.4f}}<extra>{field}</extra>"), row=row, col=col)


def _mean(values: Tensor) -> Tensor:
    """The mean over samples, NaNs left out (a column of NaNs stays NaN)."""
    return torch.as_tensor(values).double().nanmean(0)
