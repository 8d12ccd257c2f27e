"""Colormaps shared with the front end: evenly spaced RGB control points in ``colormaps.json``
(the JS bundle imports the same file), expanded to 256-entry lookup tables by linear interpolation.
``RdBu`` is the diverging map for signed CAMs: blue negative, white at 0, red positive."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

CONTROL_POINTS: dict[str, list[list[int]]] = json.loads((Path(__file__).parent / "colormaps.json").read_text())
SEQUENTIAL = ("inferno", "viridis", "jet", "hot")
DIVERGING = "RdBu"


@cache
def lut(name: str) -> np.ndarray:
    """``(256, 3)`` uint8 lookup table of the colormap ``name``."""
    if name not in CONTROL_POINTS:
        raise ValueError(f"unknown colormap {name!r}; valid: {', '.join(CONTROL_POINTS)}")
    points = np.asarray(CONTROL_POINTS[name], dtype=np.float64)
    at = np.linspace(0, 1, len(points))
    grid = np.linspace(0, 1, 256)
    return np.stack([np.interp(grid, at, points[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)
