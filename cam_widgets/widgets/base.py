"""``CAMWidget``: what every explainer widget shares. The trait schema (declared once, here), one
constructor skeleton, one explain-and-compare step per change set (the browser sends held changes
together), the image encoding (grey, one channel or RGB), the checks of every control value set
from Python, and the rule that the traits always describe the map on screen (a failed explanation
puts them back). The PNG export comes from ``ExportMixin`` (``export.py``)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Hashable, Iterator, Sequence

import anywidget
import numpy as np
import torch
import traitlets as t
from torch import Tensor

from ..explainer import CAMExplainer, CAMResult
from ..layers import resolve_layers
from ..methods import get_method
from ..resample import upsample
from .codec import encode_array
from .colormaps import SEQUENTIAL
from .export import ExportMixin
from .method_info import method_info, method_label, progress_keyword, unavailable
from .validation import Boolean, Integer, Real, channel_of, fraction, index_in, one_of, point_in, voxel_in, zoom_of


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


def _hashable(value: object) -> Hashable:
    if isinstance(value, dict):
        return tuple((k, bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else _hashable(v))
                     for k, v in sorted(value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _shown(value: object) -> str:
    """A trait value as an error message names it (a bit mask by its size, not its bytes)."""
    if isinstance(value, dict) and value.get("encoding") == "bits":
        count = int(np.unpackbits(np.frombuffer(bytes(value["buffer"]), dtype=np.uint8)).sum())
        return f"<{count} pixel(s), shape {tuple(value['shape'])}>"
    return repr(value)


class CAMWidget(ExportMixin, anywidget.AnyWidget):
    """Base of CAMViewer and PixelSetPicker. It declares every shared trait (a subclass may override
    only a default, with ``@t.default``, never re-declare one), builds the widget from the explainer,
    the input samples and the first forward pass, and explains on every change of a recompute trait.

    A subclass supplies only its own pieces:

    - ``_RECOMPUTE``: the base's recompute traits plus its own (e.g. ``sample``, ``mask_bits``);
    - ``_split(x, spatial_ndim)``: its samples, each ``(1, C, *spatial)``;
    - ``_first_state(output, names, target_class, **options)``: its traits from the first forward pass
      (and its ``_display_shape`` when it downsamples); its keyword arguments are the widget's own
      constructor options;
    - ``_target(output)``: what is explained (``None``: nothing yet, e.g. a picker before a click);
    - ``_own_traits(output, target)``: its traits set with each explanation (scores, counts);
    - ``_sample_number()`` when it has several samples, and ``_check_trait`` (with a ``@t.validate``
      that calls ``_accept``) for its own controls.
    - ``_method_info()`` when not every method of the registry can be chosen (``stored.StoredViewer``).

    A control value set from Python is checked as the browser clamps it (``_check_trait``): an invalid
    one is refused, the widget shows why and keeps its state; in the constructor it raises."""

    # status
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
    method_info = t.Dict().tag(sync=True)
    """Per method of ``METHODS``: its label as the papers write it, paper, kind, whether it applies
    (``method_info.py``); ``methods`` lists those that apply to the widget's targets."""
    input_shape = t.List(t.Int()).tag(sync=True)
    """The input's real spatial shape; ``image`` may be smaller (downsampled for display)."""
    n_channels = t.Int(1).tag(sync=True)
    # controls that call Python
    layer = t.Unicode("").tag(sync=True)
    method = t.Unicode("gradcam").tag(sync=True)
    target_class = Integer(0).tag(sync=True)
    compare_method = t.Unicode("").tag(sync=True)
    # display controls (handled in the browser, observable here); positions in the input's own indices
    slice_index = Integer(0).tag(sync=True)
    axis = Integer(0).tag(sync=True)
    crosshair = t.List(Integer()).tag(sync=True)
    opacity = Real(0.5).tag(sync=True)
    colormap = t.Unicode("inferno").tag(sync=True)
    zoom = Real(1.0).tag(sync=True)
    zoom_center = t.List(Real()).tag(sync=True)
    show_crosshair = Boolean(True).tag(sync=True)
    # the image shown: Python re-encodes ``image`` when it changes (no new explanation)
    channel = t.Union([t.Unicode(), Integer()], default_value="mean").tag(sync=True)

    MIN_TARGET_CLASS = 0
    _RECOMPUTE: tuple[str, ...] = ("layer", "method", "target_class", "compare_method")
    """Traits whose change explains again; a failed explanation puts back their last successful values."""
    _RESTORED: tuple[str, ...] = ()
    """Further traits that change what is explained through a rule (no part of the map's key, e.g. the
    viewer's ``follow_prediction``): their change recomputes, and a failure puts them back too."""
    PROGRESS_INTERVAL = 0.1
    """Seconds between two progress messages of a slow method (the last one is always sent)."""
    _DISPLAY: tuple[str, ...] = ("slice_index", "axis", "crosshair", "opacity", "colormap", "zoom", "zoom_center",
                                 "show_crosshair")
    """Traits that change only the picture (the static PNG follows them)."""

    def __init__(self, explainer: CAMExplainer, x: Tensor | np.ndarray, class_names: Sequence[str] | None = None,
                 layer: str | None = None, method: str | None = None, target_class: int | None = None,
                 compare_method: str = "", **options):
        """``explainer`` and the input ``x``; ``class_names`` (default ``"0" .. "C-1"``), ``layer`` (default
        the explainer's first), ``method`` (default the class's: Grad-CAM for the viewer, HiRes for the
        picker), ``target_class`` (default: the widget's rule), ``compare_method`` (``""`` = off). The
        widget's own options are the keyword arguments of its ``_first_state``."""
        widget = type(self).__name__
        unknown = sorted(set(options) - set(inspect.signature(self._first_state).parameters))
        if unknown:
            raise TypeError(f"{widget}() got an unexpected keyword argument {unknown[0]!r}")
        self.explainer = checked_explainer(explainer, widget)
        if self.explainer.spatial_ndim is None:
            raise ValueError(f"the model has no convolution, so {widget} cannot tell a sample from a batch")
        self._samples = self._split(own_copy(x), self.explainer.spatial_ndim)
        first = self._samples[0]
        self._input_shape = tuple(first.shape[2:])
        self._display_shape = self._input_shape  # the shape ``image`` and the maps are sent at
        self._n_channels = int(first.shape[1])
        self._result: CAMResult | None = None
        self._compare_result: CAMResult | None = None
        self._computed: Hashable | None = None  # the key of the map on screen
        self._kept: dict | None = None  # the recompute traits of the map on screen
        self._kept_layers: list[str] = []
        self._image_key: Hashable | None = None
        self._constructed = False
        self._by_widget = False
        self._refused = ""
        output = self.explainer.predict(first)  # also settles the default layer
        names = named_classes(class_names, output.shape[1])
        spatial = self._input_shape
        self._segmentation = output.ndim > 2  # the targets are pixel sets: no `cam`, "Seg-" labels
        info = self._method_info()
        super().__init__(
            class_names=names, layers=self.explainer.layers, method_info=info,
            methods=[name for name, entry in info.items() if not entry["unavailable"]],
            layer=layer or self.explainer.layers[0], compare_method=compare_method or "",
            **({} if method is None else {"method": method}),
            input_shape=list(spatial), n_channels=self._n_channels, channel="rgb" if self._n_channels == 3 else "mean",
            slice_index=spatial[0] // 2 if len(spatial) == 3 else 0, crosshair=[n // 2 for n in spatial],
            **self._first_state(output, names, target_class=target_class, **options),
        )
        self._constructed = True  # from now on an invalid value shows in the widget instead of raising
        self._update_image()
        self._recompute()
        self.observe(lambda change: self._recompute(), names=[*self._RECOMPUTE, *self._RESTORED])
        self.observe(self._follow_axis, names=["axis"])
        self.observe(self._on_channel, names=["channel"])
        self.observe(lambda change: self._refresh_static_png(), names=list(self._DISPLAY))
        self.on_msg(self._handle_export_message)

    # --- what a subclass supplies --------------------------------------------------------------------

    def _split(self, x: Tensor, spatial_ndim: int) -> list[Tensor]:
        """The widget's samples, each ``(1, C, *spatial)``."""
        raise NotImplementedError

    def _first_state(self, output: Tensor, names: list[str], target_class: int | None = None) -> dict:
        return {} if target_class is None else {"target_class": target_class}

    def _target(self, output: Tensor):
        raise NotImplementedError

    def _own_traits(self, output: Tensor, target) -> dict:
        return {}

    def _sample_number(self) -> int:
        return 0

    def _method_info(self) -> dict:
        """The ``method_info`` trait (``method_info.py``); a widget on stored maps marks the others unavailable."""
        return method_info(self._segmentation)

    # --- the Python API ----------------------------------------------------------------------------

    @property
    def result(self) -> CAMResult | None:
        """The CAMResult of the map on screen (None while there is none)."""
        return self._result

    @property
    def compare_result(self) -> CAMResult | None:
        """The CAMResult of ``compare_method`` (None when off)."""
        return self._compare_result

    def refresh(self) -> None:
        """Explain the current state again, e.g. after the model's weights or the explainer changed (a
        widget recomputes by itself only when one of its controls changes)."""
        self._computed = None
        self._recompute()

    # --- checking values set from Python -------------------------------------------------------------

    @t.validate("layer", "method", "compare_method", "target_class", "slice_index", "axis", "crosshair", "opacity",
                "colormap", "zoom", "zoom_center", "show_crosshair", "channel")
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
        shape = self._input_shape
        if name == "layer":
            (resolved, _), = resolve_layers(self.explainer.model, [value]).items()
            if resolved not in self.layers:
                self.layers = [*self.layers, resolved]  # captured on demand: offer it in the select too
            return resolved
        if name in ("method", "compare_method"):
            if name == "compare_method" and not value:
                return ""
            resolved = get_method(value).name
            why = unavailable(resolved, self._segmentation)
            if why:
                raise ValueError(f"{method_label(resolved)} ({resolved}) is {why}")
            return resolved
        if name == "target_class":
            n = len(self.class_names)
            if not self.MIN_TARGET_CLASS <= value < n:
                low = "-1 (none), 0" if self.MIN_TARGET_CLASS < 0 else "0"
                raise ValueError(f"target_class must be {low}..{n - 1} (the model has {n} classes), got {value}")
            return value
        if name == "slice_index":
            return index_in(value, self._slice_count(), "slice_index")
        if name == "axis":
            return index_in(value, 3, "axis (0 = z, 1 = y, 2 = x)") if len(shape) == 3 else index_in(value, 1, "axis of a 2D image")
        if name == "crosshair":
            return voxel_in(value, shape, "crosshair")
        if name == "zoom_center":
            return point_in(value, shape, "zoom_center")
        if name == "opacity":
            return fraction(value, "opacity")
        if name == "colormap":
            return one_of(value, SEQUENTIAL, "colormap")
        if name == "zoom":
            return zoom_of(value)
        if name == "channel":
            return channel_of(value, self._n_channels)
        if name == "show_crosshair":
            return value  # any bool (the trait's type refuses the rest)
        raise NotImplementedError(f"no check for the trait {name!r}")

    def _slice_count(self) -> int:
        """How many slices of the input the main panel's axis has (1 for 2D)."""
        return self._input_shape[self.axis] if len(self._input_shape) == 3 else 1

    def _follow_axis(self, change: dict) -> None:
        """As the browser does: a slice index outside the new axis's range moves to the crosshair's."""
        if not 0 <= self.slice_index < self._slice_count():
            self.slice_index = self.crosshair[self.axis] if len(self.crosshair) == 3 else self._slice_count() // 2

    @contextlib.contextmanager
    def _widget_change(self) -> Iterator[None]:
        """Trait changes made by the widget itself (a follow rule, putting back the state of the map on
        screen), which the rules for a user's choice leave alone."""
        before, self._by_widget = self._by_widget, True
        try:
            yield
        finally:
            self._by_widget = before

    # --- the image ---------------------------------------------------------------------------------

    def _input(self) -> Tensor:
        return self._samples[self._sample_number()]

    def _display(self, values: Tensor) -> Tensor:
        """Resized to the display shape (each leading channel alone)."""
        return upsample(values.float(), self._display_shape)

    def _encode_image(self) -> dict:
        """``image``: the channel mean, one channel, or for ``"rgb"`` the three channels quantised jointly
        (one range; shape ``[3, *display]``, with ``"rgb": True``)."""
        x = self._input()[0].float()
        values = x if self.channel == "rgb" else x.mean(0) if self.channel == "mean" else x[self.channel]
        encoded = encode_array(self._display(values))
        if self.channel == "rgb":
            encoded["rgb"] = True
        return encoded

    def _update_image(self) -> None:
        key = (self._sample_number(), self.channel)
        if key != self._image_key:
            self.image, self._image_key = self._encode_image(), key

    def _on_channel(self, change: dict) -> None:
        self._update_image()
        self._refresh_static_png()

    # --- explaining ----------------------------------------------------------------------------------

    def _recompute(self) -> None:
        key = tuple(_hashable(getattr(self, name)) for name in self._RECOMPUTE)
        if key == self._computed:
            return
        self.busy = True
        try:
            with self.hold_sync(), self.hold_trait_notifications():
                self._explain_and_send()
                self._computed, self._kept, self._kept_layers = key, self._state(), list(self.layers)
                self.error = self._refused = ""
        except (Exception, KeyboardInterrupt) as problem:
            self._put_back(problem)
            if isinstance(problem, KeyboardInterrupt):
                raise  # an interrupted run (e.g. a long Score-CAM): the map on screen and its traits stay
        else:
            self._refresh_static_png()
        finally:
            self.busy = False

    def _explain_and_send(self) -> None:
        """Explain the current state (and ``compare_method``) and send the maps, the image too when the
        sample changed, in one message. Everything that can fail runs before the first trait is set."""
        x = self._input()
        output = self.explainer.predict(x)
        target = self._target(output)
        result = compare = None
        if target is not None:
            result = self._explain(x, target, "cam", self.method)
            if self.compare_method:
                compare = self._explain(x, target, "compare", self.compare_method)
        own = self._own_traits(output, target)
        self._result, self._compare_result = result, compare
        self.cam = encode_map(self._display(result.map[0]), result.signed) if result else {}
        self.cam_signed = bool(result and result.signed)
        self.compare = encode_map(self._display(compare.map[0]), compare.signed) if compare else {}
        self.compare_signed = bool(compare and compare.signed)
        self._update_image()
        for name, value in own.items():
            setattr(self, name, value)

    def _explain(self, x: Tensor, target: object, which: str, method: str) -> CAMResult:
        """One explanation at the widget's layer; the slow methods send progress messages while they run."""
        progress = progress_keyword(self.send, which, method, self._segmentation, self.PROGRESS_INTERVAL)
        return self.explainer.explain(x, target, method, self.layer, **progress)

    def _state(self) -> dict:
        return {name: getattr(self, name) for name in (*self._RECOMPUTE, *self._RESTORED)}

    def _put_back(self, problem: Exception) -> None:
        """After a failed explanation: the traits of the map on screen again, and ``error`` says what was
        asked, what was kept and why (if nothing was computed yet, the traits stay as asked)."""
        reason = f"{type(problem).__name__}: {problem}" if str(problem) else type(problem).__name__
        if self._kept is None:
            self.error = f"explaining {self._describe(self._state())} failed: {reason}"
            return
        asked = {name: value for name, value in self._state().items() if value != self._kept[name]}
        with self._widget_change(), self.hold_trait_notifications():
            for name, value in self._kept.items():
                setattr(self, name, value)
            self.layers = self._kept_layers  # a layer captured on demand that failed is not offered
        if not asked:
            self.error = f"explaining again failed (kept the map on screen): {reason}"
        elif len(asked) == 1:
            (name, value), = asked.items()
            self.error = f"{name} = {_shown(value)} failed (kept {_shown(self._kept[name])}): {reason}"
        else:
            kept = {name: self._kept[name] for name in asked}
            self.error = f"{self._describe(asked)} failed (kept {self._describe(kept)}): {reason}"

    @staticmethod
    def _describe(state: dict) -> str:
        return ", ".join(f"{name} = {_shown(value)}" for name, value in state.items())
