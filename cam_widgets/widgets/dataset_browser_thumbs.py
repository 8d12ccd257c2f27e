"""What DatasetBrowser draws in Python: the thumbnails of a page (PNG: the central slice along the first
spatial axis of a volume, the stored map upsampled to the input and blended on top with the shared
colormaps of ``render.compose``; the map alone without the data) and the static HTML table of the first rows
that a notebook shows where no front end runs."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import torch

from ..batch.samples import split_item
from ..methods import get_method
from ..resample import upsample
from .render import compose, format_value, png_bytes

THUMBNAIL_OPACITY = 0.5


def central(values: np.ndarray) -> np.ndarray:
    """The central slice along the first axis of a volume, or a 2D image as it is."""
    return values[values.shape[0] // 2] if values.ndim == 3 else values


def thumbnail(raw: np.ndarray, method: str, spatial: Sequence[int], x: torch.Tensor | None = None,
              colormap: str = "inferno") -> bytes:
    """The PNG of one sample's map ``raw`` (layer resolution) over its input ``x`` ``(C, *spatial)`` (or alone)."""
    signed = not get_method(method).final_relu
    values = torch.as_tensor(np.asarray(raw, dtype=np.float32))
    shown = values if signed else torch.relu(values)
    overlay = central(upsample(shown, tuple(spatial)).numpy().astype(np.float64))
    finite = np.nan_to_num(overlay)
    bound = float(np.abs(finite).max()) if signed else float(finite.max())
    low = -bound if signed else float(finite.min())
    if x is None:
        base, base_range, opacity = np.zeros(overlay.shape), (0.0, 1.0), 1.0
    else:
        base = central(x.mean(0).numpy().astype(np.float64))
        base_range, opacity = (float(base.min()), float(base.max())), THUMBNAIL_OPACITY
    rgb = compose(base, finite, base_range, (low, bound), signed=signed, colormap=colormap, opacity=opacity,
                  overlay_dtype="float32")
    return png_bytes(rgb)


def page_thumbnails(run, rows: Sequence[dict], key: tuple[str, str, str], data=None,
                    colormap: str = "inferno") -> list[bytes]:
    """The thumbnails of ``rows`` (the table's rows) with the stored map ``key`` = (method, layer, target):
    one read of those rows of the map array; for an ``all`` target each row's predicted class."""
    indices = np.asarray([row["index"] for row in rows], dtype=np.int64)
    if not len(indices) or not key[0]:
        return []
    maps = np.asarray(run.cams(*key).oindex[indices])
    if key[2] == "all":
        maps = maps[np.arange(len(indices)), [max(row["prediction"], 0) for row in rows]]
    spatial = run.attrs["input_shape"][1:]
    xs = [split_item(data[int(i)])[0].float() if data is not None else None for i in indices]
    return [thumbnail(m, key[0], spatial, x, colormap) for m, x in zip(maps, xs)]


def cell_text(value: object, kind: str, class_names: Sequence[str]) -> str:
    """A table cell as the browser writes it (classes by name, numbers with 3 significant digits)."""
    if value is None:
        return "–"
    if kind == "class":
        return "unknown" if value < 0 else f"{value}: {class_names[value]}" if value < len(class_names) else str(value)
    if kind == "bool":
        return "✓" if value else "✗"
    if kind == "float":
        return format_value(float(value))
    return str(value)


def static_html(columns: Sequence[dict], rows: Sequence[dict], class_names: Sequence[str], caption: str) -> str:
    """The static fallback: an HTML table of ``rows`` under ``caption``."""
    head = "".join(f"<th title='{html.escape(c['sub'])}'>{html.escape(c['label'])}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell_text(row.get(c['name']), c['kind'], class_names))}</td>"
                         for c in columns) + "</tr>"
        for row in rows)
    return (f"<div class='cam-dataset-browser-static'><p>{html.escape(caption)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
