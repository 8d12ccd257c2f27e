"""``ExportMixin``: one picture of a widget (``figure.widget_figure``) for ``save_png``, the browser's PNG
button and the static fallback a saved notebook shows where no kernel runs.

The PNG button sends the custom message ``{"type": "png", "scale": s}``; the answer is
``{"type": "png", "filename": ...}`` with the PNG bytes as its one buffer (or ``{"type": "error"}``).

The notebook's picture follows the state. ``_ipython_display_`` shows the live widget, then the picture
in a second output with a display id, whose data also names the widget mime type with an empty model
id: JupyterLab's widget renderer hides such an output (it creates no view), while nbconvert, GitHub and
other viewers without the widget state show its ``image/png``. ``_refresh_static_png`` replaces that
output's data (``update_display_data``), debounced to at most one update per ``STATIC_INTERVAL``
seconds on the event loop of the thread that handled the change, and only when the PNG changed; changes
made by a cell are flushed at the end of that cell (IPython's ``post_run_cell``), so an executed notebook
keeps its final state.
Updating the widget's own output instead would make JupyterLab render it again: a new view each
time (flicker, lost focus) while the old one is never disposed (``STATIC_OUTPUT = "same"`` does it).
"""

from __future__ import annotations

import asyncio
import base64
import numbers
import re
import time
import warnings
import weakref
from pathlib import Path

import numpy as np

from .figure import main_panel, widget_figure
from .render import png_bytes

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MAX_SCALE = 8

_pending: weakref.WeakSet = weakref.WeakSet()  # widgets whose static picture waits for a refresh
_hooked: set[int] = set()  # ids of the IPython shells that flush ``_pending`` after each cell


