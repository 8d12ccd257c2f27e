"""The picture of a widget, composed in NumPy / PIL from its traits: every panel the browser shows at
the current state (CAMViewer: main, compare, and for volumes the orthogonal views of the two other
axes; PixelSetPicker: the pick panel with the predicted labels and M, the map, compare), each with its
title and, for maps, a colour bar with tick labels; a map that is zero everywhere carries the message
the browser writes over it. ``save_png``, the PNG button and the notebook's static fallback all use
``widget_figure`` (``export.py``).

Slice, crosshair and the slice numbers in the titles are the input's own voxel indices (``input_shape``)
while ``image`` and the maps may be downsampled: real index ``i`` of an axis with ``n`` real and ``d``
shown voxels is shown at ``floor(i * d / n)`` (as ``js/src/shared/navigation.js``). Array conventions
are those of ``js/src/slicing.js``: a volume is ``(z, y, x)``; axis 0 shows rows y, columns x; axis 1
rows z, columns x; axis 2 rows z, columns y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from PIL import Image, ImageDraw, ImageFont

from .codec import decode_array
from .colormaps import DIVERGING, SEQUENTIAL
from .method_info import layer_text
from .render import class_ids, colorbar_pixels, colorbar_ticks, compose, paint_labels, paint_mask

try:  # helper A moves the bit-mask codec into codec.py
    from .codec import unpack_mask
except ImportError:  # pragma: no cover - the older home
    from .pixel_set_picker import unpack_mask

VIEW_NAMES = ("axial", "coronal", "sagittal")
AXIS_LETTERS = ("z", "y", "x")
PICK_TITLE = "input · predicted labels · M"
MIN_SIDE = 256
"""At scale 1 the largest panel is enlarged by a whole factor until its longer side has this many pixels."""
PAD, GAP, BAR, TICK = 10, 8, 14, 4  # layout units (pixels at scale 1)
TITLE_PX, LABEL_PX, MESSAGE_PX = 13, 11, 13
INK, FAINT, BOX = (17, 17, 17), (136, 136, 136), (250, 250, 250)


@dataclass
class Panel:
    """One panel of the picture: ``rgb`` at data resolution ``(rows, cols, 3)``, its title, the colour
    bar (``(colormap, [(frac, label), ...])`` or None) and a message written over it ("" for none)."""

    title: str
    rgb: np.ndarray
    colorbar: tuple[str, list[tuple[float, str]]] | None = None
    message: str = ""


def display_index(i: int, n: int, d: int) -> int:
    """The shown index of real index ``i`` on an axis of ``n`` real and ``d`` shown voxels."""
    if n <= 0 or d <= 0:
        return 0
    return min(max(math.floor(i * d / n), 0), d - 1)


def real_shape(input_shape: Sequence[int], shown: Sequence[int]) -> tuple[int, ...]:
    """``input_shape`` when it has the rank of the shown array (and no empty axis), else the shown shape."""
    if len(input_shape) == len(shown) and all(n > 0 for n in input_shape):
        return tuple(int(n) for n in input_shape)
    return tuple(shown)


def zero_message(method: str, class_name: str, layer: str) -> str:
    """The message written over a map that is zero everywhere (the browser shows the same text)."""
    return f"the {method} map of {class_name} at {layer} is zero everywhere: try another layer, method or class"


def class_name(names: Sequence[str], target: int) -> str:
    """The name of class ``target`` (``"no class yet"`` for the picker's -1)."""
    if target < 0:
        return "no class yet"
    return names[target] if target < len(names) else f"class {target}"


def is_zero_map(encoded: dict) -> bool:
    """True for a map that is zero everywhere (its encoded range is [0, 0])."""
    return bool(encoded) and encoded["vmin"] == 0 and encoded["vmax"] == 0


class _Slicer:
    """Slices of a widget's arrays at the input's real indices, fitted to the image's display grid."""

    def __init__(self, widget):
        image = widget.image
        self.rgb = bool(image.get("rgb"))
        values = decode_array(image)
        self.image = np.moveaxis(values, 0, -1) if self.rgb else values  # (*spatial[, 3])
        self.shown = self.image.shape[:-1] if self.rgb else self.image.shape
        self.ndim = len(self.shown)
        self.real = real_shape(list(getattr(widget, "input_shape", []) or []), self.shown)
        self.range = (image["vmin"], image["vmax"])
        crosshair = list(getattr(widget, "crosshair", []) or [])
        self.crosshair = crosshair if len(crosshair) == self.ndim else [n // 2 for n in self.real]

    def cut(self, values: np.ndarray, axis: int, index: int) -> np.ndarray:
        """The 2D slice of ``values`` (spatial dims first, any shape) at real ``index`` of ``axis``, on
        the image's grid (nearest: shown pixel p stands for the real index floor((p + 0.5) * n / d))."""
        if self.ndim == 3:
            d = values.shape[axis]
            values = np.take(values, display_index(index, self.real[axis], d), axis=axis)
        rows, cols = self.dims(axis)
        for k, size in enumerate((rows, cols)):
            if values.shape[k] != size:
                picks = np.floor((np.arange(size) + 0.5) * values.shape[k] / size).astype(int)
                values = np.take(values, np.minimum(picks, values.shape[k] - 1), axis=k)
        return values

    def dims(self, axis: int) -> tuple[int, int]:
        if self.ndim == 2:
            return self.shown[0], self.shown[1]
        return tuple(n for k, n in enumerate(self.shown) if k != axis)  # type: ignore[return-value]


def zoom_picks(widget, s: _Slicer, axis: int, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows and columns of a panel slicing along ``axis`` that the browser shows at the widget's zoom (None at
    zoom 1), as ``js/src/shared/navigation.js`` places them: output pixel j shows data x = cx + (j + 0.5 - cols / 2)
    / zoom, with cx the zoom centre (real voxels, clamped so the view stays filled) on the display grid."""
    zoom = min(max(float(getattr(widget, "zoom", 1.0) or 1.0), 1.0), 64.0)
    if zoom == 1.0:
        return None
    axes = (0, 1) if s.ndim == 2 else tuple(a for a in range(3) if a != axis)
    center = list(getattr(widget, "zoom_center", []) or [])
    if len(center) != s.ndim:
        center = [(n - 1) / 2 for n in s.real]

    def picks(k: int, size: int) -> np.ndarray:
        n = s.real[k]
        c = min(max(float(center[k]), n / (2 * zoom) - 0.5), n - n / (2 * zoom) - 0.5)
        x = (c + 0.5) * size / n + (np.arange(size) + 0.5 - size / 2) / zoom
        return np.clip(np.floor(x), 0, size - 1).astype(int)

    return picks(axes[0], rows), picks(axes[1], cols)


def _zoomed(widget, s: _Slicer, axis: int, rgb: np.ndarray) -> np.ndarray:
    picks = zoom_picks(widget, s, axis, rgb.shape[0], rgb.shape[1])
    return rgb if picks is None else rgb[np.ix_(*picks)]


def _window(widget) -> tuple[float, float] | None:
    window = list(getattr(widget, "window", []) or [])
    return (window[0], window[1]) if len(window) == 2 else None


def _map_panel(widget, s: _Slicer, encoded: dict, signed: bool, axis: int, index: int, title: str,
               message: str = "") -> Panel:
    """A map over the image slice (or the image alone when ``encoded`` is empty), with its colour bar."""
    base = s.cut(s.image, axis, index)
    window, colormap = _window(widget), widget.colormap if widget.colormap in SEQUENTIAL else "inferno"
    if not encoded:
        return Panel(title, _zoomed(widget, s, axis, compose(base, None, s.range, window=window, rgb=s.rgb)))
    overlay = s.cut(decode_array(encoded), axis, index)
    rgb = compose(base, overlay, s.range, (encoded["vmin"], encoded["vmax"]), signed, colormap,
                  float(np.clip(widget.opacity, 0, 1)), window, bool(getattr(widget, "relu", False)),
                  encoded.get("dtype", "uint8"), rgb=s.rgb)
    bar = (DIVERGING if signed else colormap, colorbar_ticks(encoded["vmin"], encoded["vmax"], signed))
    return Panel(title, _zoomed(widget, s, axis, rgb), bar, message)


def _where(s: _Slicer, axis: int, index: int) -> str:
    return f"{VIEW_NAMES[axis]} {AXIS_LETTERS[axis]}={index}"


def _main_axis(widget, s: _Slicer) -> tuple[int, int]:
    """The main panel's axis and slice (real index, clamped)."""
    axis = int(widget.axis) if s.ndim == 3 and 0 <= widget.axis < 3 else 0
    index = min(max(int(widget.slice_index), 0), s.real[axis] - 1) if s.ndim == 3 else 0
    return axis, index


def map_titles(widget) -> dict[str, str]:
    """The titles of the main and compare maps (``f"{method} · {layer} · {class}"``, plus the view and
    slice in 3D), exactly as the browser writes them."""
    s = _Slicer(widget)
    axis, index = _main_axis(widget, s)
    cls = class_name(widget.class_names, int(widget.target_class))
    where = f" · {_where(s, axis, index)}" if s.ndim == 3 else ""
    return {"main": f"{widget.method} · {layer_text(widget.method, widget.layer)} · {cls}{where}",
            "compare": f"{widget.compare_method} · {layer_text(widget.compare_method, widget.layer)} · {cls}{where}"}


def _is_picker(widget) -> bool:
    return widget.has_trait("mask_bits")


def widget_panels(widget) -> list[list[Panel]]:
    """The panels of ``widget``'s picture, row by row, at data resolution."""
    s = _Slicer(widget)
    axis, index = _main_axis(widget, s)
    titles = map_titles(widget)
    cls = class_name(widget.class_names, int(widget.target_class))
    zero = lambda encoded, method: zero_message(method, cls, layer_text(method, widget.layer)) if is_zero_map(encoded) else ""
    row = [_pick_panel(widget, s, axis, index)] if _is_picker(widget) else []
    row.append(_map_panel(widget, s, widget.cam, widget.cam_signed, axis, index, titles["main"],
                          zero(widget.cam, widget.method)))
    if widget.compare:
        row.append(_map_panel(widget, s, widget.compare, widget.compare_signed, axis, index, titles["compare"],
                              zero(widget.compare, widget.compare_method)))
    rows = [row]
    if s.ndim == 3:
        others = [a for a in range(3) if a != axis]
        if _is_picker(widget):  # the pick views of the other axes through the crosshair
            rows.append([_pick_panel(widget, s, a, s.crosshair[a], _where(s, a, s.crosshair[a])) for a in others])
        else:  # the map the browser's "show" select puts on them (ortho_map)
            on_compare = bool(widget.compare) and getattr(widget, "ortho_map", "cam") == "compare"
            encoded, signed = (widget.compare, widget.compare_signed) if on_compare else (widget.cam, widget.cam_signed)
            rows.append([_map_panel(widget, s, encoded, signed, a, s.crosshair[a], _where(s, a, s.crosshair[a]))
                         for a in others])
    return rows


def panel_titles(widget) -> list[list[str]]:
    """The titles of ``widget``'s panels, row by row, as drawn in its picture."""
    return [[panel.title for panel in row] for row in widget_panels(widget)]


def _pick_panel(widget, s: _Slicer, axis: int, index: int, title: str = PICK_TITLE) -> Panel:
    """The picker's input slice with the predicted labels (when shown) and M painted on top."""
    rgb = compose(s.cut(s.image, axis, index), None, s.range, rgb=s.rgb)
    labels = widget.labels
    if widget.show_labels and labels:
        if labels.get("dtype", "uint8") == "uint8":
            codes = np.frombuffer(labels["buffer"], dtype=np.uint8).reshape(labels["shape"])
            classes = class_ids(codes, labels["vmin"], labels["vmax"])
        else:
            classes = np.clip(np.floor(decode_array(labels) + 0.5), 0, 255).astype(np.int64)
        rgb = paint_labels(rgb, s.cut(classes, axis, index))
    bits = widget.mask_bits
    if bits:
        mask = unpack_mask(bits, tuple(bits["shape"]))
        rgb = paint_mask(rgb, s.cut(mask, axis, index))
    return Panel(title, _zoomed(widget, s, axis, rgb))


def widget_figure(widget, scale: int = 1, max_side: int | None = None) -> np.ndarray:
    """The whole picture of ``widget`` as ``(H, W, 3)`` uint8, at integer ``scale`` (1: at least 256 px
    wide; small images are enlarged by a whole factor). ``max_side``: panels larger than this are shown
    subsampled by a whole step (every k-th pixel), e.g. to keep a notebook's saved picture small."""
    rows = widget_panels(widget)
    if max_side:
        rows = [[_subsampled(panel, max_side) for panel in row] for row in rows]
    return draw_figure(rows, scale)


def _subsampled(panel: Panel, max_side: int) -> Panel:
    step = math.ceil(max(panel.rgb.shape[:2]) / max_side)
    return panel if step <= 1 else replace(panel, rgb=panel.rgb[::step, ::step])


def main_panel(widget) -> np.ndarray:
    """The main map panel alone at data resolution (what the browser's main canvas shows)."""
    s = _Slicer(widget)
    axis, index = _main_axis(widget, s)
    return _map_panel(widget, s, widget.cam, widget.cam_signed, axis, index, "").rgb


# --- layout ----------------------------------------------------------------------------------------


def _font(px: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: float) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def draw_figure(rows: list[list[Panel]], scale: int = 1) -> np.ndarray:
    """Lay ``rows`` of panels out on a white picture: each panel's title above its image (enlarged by a
    whole factor, nearest neighbour), its colour bar with ticks and labels to the right, its message in
    a light box over the image. ``scale`` multiplies every size."""
    u = int(scale)
    side = max(max(p.rgb.shape[:2]) for row in rows for p in row)
    k = max(1, math.ceil(MIN_SIDE / side)) * u
    title_font, label_font, message_font = _font(TITLE_PX * u), _font(LABEL_PX * u), _font(MESSAGE_PX * u)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line = lambda font: font.getbbox("Ag")[3] + 3 * u
    layout = []  # (panel, x, y, width, title lines) per panel
    y, width = PAD * u, 0
    for row in rows:
        x, cells = PAD * u, []
        for panel in row:
            w = panel.rgb.shape[1] * k
            if panel.colorbar:
                labels = max(measure.textlength(label, font=label_font) for _, label in panel.colorbar[1])
                w += (GAP + BAR + TICK + 3) * u + math.ceil(labels)
            cells.append([panel, x, w, _wrap(measure, panel.title, title_font, w)])
            x += w + 2 * PAD * u
        title_h = max(len(c[3]) for c in cells) * line(title_font) + 4 * u
        height = title_h + max(c[0].rgb.shape[0] for c in cells) * k
        layout += [(panel, x0, y, title_h, lines) for panel, x0, _, lines in cells]
        y, width = y + height + PAD * u, max(width, x - PAD * u)
    picture = Image.new("RGB", (max(width, MIN_SIDE * u), y), "white")
    draw = ImageDraw.Draw(picture)
    for panel, x, top, title_h, lines in layout:
        for n, text in enumerate(lines):
            draw.text((x, top + n * line(title_font)), text, fill=INK, font=title_font)
        image_top = top + title_h
        rgb = panel.rgb.repeat(k, axis=0).repeat(k, axis=1)
        picture.paste(Image.fromarray(np.ascontiguousarray(rgb)), (x, image_top))
        h, w = rgb.shape[:2]
        if panel.colorbar:
            _draw_colorbar(picture, draw, panel.colorbar, x + w + GAP * u, image_top, h, u, label_font)
        if panel.message:
            _draw_message(draw, panel.message, x, image_top, w, h, u, message_font)
    return np.asarray(picture)


def _draw_colorbar(picture, draw, colorbar, x: int, top: int, height: int, u: int, font) -> None:
    colormap, ticks = colorbar
    bar = np.repeat(colorbar_pixels(colormap, height)[:, None], BAR * u, axis=1)
    picture.paste(Image.fromarray(np.ascontiguousarray(bar)), (x, top))
    draw.rectangle((x, top, x + BAR * u - 1, top + height - 1), outline=FAINT, width=max(1, u // 2))
    half = (font.getbbox("0")[3]) / 2
    for frac, label in ticks:
        at = top + (1 - frac) * (height - 1)
        draw.rectangle((x + BAR * u, round(at), x + (BAR + TICK) * u - 1, round(at) + max(1, u // 2) - 1), fill=INK)
        middle = min(max(at, top + half), top + height - half)
        draw.text((x + (BAR + TICK + 3) * u, middle), label, fill=INK, font=font, anchor="lm")


def _draw_message(draw, message: str, x: int, top: int, width: int, height: int, u: int, font) -> None:
    """``message`` in dark text on a light box, centred over the image."""
    margin = 6 * u
    lines = _wrap(draw, message, font, max(width - 4 * margin, 40 * u))
    step = font.getbbox("Ag")[3] + 3 * u
    box_w = max(draw.textlength(text, font=font) for text in lines) + 2 * margin
    box_h = len(lines) * step + 2 * margin
    left, upper = x + (width - box_w) / 2, top + (height - box_h) / 2
    draw.rectangle((left, upper, left + box_w, upper + box_h), fill=BOX, outline=FAINT, width=max(1, u // 2))
    for n, text in enumerate(lines):
        draw.text((left + margin, upper + margin + n * step), text, fill=INK, font=font)
