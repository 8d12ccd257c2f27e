"""Isosurfaces of a volume and of a CAM: the one implementation of the grid, the levels and the meshing
behind ``viewer.view_3d()`` and ``experiments.figure3.isosurfaces``.

- Grid: a volume of shape ``S`` is meshed on a grid ``G`` of at most ``max_voxels`` voxels, each grid
  voxel the mean of the input voxels it covers (adaptive average pooling: it smooths as it shrinks).
  Grid voxel ``g`` along an axis of ``n`` input and ``m`` grid voxels stands for input coordinate
  ``(g + 0.5) * n / m - 0.5``, so vertices are in the input's own voxel indices ``(z, y, x)``.
- Input level: the surface is of the grid smoothed by a Gaussian of ``SMOOTHING_SIGMA`` grid voxels
  (``s``), at ``level = P50(s) + INPUT_LEVEL_FRACTION * (P100(s) - P50(s))``: the median stands for the
  background, the maximum for the object, so white noise (SNR 0.1) that the smoothing has averaged
  down stays inside and the surface is the particle's (``tests/test_view3d.py`` checks it against the
  simulated particles' ground truth, where ``mean + 0.5 std`` of the raw volume draws a noise cloud).
- CAM levels: ``+f * max|cam|`` (the ``CAM > 0`` surface) and ``-f * max|cam|`` (``CAM < 0``), with
  ``max|cam|`` over the whole map and ``f`` in ``(0, 1)``.
- Meshing: marching cubes (Lewiner) on the grid; a surface of more than ``max_vertices`` vertices is
  meshed again with a marching-cubes step of ``ceil(sqrt(n / max_vertices))`` voxels (a surface's
  vertex count goes with its area), so the vertex count stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from skimage.measure import marching_cubes

MAX_VOXELS = 64**3
"""Grid voxels meshed at most (a 128^3 input is meshed on 64^3)."""
MAX_VERTICES = 60_000
"""Vertices of one surface at most (the browser draws three such surfaces interactively)."""
SMOOTHING_SIGMA = 1.0
"""Standard deviation (grid voxels) of the Gaussian the input is smoothed with before its level and surface."""
INPUT_LEVEL_FRACTION = 0.45
"""The input's default level: this fraction of the way from the smoothed volume's median to its maximum."""
CAM_LEVEL = 0.5
"""The CAM surfaces' default level, as a fraction of the map's max |value|."""


@dataclass(frozen=True)
class Grid:
    """A volume resampled for meshing: ``values`` ``(gz, gy, gx)`` standing for an input of ``shape``."""

    values: np.ndarray
    shape: tuple[int, int, int]

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Grid coordinates ``(n, 3)`` -> the input's voxel coordinates: ``(g + 0.5) * n / m - 0.5``."""
        ratio = np.asarray(self.shape, np.float64) / np.asarray(self.values.shape, np.float64)
        return (points + 0.5) * ratio - 0.5


@dataclass(frozen=True)
class Surface:
    """A triangle mesh: ``vertices`` ``(n, 3)`` float32 in input voxel coordinates ``(z, y, x)``, ``faces``
    ``(m, 3)`` int32 vertex indices; ``level`` is the value it was cut at, ``step`` the marching-cubes
    step (grid voxels) that kept it under the vertex bound."""

    vertices: np.ndarray
    faces: np.ndarray
    level: float
    step: int = 1

    @property
    def empty(self) -> bool:
        return len(self.faces) == 0

    @staticmethod
    def none(level: float) -> Surface:
        return Surface(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), float(level))


def grid_shape(shape: Sequence[int], max_voxels: int = MAX_VOXELS) -> tuple[int, int, int]:
    """``shape`` shrunk by one factor on every axis until it has at most ``max_voxels`` voxels (at least 2 per axis)."""
    factor = max(1.0, (math.prod(shape) / max_voxels) ** (1 / 3))
    return tuple(max(2, int(n / factor)) for n in shape)  # type: ignore[return-value]


def to_grid(volume: np.ndarray, shape: Sequence[int] | None = None, max_voxels: int = MAX_VOXELS) -> Grid:
    """``volume`` (``(D, H, W)``, possibly a downsampled copy of an input of ``shape``) as a meshing grid:
    adaptive average pooling to ``grid_shape(volume.shape, max_voxels)``."""
    if volume.ndim != 3:
        raise ValueError(f"isosurfaces need a volume (D, H, W), got shape {tuple(volume.shape)}")
    real = tuple(int(n) for n in (shape or volume.shape))
    target = grid_shape(volume.shape, max_voxels)
    values = torch.as_tensor(np.ascontiguousarray(volume), dtype=torch.float32)
    if target != tuple(volume.shape):
        values = F.adaptive_avg_pool3d(values[None, None], target)[0, 0]
    return Grid(values.numpy(), real)  # type: ignore[arg-type]


def smoothed(grid: Grid, sigma: float = SMOOTHING_SIGMA) -> Grid:
    """The grid after a Gaussian of ``sigma`` grid voxels (edges: nearest value)."""
    return Grid(gaussian_filter(grid.values, sigma, mode="nearest").astype(np.float32), grid.shape)


