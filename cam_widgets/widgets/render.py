"""Pixel rules of the widgets' panels, shared with the browser pixel for pixel: ``compose`` is the twin
of ``composeRGBA`` in ``js/src/compose.js``, ``paint_labels`` / ``paint_mask`` of ``js/src/label_overlay.js``,
``format_value`` / ``colorbar_ticks`` of the colour bar's labels. ``figure.py`` lays the panels out.

Composition of a base slice (grey, or colour: r, g, b) with a map blended on top, per channel c:

    out_c = round(level_c * (1 - a) + colour_c * a)      (rounding half to even, as numpy and the browser)

``level_c`` is the base value windowed to ``[low, high]`` (unrounded, 0..255); a grey base has one level
for the three channels, a colour base one per channel, all three windowed with the same ``[low, high]``
(the image is encoded with one value range for its three channels). The overlay is hidden (``a = 0``)
where it is 0 (within half a uint8 step), where ``relu`` hides a negative value, or when the opacity is 0;
elsewhere ``a = opacity``, or for signed maps ``opacity * min(1, 2|v| / max|v|)`` so that values near 0
fade into the image instead of veiling it in the diverging map's white.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from .colormaps import DIVERGING, lut

LABEL_PALETTE = np.array([
    [78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79],
    [176, 122, 161], [255, 157, 167], [156, 117, 95], [140, 209, 125], [31, 119, 180],
    [188, 189, 34], [23, 190, 207],
], dtype=np.float64)
"""Class colours of the predicted labels (class 0, the background, is not drawn); as ``label_overlay.js``."""
MASK_COLOR = np.array([255, 230, 0], dtype=np.float64)
"""The colour of the picker's pixel set M."""
LABEL_ALPHA = 0.4
MASK_BORDER, MASK_HATCH, MASK_TINT, MASK_HATCH_EVERY = 1.0, 0.6, 0.2, 6
"""How M is painted (``MASK_STYLE`` in ``label_overlay.js``): the alpha of ``MASK_COLOR`` on M's border, on its
hatch lines ``(row + col) % 6 == 0`` and elsewhere in M, light enough that a full M keeps the image readable."""


