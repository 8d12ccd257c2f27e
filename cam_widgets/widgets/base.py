"""What every explainer widget shares: the busy / error / notice traits, one computation per change
set (the browser sends held changes together), map encoding, and the PNG of the main panel that the
notebook keeps as a static fallback where no kernel runs."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t
from torch import Tensor

from .codec import decode_array, encode_array
from .colormaps import SEQUENTIAL
from .render import compose, png_bytes, with_png_fallback


def encode_map(values: Tensor, signed: bool) -> dict:
    """A CAM for the browser: uint8 over its range, or over ``[-m, m]`` for signed maps (0 at the centre)."""
    if signed:
        bound = float(values.abs().max())
        return encode_array(values, -bound, bound)
    return encode_array(values)


class ExplainerWidget(anywidget.AnyWidget):
    """Base of the CAM widgets: subclasses define ``image``, ``cam``, ``cam_signed``, ``opacity``,
    ``colormap`` and ``slice_index`` traits, and call ``_compute_once``."""

    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    notice = t.Unicode("").tag(sync=True)

    def __init__(self, **kwargs):
        self._computed: Hashable | None = None
        super().__init__(**kwargs)

    def _compute_once(self, key: Hashable, compute: Callable[[], None]) -> None:
        """Run ``compute`` (which sets traits) unless ``key`` was computed last; show its error instead
        of raising, and keep the widget working. Observers see the new traits together, and the
        browser gets them in one message."""
        if key == self._computed:
            return
        self.busy = True
        try:
            with self.hold_sync(), self.hold_trait_notifications():
                compute()
                self._computed, self.error = key, ""
        except Exception as error:
            self.error, self._computed = f"{type(error).__name__}: {error}", None
        finally:
            self.busy = False

    def _fail(self, message: str) -> None:
        self.error, self._computed = message, None

    # --- static rendering ------------------------------------------------------------------------

    def _panel_slice(self, volume: np.ndarray) -> np.ndarray:
        """The 2D slice the main panel shows (subclasses with an axis control override it)."""
        if volume.ndim == 3:
            return volume[min(max(self.slice_index, 0), volume.shape[0] - 1)]
        return volume

    def _panel_window(self) -> tuple[float, float] | None:
        return None

    def _panel_relu(self) -> bool:
        return False

    def _main_panel(self) -> np.ndarray:
        """The main panel as RGB, composed exactly as the browser does."""
        image, cam = self._panel_slice(decode_array(self.image)), self._panel_slice(decode_array(self.cam))
        colormap = self.colormap if self.colormap in SEQUENTIAL else "inferno"
        return compose(image, cam, (self.image["vmin"], self.image["vmax"]), (self.cam["vmin"], self.cam["vmax"]),
                       self.cam_signed, colormap, self.opacity, self._panel_window(), self._panel_relu())

    def save_png(self, path: str | Path, scale: int = 4) -> Path:
        """Write what the main panel shows (slice, overlay, opacity, colormap, window) as a PNG."""
        path = Path(path)
        path.write_bytes(png_bytes(self._main_panel(), scale))
        return path

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or not self.cam:
            return bundle
        return with_png_fallback(bundle, self._main_panel(), 3)
