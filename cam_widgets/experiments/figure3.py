"""Respond-CAM paper, Figure 3: Grad-CAM against Respond-CAM on the same subtomograms.

Each row is one volume: its central slice, then Grad-CAM and Respond-CAM at the evaluation layer
(upsampled to the input, the method's own ReLU applied: Grad-CAM's maps are >= 0, Respond-CAM's are
signed and shown with a diverging colormap centred on 0). ``isosurfaces`` draws the paper's upper
half: an isosurface of the volume with the positive and negative CAM contours.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..explainer import CAMExplainer
from ..resample import normalize

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
                level: float = 0.5) -> go.Figure:
    """The volume's isosurface (at ``level`` std above its mean) with the CAM's contours at +-50% of
    its max |value| (red positive, blue negative), for the predicted class of ``volume`` (1, D, H, W)."""
    x = volume[None]
    cam = normalize(explainer.explain(x, method=method).map, signed=True)[0]
    density = volume[0]
    z, y, xx = torch.meshgrid(*(torch.arange(n, dtype=torch.float32) for n in density.shape), indexing="ij")
    coords = dict(x=xx.flatten(), y=y.flatten(), z=z.flatten())
    fig = go.Figure([
        go.Isosurface(**coords, value=density.flatten(), isomin=float(density.mean() + level * density.std()),
                      isomax=float(density.max()), surface_count=1, colorscale="gray", showscale=False, opacity=0.35,
                      caps=dict(x_show=False, y_show=False, z_show=False), name="volume"),
        go.Isosurface(**coords, value=cam.flatten(), isomin=0.5, isomax=1.0, surface_count=1, colorscale="Reds",
                      showscale=False, opacity=0.5, caps=dict(x_show=False, y_show=False, z_show=False), name="CAM > 0"),
        go.Isosurface(**coords, value=-cam.flatten(), isomin=0.5, isomax=1.0, surface_count=1, colorscale="Blues",
                      showscale=False, opacity=0.5, caps=dict(x_show=False, y_show=False, z_show=False), name="CAM < 0"),
    ])
    fig.update_layout(title=f"{method}: volume isosurface with positive (red) and negative (blue) CAM contours",
                      width=600, height=500, margin=dict(l=0, r=0, t=40, b=0))
    return fig
