"""The Plotly side of the 3D view, shared by ``viewer.view_3d()`` and ``experiments.figure3.isosurfaces``:
one ``Mesh3d`` per surface with every property it has (name, colour, opacity, visibility, legend entry),
sent in full on every update, and the scene's layout in the light or the dark theme.

Axes: Plotly's x, y, z are the volume's axes 2, 1, 0 (x, y, z of the viewer's ``(z, y, x)`` indices), in
the input's voxel indices; the ranges are the whole volume, so the box does not move when a surface
grows or shrinks. ``uirevision`` is constant: an update never resets the camera a user has turned.
"""

from __future__ import annotations

from collections.abc import Sequence

from .colormaps import CONTROL_POINTS, DIVERGING
from .isosurfaces import Surface

KINDS = ("input", "positive", "negative")
NAMES = {"input": "input", "positive": "CAM > 0", "negative": "CAM < 0"}


def _rgb(point: Sequence[int]) -> str:
    return f"rgb({point[0]}, {point[1]}, {point[2]})"


COLOURS = {
    "input": "rgb(140, 140, 140)",
    "positive": _rgb(CONTROL_POINTS[DIVERGING][-2]),  # the 2D map's red at +0.8 of its range (RdBu)
    "negative": _rgb(CONTROL_POINTS[DIVERGING][1]),  # and its blue at -0.8
}
"""Surface colours: the diverging colormap's red and blue near its ends (the very ends are almost black
once shaded), grey for the input."""
UIREVISION = "cam-widgets-view3d"
HEIGHT = 520

THEMES = {
    "light": {"template": "plotly_white", "font": "rgb(34, 34, 34)", "grid": "rgb(220, 220, 220)",
              "line": "rgb(170, 170, 170)", "back": "rgba(245, 245, 245, 0.6)"},
    "dark": {"template": "plotly_dark", "font": "rgb(224, 224, 224)", "grid": "rgb(70, 70, 70)",
             "line": "rgb(120, 120, 120)", "back": "rgba(40, 40, 40, 0.6)"},
}
"""The figure's colours per notebook theme; its paper is the header's background (transparent until the
browser has said)."""
LIGHTING = dict(ambient=0.55, diffuse=0.75, specular=0.15, roughness=0.6, fresnel=0.1)


def surface_trace(surface: Surface, kind: str, opacity: float, visible: bool = True) -> dict:
    """Every property of the ``Mesh3d`` of ``surface`` (an empty surface keeps its name and colour and
    has no legend entry)."""
    vertices, faces = surface.vertices, surface.faces
    name = NAMES[kind]
    return dict(
        type="mesh3d", name=name, x=vertices[:, 2], y=vertices[:, 1], z=vertices[:, 0],
        i=faces[:, 0], j=faces[:, 1], k=faces[:, 2], color=COLOURS[kind], opacity=float(opacity),
        visible=bool(visible), showlegend=not surface.empty, flatshading=False, lighting=LIGHTING,
        hovertemplate=f"{name}<br>x %{{x:.1f}}, y %{{y:.1f}}, z %{{z:.1f}}<extra></extra>",
    )


def _axis(title: str, size: int, colours: dict) -> dict:
    return dict(title=dict(text=title), range=[-0.5, size - 0.5], autorange=False, gridcolor=colours["grid"],
                linecolor=colours["line"], zerolinecolor=colours["line"], backgroundcolor=colours["back"],
                showbackground=True, color=colours["font"], tickfont=dict(size=11))


def theme_layout(shape: Sequence[int], theme: str, background: str = "", foreground: str = "") -> dict:
    """The layout properties that follow the theme (template, font, the scene's axes and background);
    ``background`` / ``foreground``: the notebook's colours around the figure (CSS), when known."""
    colours = dict(THEMES[theme], **({"font": foreground} if foreground else {}))
    d, h, w = shape
    return dict(
        template=colours["template"], paper_bgcolor=background or "rgba(0, 0, 0, 0)", plot_bgcolor="rgba(0, 0, 0, 0)",
        font=dict(color=colours["font"], size=12),
        legend=dict(font=dict(color=colours["font"])),
        scene=dict(xaxis=_axis("x", w, colours), yaxis=_axis("y", h, colours), zaxis=_axis("z", d, colours),
                   bgcolor="rgba(0, 0, 0, 0)"),
    )


def scene_layout(shape: Sequence[int], theme: str = "light", title: str = "") -> dict:
    """The whole layout of a 3D view of a volume of ``shape`` ``(D, H, W)``: the theme's colours, a box
    in proportion to the volume, the legend in one row above the scene, and a constant ``uirevision``."""
    d, h, w = shape
    longest = max(shape)
    layout = theme_layout(shape, theme)
    layout["scene"].update(aspectmode="manual", aspectratio=dict(x=w / longest, y=h / longest, z=d / longest),
                           camera=dict(eye=dict(x=1.4, y=1.4, z=0.85), center=dict(x=0, y=0, z=-0.12)), domain=dict(x=[0.04, 0.96], y=[0.0, 1.0]))
    layout["legend"].update(orientation="h", x=0.0, xanchor="left", y=1.0, yanchor="bottom", itemclick=False,
                            itemdoubleclick=False, bgcolor="rgba(0, 0, 0, 0)")
    layout.update(height=HEIGHT, autosize=True, showlegend=True, uirevision=UIREVISION,
                  margin=dict(l=0, r=0, t=64 if title else 32, b=0))
    if title:
        layout["title"] = dict(text=title, x=0.0, xanchor="left", y=0.98, yanchor="top")
    return layout
