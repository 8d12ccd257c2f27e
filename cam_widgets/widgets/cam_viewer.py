"""``CAMViewer``: explore a model's CAMs on an image or volume, live in the notebook.

    viewer = CAMViewer(CAMExplainer(model, layers=["conv4", "maxpool2"]), volume)
    viewer                      # sliders: layer, class, method, sample, slice, axis, opacity, ...
    viewer.method = "respondcam"; viewer.result   # scriptable: every control is a trait

Only layer, class, method, sample and the compare method call Python, and they reuse the
explainer's cached forward pass; slice, axis, opacity, colormap, window and crosshair are handled
in the browser (``docs/widget_protocol.md`` is the contract with ``js/src/cam_viewer.js``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import traitlets as t
from torch import Tensor

from ..explainer import CAMExplainer, CAMResult
from ..methods import METHODS
from ..resample import upsample
from ..targets import ClassScore, PixelSet, from_prediction
from .base import ExplainerWidget, checked_explainer, encode_map, named_classes, own_copy
from .codec import encode_array
from .static_files import css, esm
from .validation import Integer, Real, index_in, voxel_in, window_of

MAX_DISPLAY_VOXELS = {2: 1024 * 1024, 3: 128**3}
"""Inputs larger than this are downsampled for display (with a notice); the CAM is computed at full size."""


class CAMViewer(ExplainerWidget):
    """A live CAM overlay for one image / volume ``(C, *spatial)`` or a batch ``(B, C, *spatial)``."""

    _esm = esm("cam_viewer.js")
    _css = css("cam_viewer.css")

    # set by Python (the shared traits are declared in ExplainerWidget)
    class_scores = t.List(t.Float()).tag(sync=True)
    class_probs = t.List(t.Float()).tag(sync=True)
    n_samples = t.Int(1).tag(sync=True)
    # controls that call Python
    sample = Integer(0).tag(sync=True)
    # display-only controls (handled in the browser, observable here)
    axis = Integer(0).tag(sync=True)
    crosshair = t.List(Integer()).tag(sync=True)
    relu = t.Bool(False).tag(sync=True)
    window = t.List(Real()).tag(sync=True)

    def __init__(
        self,
        explainer: CAMExplainer,
        x: Tensor,
        class_names: Sequence[str] | None = None,
        layer: str | None = None,
        method: str = "gradcam",
        target_class: int | None = None,
        compare_method: str = "",
        max_display_voxels: int | None = None,
    ):
        self.explainer = checked_explainer(explainer, "CAMViewer")
        self._samples = _as_samples(x, explainer.spatial_ndim)
        first = self._samples[0]
        spatial = tuple(first.shape[2:])
        output = explainer.predict(first)  # also settles the default layer
        n_classes = output.shape[1]
        names = named_classes(class_names, n_classes)
        limit = max_display_voxels or MAX_DISPLAY_VOXELS.get(len(spatial), 128**3)
        self._display_shape = _display_shape(spatial, limit)
        self._result: CAMResult | None = None
        self._compare_result: CAMResult | None = None
        self._image_sample: int | None = None
        predicted = int(output[0].argmax(0).flatten().mode().values) if output.ndim > 2 else int(output[0].argmax())
        super().__init__(
            layers=explainer.layers, methods=list(METHODS), class_names=names, n_samples=len(self._samples),
            layer=layer or explainer.layers[0], method=method, compare_method=compare_method or "",
            target_class=predicted if target_class is None else int(target_class),
            slice_index=self._display_shape[0] // 2 if len(spatial) == 3 else 0,
            crosshair=[n // 2 for n in self._display_shape],
            notice=_notice(spatial, self._display_shape),
        )
        self._ready()
        self._recompute()
        self.observe(lambda change: self._recompute(), names=["sample", "layer", "method", "target_class", "compare_method"])
        self.observe(self._follow_axis, names=["axis"])

    # --- the Python API ----------------------------------------------------------------------------

    @property
    def result(self) -> CAMResult | None:
        """The current CAMResult (for the current sample, layer, class and method)."""
        return self._result

    @property
    def compare_result(self) -> CAMResult | None:
        """The CAMResult of ``compare_method`` (None when off)."""
        return self._compare_result

    def view_3d(self, level: float = 0.5, max_side: int = 64):
        """A Plotly FigureWidget with isosurfaces (marching cubes) of the input and of the CAM's positive
        and negative parts, as in the Respond-CAM paper's figures; it follows the viewer's changes."""
        from .view3d import isosurface_figure

        figure = isosurface_figure(self, level=level, max_side=max_side)
        self.observe(lambda change: figure.refresh(), names=["cam", "image"])
        return figure.widget

    # --- computing ---------------------------------------------------------------------------------

    def _target(self, output: Tensor):
        if output.ndim == 2:
            return ClassScore(self.target_class)
        return PixelSet(self.target_class, from_prediction(output, self.target_class))

    @t.validate("sample", "axis", "crosshair", "window")
    def _validate_own(self, proposal: dict) -> object:
        return self._accept(proposal["trait"].name, proposal["value"])

    def _check_trait(self, name: str, value: object) -> object:
        ndim = len(self._display_shape)
        if name == "sample":
            return index_in(value, len(self._samples), "sample (the batch's index)")
        if name == "axis":
            return index_in(value, 3, "axis (0 = z, 1 = y, 2 = x)") if ndim == 3 else index_in(value, 1, "axis of a 2D image")
        if name == "crosshair":
            return voxel_in(value, self._display_shape, "crosshair")
        if name == "window":
            return window_of(value)
        return super()._check_trait(name, value)

    def _slice_count(self) -> int:
        return self._display_shape[self.axis] if len(self._display_shape) == 3 else 1

    def _follow_axis(self, change: dict) -> None:
        """As the browser does: a slice index outside the new axis's range moves to the crosshair's."""
        if not 0 <= self.slice_index < self._slice_count():
            self.slice_index = self.crosshair[self.axis] if len(self.crosshair) == 3 else self._slice_count() // 2

    def _recompute(self) -> None:
        """Explain the current (sample, layer, class, method[, compare method]) and send the maps, the
        image too when the sample changed, in one message."""
        key = (self.sample, self.layer, self.target_class, self.method, self.compare_method)
        self._compute_once(key, self._explain_and_send)

    def _explain_and_send(self) -> None:
        x = self._samples[self.sample]
        output = self.explainer.predict(x)
        target = self._target(output)
        result = self.explainer.explain(x, target, self.method, self.layer)
        compare = self.explainer.explain(x, target, self.compare_method, self.layer) if self.compare_method else None
        if self._image_sample != self.sample:
            self.image, self._image_sample = self._encode_image(), self.sample
        self._result, self._compare_result = result, compare
        self.cam, self.cam_signed = encode_map(self._display(result.map[0]), result.signed), result.signed
        self.compare = encode_map(self._display(compare.map[0]), compare.signed) if compare else {}
        self.compare_signed = bool(compare and compare.signed)
        if output.ndim == 2:
            self.class_scores = output[0].tolist()
            self.class_probs = torch.softmax(output[0].double(), 0).tolist()

    def _display(self, values: Tensor) -> Tensor:
        return upsample(values.float(), self._display_shape)

    def _encode_image(self) -> dict:
        return encode_array(self._display(self._samples[self.sample][0].float().mean(0)))

    def _panel_slice(self, volume: np.ndarray) -> np.ndarray:
        return np.take(volume, self.slice_index, axis=self.axis) if volume.ndim == 3 else volume

    def _panel_window(self) -> tuple[float, float] | None:
        return tuple(self.window) if len(self.window) == 2 else None

    def _panel_relu(self) -> bool:
        return self.relu


def _as_samples(x: Tensor, spatial_ndim: int | None) -> list[Tensor]:
    """One ``(1, C, *spatial)`` tensor per sample, views of the widget's own copy of ``x``."""
    x = own_copy(x)
    if spatial_ndim is None:
        raise ValueError("the model has no convolution, so the viewer cannot tell a sample from a batch")
    if x.ndim == spatial_ndim + 1:
        return [x[None]]
    if x.ndim == spatial_ndim + 2:
        return [x[b : b + 1] for b in range(len(x))]
    raise ValueError(f"the model is {spatial_ndim}D: give one sample (C, *spatial) with {spatial_ndim + 1} dims "
                     f"or a batch with {spatial_ndim + 2}; got shape {tuple(x.shape)}")


def _display_shape(spatial: tuple[int, ...], limit: int) -> tuple[int, ...]:
    voxels = math.prod(spatial)
    if voxels <= limit:
        return spatial
    factor = (limit / voxels) ** (1 / len(spatial))
    return tuple(max(1, int(n * factor)) for n in spatial)


def _notice(spatial: tuple[int, ...], shown: tuple[int, ...]) -> str:
    if spatial == shown:
        return ""
    return f"input of {'x'.join(map(str, spatial))} shown downsampled to {'x'.join(map(str, shown))}; CAMs are computed at full size"
