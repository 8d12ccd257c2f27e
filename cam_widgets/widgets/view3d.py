"""The 3D view of a viewer: isosurfaces of the input and of the CAM (Plotly), meshed by marching
cubes on a copy downsampled to at most ``max_side`` voxels per axis, so it stays responsive at 128^3."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from skimage.measure import marching_cubes

from ..resample import upsample
from .codec import decode_array


def _downsample(volume: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    factor = max(volume.shape) / max_side
    if factor <= 1:
        return volume, 1.0
    shape = tuple(max(2, int(n / factor)) for n in volume.shape)
    return upsample(torch.from_numpy(np.ascontiguousarray(volume)), shape).numpy(), factor


def _mesh(volume: np.ndarray, level: float, color: str, opacity: float, name: str, scale: float) -> go.Mesh3d:
    if not volume.min() < level < volume.max():
        return go.Mesh3d(x=[], y=[], z=[], name=name)
    verts, faces, _, _ = marching_cubes(volume, level)
    verts = verts * scale
    return go.Mesh3d(x=verts[:, 2], y=verts[:, 1], z=verts[:, 0], i=faces[:, 0], j=faces[:, 1], k=faces[:, 2],
                     color=color, opacity=opacity, name=name, showlegend=True)


@dataclass
class IsosurfaceFigure:
    viewer: object
    widget: go.FigureWidget
    level: float
    max_side: int

    def meshes(self) -> list[go.Mesh3d]:
        """Input at mean + level * std; the CAM at +-50% of its max |value| (red > 0, blue < 0)."""
        image, scale = _downsample(_grey(self.viewer.image), self.max_side)
        cam, _ = _downsample(decode_array(self.viewer.cam), self.max_side)
        bound = float(np.abs(cam).max()) or 1.0
        return [
            _mesh(image, float(image.mean() + self.level * image.std()), "lightgrey", 0.3, "input", scale),
            _mesh(cam, 0.5 * bound, "crimson", 0.55, "CAM > 0", scale),
            _mesh(-cam, 0.5 * bound, "royalblue", 0.55, "CAM < 0", scale),
        ]

    def refresh(self) -> None:
        with self.widget.batch_update():
            for trace, mesh in zip(self.widget.data, self.meshes()):
                trace.update(x=mesh.x, y=mesh.y, z=mesh.z, i=mesh.i, j=mesh.j, k=mesh.k)


def _grey(encoded: dict) -> np.ndarray:
    """The image's values; a colour image's channel mean (its isosurface is of the intensity)."""
    values = decode_array(encoded)
    return values.mean(0) if encoded.get("rgb") else values


def isosurface_figure(viewer, level: float = 0.5, max_side: int = 64) -> IsosurfaceFigure:
    if len(viewer.image.get("shape", [])) - bool(viewer.image.get("rgb")) != 3:
        raise ValueError("the 3D view needs a volume; this viewer shows a 2D image")
    figure = IsosurfaceFigure(viewer, go.FigureWidget(), level, max_side)
    for mesh in figure.meshes():
        figure.widget.add_trace(mesh)
    figure.widget.update_layout(height=450, margin=dict(l=0, r=0, t=30, b=0), title="isosurfaces: input and CAM",
                                scene=dict(aspectmode="data"))
    return figure
