"""The picture of a 3D view (its static fallback, ``save_png``): the three maximum-intensity projections
of the smoothed input (the volume its surface is cut from), each with the outlines of the CAM surfaces'
projections at the current level in the surfaces' colours, under the view's title and a legend.

The projection of the region ``{cam >= +l}`` along an axis is ``{max_axis(cam) >= +l}`` and that of
``{cam <= -l}`` is ``{min_axis(cam) <= -l}`` (``l = cam_level * max|cam|``), so each outline is the
border of a thresholded 2D map: the maps are resized (bilinear) to the panel's pixels first, for smooth
outlines. The grey of the projection spans ``[P50, max]`` of the smoothed input (background dark).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import binary_dilation, binary_erosion

from .figure import INK, PAD, TITLE_PX, LABEL_PX, Panel, _font, _subsampled, draw_figure
from .view3d_figure import COLOURS

PANEL_SIDE = 256
"""The longest side (pixels at scale 1) of a projection panel."""
AXIS_LETTERS = ("z", "y", "x")


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(v) for v in colour[colour.index("(") + 1 : -1].split(",")], dtype=np.uint8)


def _resized(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``values`` (2D) resized to ``shape`` (rows, columns), bilinear (pixel centres aligned)."""
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))  # mode "F"
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def _outline(mask: np.ndarray) -> np.ndarray:
    """The border pixels of ``mask`` (its pixels with a neighbour outside), two pixels wide."""
    border = mask & ~binary_erosion(mask, border_value=0)
    return binary_dilation(border) & mask if border.any() else border


def projection_panel(values: np.ndarray, cam: np.ndarray | None, level: float, axis: int,
                     real: tuple[int, int, int], window: tuple[float, float], kinds: tuple[str, ...]) -> Panel:
    """The projection along ``axis`` of the smoothed input ``values`` with the outlines of the CAM
    surfaces ``kinds`` (``"positive"``, ``"negative"``) at ``+-level``."""
    dims = [n for k, n in enumerate(real) if k != axis]
    side = PANEL_SIDE / max(dims)
    shape = (max(1, round(dims[0] * side)), max(1, round(dims[1] * side)))
    low, high = window
    grey = np.clip((_resized(values.max(axis), shape) - low) / max(high - low, 1e-12), 0, 1)
    rgb = np.repeat((grey * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    if cam is not None and level > 0:
        for kind in kinds:
            extreme = cam.max(axis) if kind == "positive" else -cam.min(axis)
            rgb[_outline(_resized(extreme, shape) >= level)] = _rgb(COLOURS[kind])
    others = [AXIS_LETTERS[k] for k in range(3) if k != axis]
    return Panel(f"max over {AXIS_LETTERS[axis]} (rows {others[0]}, columns {others[1]})", rgb)


def picture(view, scale: int = 1, max_side: int | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8: the title, the legend and the three projections of ``view``."""
    grid = view._input_grid()
    values = grid.values
    cam_grid, bound = view._cam_grid()
    cam = None if cam_grid is None else cam_grid.values
    controls = view.controls
    fraction = controls.cam_level
    level = fraction * bound
    window = (float(np.median(values)), float(values.max()))
    shown = {"positive": controls.show_positive, "negative": controls.show_negative}
    kinds = tuple(kind for kind, on in shown.items() if on)
    panels = [projection_panel(values, cam, level, axis, grid.shape, window, kinds) for axis in range(3)]
    if max_side:
        panels = [_subsampled(panel, max_side) for panel in panels]
    body = draw_figure([panels], scale)
    surfaces = view.surfaces
    def said(kind: str, name: str, colour: str) -> str:
        if not shown[kind]:
            return f"{name} hidden"
        none = kind in surfaces and surfaces[kind].empty
        return f"{colour} {name}" + (" (none at this level)" if none else "")
    legend = (f"outlines at ±{fraction:g}·max|CAM| (±{level:.3g}): {said('positive', 'CAM > 0', 'red')}, "
              f"{said('negative', 'CAM < 0', 'blue')} · grey: maximum of the smoothed input")
    return _with_header(body, [(view.title, TITLE_PX), (legend, LABEL_PX)], scale)


def _with_header(body: np.ndarray, lines: list[tuple[str, int]], scale: int) -> np.ndarray:
    """``body`` under the text ``lines`` (each ``(text, font px)``), on white."""
    u = int(scale)
    fonts = [_font(px * u) for _, px in lines]
    heights = [font.getbbox("Ag")[3] + 4 * u for font in fonts]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(body.shape[1], max(math.ceil(measure.textlength(text, font=font)) + 2 * PAD * u
                                   for (text, _), font in zip(lines, fonts)))
    top = PAD * u + sum(heights)
    picture = Image.new("RGB", (width, top + body.shape[0]), "white")
    picture.paste(Image.fromarray(np.ascontiguousarray(body)), (0, top))
    draw = ImageDraw.Draw(picture)
    y = PAD * u
    for (text, _), font, height in zip(lines, fonts, heights):
        draw.text((PAD * u, y), text, fill=INK, font=font)
        y += height
    return np.asarray(picture)
