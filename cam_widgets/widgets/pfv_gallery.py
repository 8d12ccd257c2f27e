"""``PFVGallery``: Principal Feature Visualisation of a batch as a grid of image cards (an anywidget).

    gallery = PFVGallery(PFVExplainer(model), batch, class_names=names, labels=y, indices=test_ids)
    gallery                 # header, controls, per sample a card: title, the PFV over grey, the R/G/B bars
    gallery.result          # the PFVResult on screen (of batch[gallery.shown])
    gallery.set_options(layer="pool1", components=(2, 3, 4), hierarchical=True, selection=[0, 2, 5])
    gallery.open_viewer(0)  # a CAMViewer of the first card's sample in gallery.viewer_output

Python computes; the browser draws. ``layer``, ``components`` (R, G, B, numbered from 1) and ``hierarchical``
recompute at once; ``selection`` (indices into the batch) is applied by "recompute on selection" or
``recompute()`` (the batch composition changes the contrast, Sec. 3.2 of the paper). Each recompute sends the
PFV rgb and the grey base once, as binary uint8 (``pfv_gallery_data``); ``opacity``, ``axis`` and
``slice_index`` (3D, in the volume's own indices) are the browser's: it blends and slices without asking
Python. A card's bars are the mean R, G, B over the image's foreground (A^b above the batch median, the
paper's Fig. 5) with their values; an image without foreground says why instead. A failed recompute shows
the error, keeps the PFV on screen and puts its traits back; values set from Python are checked as the
browser's controls bound them (refused with the reason in ``error``). Clicking an image opens a CAMViewer of
that sample (``open_viewer``) at the gallery's layer and slice, in ``viewer_output`` below the gallery.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterable, Iterator, Sequence

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets as t
from torch import Tensor

from ..explainer import CAMExplainer
from ..pfv import PFVExplainer, PFVResult
from .codec import encode_array
from .export import ExportMixin, png_name
from .pfv_gallery_checks import check_control, earlier_layers, failure_message, no_hierarchy, slice_count
from .pfv_gallery_data import (
    channel_last, foreground_means, grey_image, has_foreground, header_text, no_foreground_message, per_sample,
    predicted_classes, sample_title,
)
from .pfv_gallery_viewer import ViewerOutput, open_cam_viewer
from .pfv_picture import gallery_picture, shown_images
from .static_files import css, esm
from .validation import Boolean, Integer, Real

__all__ = ["PFVGallery", "foreground_means"]

MAX_IMAGES = 16
"""Samples selected at first."""
MAX_SHOWN = 32
"""Most samples one grid shows (``PFVExplainer.explain`` itself takes any batch)."""
_RECOMPUTE = ("layer", "components", "hierarchical")


class PFVGallery(ExportMixin, anywidget.AnyWidget):
    """A PFV of ``batch`` ``(B, C, *spatial)`` (2D or 3D) as an interactive grid (see the module doc).

    ``class_names``: names of the classes; ``labels``: the true class of each sample; ``indices``: each
    sample's index in its data set (the titles' ``#``; default its position in ``batch``);
    ``explainer_for_viewer``: the CAMExplainer a clicked image opens in a CAMViewer (default one
    ``CAMExplainer(pfv_explainer.model)``, made at the first click)."""

    _esm = esm("pfv_gallery.js")
    _css = css("pfv_gallery.css")

    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    # set by Python, once per recompute
    rgb = t.Dict().tag(sync=True)
    """The PFV of the shown samples, ``(n, *spatial, 3)`` uint8 levels of ``[0, 1]`` (``codec.encode_array``)."""
    grey = t.Dict().tag(sync=True)
    """Their grey base ``(n, *spatial)``, likewise."""
    cards = t.List(t.Dict()).tag(sync=True)
    """Per shown sample: ``index`` (in the batch), ``title``, ``wrong`` (predicted != true), ``bars`` (mean R,
    G, B over the foreground; ``[]`` without foreground) and ``message`` (why there are no bars)."""
    header = t.Unicode("").tag(sync=True)
    shown = t.List(t.Int()).tag(sync=True)
    """The batch indices on screen (the selection of the last recompute)."""
    layers = t.List(t.Unicode()).tag(sync=True)
    n_channels = t.Int(3).tag(sync=True)
    """Channels of the decomposed layer: the highest component number."""
    samples = t.List(t.Unicode()).tag(sync=True)
    """The title of every sample of the batch (the selection's options)."""
    input_shape = t.List(t.Int()).tag(sync=True)
    hierarchical_available = t.Bool(True).tag(sync=True)
    hierarchical_reason = t.Unicode("").tag(sync=True)
    opened = t.Int(-1).tag(sync=True)
    """The batch index of the sample in ``viewer`` (-1: none)."""
    # controls that recompute (the selection: on "recompute on selection")
    layer = t.Unicode("").tag(sync=True)
    components = t.List(Integer(), default_value=[1, 2, 3]).tag(sync=True)
    hierarchical = Boolean(False).tag(sync=True)
    selection = t.List(Integer()).tag(sync=True)
    # display, handled in the browser (observable here)
    opacity = Real(0.7).tag(sync=True)
    axis = Integer(0).tag(sync=True)
    slice_index = Integer(0).tag(sync=True)

    def __init__(self, pfv_explainer: PFVExplainer, batch: Tensor, class_names: Sequence[str] | None = None,
                 labels: Sequence[int] | Tensor | None = None, explainer_for_viewer: CAMExplainer | None = None,
                 indices: Sequence[int] | Tensor | None = None):
        if not isinstance(pfv_explainer, PFVExplainer):
            raise TypeError(f"PFVGallery needs a PFVExplainer, got {type(pfv_explainer).__name__}")
        if not isinstance(batch, Tensor) or batch.ndim not in (4, 5) or len(batch) == 0:
            got = f"shape {tuple(batch.shape)}" if isinstance(batch, Tensor) else type(batch).__name__
            raise ValueError(f"batch must be a non-empty tensor (B, C, H, W) or (B, C, D, H, W), got {got}")
        self.pfv = pfv_explainer
        self.batch = batch.detach().clone()  # the gallery's own copy: images and colours from the same values
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.labels = per_sample(labels, len(batch), "labels", "one class per sample")
        self.indices = per_sample(indices, len(batch), "indices", "each sample's index in its data set")
        self.explainer_for_viewer = explainer_for_viewer
        self.spatial_ndim = batch.ndim - 2
        self.predictions = predicted_classes(self.pfv.model, self.batch, MAX_IMAGES)
        self._greys = np.stack([grey_image(sample) for sample in self.batch])
        self._titles = [sample_title(self.indices[i] if self.indices else i,
                                     self.labels[i] if self.labels else None,
                                     self.predictions[i] if self.predictions else None, self.class_names)
                        for i in range(len(batch))]
        self._result: PFVResult | None = None
        self._kept: dict | None = None  # the recompute traits of the PFV on screen
        self._weights: dict[str, tuple[str, ...]] = {}  # layer -> the layers that weighted it
        self._constructed = self._deferred = False
        self._refused = ""
        self.viewer = None
        """The last CAMViewer opened (a click or ``open_viewer``)."""
        self.viewer_index: int | None = None
        """The batch index of the sample in ``viewer``."""
        self.viewer_title = widgets.HTML("")
        """The viewer's title: the sample (its data set index, class, prediction) and the layer."""
        self.viewer_output = ViewerOutput()
        """Where the CAMViewer appears, displayed right below the gallery."""
        spatial = list(batch.shape[2:])
        first = list(range(min(len(batch), MAX_IMAGES)))
        super().__init__(layers=self.pfv.layers, layer=self.pfv.layers[-1], samples=self._titles,
                         input_shape=spatial, selection=first, shown=first,
                         slice_index=spatial[0] // 2 if self.spatial_ndim == 3 else 0)
        self._constructed = True
        self.observe(self._on_recompute_trait, names=list(_RECOMPUTE))
        self.observe(self._follow_axis, names=["axis"])
        self.observe(lambda change: self._refresh_static_png(), names=["opacity", "axis", "slice_index"])
        self.on_msg(self._on_message)
        self.recompute()

    # --- the Python API ----------------------------------------------------------------------------

    @property
    def result(self) -> PFVResult | None:
        """The PFVResult on screen (of ``batch[shown]``)."""
        return self._result

    @property
    def bars(self) -> np.ndarray:
        """``(n, 3)``: the bars of each shown card, the mean R, G, B over its foreground (0 without one)."""
        return foreground_means(self._result)

    @property
    def images(self) -> np.ndarray:
        """The cards' images as the browser draws them, ``(n, rows, cols, 3)`` uint8 (3D: the current slice)."""
        return shown_images(self)

    def set_options(self, layer: str | None = None, components: Sequence[int] | None = None,
                    hierarchical: bool | None = None, selection: Iterable[int] | None = None,
                    opacity: float | None = None, slice_index: int | None = None, axis: int | None = None) -> None:
        """Set several controls and recompute once (``None``: keep); a ``selection`` is applied (as the button)."""
        changes = {"layer": layer, "components": None if components is None else list(components),
                   "hierarchical": hierarchical, "selection": None if selection is None else list(selection),
                   "opacity": opacity, "axis": axis, "slice_index": slice_index}
        self._refused = ""
        with self._deferring(), self.hold_trait_notifications():
            for name, value in changes.items():
                if value is not None:
                    setattr(self, name, value)
        self._recompute(apply_selection=selection is not None)

    def recompute(self) -> None:
        """The PFV of ``batch[selection]`` with the current layer, components and hierarchical (what "recompute
        on selection" does); on an error the widget shows it and keeps the PFV on screen."""
        self._recompute(apply_selection=True)

    def open_viewer(self, position: int):
        """Open a CAMViewer of the ``position``-th card's sample (``shown[position]``) in ``viewer_output`` at
        the gallery's layer (if the explainer can take it; else its default layer, and the title says so) and
        slice; return it (None, with the reason in ``error``, if it cannot be built)."""
        if not 0 <= position < len(self.shown):
            raise ValueError(f"position must be 0..{len(self.shown) - 1} (a card of the gallery), got {position}")
        index = self.shown[position]
        if self.explainer_for_viewer is None:
            self.explainer_for_viewer = CAMExplainer(self.pfv.model)
        where = {"axis": self.axis, "slice_index": self.slice_index} if self.spatial_ndim == 3 else {}
        try:
            viewer, why = open_cam_viewer(self.explainer_for_viewer, self.pfv, self.batch[index], self.layer, where,
                                          class_names=self.class_names, labels=self.labels and [self.labels[index]])
        except Exception as problem:  # shown, not raised: the gallery keeps working
            self.error = f"opening a CAMViewer of {self._titles[index]} failed: {type(problem).__name__}: {problem}"
            return None
        self.viewer, self.viewer_index = viewer, index
        self.viewer_title = widgets.HTML(f"<b>{html.escape(f'CAMViewer of {self._titles[index]}, {why}')}</b>")
        self.viewer_output.show(self.viewer_title, viewer)
        self.opened = index
        return viewer

    # --- display and export ------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        """The gallery (and its picture, see ``ExportMixin``), then ``viewer_output`` right below it."""
        from IPython.display import display

        super()._ipython_display_()
        display(self.viewer_output)

    def picture(self, scale: int = 1, max_side: int | None = None) -> np.ndarray:
        """The whole grid as one image: header, per card its title, image and bars with their values."""
        return gallery_picture(self, scale, max_side)

    def png_filename(self) -> str:
        return png_name(["pfv", self.layer, "components", "-".join(str(k) for k in self.components)], "pfv")

    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "recompute":
            self.recompute()
        elif kind == "open_viewer":
            try:
                self.open_viewer(int(content.get("position", -1)))
            except (ValueError, TypeError) as problem:
                self.error = str(problem)
        else:
            self._handle_export_message(widget, content, buffers)

    # --- checking values set from Python -----------------------------------------------------------

    @t.validate("layer", "components", "hierarchical", "selection", "opacity", "axis", "slice_index")
    def _validate(self, proposal: dict) -> object:
        """The value checked, or, when it is invalid after construction, the current one with the reason in
        ``error`` (a change from the browser is put back there too)."""
        name, value = proposal["trait"].name, proposal["value"]
        try:
            value = check_control(self, name, value)
        except (ValueError, TypeError) as problem:
            if not self._constructed:
                raise ValueError(f"{name}: {problem}") from None
            self._refused = self.error = f"{name} = {value!r} was not applied (kept {getattr(self, name)!r}): {problem}"
            return getattr(self, name)
        if self._refused and not self._deferred and self.error == self._refused:
            self._refused = self.error = ""
        return value

    def _follow_axis(self, change: dict) -> None:
        if not 0 <= self.slice_index < slice_count(self):
            self.slice_index = slice_count(self) // 2

    # --- computing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _deferring(self) -> Iterator[None]:
        """Trait changes that recompute once afterwards (``set_options``) or not at all (putting back)."""
        before, self._deferred = self._deferred, True
        try:
            yield
        finally:
            self._deferred = before

    def _on_recompute_trait(self, change: dict) -> None:
        if not self._deferred:
            self._recompute(apply_selection=False)

    def _state(self, chosen: list[int]) -> dict:
        return {"layer": self.layer, "components": list(self.components), "hierarchical": self.hierarchical,
                "selection": chosen}

    def _recompute(self, apply_selection: bool) -> None:
        """PFV of the shown samples (or, ``apply_selection``, of ``selection``) with the current options; sends
        the images and cards in one message. A failure puts the traits of the PFV on screen back."""
        chosen = list(self.selection) if apply_selection else list(self.shown)
        if not apply_selection and self._state(chosen) == self._kept:
            return
        self.busy = True
        try:
            if self.hierarchical and not earlier_layers(self, self.layer):
                with self._deferring():
                    self.hierarchical = False  # a layer without an earlier one: nothing to weight hierarchically
            state = self._state(chosen)
            if not chosen:
                raise ValueError("select at least one sample")
            if len(chosen) > MAX_SHOWN:
                raise ValueError(f"select at most {MAX_SHOWN} samples (the grid shows every selected sample; "
                                 f"PFVExplainer.explain takes a batch of any size), got {len(chosen)}")
            result = self.pfv.explain(self.batch[chosen], layer=self.layer, components=tuple(self.components),
                                      hierarchical=self.hierarchical)
            with self.hold_sync():
                self._show_result(result, chosen, apply_selection)
            self._kept = state
            self.error = self._refused
        except Exception as problem:
            self._put_back(problem, chosen)
        else:
            self._refresh_static_png()
        finally:
            self.busy = False

    def _show_result(self, result: PFVResult, chosen: list[int], apply_selection: bool) -> None:
        self._result = result
        self._weights[result.layer] = result.weight_layers
        means, present, message = foreground_means(result), has_foreground(result), no_foreground_message(result)
        self.cards = [{"index": i, "title": self._titles[i], "wrong": self._wrong(i),
                       "bars": means[k].tolist() if present[k] else [], "message": "" if present[k] else message}
                      for k, i in enumerate(chosen)]
        self.rgb = encode_array(channel_last(result.rgb), 0.0, 1.0)
        self.grey = encode_array(self._greys[chosen], 0.0, 1.0)
        self.shown = chosen
        if apply_selection:
            self.selection = chosen
        self.header = header_text(result)
        self.n_channels = len(result.explained_variance_ratio)
        self.hierarchical_available = bool(result.weight_layers)
        self.hierarchical_reason = "" if result.weight_layers else no_hierarchy(result.layer)

    def _put_back(self, problem: Exception, chosen: list[int]) -> None:
        reason = f"{type(problem).__name__}: {problem}"
        if self._kept is None:
            raise ValueError(f"PFVGallery: the PFV of this batch failed: {reason}") from problem
        asked = {name: value for name, value in self._state(chosen).items() if value != self._kept[name]}
        with self._deferring(), self.hold_trait_notifications():
            for name in _RECOMPUTE:
                setattr(self, name, self._kept[name])
            if "selection" in asked:
                self.selection = self._kept["selection"]
        self.error = failure_message(asked, self._kept, reason)

    def _wrong(self, i: int) -> bool:
        return bool(self.labels and self.predictions and self.labels[i] != self.predictions[i])

