"""``PFVGallery``: Principal Feature Visualisation of a batch, as a grid in the notebook.

    gallery = PFVGallery(PFVExplainer(model), batch, class_names=names, labels=y)
    gallery                                   # images, per-image R/G/B bars and the controls
    gallery.result                            # the current PFVResult (of the selected sub-batch)
    gallery.set_options(layer="pool1", components=(2, 3, 4), hierarchical=True, selection=[0, 2, 5])

Built from ipywidgets and one Plotly ``go.FigureWidget`` (no JavaScript of its own). Each image
cell shows the PFV's rgb blended over a grey version of the input, and below it a bar chart of the
mean red, green and blue over the image's *foreground* (the paper's Fig. 5). The foreground is
where the activation weight A^b (``PFVResult.activation``, Eq. 2) is above its median over the
whole displayed (sub-)batch and all positions (for 3D inputs: over the whole volume, not only the
shown slice).

The controls are plain ipywidgets and can be scripted by setting their ``.value``:
``gallery.layer_control``, ``gallery.component_controls`` (three IntText for R, G, B, numbered
from 1), ``gallery.hierarchical_control``, ``gallery.opacity_control`` (0..1),
``gallery.slice_control`` (3D only, the index along the first spatial axis, z) and
``gallery.selection_control`` + ``gallery.recompute_button`` (batch composition changes the
contrast, Sec. 3.2 of the paper: choose a subset and recompute). Layer, components and
hierarchical recompute at once; the selection is applied by the button (``recompute()``).

Clicking an image opens a ``CAMViewer`` of that sample in ``gallery.viewer_output`` below the
grid (``open_viewer(i)`` does the same from Python). Errors, e.g. components out of range, are
shown in ``gallery.error`` (an HTML label) and the gallery keeps its previous result.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
from IPython.display import display
from plotly.subplots import make_subplots
from torch import Tensor

from ..explainer import CAMExplainer
from ..pfv import PFVExplainer, PFVResult
from .cam_viewer import CAMViewer
from .render import png_bytes, with_png_fallback

MAX_IMAGES = 16
"""Samples selected at first."""
MAX_SHOWN = 32
"""Most samples one grid shows (``PFVExplainer.explain`` itself takes any batch)."""
COLUMNS = 4
CHANNELS = ("R", "G", "B")
BAR_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")


def grey_image(x: Tensor) -> np.ndarray:
    """A sample's grey version ``(*spatial)`` in [0, 1]: the mean over the input channels, min-max
    scaled per sample (a constant image gives zeros)."""
    g = x.detach().to(torch.float64).cpu().mean(0).numpy()
    low, high = g.min(), g.max()
    return (g - low) / (high - low) if high > low else np.zeros_like(g)


def blend(rgb: np.ndarray, grey: np.ndarray, opacity: float) -> np.ndarray:
    """``(1 - opacity) * grey + opacity * rgb``, channel-last ``(*spatial, 3)`` in [0, 1]."""
    return (1.0 - opacity) * grey[..., None] + opacity * np.moveaxis(rgb, 0, -1)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """``[0, 1]`` floats to uint8 (rounded), the way the images reach the browser."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def image_uri(image: np.ndarray) -> str:
    """A ``(H, W, 3)`` image in [0, 1] as a PNG data URI, for a Plotly ``go.Image(source=...)``: a
    few kB per image where a ``z`` array would send every value as JSON."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(to_uint8(image))).decode("ascii")


def grid_shape(n: int, columns: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``n`` cells, at most ``columns`` wide."""
    cols = min(n, columns)
    return math.ceil(n / cols), cols


