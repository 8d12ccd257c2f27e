"""``View3DControls``: the 3D view's own anywidget, the header of the panel: its title, the levels,
the opacities, which surfaces are shown, the surfaces' status, and the notebook's theme (``theme``, set
by the browser: ``js/src/shared/theme.js``), which the Plotly figure follows.

A value set from Python is checked as the browser's controls bound it: in the constructor an invalid
one raises ``ValueError``; afterwards it is refused, ``error`` says why and the control keeps its value.
"""

from __future__ import annotations

import math

import anywidget
import traitlets as t

from .static_files import css, esm
from .validation import Boolean, Real, fraction, one_of

CONTROLS = ("input_level", "input_auto", "cam_level", "input_opacity", "cam_opacity", "show_input", "show_positive",
            "show_negative")
"""The traits a user sets (the panel ``View3D`` offers each as an attribute too)."""


class View3DControls(anywidget.AnyWidget):
    _esm = esm("view3d.js")
    _css = css("view3d.css")

    # set by Python
    title = t.Unicode("").tag(sync=True)
    input_range = t.List(Real(), default_value=[0.0, 1.0]).tag(sync=True)
    """The smoothed input's ``[min, max]``: the input level's slider spans it."""
    colours = t.Dict().tag(sync=True)
    """``{"input", "positive", "negative"}`` -> the surfaces' CSS colours (the figure's)."""
    notes = t.Unicode("").tag(sync=True)
    """Each surface's size, or why it is empty."""
    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    # controls
    input_level = Real(0.0).tag(sync=True)
    """The level of the input's surface, in the smoothed input's values."""
    input_auto = Boolean(True).tag(sync=True)
    """The input level follows the data (its default for each new image); setting ``input_level`` ends it."""
    cam_level = Real(0.5).tag(sync=True)
    """The CAM surfaces' level as a fraction of the map's max |value|: ``+-cam_level * max|cam|``."""
    input_opacity = Real(0.6).tag(sync=True)
    cam_opacity = Real(0.45).tag(sync=True)
    show_input = Boolean(True).tag(sync=True)
    show_positive = Boolean(True).tag(sync=True)
    show_negative = Boolean(True).tag(sync=True)
    # set by the browser
    theme = t.Unicode("light").tag(sync=True)
    background = t.Unicode("").tag(sync=True)
    foreground = t.Unicode("").tag(sync=True)
    """The header's CSS background and text colours in this theme: the figure's paper and font."""
    width = t.Int(0).tag(sync=True)
    """The panel's width in CSS pixels (0: not shown yet): the figure is sized to it (Plotly's widget does
    not follow its container by itself)."""

    def __init__(self, **traits):
        self._constructed = False
        self._refused = ""
        super().__init__(**traits)
        self._constructed = True

    @t.validate("input_level", "cam_level", "input_opacity", "cam_opacity", "theme")
    def _validate(self, proposal: dict) -> object:
        name, value = proposal["trait"].name, proposal["value"]
        try:
            value = check_control(name, value, self.input_range)
        except ValueError as problem:
            if not self._constructed:
                raise
            self._refused = self.error = f"{name} = {value!r} was not applied (kept {getattr(self, name)!r}): {problem}"
            return getattr(self, name)
        if self._refused and self.error == self._refused:
            self._refused = self.error = ""
        return value


def check_control(name: str, value: object, input_range: list[float]) -> object:
    """``value`` of the control ``name`` if the browser's control could show it, else ``ValueError``."""
    if name == "input_level":
        low, high = input_range
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"input_level must be within the smoothed input's range {low:.4g}..{high:.4g}, got {value}")
        return value
    if name == "cam_level":
        if not (math.isfinite(value) and 0.0 < value < 1.0):
            raise ValueError(f"cam_level is a fraction of the CAM's max |value|, between 0 and 1 (exclusive), got {value}")
        return value
    if name in ("input_opacity", "cam_opacity"):
        return fraction(value, name)
    if name == "theme":
        return one_of(value, ("light", "dark"), "theme")
    raise NotImplementedError(f"no check for the control {name!r}")
