"""Static rendering of what a viewer shows, for ``save_png`` and the PNG fallback in a notebook's
saved output: the same composition as the browser's (``js/src/compose.js``)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .colormaps import DIVERGING, lut


def compose(base: np.ndarray, overlay: np.ndarray, overlay_range: tuple[float, float], signed: bool,
            colormap: str = "inferno", opacity: float = 0.5, window: tuple[float, float] | None = None,
            relu: bool = False) -> np.ndarray:
    """``(H, W, 3)`` uint8: the base slice in grey (clipped to ``window``) with the overlay blended on
    top, ``rgb = (1 - a) grey + a colormap(overlay)``, ``a = opacity`` (0 where ``relu`` hides a
    negative value). Signed overlays use the diverging map with 0 at its centre."""
    low, high = window if window else (float(base.min()), float(base.max()))
    grey = np.clip((base - low) / (high - low), 0, 1) if high > low else np.zeros_like(base)
    grey_rgb = np.repeat((grey * 255)[..., None], 3, axis=2)
    vmin, vmax = overlay_range
    if signed:
        scale = max(abs(vmin), abs(vmax)) or 1.0
        position = np.clip(overlay / scale * 0.5 + 0.5, 0, 1)
        colours = lut(DIVERGING)[(position * 255).round().astype(int)]
    else:
        span = (vmax - vmin) or 1.0
        position = np.clip((overlay - vmin) / span, 0, 1)
        colours = lut(colormap)[(position * 255).round().astype(int)]
    alpha = np.full(overlay.shape, float(opacity))
    if relu:
        alpha[overlay < 0] = 0.0
    blended = (1 - alpha[..., None]) * grey_rgb + alpha[..., None] * colours
    return blended.round().clip(0, 255).astype(np.uint8)


def png_bytes(rgb: np.ndarray, scale: int = 1) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 image as PNG, enlarged ``scale`` times (nearest neighbour)."""
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()