def tile(images: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """``(n, H, W, 3)`` images in [0, 1] as one uint8 grid of ``columns`` columns on white."""
    n, h, w = images.shape[:3]
    rows, cols = grid_shape(n, columns)
    grid = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = to_uint8(image)
    return grid


def foreground_means(result: PFVResult) -> np.ndarray:
    """``(B, n)``: per image, the mean of each rgb channel over its foreground, the positions where
    A^b (``result.activation``) is above the median of A^b over the whole batch; 0 where an image
    has no foreground."""
    a = result.activation.detach().to(torch.float64).cpu()
    rgb = result.rgb.detach().to(torch.float64).cpu()
    mask = (a > a.median()).to(torch.float64)                      # (B, *S)
    flat_mask = mask.reshape(mask.shape[0], 1, -1)
    total = (rgb.reshape(*rgb.shape[:2], -1) * flat_mask).sum(-1)
    return (total / flat_mask.sum(-1).clamp_min(1)).numpy()   # total is 0 where the count is 0


class PFVGallery(widgets.VBox):
    """A PFV of ``batch`` ``(B, C, *spatial)`` (2D or 3D) as an interactive grid (see the module doc).

    ``class_names``: names for the labels and predictions; ``labels``: the true classes (shown in
    the titles); ``explainer_for_viewer``: the ``CAMExplainer`` a clicked image opens in a
    ``CAMViewer`` (default: one ``CAMExplainer(pfv_explainer.model)``, made at the first click and
    kept). The first 16 samples are selected at first; the selection control offers every sample.
    """

    def __init__(
        self,
        pfv_explainer: PFVExplainer,
        batch: Tensor,
        class_names: Sequence[str] | None = None,
        labels: Sequence[int] | Tensor | None = None,
        explainer_for_viewer: CAMExplainer | None = None,
    ):
        if not isinstance(pfv_explainer, PFVExplainer):
            raise TypeError(f"PFVGallery needs a PFVExplainer, got {type(pfv_explainer).__name__}")
        if not isinstance(batch, Tensor) or batch.ndim not in (4, 5) or len(batch) == 0:
            got = f"shape {tuple(batch.shape)}" if isinstance(batch, Tensor) else type(batch).__name__
            raise ValueError(f"batch must be a non-empty tensor (B, C, H, W) or (B, C, D, H, W), got {got}")
        if labels is not None and len(torch.as_tensor(labels).flatten()) != len(batch):
            raise ValueError(f"labels: one class per sample, {len(batch)} for this batch, "
                             f"got {len(torch.as_tensor(labels).flatten())}")
        self.pfv = pfv_explainer
        self.batch = batch.detach().clone()  # the gallery's own copy: images and colours from the same values
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.labels = None if labels is None else [int(v) for v in torch.as_tensor(labels).flatten().tolist()]
        self.explainer_for_viewer = explainer_for_viewer
        self.spatial_ndim = batch.ndim - 2
        self.predictions = self._predict()
        self._greys = [grey_image(batch[i]) for i in range(len(batch))]
        self.result: PFVResult | None = None
        """The current PFVResult (of ``batch[list(selection)]``)."""
        self.selection: tuple[int, ...] = ()
        """The sample indices the current result was computed on."""
        self.images: np.ndarray | None = None
        """The displayed images ``(n, H, W, 3)`` in [0, 1] (3D: the current slice)."""
        self.bars: np.ndarray | None = None
        """The bar values ``(n, 3)``: mean R, G, B over each image's foreground."""
        self.viewer: CAMViewer | None = None
        """The last CAMViewer opened by a click."""
        self.viewer_index: int | None = None
        """The batch index of the sample in ``viewer``."""

        layers = self.pfv.layers
        self.layer_control = widgets.Dropdown(options=layers, value=layers[-1], description="layer")
        self.component_controls = [
            widgets.IntText(value=k, description=name, layout=widgets.Layout(width="110px"))
            for k, name in zip((1, 2, 3), CHANNELS)
        ]
        self.hierarchical_control = widgets.Checkbox(value=False, description="hierarchical")
        self.opacity_control = widgets.FloatSlider(value=0.7, min=0.0, max=1.0, step=0.05, description="opacity")
        options = [(self._title(i), i) for i in range(len(batch))]
        self.selection_control = widgets.SelectMultiple(
            options=options, value=tuple(range(min(len(batch), MAX_IMAGES))), description="samples", rows=6)
        self.recompute_button = widgets.Button(description="recompute on selection")
        self.slice_control = None
        if self.spatial_ndim == 3:
            depth = batch.shape[2]
            self.slice_control = widgets.IntSlider(value=depth // 2, min=0, max=depth - 1, description="slice z")
        self.error = widgets.HTML("")
        self.viewer_output = widgets.Output()
        self.figure = go.FigureWidget()
        """The Plotly FigureWidget of the grid (kept for the gallery's life, see ``_build_figure``)."""

        self._updating = False
        for control in [self.layer_control, self.hierarchical_control, *self.component_controls]:
            control.observe(lambda change: self._options_changed(), names="value")
        self.opacity_control.observe(lambda change: self._redraw(), names="value")
        if self.slice_control is not None:
            self.slice_control.observe(lambda change: self._redraw(), names="value")
        self.recompute_button.on_click(lambda button: self.recompute())

        row1 = [self.layer_control, *self.component_controls, self.hierarchical_control]
        row2 = [self.opacity_control] + ([self.slice_control] if self.slice_control is not None else [])
        super().__init__(children=[
            widgets.HBox(row1), widgets.HBox(row2),
            widgets.HBox([self.selection_control, self.recompute_button]),
            self.error, self.figure, self.viewer_output,
        ])
        self.recompute()

    # --- the Python API ------------------------------------------------------------------------

    @property
    def options(self) -> dict:
        """The current control values as ``explain`` keyword arguments."""
        return {
            "layer": self.layer_control.value,
            "components": tuple(int(c.value) for c in self.component_controls),
            "hierarchical": bool(self.hierarchical_control.value),
        }

    def set_options(
        self,
        layer: str | None = None,
        components: Sequence[int] | None = None,
        hierarchical: bool | None = None,
        selection: Iterable[int] | None = None,
        opacity: float | None = None,
        slice_index: int | None = None,
    ) -> None:
        """Set several controls and recompute once (``None``: keep the current value)."""
        self._updating = True
        try:
            if layer is not None:
                self.layer_control.value = layer
            if components is not None:
                if len(components) != 3:
                    raise ValueError("components: three component numbers (from 1) for R, G, B")
                for control, k in zip(self.component_controls, components):
                    control.value = int(k)
            if hierarchical is not None:
                self.hierarchical_control.value = bool(hierarchical)
            if selection is not None:
                self.selection_control.value = tuple(int(i) for i in selection)
            if opacity is not None:
                self.opacity_control.value = float(opacity)
            if slice_index is not None and self.slice_control is not None:
                self.slice_control.value = int(slice_index)
        finally:
            self._updating = False
        self.recompute()

    def recompute(self) -> None:
        """PFV of the selected sub-batch with the current options; on an error, show it and keep the
        previous result."""
        selection = tuple(sorted(int(i) for i in self.selection_control.value))
        button = self.recompute_button
        label, button.description, button.disabled = button.description, "computing...", True
        try:
            if not selection:
                raise ValueError("select at least one sample")
            if len(selection) > MAX_SHOWN:
                raise ValueError(f"select at most {MAX_SHOWN} samples (the grid shows every selected sample; "
                                 f"PFVExplainer.explain takes a batch of any size), got {len(selection)}")
            result = self.pfv.explain(self.batch[list(selection)], **self.options)
        except Exception as error:  # shown, not raised: the gallery keeps working
            self._show_error(error)
            return
        finally:
            button.description, button.disabled = label, False
        self.error.value = ""
        self.result, self.selection = result, selection
        self.bars = foreground_means(result)
        self._build_figure()

    def open_viewer(self, position: int) -> CAMViewer | None:
        """Open a CAMViewer of the ``position``-th displayed image (``selection[position]``) in
        ``viewer_output`` and return it (None, with the error shown, if it cannot be built)."""
        index = self.selection[position]
        if self.explainer_for_viewer is None:
            self.explainer_for_viewer = CAMExplainer(self.pfv.model)
        try:
            viewer = CAMViewer(self.explainer_for_viewer, self.batch[index], class_names=self.class_names)
        except Exception as error:  # shown, not raised: the gallery keeps working
            self._show_error(error)
            return None
        self.viewer, self.viewer_index = viewer, index
        self.viewer_output.clear_output()
        with self.viewer_output:
            display(widgets.HTML(f"<b>CAMViewer of sample {index}</b>"), viewer)
        return viewer

    # --- drawing -------------------------------------------------------------------------------

    def _show_error(self, error: Exception) -> None:
        self.error.value = f'<span style="color:#b00020">{html.escape(str(error))}</span>'

    def _predict(self) -> list[int] | None:
        """Each sample's predicted class for the titles, where the model is a classifier (a
        ``(B, classes)`` tensor out), in chunks of ``MAX_IMAGES``; else None."""
        predictions = []
        with torch.no_grad():
            for start in range(0, len(self.batch), MAX_IMAGES):
                out = self.pfv.model(self.batch[start:start + MAX_IMAGES])
                if not isinstance(out, Tensor) or out.ndim != 2:
                    return None
                predictions += out.argmax(1).tolist()
        return predictions

    def _name(self, c: int) -> str:
        return self.class_names[c] if self.class_names is not None and 0 <= c < len(self.class_names) else str(c)

    def _title(self, i: int) -> str:
        parts = [f"#{i}"]
        if self.labels is not None:
            parts.append(f"true {self._name(self.labels[i])}")
        if self.predictions is not None:
            parts.append(f"pred {self._name(self.predictions[i])}")
        return " ".join(parts)

    def _options_changed(self) -> None:
        if not self._updating:
            self.recompute()

    def _compose(self) -> np.ndarray:
        rgb = self.result.rgb.detach().to(torch.float64).cpu().numpy()
        opacity = float(self.opacity_control.value)
        out = []
        for k, index in enumerate(self.selection):
            image, grey = rgb[k], self._greys[index]
            if self.slice_control is not None:
                z = int(self.slice_control.value)
                image, grey = image[:, z], grey[z]
            out.append(blend(image, grey, opacity))
        return np.stack(out)

    def _layout_and_traces(self) -> tuple[go.Layout, list]:
        """The figure for the current result: per sample an image subplot over a bar subplot."""
        rows, cols = grid_shape(len(self.selection), COLUMNS)
        titles = []
        for r in range(rows):
            titles += [self._title(self.selection[r * cols + c]) if r * cols + c < len(self.selection) else ""
                       for c in range(cols)]
            titles += [""] * cols
        fig = make_subplots(rows=2 * rows, cols=cols, subplot_titles=titles, row_heights=[0.75, 0.25] * rows,
                            vertical_spacing=0.04, horizontal_spacing=0.03)
        for k, index in enumerate(self.selection):
            r, c = divmod(k, cols)
            fig.add_trace(go.Image(source=image_uri(self.images[k]), name=f"#{index}",
                                   hovertemplate="x=%{x} y=%{y}<extra>click: open a CAMViewer</extra>"),
                          row=2 * r + 1, col=c + 1)
            fig.add_trace(go.Bar(x=list(CHANNELS), y=self.bars[k].tolist(), marker_color=list(BAR_COLOURS),
                                 showlegend=False, name=f"#{index}",
                                 hovertemplate="%{x}: %{y:.3f}<extra>foreground mean</extra>"),
                          row=2 * r + 2, col=c + 1)
            fig.update_yaxes(range=[0, 1], row=2 * r + 2, col=c + 1)
        fig.update_xaxes(showticklabels=False)
        fig.update_yaxes(showticklabels=False)
        fig.update_layout(height=260 * rows + 40, width=230 * cols + 60, margin=dict(l=20, r=20, t=60, b=20),
                          title=dict(text=self._figure_title(), font=dict(size=12)))
        return fig.layout, list(fig.data)

    def _figure_title(self) -> str:
        ratio = ", ".join(f"{100 * float(self.result.explained_variance_ratio[k - 1]):.1f}%"
                          for k in self.result.component_numbers)
        return (f"PFV of {self.result.layer}, components {self.result.component_numbers} as R, G, B"
                f" (explained variance {ratio})")

    def _build_figure(self) -> None:
        """Show the current result in the one FigureWidget the gallery keeps: the same number of
        images restyles it in place; another number replaces its traces and layout, and removes the
        subplots no longer used (``null`` in a relayout deletes them in the browser, where a merely
        hidden subplot would still catch clicks). The FigureWidget itself is never replaced, so its
        ~5 MB of JavaScript reaches the browser once."""
        self.images = self._compose()
        layout, traces = self._layout_and_traces()
        figure = self.figure
        if len(self.image_traces) == len(self.selection):
            with figure.batch_update():
                for old, new in zip(figure.data, traces):
                    old.update({key: value for key, value in new.to_plotly_json().items() if key != "type"})
                figure.layout.annotations = layout.annotations
                figure.layout.title.text = layout.title.text
            return
        stale = [key for key in figure.layout.to_plotly_json()
                 if key.startswith(("xaxis", "yaxis")) and key not in layout]
        figure.data = ()
        if stale:
            figure.plotly_relayout(dict.fromkeys(stale))
        figure.layout = layout
        figure.add_traces(traces)
        for position, trace in enumerate(self.image_traces):
            trace.on_click(self._click_handler(position))

    def _click_handler(self, position: int):
        """A click callback for the ``position``-th image trace. Plotly calls every trace's callbacks
        on a click, with no points for the traces that were not clicked."""
        def handler(trace, points, state):
            if points.point_inds:
                self.open_viewer(position)
        return handler

    @property
    def image_traces(self) -> list:
        """The figure's image traces, one per displayed sample (their ``on_click`` opens the viewer)."""
        return [t for t in self.figure.data if isinstance(t, go.Image)]

    def _redraw(self) -> None:
        """Opacity or slice changed: recompose the images, no recomputation."""
        if self.result is None:
            return
        self.images = self._compose()
        with self.figure.batch_update():
            for trace, image in zip(self.image_traces, self.images):
                trace.source = image_uri(image)

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and a PNG of the image grid as the static fallback where no kernel runs."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or self.images is None:
            return bundle
        return with_png_fallback(bundle, tile(self.images, COLUMNS), 2)
