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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import traitlets as t
from torch import Tensor

from ..explainer import CAMExplainer, CAMResult
from ..methods import METHODS
from ..targets import PixelSet
from .base import ExplainerWidget, checked_explainer, encode_map, named_classes, own_copy
from .codec import encode_array
from .static_files import css, esm
from .validation import Integer, Real, one_of


def pack_mask(mask: np.ndarray) -> dict:
    """``M`` as the ``mask_bits`` trait: C order, 8 pixels per byte, most significant bit first."""
    mask = np.asarray(mask, dtype=bool)
    return {"buffer": np.packbits(mask.ravel()).tobytes(), "shape": list(mask.shape), "encoding": "bits"}


def unpack_mask(bits: dict, shape: tuple[int, ...]) -> np.ndarray:
    """The bool mask of a ``mask_bits`` dict (``{}`` is the empty set), checked against ``shape``."""
    if not bits:
        return np.zeros(shape, dtype=bool)
    if bits.get("encoding") != "bits":
        raise ValueError(f"mask encoding {bits.get('encoding')!r} is not supported; expected 'bits'")
    if tuple(bits["shape"]) != tuple(shape):
        raise ValueError(f"the pixel set has shape {tuple(bits['shape'])}, the model's output is {tuple(shape)}")
    count = int(np.prod(shape))
    packed = np.frombuffer(bytes(bits["buffer"]), dtype=np.uint8)
    if packed.size != (count + 7) // 8:
        raise ValueError(f"the pixel set has {packed.size} bytes, {(count + 7) // 8} expected for shape {tuple(shape)}")
    return np.unpackbits(packed, count=count).astype(bool).reshape(shape)


