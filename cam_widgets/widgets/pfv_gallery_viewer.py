"""The CAMViewer a click on a gallery image opens: the same sample at the gallery's layer and slice.

PFV's default layers are the *inputs* of the max-pool modules (``PFVExplainer``), a CAMExplainer's layers are
module *outputs*; the viewer therefore explains the module whose output is that input (``relu3`` before
``pool2``), found with hooks on one forward pass of the sample. With explicit ``PFVExplainer(layers=[...])``
(module outputs) the gallery's layer is the viewer's layer as it is.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor, nn

from ..explainer import CAMExplainer
from ..pfv import PFVExplainer
from .export import ExportMixin
from .figure import INK, _font, _wrap


def module_feeding(model: nn.Module, name: str, x: Tensor) -> str | None:
    """The module whose output is the input of module ``name`` in one forward pass of ``x``: the last one to
    return that very tensor before ``name`` runs (after an in-place ReLU that is the ReLU, not the convolution
    it overwrote); None when no module returns it (a functional op made it)."""
    modules = dict(model.named_modules())
    target = modules[name]
    returned: list[tuple[str, object]] = []
    fed: dict[str, object] = {}

    def record(module_name: str):
        return lambda module, args, output: returned.append((module_name, output))

    def before(module, args):
        if "input" not in fed and args:
            fed["input"], fed["count"] = args[0], len(returned)

    handles = [m.register_forward_hook(record(n)) for n, m in modules.items() if n and m is not target]
    handles.append(target.register_forward_pre_hook(before))
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    if "input" not in fed:
        return None
    producers = [n for n, output in returned[: fed["count"]] if output is fed["input"]]
    return producers[-1] if producers else None


def viewer_layer(pfv: PFVExplainer, layer: str, x: Tensor) -> tuple[str, str]:
    """The CAMExplainer layer that holds the activations PFV decomposed at ``layer`` for the sample ``x``
    ``(1, C, *spatial)``, and why it is that layer ("" when it is the gallery's layer itself)."""
    if not pfv.takes_input(layer):  # explicit layers: module outputs, as CAMExplainer's
        return layer, ""
    with torch.no_grad():
        feeding = module_feeding(pfv.model, layer, x)
    if feeding is None:
        return layer, f"the output of {layer}: PFV took its input, which no module returns"
    return feeding, f"the input of {layer}, which PFV decomposed"


def open_cam_viewer(explainer: CAMExplainer, pfv: PFVExplainer, x: Tensor, layer: str, where: dict,
                    class_names: list[str] | None = None, labels: list[int] | None = None):
    """A CAMViewer of the sample ``x`` ``(C, *spatial)`` at the gallery's ``layer`` if the explainer can take it,
    else at its default layer, looking ``where`` the gallery does (``axis``, ``slice_index`` of a volume);
    returns ``(viewer, why)``, ``why`` saying which layer and why."""
    from .cam_viewer import CAMViewer

    options = {"class_names": class_names} if class_names else {}
    if labels:
        options["labels"] = labels
    cam_layer, why = viewer_layer(pfv, layer, x[None])
    try:
        viewer = CAMViewer(explainer, x, layer=cam_layer, **options)
        reason = viewer.error
    except Exception as problem:  # the explainer cannot take that layer
        viewer, reason = None, f"{type(problem).__name__}: {problem}"
    if viewer is None or reason:  # its own default layer instead, and say so
        viewer = CAMViewer(explainer, x, **options)
        why = f"at its default layer {viewer.layer}; the gallery's layer {cam_layer} did not work ({reason})"
    else:
        why = f"at {cam_layer}" + (f" ({why})" if why else "")
    for name, value in where.items():
        setattr(viewer, name, value)
    return viewer, why


def display_data(widget) -> dict:
    """The output ``display(widget)`` writes (the widget's view and, for ours, its picture), also where no
    kernel runs."""
    bundle = widget._repr_mimebundle_()
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    return {"output_type": "display_data", "data": data, "metadata": metadata}


class ViewerOutput(ExportMixin, widgets.Output):
    """``gallery.viewer_output``: the Output right below a gallery that holds the CAMViewer a click opened.
    An Output's content lives only in the saved widget state, which nbconvert, GitHub and other viewers
    without a kernel do not draw; so this Output has a picture of its own (``ExportMixin``'s static
    fallback): the opened viewer's picture under its title, following the viewer's state. Nothing while no
    viewer is open."""

    viewer = None
    title: widgets.HTML | None = None

    def show(self, title: widgets.HTML, viewer) -> None:
        """Put ``title`` and ``viewer`` into the output and let the picture follow the viewer."""
        self.title, self.viewer = title, viewer
        self.outputs = (display_data(title), display_data(viewer))
        follow = ["image", "cam", "compare", *type(viewer)._DISPLAY]
        viewer.observe(lambda change: self._refresh_static_png() if self.viewer is viewer else None, names=follow)
        self._refresh_static_png()

    def picture(self, scale: int = 1, max_side: int | None = None) -> np.ndarray | None:
        """The opened viewer's picture with its title above it; None while no viewer is open."""
        if self.viewer is None:
            return None
        shown = self.viewer.picture(scale, max_side)
        text = html.unescape(self.title.value.replace("<b>", "").replace("</b>", "")) if self.title else ""
        font, pad, line = _font(13 * scale), 8 * scale, 17 * scale
        lines = _wrap(ImageDraw.Draw(Image.new("RGB", (1, 1))), text, font, shown.shape[1] - 2 * pad)
        height = 2 * pad + line * len(lines)
        canvas = Image.new("RGB", (shown.shape[1], shown.shape[0] + height), (255, 255, 255))
        canvas.paste(Image.fromarray(shown), (0, height))
        draw = ImageDraw.Draw(canvas)
        for k, text_line in enumerate(lines):
            draw.text((pad, pad + k * line), text_line, fill=INK, font=font)
        return np.asarray(canvas)

    def png_filename(self) -> str:
        return "cam_viewer_from_gallery.png"
