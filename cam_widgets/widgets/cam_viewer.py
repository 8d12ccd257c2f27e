"""``CAMViewer``: explore a model's CAMs on an image or volume, live in the notebook.

    viewer = CAMViewer(CAMExplainer(model, layers=["conv4", "maxpool2"]), volume)
    viewer                      # sliders: layer, class, method, sample, slice, axis, opacity, ...
    viewer.method = "respondcam"; viewer.result   # scriptable: every control is a trait

Only layer, class, method, sample, the compare method and ``follow_prediction`` call Python, and they
reuse the explainer's cached forward pass (``channel`` re-encodes the image only); slice, axis, crosshair,
zoom, opacity, colormap and window are handled in the browser (``docs/widget_protocol.md`` is the contract
with the front end). What both widgets share is in ``base.py``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch
import traitlets as t
from torch import Tensor

from ..targets import ClassScore, PixelSet, from_prediction
from .base import CAMWidget
from .static_files import css, esm
from .validation import Boolean, Integer, Real, index_in, one_of, window_of

MAX_DISPLAY_VOXELS = {2: 1024 * 1024, 3: 128**3}
"""Inputs larger than this are downsampled for display (with a notice); the CAM is computed at full size."""


class CAMViewer(CAMWidget):
    """A live CAM overlay for one image / volume ``(C, *spatial)`` or a batch ``(B, C, *spatial)``.

        CAMViewer(explainer, x, class_names=None, layer=None, method="gradcam", target_class=None,
                  compare_method="", max_display_voxels=None, labels=None)

    ``target_class``: a fixed class to explain; without it the viewer explains each sample's predicted
    class (``follow_prediction``). ``max_display_voxels``: larger inputs are shown downsampled
    (``MAX_DISPLAY_VOXELS``). ``labels``: the batch's true labels (class indices, ``-1`` = unknown, or
    class names), shown beside the prediction."""

    _esm = esm("cam_viewer.js")
    _css = css("cam_viewer.css")

    # set by Python (the shared traits are declared in CAMWidget)
    class_scores = t.List(t.Float()).tag(sync=True)
    class_probs = t.List(t.Float()).tag(sync=True)
    n_samples = t.Int(1).tag(sync=True)
    predicted_class = t.Int(0).tag(sync=True)
    true_labels = t.List(Integer()).tag(sync=True)
    available_classes = t.List(t.Int(), default_value=None, allow_none=True).tag(sync=True)
    """The classes the class select offers (None: every class); the others are shown disabled, with
    ``class_unavailable`` as the reason (a stored run's viewer: only the stored classes)."""
    class_unavailable = t.Unicode("").tag(sync=True)
    # controls that call Python
    sample = Integer(0).tag(sync=True)
    follow_prediction = Boolean(True).tag(sync=True)
    # display-only controls (handled in the browser, observable here)
    relu = Boolean(False).tag(sync=True)
    window = t.List(Real()).tag(sync=True)
    ortho_map = t.Unicode("cam").tag(sync=True)
    """The map the orthogonal views of a volume show: ``"cam"`` or ``"compare"`` (while compare is on)."""

    _RECOMPUTE = (*CAMWidget._RECOMPUTE, "sample")
    _RESTORED = ("follow_prediction",)  # the class follows the prediction: a change of it explains again
    _DISPLAY = (*CAMWidget._DISPLAY, "relu", "window", "ortho_map")

    def _split(self, x: Tensor, spatial_ndim: int) -> list[Tensor]:
        """One ``(1, C, *spatial)`` tensor per sample, views of the widget's own copy of ``x``."""
        if x.ndim == spatial_ndim + 1:
            return [x[None]]
        if x.ndim == spatial_ndim + 2:
            return [x[b : b + 1] for b in range(len(x))]
        raise ValueError(f"the model is {spatial_ndim}D: give one sample (C, *spatial) with {spatial_ndim + 1} dims "
                         f"or a batch with {spatial_ndim + 2}; got shape {tuple(x.shape)}")

    def _first_state(self, output: Tensor, names: list[str], target_class: int | None = None,
                     labels: Sequence[int | str] | None = None, max_display_voxels: int | None = None) -> dict:
        spatial = self._input_shape
        limit = max_display_voxels or MAX_DISPLAY_VOXELS.get(len(spatial), 128**3)
        self._display_shape = _display_shape(spatial, limit)
        predicted = predicted_class(output)
        return dict(
            n_samples=len(self._samples), predicted_class=predicted, true_labels=_true_labels(labels, names, len(self._samples)),
            target_class=predicted if target_class is None else target_class, follow_prediction=target_class is None,
            notice=_notice(spatial, self._display_shape),
        )

    # --- the Python API ----------------------------------------------------------------------------

    def view_3d(self, **options):
        """The 3D view, a panel to keep open beside the viewer (``view3d.View3D``): isosurfaces of the
        input (smoothed; its level from the data by default) and of the CAM's positive (red) and negative
        (blue) parts at ``+-cam_level * max|cam|``, as in the Respond-CAM paper's figures, with controls
        for the levels, the opacities and which surfaces are shown. It follows the viewer (re-meshing
        only what changed, after the viewer's own update) and the notebook's theme. ``options``:
        ``View3D``'s (``input_level``, ``cam_level``, ``input_opacity``, ``cam_opacity``, ``show_input``,
        ``show_positive``, ``show_negative``, ``max_voxels``, ``max_vertices``)."""
        from .view3d import View3D

        return View3D(self, **options)

    # --- checking ----------------------------------------------------------------------------------

    @t.validate("sample", "window", "true_labels", "ortho_map")
    def _validate_own(self, proposal: dict) -> object:
        return self._accept(proposal["trait"].name, proposal["value"])

    def _check_trait(self, name: str, value: object) -> object:
        if name == "sample":
            return index_in(value, len(self._samples), "sample (the batch's index)")
        if name == "window":
            return window_of(value)
        if name == "ortho_map":
            return one_of(value, ("cam", "compare"), "ortho_map")
        if name == "true_labels":
            return _true_labels(value, self.class_names, len(self._samples))
        value = super()._check_trait(name, value)
        if name == "target_class" and self._constructed and not self._by_widget:
            self.follow_prediction = False  # a class chosen (select, bar, Python) stays for every sample
        return value

    # --- computing ---------------------------------------------------------------------------------

    def _sample_number(self) -> int:
        return self.sample

    def _recompute(self) -> None:
        """While ``follow_prediction``, the class explained is the current sample's prediction."""
        if self.follow_prediction:
            try:
                predicted = predicted_class(self.explainer.predict(self._input()))
            except Exception:  # the explanation below fails too and says why
                predicted = self.target_class
            if predicted != self.target_class:
                with self._widget_change():
                    self.target_class = predicted  # explains through the observer of target_class
                return
        super()._recompute()

    def _target(self, output: Tensor):
        if output.ndim == 2:
            return ClassScore(self.target_class)
        return PixelSet(self.target_class, from_prediction(output, self.target_class))

    def _own_traits(self, output: Tensor, target) -> dict:
        own = {"predicted_class": predicted_class(output)}
        if output.ndim == 2:
            own |= {"class_scores": output[0].tolist(), "class_probs": torch.softmax(output[0].double(), 0).tolist()}
        return own


def predicted_class(output: Tensor) -> int:
    """The predicted class of one sample's output: the argmax of its scores, or for segmentation the
    most frequent class of the per-pixel argmax."""
    if output.ndim > 2:
        return int(output[0].argmax(0).flatten().mode().values)
    return int(output[0].argmax())


def _true_labels(labels: Sequence[int | str] | None, names: Sequence[str], n_samples: int) -> list[int]:
    """One class index per sample (``-1`` = unknown) from indices or class names; ``[]`` when not given."""
    if labels is None:
        return []
    if isinstance(labels, (Tensor, np.ndarray)):
        labels = labels.tolist()
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise ValueError(f"labels must be a sequence of class indices or names, one per sample, got {type(labels).__name__}")
    labels = list(labels)
    if labels and len(labels) != n_samples:
        raise ValueError(f"got {len(labels)} labels for {n_samples} sample(s); give one per sample (-1 = unknown)")
    indices = []
    for label in labels:
        if isinstance(label, str):
            if label not in names:
                raise ValueError(f"label {label!r} is not a class name; valid: {', '.join(names)}")
            indices.append(names.index(label))
        elif isinstance(label, numbers.Integral) and not isinstance(label, bool) and -1 <= label < len(names):
            indices.append(int(label))
        else:
            raise ValueError(f"label {label!r} must be a class name or a class index -1 (unknown), 0..{len(names) - 1}")
    return indices


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
