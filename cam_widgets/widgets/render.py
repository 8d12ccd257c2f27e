"""Static rendering of what a viewer shows, for ``save_png`` and the PNG fallback in a notebook's
saved output: the same composition, pixel for pixel, as the browser's (``js/src/compose.js``).

    out = round(grey * (1 - a) + colour * a)      (rounding half to even, as numpy and the browser)

``grey`` is the base value windowed to ``[low, high]`` (unrounded, 0..255); the overlay is hidden
(``a = 0``) where it is 0 (within half a uint8 step), where ``relu`` hides a negative value, or when
the opacity is 0; elsewhere ``a = opacity``, or for signed maps ``opacity * min(1, 2|v| / max|v|)``
so that values near 0 fade into the image instead of veiling it in the diverging map's white.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from .colormaps import DIVERGING, lut


def _grey(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if not high > low:
        return np.where(values >= low, 255.0, 0.0)
    return np.clip((values - low) / (high - low), 0, 1) * 255


def _colour_index(values: np.ndarray, cmin: float, cmax: float) -> np.ndarray:
    if not cmax > cmin:
        return np.where(values > cmin, 255, 0)
    return np.round(np.clip((values - cmin) / (cmax - cmin), 0, 1) * 255).astype(int)


def compose(base: np.ndarray, overlay: np.ndarray, base_range: tuple[float, float],
            overlay_range: tuple[float, float], signed: bool, colormap: str = "inferno", opacity: float = 0.5,
            window: tuple[float, float] | None = None, relu: bool = False, overlay_dtype: str = "uint8") -> np.ndarray:
    """``(H, W, 3)`` uint8: the base slice in grey with the overlay blended on top (see the module doc).
    ``base_range`` / ``overlay_range`` are the arrays' encoded ``(vmin, vmax)``; a ``float32`` overlay
    is hidden only where it is exactly 0, a ``uint8`` one within half a quantisation step of 0."""
    low, high = window if window and window[1] >= window[0] else base_range
    grey = _grey(base, low, high)
    vmin, vmax = overlay_range
    bound = max(abs(vmin), abs(vmax))
    cmin, cmax = (-bound, bound) if signed else (vmin, vmax)
    colours = lut(DIVERGING if signed else colormap)[_colour_index(overlay, cmin, cmax)].astype(np.float64)
    tolerance = abs(vmax - vmin) / 510 * (1 + 1e-9) if overlay_dtype == "uint8" else 0.0
    hidden = (abs(overlay) <= tolerance) | (relu & (overlay < 0)) | (opacity == 0)
    alpha = opacity * np.minimum(1.0, 2 * np.abs(overlay) / bound) if signed and bound > 0 else np.full(overlay.shape, opacity)
    alpha = np.where(hidden, 0.0, alpha)[..., None]
    blended = grey[..., None] * (1 - alpha) + colours * alpha
    return np.round(blended).clip(0, 255).astype(np.uint8)


def png_bytes(rgb: np.ndarray, scale: int = 1) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 image as PNG, enlarged ``scale`` times (nearest neighbour)."""
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def with_png_fallback(bundle, rgb: np.ndarray, scale: int):
    """A widget's mime bundle (a ``data`` dict, or a ``(data, metadata)`` tuple) with the PNG of
    ``rgb`` added as ``image/png``: what a saved notebook shows where no kernel runs."""
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    data["image/png"] = base64.b64encode(png_bytes(rgb, scale)).decode("ascii")
    return bundle
