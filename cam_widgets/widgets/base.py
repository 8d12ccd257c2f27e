"""What every explainer widget shares: the busy / error / notice traits, one computation per change
set (the browser sends held changes together), map encoding, and the PNG of the main panel that the
notebook keeps as a static fallback where no kernel runs."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

import anywidget
import numpy as np
import torch
import traitlets as t
from torch import Tensor

from ..explainer import CAMExplainer
from ..layers import resolve_layers
from ..methods import get_method
from .codec import decode_array, encode_array
from .colormaps import SEQUENTIAL
from .render import compose, png_bytes, with_png_fallback
from .validation import Integer, Real, fraction, index_in, one_of


def encode_map(values: Tensor, signed: bool) -> dict:
    """A CAM for the browser: uint8 over its range, or over ``[-m, m]`` for signed maps (0 at the centre)."""
    if signed:
        bound = float(values.abs().max())
        return encode_array(values, -bound, bound)
    return encode_array(values)


def own_copy(x: Tensor | np.ndarray) -> Tensor:
    """The widget's own copy of the user's input: the image it shows and the maps it explains come from
    the same values, whatever is later written into the user's array."""
    return (x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))).detach().clone()


def checked_explainer(explainer: object, widget: str) -> CAMExplainer:
    if not isinstance(explainer, CAMExplainer):
        raise TypeError(f"{widget} needs a CAMExplainer, got {type(explainer).__name__}")
    return explainer


def named_classes(class_names: Sequence[str] | None, n_classes: int) -> list[str]:
    """The class names shown (``"0" .. "C-1"`` by default), one per output class."""
    names = [str(c) for c in range(n_classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != n_classes:
        raise ValueError(f"got {len(names)} class names for a model with {n_classes} output classes")
    return names


class ExplainerWidget(anywidget.AnyWidget):
    """Base of the CAM widgets: the traits both widgets share, one check of every control value set
    from Python (``_check_trait``: invalid values are refused as the browser would clamp them, the
    widget shows why and keeps its last valid state; in the constructor they raise), and
    ``_compute_once``. Subclasses set ``self.explainer`` (``checked_explainer``) before calling
    ``__init__``, call ``_ready()`` at the end of theirs, and add their own checks to ``_check_trait``."""

    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    notice = t.Unicode("").tag(sync=True)
    # set by Python
    image = t.Dict().tag(sync=True)
    cam = t.Dict().tag(sync=True)
    cam_signed = t.Bool(False).tag(sync=True)
    compare = t.Dict().tag(sync=True)
    compare_signed = t.Bool(False).tag(sync=True)
    class_names = t.List(t.Unicode()).tag(sync=True)
    layers = t.List(t.Unicode()).tag(sync=True)
    methods = t.List(t.Unicode()).tag(sync=True)
    # controls that call Python
    layer = t.Unicode("").tag(sync=True)
    method = t.Unicode("gradcam").tag(sync=True)
    target_class = Integer(0).tag(sync=True)
    compare_method = t.Unicode("").tag(sync=True)
    # display controls (handled in the browser, observable here)
    slice_index = Integer(0).tag(sync=True)
    opacity = Real(0.5).tag(sync=True)
    colormap = t.Unicode("inferno").tag(sync=True)

    MIN_TARGET_CLASS = 0

    def __init__(self, **kwargs):
        self._computed: Hashable | None = None
        self._constructed = False
        self._refused = ""
        super().__init__(**kwargs)

    def _ready(self) -> None:
        """From now on an invalid value shows in the widget instead of raising."""
        self._constructed = True

    @t.validate("layer", "method", "compare_method", "target_class", "slice_index", "opacity", "colormap")
    def _validate_shared(self, proposal: dict) -> object:
        return self._accept(proposal["trait"].name, proposal["value"])

    def _accept(self, name: str, value: object) -> object:
        """``value`` checked (and normalised, e.g. a method alias to its name), or, when it is
        invalid after construction, the trait's current value with the reason in ``error``."""
        try:
            value = self._check_trait(name, value)
        except (ValueError, KeyError, TypeError) as problem:
            reason = problem.args[0] if isinstance(problem, KeyError) and problem.args else problem
            if not self._constructed:
                raise ValueError(f"{name}: {reason}") from None
            self._refused = self.error = f"{name} = {value!r} was not applied (kept {getattr(self, name)!r}): {reason}"
            return getattr(self, name)
        if self._refused and self.error == self._refused:
            self._refused = self.error = ""
        return value

    def _check_trait(self, name: str, value: object) -> object:
        """Check one control value; subclasses handle their own traits and defer the rest here."""
        if name == "layer":
            (resolved, _), = resolve_layers(self.explainer.model, [value]).items()
            if resolved not in self.layers:
                self.layers = [*self.layers, resolved]  # captured on demand: offer it in the select too
            return resolved
        if name == "method":
            return get_method(value).name
        if name == "compare_method":
            return get_method(value).name if value else ""
        if name == "target_class":
            n = len(self.class_names)
            if not self.MIN_TARGET_CLASS <= value < n:
                low = "-1 (none), 0" if self.MIN_TARGET_CLASS < 0 else "0"
                raise ValueError(f"target_class must be {low}..{n - 1} (the model has {n} classes), got {value}")
            return value
        if name == "slice_index":
            return index_in(value, self._slice_count(), "slice_index")
        if name == "opacity":
            return fraction(value, "opacity")
        if name == "colormap":
            return one_of(value, SEQUENTIAL, "colormap")
        raise NotImplementedError(f"no check for the trait {name!r}")

    def _slice_count(self) -> int:
        """How many slices the main panel's axis has (1 for 2D)."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Explain the current state again, e.g. after the model's weights or the explainer changed (a
        widget recomputes by itself only when one of its controls changes)."""
        self._computed = None
        self._recompute()

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
                self._computed, self.error, self._refused = key, "", ""
        except Exception as error:
            self.error, self._computed = f"{type(error).__name__}: {error}", None
        finally:
            self.busy = False

    # --- static rendering ------------------------------------------------------------------------

    def _panel_slice(self, volume: np.ndarray) -> np.ndarray:
        """The 2D slice the main panel shows (subclasses with an axis control override it)."""
        return volume[self.slice_index] if volume.ndim == 3 else volume

    def _panel_window(self) -> tuple[float, float] | None:
        return None

    def _panel_relu(self) -> bool:
        return False

    def _main_panel(self) -> np.ndarray:
        """The main panel as RGB, composed exactly as the browser does (the input alone while there is no map,
        e.g. a picker before anything is picked)."""
        image = self._panel_slice(decode_array(self.image))
        if not self.cam:
            return compose(image, np.zeros_like(image), (self.image["vmin"], self.image["vmax"]), (0.0, 1.0), False,
                           "inferno", 0.0, self._panel_window(), False)
        cam = self._panel_slice(decode_array(self.cam))
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