def _level(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if not high > low:
        return np.where(values >= low, 255.0, 0.0)
    return np.clip((values - low) / (high - low), 0, 1) * 255


def _colour_index(values: np.ndarray, cmin: float, cmax: float) -> np.ndarray:
    if not cmax > cmin:
        return np.where(values > cmin, 255, 0)
    return np.round(np.clip((values - cmin) / (cmax - cmin), 0, 1) * 255).astype(int)


def compose(base: np.ndarray, overlay: np.ndarray | None, base_range: tuple[float, float],
            overlay_range: tuple[float, float] = (0.0, 1.0), signed: bool = False, colormap: str = "inferno",
            opacity: float = 0.5, window: tuple[float, float] | None = None, relu: bool = False,
            overlay_dtype: str = "uint8", rgb: bool = False) -> np.ndarray:
    """``(H, W, 3)`` uint8: the base slice with the overlay blended on top (see the module doc).

    ``base`` is ``(H, W)`` grey or, with ``rgb=True``, ``(H, W, 3)`` colour; ``overlay`` is ``(H, W)`` or
    None (the base alone). ``base_range`` / ``overlay_range`` are the arrays' encoded ``(vmin, vmax)``; a
    ``float32`` overlay is hidden only where it is exactly 0, a ``uint8`` one within half a quantisation
    step of 0. ``window`` (low, high) replaces the base range when it is a valid pair."""
    low, high = window if window and len(window) == 2 and window[1] >= window[0] else base_range
    level = _level(np.asarray(base, dtype=np.float64), low, high)
    level = level if rgb else level[..., None]
    if overlay is None or opacity == 0:
        return np.round(np.broadcast_to(level, (*level.shape[:-1], 3))).clip(0, 255).astype(np.uint8)
    vmin, vmax = overlay_range
    bound = max(abs(vmin), abs(vmax))
    cmin, cmax = (-bound, bound) if signed else (vmin, vmax)
    colours = lut(DIVERGING if signed else colormap)[_colour_index(overlay, cmin, cmax)].astype(np.float64)
    tolerance = abs(vmax - vmin) / 510 * (1 + 1e-9) if overlay_dtype == "uint8" else 0.0
    hidden = (abs(overlay) <= tolerance) | (relu & (overlay < 0))
    fade = signed and bound > 0
    alpha = opacity * np.minimum(1.0, 2 * np.abs(overlay) / bound) if fade else np.full(overlay.shape, opacity)
    alpha = np.where(hidden, 0.0, alpha)[..., None]
    blended = level * (1 - alpha) + colours * alpha
    return np.round(blended).clip(0, 255).astype(np.uint8)


def class_ids(labels: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Class ids of an encoded uint8 label map's codes ``q``: ``round(vmin + q / 255 * (vmax - vmin))``
    (JavaScript's ``Math.round``, half up), clipped to 0..255 (``classIds`` in ``label_overlay.js``)."""
    q = np.asarray(labels, dtype=np.float64)
    return np.clip(np.floor(vmin + (q / 255) * (vmax - vmin) + 0.5), 0, 255).astype(np.int64)


def paint_labels(rgb: np.ndarray, classes: np.ndarray, alpha: float = LABEL_ALPHA) -> np.ndarray:
    """``rgb`` with the class colours blended on top: ``round((1 - alpha) * base + alpha * colour)``,
    class 0 (background) untouched (``paintLabels``)."""
    classes = np.asarray(classes, dtype=np.int64)
    drawn = classes > 0
    colours = LABEL_PALETTE[(np.maximum(classes, 1) - 1) % len(LABEL_PALETTE)]
    painted = np.round((1 - alpha) * rgb.astype(np.float64) + alpha * colours).clip(0, 255).astype(np.uint8)
    return np.where(drawn[..., None], painted, rgb)


def paint_mask(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``rgb`` with the pixel set M (a 2D bool slice) on top, as ``paintMask``: each pixel of M becomes
    ``round((1 - a) * rgb + a * MASK_COLOR)`` with ``a = 1`` on M's border (a 4-neighbour outside M or outside
    the image), ``0.6`` on the hatch lines ``(row + col) % 6 == 0`` and ``0.2`` elsewhere; other pixels stay."""
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    rows, cols = np.indices(mask.shape)
    alpha = np.where(~inner, MASK_BORDER, np.where((rows + cols) % MASK_HATCH_EVERY == 0, MASK_HATCH, MASK_TINT))
    alpha = np.where(mask, alpha, 0.0)[..., None]
    return np.round((1 - alpha) * rgb.astype(np.float64) + alpha * MASK_COLOR).clip(0, 255).astype(np.uint8)


def colorbar_pixels(colormap: str, length: int) -> np.ndarray:
    """``(length, 3)`` uint8 colours of a vertical colour bar, high end first (row 0 at the top)."""
    a = np.arange(length)[::-1]
    index = np.full(length, 255) if length == 1 else np.round(a / (length - 1) * 255).astype(int)
    return lut(colormap)[index]


def format_value(value: float | None) -> str:
    """A short readable number, as the browser writes it (``formatValue`` in ``compose.js``): 3
    significant digits, an exponent for ``|v| >= 1e5`` or ``|v| < 1e-3`` (``1.23e-4``, ``4.56e7``)."""
    if value is None or math.isnan(value):
        return "–"
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    rounded = float(f"{value:.3g}")
    return str(int(rounded)) if rounded.is_integer() else repr(rounded)


def colorbar_ticks(vmin: float, vmax: float, signed: bool) -> list[tuple[float, str]]:
    """``(frac, label)`` of the colour bar's ticks, frac from the low end (0) to the high end (1): the
    map's range, or ``-m, 0, m`` (``m = max(|vmin|, |vmax|)``) for a signed map."""
    if signed:
        bound = max(abs(vmin), abs(vmax))
        return [(0.0, format_value(-bound)), (0.5, "0"), (1.0, format_value(bound))]
    return [(0.0, format_value(vmin)), (1.0, format_value(vmax))]


def png_bytes(rgb: np.ndarray, scale: int = 1) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 image as PNG, enlarged ``scale`` times (nearest neighbour)."""
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()