def input_level(smooth: Grid, fraction: float = INPUT_LEVEL_FRACTION) -> float:
    """The input's default level on its smoothed grid: ``P50 + fraction * (P100 - P50)``."""
    median, top = float(np.median(smooth.values)), float(smooth.values.max())
    return median + fraction * (top - median)


def value_range(grid: Grid) -> tuple[float, float]:
    return float(grid.values.min()), float(grid.values.max())


def cam_bound(cam: np.ndarray) -> float:
    """``max |cam|`` (0 for a map that is zero everywhere)."""
    return float(np.abs(cam).max()) if cam.size else 0.0


def mesh(grid: Grid, level: float, max_vertices: int = MAX_VERTICES) -> Surface:
    """The isosurface of ``grid`` at ``level`` (empty when the level is outside the grid's values)."""
    values = grid.values
    if not values.min() < level < values.max():
        return Surface.none(level)
    step = 1
    while True:
        vertices, faces, _, _ = marching_cubes(values, level, step_size=step, allow_degenerate=False)
        if len(vertices) <= max_vertices or step >= max(values.shape) // 4:
            break
        step = max(step + 1, math.ceil(step * math.sqrt(len(vertices) / max_vertices)))
    return Surface(grid.to_input(vertices).astype(np.float32), faces.astype(np.int32), float(level), step)


def cam_surface(grid: Grid, bound: float, fraction: float, kind: str, max_vertices: int = MAX_VERTICES) -> Surface:
    """``kind`` ``"positive"``: CAM > 0 at ``+fraction * bound``; ``"negative"``: CAM < 0 at ``-fraction * bound``
    (meshed on ``-cam``, so it is oriented outwards too)."""
    level = fraction * bound
    sign = 1.0 if kind == "positive" else -1.0
    if bound <= 0:
        return Surface.none(sign * level)
    surface = mesh(grid if sign > 0 else Grid(-grid.values, grid.shape), level, max_vertices)
    return Surface(surface.vertices, surface.faces, sign * level, surface.step)


def cam_surfaces(grid: Grid, bound: float, fraction: float, max_vertices: int = MAX_VERTICES) -> tuple[Surface, Surface]:
    """``(CAM > 0, CAM < 0)`` at ``+-fraction * bound``."""
    return tuple(cam_surface(grid, bound, fraction, kind, max_vertices) for kind in ("positive", "negative"))  # type: ignore[return-value]


class Latest:
    """Memo of one value: ``get(source, key, compute)`` returns the last result while ``source`` is the
    same object (identity: an array or a trait's dict) and ``key`` is equal; else it computes again."""

    def __init__(self) -> None:
        self._source: object = None
        self._key: Hashable = None
        self._value: object = None
        self.computed = 0
        """How many times ``compute`` ran (tests count re-meshes with it)."""

    def get(self, source: object, key: Hashable, compute: Callable[[], object]):
        if self._value is None or source is not self._source or key != self._key:
            self._value, self._source, self._key = compute(), source, key
            self.computed += 1
        return self._value


class SurfaceCache:
    """The surfaces of a 3D view, each meshed again only when what it is cut from changed: the input's
    smoothed grid by its source (identity), its surface by (source, level); the CAM's grid by its
    source, each CAM surface by (source, fraction). ``values()`` gives a source's volume when needed."""

    def __init__(self, max_voxels: int = MAX_VOXELS, max_vertices: int = MAX_VERTICES) -> None:
        self.max_voxels, self.max_vertices = max_voxels, max_vertices
        self.input_grids, self.input_surfaces, self.cam_grids = Latest(), Latest(), Latest()
        self.cam_meshes = {"positive": Latest(), "negative": Latest()}

    def input_grid(self, source: object, values: Callable[[], np.ndarray], shape: Sequence[int]) -> Grid:
        """The smoothed grid of the input (its level's range and default come from it)."""
        return self.input_grids.get(source, None, lambda: smoothed(to_grid(values(), shape, self.max_voxels)))

    def input_surface(self, source: object, values: Callable[[], np.ndarray], shape: Sequence[int],
                      level: float) -> Surface:
        grid = self.input_grid(source, values, shape)
        return self.input_surfaces.get(source, level, lambda: mesh(grid, level, self.max_vertices))

    def cam_grid(self, source: object, values: Callable[[], np.ndarray], shape: Sequence[int]) -> tuple[Grid, float]:
        """The CAM's grid and ``max |cam|`` over the whole (not pooled) map."""
        def compute():
            cam = values()
            return to_grid(cam, shape, self.max_voxels), cam_bound(cam)
        return self.cam_grids.get(source, None, compute)

    def cam_surface(self, source: object, values: Callable[[], np.ndarray], shape: Sequence[int],
                    fraction: float, kind: str) -> Surface:
        """``"positive"`` (CAM > 0) or ``"negative"`` (CAM < 0) at ``fraction`` of the map's max |value|."""
        grid, bound = self.cam_grid(source, values, shape)
        return self.cam_meshes[kind].get(source, fraction,
                                         lambda: cam_surface(grid, bound, fraction, kind, self.max_vertices))
