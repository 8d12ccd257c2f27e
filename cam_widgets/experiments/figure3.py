"""Respond-CAM paper, Figure 3: Grad-CAM against Respond-CAM on the same subtomograms.

Each row is one volume: its central slice, then Grad-CAM and Respond-CAM at the evaluation layer
(upsampled to the input, the method's own ReLU applied: Grad-CAM's maps are >= 0, Respond-CAM's are
signed and shown with a diverging colormap centred on 0). ``isosurfaces`` draws the paper's upper
half: an isosurface of the volume with the positive and negative CAM contours, meshed as the 3D view
of a viewer meshes them (``viewer.view_3d()``).
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..explainer import CAMExplainer
from ..resample import normalize
from ..widgets import isosurfaces as iso
from ..widgets.view3d_figure import KINDS, scene_layout, surface_trace

METHODS = ("gradcam", "respondcam")


def _central_slice(volume: torch.Tensor) -> torch.Tensor:
    return volume[volume.shape[0] // 2]


def slices(explainer: CAMExplainer, x: torch.Tensor, titles: list[str] | None = None) -> go.Figure:
    """Central z-slices of each volume in ``x`` (B, 1, D, H, W) with its Grad-CAM and Respond-CAM
    for the predicted class, each map scaled by its own max |value|."""
    maps = {m: explainer.explain(x, method=m).map for m in METHODS}
    rows = len(x)
    fig = make_subplots(rows=rows, cols=3, column_titles=["input (central slice)", "Grad-CAM", "Respond-CAM"],
                        row_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.02)
    for r in range(rows):
        fig.add_trace(go.Heatmap(z=_central_slice(x[r, 0]), colorscale="gray", showscale=False), r + 1, 1)
        for c, method in enumerate(METHODS, start=2):
            shown = normalize(_central_slice(maps[method][r])[None], signed=True)[0]
            fig.add_trace(go.Heatmap(z=shown, colorscale="RdBu_r", zmin=-1, zmax=1, showscale=(r == 0 and c == 3)),
                          r + 1, c)
    fig.update_xaxes(visible=False, scaleanchor="y").update_yaxes(visible=False)
    fig.update_layout(height=220 * rows, width=700, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def isosurfaces(explainer: CAMExplainer, volume: torch.Tensor, method: str = "respondcam",
                input_level: float | None = None, cam_level: float = iso.CAM_LEVEL) -> go.Figure:
    """The paper's upper panels for ``volume`` (1, D, H, W) and its predicted class: the volume's
    isosurface with the CAM's positive (red) and negative (blue) contours at ``+-cam_level`` of the
    map's max |value|. The meshing, the levels (``input_level=None``: the default from the data, of the
    smoothed volume) and the traces are the 3D view's (``widgets.isosurfaces``, ``widgets.view3d_figure``)."""
    cam = explainer.explain(volume[None], method=method).map[0].detach().cpu().numpy()
    density = volume[0].detach().cpu().numpy()
    smooth = iso.smoothed(iso.to_grid(density))
    level = iso.input_level(smooth) if input_level is None else float(input_level)
    positive, negative = iso.cam_surfaces(iso.to_grid(cam), iso.cam_bound(cam), cam_level)
    surfaces = {"input": iso.mesh(smooth, level), "positive": positive, "negative": negative}
    opacity = {"input": 0.6, "positive": 0.45, "negative": 0.45}
    fig = go.Figure([surface_trace(surfaces[kind], kind, opacity[kind]) for kind in KINDS])
    fig.update_layout(scene_layout(density.shape, title=f"{method}: volume isosurface (level {level:.3g}) with "
                                   f"CAM > 0 (red) and CAM < 0 (blue) at ±{cam_level:g} × max|CAM|"))
    fig.update_layout(width=640, autosize=False)
    return fig
