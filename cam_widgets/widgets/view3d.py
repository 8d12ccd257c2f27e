"""``View3D``: the 3D view of a viewer (``viewer.view_3d()``), a panel to keep open beside it.

    view = viewer.view_3d()          # header (title, levels, opacities, surfaces shown), then the figure
    view.cam_level = 0.3             # every control is an attribute (checked as the browser bounds it)
    view.figure                      # the Plotly FigureWidget: "input", "CAM > 0" (red), "CAM < 0" (blue)

The surfaces (``isosurfaces.py``): the input's, of the input smoothed on the meshing grid, at a level from
the data by default; the CAM's at ``+-cam_level * max|cam|``. The figure follows the viewer: a new image
re-meshes the input, a new map the CAM surfaces, a level only its own surface(s); an opacity or a
visibility is a restyle, the theme and the width a relayout. Nothing is meshed while the viewer explains
or the browser draws its change: in a kernel the update waits for the header's answer that the page has
drawn and is idle, serves every change noted meanwhile, and runs one surface per turn of the event loop
(``view3d_schedule``; outside a kernel at once; ``refresh()`` finishes a pending update now). Every trace
is built with all its properties (name, colour, opacity, visibility, legend entry; ``view3d_figure``), an
empty one too, so the browser's copy is complete from the start and Plotly sends what changed; the camera
is never sent (``uirevision`` is constant). The panel's picture (static fallback, ``save_png``) is
``view3d_picture.picture``.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
import plotly.graph_objects as go

from .codec import decode_array
from .export import ExportMixin, png_name
from .figure import class_name
from .isosurfaces import CAM_LEVEL, MAX_VERTICES, MAX_VOXELS, Grid, Surface, SurfaceCache, input_level, value_range
from .view3d_controls import CONTROLS, View3DControls
from .view3d_figure import COLOURS, KINDS, NAMES, scene_layout, surface_trace, theme_layout
from .view3d_schedule import DeferredUpdates

MIN_WIDTH = 240
"""The narrowest figure (CSS px) the panel sizes; narrower reports leave the figure as it is."""
_VIEWER_TRAITS = {"image": "image", "cam": "cam", "sample": "title", "target_class": "title", "method": "title",
                  "layer": "title", "class_names": "title"}
_CONTROL_PARTS = {"input_level": "input", "cam_level": "cam", "input_opacity": "style", "cam_opacity": "style",
                  "show_input": "style", "show_positive": "style", "show_negative": "style"}


def volume_of(encoded: dict) -> np.ndarray:
    """The values of a widget's ``image`` or ``cam``; a colour image's channel mean (its intensity)."""
    values = decode_array(encoded)
    return values.mean(0) if encoded.get("rgb") else values


def title_of(viewer) -> str:
    """``"sample 3 · class ring · respondcam · maxpool2"``: what the surfaces show."""
    cls = class_name(viewer.class_names, int(viewer.target_class))
    return f"sample {getattr(viewer, 'sample', 0)} · class {cls} · {viewer.method} · {viewer.layer}"


class View3D(DeferredUpdates, ExportMixin, ipywidgets.VBox):
    """Isosurfaces of a viewer's input and CAM (see the module doc). ``max_voxels``: the meshing grid's
    size at most; ``max_vertices``: one surface's vertices at most; further keyword arguments set the
    controls (``input_level``, ``cam_level``, ``input_opacity``, ``cam_opacity``, ``show_input``,
    ``show_positive``, ``show_negative``)."""

    def __init__(self, viewer, max_voxels: int = MAX_VOXELS, max_vertices: int = MAX_VERTICES, **controls):
        image = viewer.image
        if len(image.get("shape", [])) - bool(image.get("rgb")) != 3:
            raise ValueError("the 3D view needs a volume; this viewer shows a 2D image")
        unknown = sorted(set(controls) - set(CONTROLS))
        if unknown:
            raise TypeError(f"view_3d() got an unexpected keyword argument {unknown[0]!r}")
        self.viewer = viewer
        self._cache = SurfaceCache(max_voxels, max_vertices)
        self._init_updates()
        self._applying = False  # the panel sets a control itself (no user's choice)
        grid = self._input_grid()
        if "input_level" in controls:
            controls.setdefault("input_auto", False)
        self.controls = View3DControls(
            title=title_of(viewer), input_range=list(value_range(grid)), colours=dict(COLOURS),
            **{"input_level": input_level(grid), "cam_level": CAM_LEVEL, **controls})
        self._surfaces = {"input": self._cache.input_surface(viewer.image, self._input_values, self._shape(),
                                                             self.controls.input_level),
                          **{kind: self._cam_surface(kind) for kind in ("positive", "negative")}}
        self.figure = go.FigureWidget(data=[self._trace(kind) for kind in KINDS],
                                      layout=scene_layout(self._shape(), self.controls.theme))
        self.controls.notes = self._notes()
        super().__init__(children=[self.controls, self.figure])
        self.add_class("cam-view3d-panel")
        self._observers = [(viewer, self._on_viewer, list(_VIEWER_TRAITS)),
                           (self.controls, self._on_control, [*_CONTROL_PARTS, "input_auto"]),
                           (self.controls, self._on_theme, ["theme", "background", "foreground"]),
                           (self.controls, self._on_width, ["width"])]
        for widget, handler, names in self._observers:
            widget.observe(handler, names=names)
        self.controls.on_msg(self._on_message)

    # --- the Python API ----------------------------------------------------------------------------

    @property
    def title(self) -> str:
        return self.controls.title

    @property
    def surfaces(self) -> dict[str, Surface]:
        """The surfaces on screen: ``"input"``, ``"positive"`` (CAM > 0), ``"negative"`` (CAM < 0)."""
        return dict(self._surfaces)

    def close(self) -> None:
        """Stop following the viewer and close the header and the figure too."""
        for widget, handler, names in getattr(self, "_observers", []):
            widget.unobserve(handler, names=names)
        self._observers = []
        super().close()  # first the panel, whose views take the figure's with them (Plotly's view
        for part in ("controls", "figure"):  # complains when its model is closed under it)
            if hasattr(self, part):
                getattr(self, part).close()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{NAMES[k]}: {'none' if s.empty else len(s.vertices)}" for k, s in self._surfaces.items())
        return f"<View3D {self.title}; {sizes}>"

    def png_filename(self) -> str:
        return png_name(["view3d", self.title], "view3d")

    def picture(self, scale: int = 1, max_side: int | None = None) -> np.ndarray:
        """The three maximum-intensity projections of the smoothed input with the outlines of the CAM
        surfaces at the current levels (``view3d_picture``)."""
        from .view3d_picture import picture

        return picture(self, scale, max_side)

    # --- what changed ------------------------------------------------------------------------------

    def _on_viewer(self, change: dict) -> None:
        self._changed(_VIEWER_TRAITS[change["name"]])

    def _on_control(self, change: dict) -> None:
        name = change["name"]
        if self._applying:
            return
        if name == "input_level":
            self._set_controls(input_auto=False)
        elif name == "input_auto" and change["new"]:
            self._set_controls(input_level=input_level(self._input_grid()))
        self._changed(_CONTROL_PARTS.get(name, "input"))

    def _on_theme(self, change: dict) -> None:
        c = self.controls
        self.figure.update_layout(theme_layout(self._shape(), c.theme, c.background, c.foreground))

    def _on_width(self, change: dict) -> None:
        if change["new"] >= MIN_WIDTH:
            self.figure.update_layout(width=change["new"])

    def _set_controls(self, **values) -> None:
        self._applying = True
        try:
            for name, value in values.items():
                setattr(self.controls, name, value)
        finally:
            self._applying = False

    def _on_message(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "idle" and isinstance(content.get("token"), int):
            self._idle(content["token"])

    def _ask_idle(self, token: int) -> None:
        self.controls.send({"type": "idle?", "token": token})

    def _started(self) -> None:
        self.controls.busy = True

    def _finished(self, problem: Exception | None) -> None:
        controls = self.controls
        if problem is None:
            if controls.error.startswith("the 3D view could not update"):
                controls.error = ""
        else:
            controls.error = f"the 3D view could not update: {type(problem).__name__}: {problem}"
        controls.busy = False
        self._refresh_static_png()

    # --- the update ----------------------------------------------------------------------------------

    def _update(self, parts: set[str]):
        """The steps of an update (a generator; each ``yield`` ends one): mesh what ``parts`` asks for
        (each surface only if its source or level changed), then send the traces that changed, all
        their properties, and the header's title and notes."""
        surfaces = dict(self._surfaces)
        if "image" in parts:
            self._follow_image()
            yield
        if parts & {"image", "input"}:
            surfaces["input"] = self._cache.input_surface(self.viewer.image, self._input_values, self._shape(),
                                                          self.controls.input_level)
            yield
        if "cam" in parts:
            for kind in ("positive", "negative"):
                surfaces[kind] = self._cam_surface(kind)
                yield
        kinds = set(KINDS) if "style" in parts else {k for k in KINDS if surfaces[k] is not self._surfaces[k]}
        self._surfaces = surfaces
        with self.figure.batch_update():
            for index, kind in enumerate(KINDS):
                if kind in kinds:
                    props = self._trace(kind)
                    props.pop("type")
                    self.figure.data[index].update(props)
        with self.controls.hold_sync():
            self.controls.title, self.controls.notes = title_of(self.viewer), self._notes()

    def _follow_image(self) -> None:
        """A new image: the level's range follows it, and the level too while ``input_auto`` (or when the
        user's level is outside the new range)."""
        grid = self._input_grid()
        low, high = value_range(grid)
        level = self.controls.input_level
        self._set_controls(input_range=[low, high])
        if self.controls.input_auto or not low <= level <= high:
            self._set_controls(input_level=input_level(grid), input_auto=True)

    def _cam_surface(self, kind: str) -> Surface:
        cam = self.viewer.cam
        if not cam:
            return Surface.none(0.0)
        return self._cache.cam_surface(cam, lambda: volume_of(cam), self._shape(), self.controls.cam_level, kind)

    def _cam_grid(self) -> tuple[Grid | None, float]:
        """The CAM's meshing grid and ``max |cam|`` (``(None, 0)`` without a map)."""
        cam = self.viewer.cam
        if not cam:
            return None, 0.0
        return self._cache.cam_grid(cam, lambda: volume_of(cam), self._shape())

    def _trace(self, kind: str) -> dict:
        c = self.controls
        opacity = c.input_opacity if kind == "input" else c.cam_opacity
        visible = {"input": c.show_input, "positive": c.show_positive, "negative": c.show_negative}[kind]
        return surface_trace(self._surfaces[kind], kind, opacity, visible)

    def _notes(self) -> str:
        """Each surface's size, or why it is empty, for the header."""
        level = self.controls.cam_level
        notes = []
        for kind in KINDS:
            surface = self._surfaces[kind]
            if not surface.empty:
                notes.append(f"{NAMES[kind]}: {len(surface.vertices):,} vertices")
            elif kind == "input":
                notes.append("input: none at this level")
            elif kind == "negative" and not self.viewer.cam_signed:
                notes.append(f"{NAMES[kind]}: none ({self.viewer.method} maps are ≥ 0)")
            else:
                sign = "" if kind == "positive" else "−"
                notes.append(f"{NAMES[kind]}: none at {sign}{level:g} × max|CAM|")
        return " · ".join(notes)

    # --- the volumes -------------------------------------------------------------------------------

    def _shape(self) -> tuple[int, int, int]:
        """The input's real shape (``image`` may be a downsampled copy)."""
        shape = list(getattr(self.viewer, "input_shape", []) or [])
        image = self.viewer.image
        shown = image["shape"][1:] if image.get("rgb") else image["shape"]
        return tuple(shape) if len(shape) == 3 else tuple(shown)  # type: ignore[return-value]

    def _input_values(self) -> np.ndarray:
        return volume_of(self.viewer.image)

    def _input_grid(self) -> Grid:
        return self._cache.input_grid(self.viewer.image, self._input_values, self._shape())


def _control(name: str) -> property:
    def get(self: View3D):
        return getattr(self.controls, name)

    def set_(self: View3D, value) -> None:
        setattr(self.controls, name, value)

    return property(get, set_, doc=f"The control ``{name}`` (``View3DControls.{name}``).")


for _name in CONTROLS:
    setattr(View3D, _name, _control(_name))