def _shell():
    """The IPython shell when this runs in a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def kernel_loop():
    """The event loop running in this thread when this runs in a Jupyter kernel, else None. JupyterLab
    sends widget messages to a kernel subshell (a thread of its own), so this is the loop of the thread
    handling the current message or cell, not necessarily ``kernel.io_loop`` of the main thread."""
    if _shell() is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _flush_pending(result=None) -> None:
    """After each cell (IPython's ``post_run_cell``; ``post_execute`` would also fire after every comm
    message, where the debounce must hold)."""
    for widget in list(_pending):
        widget._publish_static_png()


class ExportMixin:
    """The PNG export of a widget: a mixin placed before the ipywidgets class (``anywidget.AnyWidget``,
    ``ipywidgets.VBox``), whose ``picture`` it exports. ``png_filename`` and ``picture`` are what another
    widget overrides."""

    STATIC_SCALE = 1
    """Scale of the picture in the notebook's output (at least 256 px wide)."""
    STATIC_MAX_SIDE = 512
    """Panels larger than this are subsampled in the notebook's picture (a 1024^2 image would add megabytes)."""
    STATIC_INTERVAL = 1.0
    """At most one refresh of the notebook's picture per this many seconds."""
    STATIC_OUTPUT = "separate"
    """``"separate"``: the picture in its own (hidden in JupyterLab) output; ``"same"``: in the widget's."""

    # --- the picture ---------------------------------------------------------------------------------

    def picture(self, scale: int = 1, max_side: int | None = None) -> np.ndarray | None:
        """The widget's picture ``(H, W, 3)`` uint8 at ``scale``, panels over ``max_side`` subsampled: the
        one image behind ``static_png``, ``save_png``, the PNG button and the notebook's fallback. CAM
        widgets draw every panel shown (``figure.widget_figure``); other widgets override this (None:
        nothing shown yet, so no picture)."""
        return widget_figure(self, scale, max_side)

    def static_png(self, scale: int = 2) -> bytes:
        """The widget's picture as PNG bytes: every panel shown, with titles and colour bars, at ``scale``."""
        picture = self.picture(_checked_scale(scale))
        if picture is None:
            raise ValueError(f"{type(self).__name__} shows nothing yet, so there is no picture to export")
        return png_bytes(picture)

    def save_png(self, path: str | Path, scale: int = 2) -> Path:
        """Write the widget's picture (``static_png(scale)``, the PNG button's file) to ``path``."""
        path = Path(path)
        path.write_bytes(self.static_png(scale))
        return path

    def png_filename(self) -> str:
        """A file name for the picture, e.g. ``cam_gradcam_layer4_class3.png``."""
        target = int(self.target_class)
        parts = ["cam", self.method, self.layer, f"class{target}" if target >= 0 else "noclass"]
        if self.compare:
            parts.insert(2, f"vs_{self.compare_method}")
        return png_name(parts)

    def _main_panel(self) -> np.ndarray:
        """The main panel alone at data resolution, as the browser's main canvas shows it."""
        return main_panel(self)

    # --- the browser's PNG button ----------------------------------------------------------------------

    def _handle_export_message(self, widget, content, buffers) -> None:
        """Answer ``{"type": "png", "scale": s}`` with the picture (``on_msg`` callback)."""
        if not isinstance(content, dict) or content.get("type") != "png":
            return
        try:
            png = self.static_png(content.get("scale", 2))
        except Exception as problem:  # the browser shows the reason
            self.send({"type": "error", "message": f"PNG export failed: {type(problem).__name__}: {problem}"})
            return
        self.send({"type": "png", "filename": self.png_filename()}, [png])

    # --- the notebook's static fallback ----------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs):
        """The widget's mime bundle with its picture as ``image/png``."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        png = self._static_png_or_none()
        if png is not None:
            data = bundle[0] if isinstance(bundle, tuple) else bundle
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle

    def _ipython_display_(self) -> None:
        """Show the live widget and, in a kernel, its picture in an output that state changes refresh."""
        from IPython.display import display

        represent = self._repr_mimebundle_  # ipywidgets sets it to None when the widget is closed
        bundle = represent() if callable(represent) else None
        if bundle is None:
            display({"text/plain": repr(self)}, raw=True)
            return
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        shell = _shell()
        if shell is None:
            display(data, metadata=metadata, raw=True)
            return
        self._static_display_id = f"cam-widgets-{self.model_id}"
        self._static_published = base64.b64decode(data["image/png"]) if "image/png" in data else None
        if self.STATIC_OUTPUT == "same":
            display(data, metadata=metadata, raw=True, display_id=self._static_display_id)
        else:
            live = {key: value for key, value in data.items() if key != "image/png"}
            display({**live, "text/plain": ""}, metadata=metadata, raw=True)
            display(self._static_bundle(self._static_published), raw=True, display_id=self._static_display_id)
        if id(shell) not in _hooked:
            shell.events.register("post_run_cell", _flush_pending)
            _hooked.add(id(shell))

    def _refresh_static_png(self) -> None:
        """Ask for the notebook's picture to follow the state (debounced; nothing outside a kernel or
        before the widget was displayed)."""
        if getattr(self, "_static_display_id", None) is None or getattr(self, "comm", None) is None:
            return
        _pending.add(self)
        loop = kernel_loop()
        if loop is None or getattr(self, "_static_timer", False):
            return  # outside an event loop (a cell's code): published after the cell
        self._static_timer = True
        delay = max(0.2, getattr(self, "_static_last", 0.0) + self.STATIC_INTERVAL - time.monotonic())
        loop.call_later(delay, self._static_timer_fired)

    def _static_timer_fired(self) -> None:
        self._static_timer = False
        self._publish_static_png()

    def _publish_static_png(self) -> None:
        """Publish the current picture to the display id, if a refresh is pending and the PNG changed."""
        if self not in _pending:
            return
        _pending.discard(self)
        if getattr(self, "comm", None) is None:
            return
        png = self._static_png_or_none()
        if png is None or png == getattr(self, "_static_published", None):
            return
        from IPython.display import update_display

        self._static_published, self._static_last = png, time.monotonic()
        if self.STATIC_OUTPUT == "same":
            data, metadata = super()._repr_mimebundle_()  # type: ignore[misc]
            data["image/png"] = base64.b64encode(png).decode("ascii")
            update_display(data, metadata=metadata, raw=True, display_id=self._static_display_id)
        else:
            update_display(self._static_bundle(png), raw=True, display_id=self._static_display_id)

    def _static_bundle(self, png: bytes | None) -> dict:
        """The data of the picture's own output: hidden by JupyterLab's widget renderer (empty model id),
        ``image/png`` everywhere else."""
        data = {WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": ""},
                "text/plain": f"<{type(self).__name__} picture>"}
        if png is not None:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return data

    def _static_png_or_none(self) -> bytes | None:
        try:
            picture = self.picture(self.STATIC_SCALE, self.STATIC_MAX_SIDE)
            return None if picture is None else png_bytes(picture)
        except Exception as problem:  # a broken picture must not break the live widget
            warnings.warn(f"{type(self).__name__}: no static picture ({type(problem).__name__}: {problem})",
                          RuntimeWarning, stacklevel=2)
            return None


def png_name(parts, fallback: str = "cam") -> str:
    """``parts`` joined by ``_`` as a portable file name (runs of other characters than letters, digits,
    ``.`` and ``-`` become one ``_``), with ``.png``; ``fallback`` when nothing is left."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", "_".join(str(p) for p in parts)).strip("_.")
    return f"{name or fallback}.png"


def _checked_scale(scale: object) -> int:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be an integer 1..{MAX_SCALE}, got {scale!r}")
    return int(scale)
