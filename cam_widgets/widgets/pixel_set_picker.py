"""``PixelSetPicker``: explain a segmentation network over the pixels you pick on the image.

    picker = PixelSetPicker(CAMExplainer(unet, layers=["bottleneck", "dec1"]), image)
    picker            # click a region, brush, lasso, rectangle; the CAM follows
    picker.mask       # the pixel set M, a bool array of the output's spatial shape (read / write)
    picker.result     # the CAMResult of PixelSet(target_class, M) with the current method and layer

Drawing happens in the browser; each finished stroke sends M once, bit-packed
(``docs/picker_protocol.md``), and Python recomputes only the gradient for the new M on the cached
forward pass. Seg-HiRes-Grad-CAM (``hirescam``) is the default method, Seg-Grad-CAM (``gradcam``)
one click away, and ``compare_method`` shows the two side by side.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import traitlets as t
from torch import Tensor

from ..targets import PixelSet
from .base import CAMWidget
from .codec import encode_array, pack_mask, unpack_mask
from .static_files import css, esm
from .validation import Boolean, Real, one_of

__all__ = ["PixelSetPicker", "pack_mask", "unpack_mask"]  # the mask codec lives in codec.py


class PixelSetPicker(CAMWidget):
    """Pick the pixel set ``M`` of a Seg-CAM on one image ``(C, H, W)`` / volume ``(C, D, H, W)``.

        PixelSetPicker(explainer, x, class_names=None, layer=None, method="hirescam", target_class=None,
                       compare_method="", mask=None)

    ``target_class``: ``None`` (-1) until the first click picks the class under it; ``mask``: a first
    ``M`` (bool, the output's spatial shape)."""

    _esm = esm("pixel_set_picker.js")
    _css = css("pixel_set_picker.css")

    # set by Python (the shared traits are declared in CAMWidget)
    labels = t.Dict().tag(sync=True)
    n_selected = t.Int(0).tag(sync=True)
    # controls that call Python
    mask_bits = t.Dict().tag(sync=True)
    # display-only controls (handled in the browser)
    tool = t.Unicode("region").tag(sync=True)
    brush_radius = Real(3.0).tag(sync=True)
    show_labels = Boolean(True).tag(sync=True)

    # the picker overrides only these shared defaults: Seg-HiRes-Grad-CAM, and no class before a click
    @t.default("method")
    def _default_method(self) -> str:
        return "hirescam"

    @t.default("target_class")
    def _default_target_class(self) -> int:
        return -1

    MIN_TARGET_CLASS = -1
    TOOLS = ("point", "region", "brush", "lasso", "rectangle", "erase")
    _RECOMPUTE = (*CAMWidget._RECOMPUTE, "mask_bits")
    _DISPLAY = (*CAMWidget._DISPLAY, "show_labels")

    def _split(self, x: Tensor, spatial_ndim: int) -> list[Tensor]:
        if x.ndim == spatial_ndim + 1:
            return [x[None]]
        if x.ndim == spatial_ndim + 2 and len(x) == 1:
            return [x]
        raise ValueError(f"PixelSetPicker explains one image: give (C, *spatial) with {spatial_ndim + 1} dims "
                         f"(or a batch of one); got shape {tuple(x.shape)}")

    def _first_state(self, output: Tensor, names: list[str], target_class: int | None = None,
                     mask: np.ndarray | Tensor | None = None) -> dict:
        spatial = self._input_shape
        if output.ndim != len(spatial) + 2 or tuple(output.shape[2:]) != spatial:
            raise ValueError(
                f"PixelSetPicker needs a segmentation output (1, C, {', '.join(map(str, spatial))}) shaped like the "
                f"input; the model returns {tuple(output.shape)} (for class scores use CAMViewer)"
            )
        return dict(
            labels=encode_array(output[0].argmax(0).to(torch.float32), 0, 255),
            target_class=-1 if target_class is None else target_class,
            mask_bits=pack_mask(np.zeros(spatial, bool) if mask is None else _as_bool(mask)),
        )

    # --- the Python API ----------------------------------------------------------------------------

    @property
    def mask(self) -> np.ndarray:
        """The pixel set ``M``: a bool array of the output's spatial shape. Assign one to change it."""
        return unpack_mask(self.mask_bits, self._input_shape)

    @mask.setter
    def mask(self, value: np.ndarray | Tensor) -> None:
        value = _as_bool(value)
        if value.shape != self._input_shape:
            raise ValueError(f"the mask must have the output's spatial shape {self._input_shape}, got {value.shape}")
        self.mask_bits = pack_mask(value)

    def save_mask(self, path: str | Path) -> Path:
        """Save ``M`` as a ``.npy`` file (bool, the output's spatial shape)."""
        path = Path(path)
        np.save(path, self.mask)
        return path if path.suffix == ".npy" else path.with_name(path.name + ".npy")

    def load_mask(self, path: str | Path) -> None:
        """Load ``M`` from a ``.npy`` file saved by ``save_mask`` (or any bool / 0-1 array of the right shape)."""
        self.mask = np.load(path)

    # --- checking ----------------------------------------------------------------------------------

    @t.validate("tool", "brush_radius")
    def _validate_own(self, proposal: dict) -> object:
        return self._accept(proposal["trait"].name, proposal["value"])

    def _check_trait(self, name: str, value: object) -> object:
        if name == "tool":
            return one_of(value, self.TOOLS, "tool")
        if name == "brush_radius":
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"brush_radius must be a positive number of pixels, got {value}")
            return value
        return super()._check_trait(name, value)

    # --- computing ---------------------------------------------------------------------------------

    def _target(self, output: Tensor) -> PixelSet | None:
        """``PixelSet(target_class, M)``; nothing before a class is chosen (the browser sets the class
        under each plain click, together with ``mask_bits``)."""
        if self.target_class == -1:
            return None
        return PixelSet(self.target_class, torch.from_numpy(self.mask))

    def _own_traits(self, output: Tensor, target: PixelSet | None) -> dict:
        n_selected = int((self.mask if target is None else target.mask).sum())
        if target is None:
            notice = "click on the image: the class under the click is explained over the pixels you pick"
        else:
            notice = "" if n_selected else "the pixel set is empty: the CAM is zero (the sanity check)"
        return {"n_selected": n_selected, "notice": notice}


def _as_bool(mask: np.ndarray | Tensor) -> np.ndarray:
    """The pixel set as bool: nonzero values are in it; NaN or inf (which bool() would count as in) are refused."""
    array = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
        raise ValueError(f"the mask has {int((~np.isfinite(array)).sum())} NaN or inf value(s); a pixel set is a bool "
                         "array (or 0 / 1 values) of the output's spatial shape")
    return array.astype(bool)