class PixelSetPicker(ExplainerWidget):
    """Pick the pixel set ``M`` of a Seg-CAM on one image ``(C, H, W)`` / volume ``(C, D, H, W)``."""

    _esm = esm("pixel_set_picker.js")
    _css = css("pixel_set_picker.css")

    labels = t.Dict().tag(sync=True)
    n_selected = t.Int(0).tag(sync=True)
    mask_bits = t.Dict().tag(sync=True)
    target_class = Integer(-1).tag(sync=True)
    method = t.Unicode("hirescam").tag(sync=True)
    tool = t.Unicode("region").tag(sync=True)
    brush_radius = Real(3.0).tag(sync=True)
    show_labels = t.Bool(True).tag(sync=True)

    MIN_TARGET_CLASS = -1
    TOOLS = ("point", "region", "brush", "lasso", "rectangle", "erase")

    def __init__(
        self,
        explainer: CAMExplainer,
        x: Tensor,
        class_names: Sequence[str] | None = None,
        layer: str | None = None,
        method: str = "hirescam",
        target_class: int | None = None,
        compare_method: str = "",
        mask: np.ndarray | Tensor | None = None,
    ):
        self.explainer = checked_explainer(explainer, "PixelSetPicker")
        self._x = _one_sample(x, explainer.spatial_ndim)
        output = explainer.predict(self._x)
        spatial = tuple(self._x.shape[2:])
        if output.ndim != len(spatial) + 2 or tuple(output.shape[2:]) != spatial:
            raise ValueError(
                f"PixelSetPicker needs a segmentation output (1, C, {', '.join(map(str, spatial))}) shaped like the "
                f"input; the model returns {tuple(output.shape)} (for class scores use CAMViewer)"
            )
        n_classes = output.shape[1]
        names = named_classes(class_names, n_classes)
        self._spatial = spatial
        self._result: CAMResult | None = None
        self._compare_result: CAMResult | None = None
        predicted = output[0].argmax(0)
        super().__init__(
            image=encode_array(self._x[0].float().mean(0)),
            labels=encode_array(predicted.to(torch.float32), 0, 255),
            class_names=names, layers=explainer.layers, methods=list(METHODS),
            layer=layer or explainer.layers[0], method=method, compare_method=compare_method or "",
            target_class=-1 if target_class is None else int(target_class),
            slice_index=spatial[0] // 2 if len(spatial) == 3 else 0,
            mask_bits=pack_mask(np.zeros(spatial, bool) if mask is None else _as_bool(mask)),
        )
        self._ready()
        self._recompute()
        self.observe(lambda change: self._recompute(),
                     names=["mask_bits", "target_class", "layer", "method", "compare_method"])

    # --- the Python API ----------------------------------------------------------------------------

    @property
    def mask(self) -> np.ndarray:
        """The pixel set ``M``: a bool array of the output's spatial shape. Assign one to change it."""
        return unpack_mask(self.mask_bits, self._spatial)

    @mask.setter
    def mask(self, value: np.ndarray | Tensor) -> None:
        value = _as_bool(value)
        if value.shape != self._spatial:
            raise ValueError(f"the mask must have the output's spatial shape {self._spatial}, got {value.shape}")
        self.mask_bits = pack_mask(value)

    @property
    def result(self) -> CAMResult | None:
        """The CAMResult of ``PixelSet(target_class, mask)`` (None until a class is chosen)."""
        return self._result

    @property
    def compare_result(self) -> CAMResult | None:
        return self._compare_result

    def save_mask(self, path: str | Path) -> Path:
        """Save ``M`` as a ``.npy`` file (bool, the output's spatial shape)."""
        path = Path(path)
        np.save(path, self.mask)
        return path if path.suffix == ".npy" else path.with_name(path.name + ".npy")

    def load_mask(self, path: str | Path) -> None:
        """Load ``M`` from a ``.npy`` file saved by ``save_mask`` (or any bool / 0-1 array of the right shape)."""
        self.mask = np.load(path)

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

    def _slice_count(self) -> int:
        return self._spatial[0] if len(self._spatial) == 3 else 1

    # --- computing ---------------------------------------------------------------------------------

    def _recompute(self) -> None:
        if self.target_class == -1:
            self._result = self._compare_result = None
            with self.hold_sync():
                bits = np.frombuffer(bytes(self.mask_bits.get("buffer", b"")), dtype=np.uint8)
                self.cam, self.compare, self.n_selected = {}, {}, int(np.unpackbits(bits).sum())
                self.notice = "click on the image: the class under the first click is explained"
            return
        key = (bytes(self.mask_bits.get("buffer", b"")), self.target_class, self.layer, self.method, self.compare_method)
        self._compute_once(key, self._explain_and_send)

    def _explain_and_send(self) -> None:
        mask = torch.from_numpy(self.mask)
        target = PixelSet(self.target_class, mask)
        result = self.explainer.explain(self._x, target, self.method, self.layer)
        compare = self.explainer.explain(self._x, target, self.compare_method, self.layer) if self.compare_method else None
        self._result, self._compare_result = result, compare
        self.cam, self.cam_signed = encode_map(result.map[0], result.signed), result.signed
        self.compare = encode_map(compare.map[0], compare.signed) if compare else {}
        self.compare_signed = bool(compare and compare.signed)
        self.n_selected = int(mask.sum())
        self.notice = "" if self.n_selected else "the pixel set is empty: the CAM is zero (the sanity check)"


def _one_sample(x: Tensor, spatial_ndim: int | None) -> Tensor:
    x = own_copy(x)
    if spatial_ndim is None:
        raise ValueError("the model has no convolution, so the picker cannot tell an image from a batch")
    if x.ndim == spatial_ndim + 1:
        return x[None]
    if x.ndim == spatial_ndim + 2 and len(x) == 1:
        return x
    raise ValueError(f"PixelSetPicker explains one image: give (C, *spatial) with {spatial_ndim + 1} dims "
                     f"(or a batch of one); got shape {tuple(x.shape)}")


def _as_bool(mask: np.ndarray | Tensor) -> np.ndarray:
    """The pixel set as bool: nonzero values are in it; NaN or inf (which bool() would count as in) are refused."""
    array = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
        raise ValueError(f"the mask has {int((~np.isfinite(array)).sum())} NaN or inf value(s); a pixel set is a bool "
                         "array (or 0 / 1 values) of the output's spatial shape")
    return array.astype(bool)
