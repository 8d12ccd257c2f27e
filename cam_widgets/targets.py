"""What scalar ``y`` is explained, one per sample, and builders for segmentation pixel sets.

A target is any callable ``outputs -> (B,) tensor``.  Classification and segmentation differ
only in the target, never in the method:

* ``ClassScore(c)``: the pre-softmax logit ``y_b = outputs[b, c_b]``.
* ``PixelSet(c, M)``: ``y_b = sum_{u in M} outputs[b, c_b, u]`` (Seg-Grad-CAM, Vinogradova et
  al. 2020; Seg-HiRes-Grad-CAM, Rheude et al. 2024), with ``M`` a bool set or float weights.

This module imports nothing from the package.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Union

import numpy as np
import torch
from torch import Tensor

Classes = Union[int, Sequence[int], Tensor]
Target = Callable[[Tensor], Tensor]


def class_tensor(classes: Classes) -> Tensor:
    """Class indices as an integer tensor of 0 or 1 dims, from an int (Python or NumPy), a sequence,
    a NumPy array or a tensor; anything else is refused with what is accepted."""
    try:
        index = classes if isinstance(classes, Tensor) else torch.as_tensor(np.asarray(classes))
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"class indices must be an int or a 1-D sequence of ints, got {classes!r} ({error})") from None
    if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
        raise TypeError(f"class indices must be integers, got dtype {index.dtype}")
    if index.ndim > 1 and index.numel() != index.shape[0]:
        raise ValueError(
            f"class indices must be one int or a 1-D sequence of ints (one per sample), got shape {tuple(index.shape)}; "
            "to explain a region of a segmentation output use PixelSet(c, mask)"
        )
    return index.reshape(-1) if index.ndim else index


def class_index(classes: Classes, outputs: Tensor) -> Tensor:
    """Per-sample class indices ``(B,)`` on the outputs' device, checked against ``C``."""
    batch, n_classes = outputs.shape[0], outputs.shape[1]
    index = class_tensor(classes).to(outputs.device).long().reshape(-1)
    if index.numel() == 1:
        index = index.expand(batch)
    if index.numel() != batch:
        raise ValueError(f"got {index.numel()} class indices for a batch of {batch}; give one int or one per sample")
    bad = (index < 0) | (index >= n_classes)
    if bool(bad.any()):
        raise IndexError(
            f"class index {index[bad][0].item()} out of range: the model outputs {n_classes} classes, "
            f"valid indices are 0..{n_classes - 1}"
        )
    return index


class ClassScore:
    """``y_b = outputs[b, c_b]``: the pre-softmax score of class ``c`` (one int, or one per sample)."""

    def __init__(self, classes: Classes):
        class_tensor(classes)
        self.classes = classes

    def __call__(self, outputs: Tensor) -> Tensor:
        if outputs.ndim != 2:
            raise ValueError(
                f"ClassScore needs class scores shaped (B, C), got outputs of shape {tuple(outputs.shape)}; "
                "for a segmentation output (B, C, *spatial) use PixelSet(c, mask)"
            )
        index = class_index(self.classes, outputs)
        return outputs.gather(1, index[:, None])[:, 0]

    def cache_key(self) -> tuple:
        return ("class", tuple(class_tensor(self.classes).reshape(-1).tolist()))

    def __repr__(self) -> str:
        return f"ClassScore({self.classes!r})"


class PixelSet:
    """``y_b = sum_u M_b[u] * outputs[b, c_b, u]``: a class's logits summed over the pixel set ``M``.

    ``mask`` is bool (the set) or float (weights), shaped like the output's spatial dims (one set
    for the batch) or with a leading batch dim (one per sample).  An empty set gives ``y = 0``
    exactly and so an all-zero CAM.
    """

    def __init__(self, classes: Classes, mask: Tensor | Sequence):
        class_tensor(classes)
        self.classes = classes
        self.mask = torch.as_tensor(mask)
        _check_weights(self.mask)

    def __call__(self, outputs: Tensor) -> Tensor:
        spatial = tuple(outputs.shape[2:])
        if not spatial:
            raise ValueError(
                f"PixelSet needs a segmentation output (B, C, *spatial), got shape {tuple(outputs.shape)}; "
                "for class scores use ClassScore(c) or an int target"
            )
        _check_weights(self.mask)  # again: the mask may have been written since
        mask = self.mask.to(device=outputs.device)
        batch = outputs.shape[0]
        if tuple(mask.shape) == spatial:
            mask = mask.expand(batch, *spatial)
        elif tuple(mask.shape) != (batch, *spatial):
            raise ValueError(
                f"pixel-set mask has shape {tuple(mask.shape)}; the output's spatial shape is {spatial}, "
                f"so the mask must be {spatial} (one for the batch) or {(batch, *spatial)} (one per sample)"
            )
        index = class_index(self.classes, outputs)
        class_logits = outputs[torch.arange(batch, device=outputs.device), index]
        weights = mask.to(class_logits.dtype)
        return (class_logits * weights).flatten(1).sum(1)

    def cache_key(self) -> tuple:
        mask = self.mask.detach().cpu().contiguous()
        return ("pixels", tuple(class_tensor(self.classes).reshape(-1).tolist()),
                tuple(mask.shape), str(mask.dtype), hash(mask.numpy().tobytes()))

    def __repr__(self) -> str:
        return f"PixelSet({self.classes!r}, mask of shape {tuple(self.mask.shape)}, {int(self.mask.count_nonzero())} set)"


def _check_weights(mask: Tensor) -> None:
    if mask.is_complex():
        raise TypeError(f"a pixel-set mask is bool (the set) or real weights, got dtype {mask.dtype}")
    if mask.is_floating_point() and not bool(torch.isfinite(mask).all()):
        bad = int((~torch.isfinite(mask)).sum())
        raise ValueError(
            f"the pixel-set mask (shape {tuple(mask.shape)}, {mask.dtype}) has {bad} NaN or inf weight(s), which would "
            "make y and every map NaN: give finite weights (e.g. torch.nan_to_num(mask)) or a bool mask"
        )


def as_target(target: Classes | Target | None, outputs: Tensor) -> Target:
    """Normalise a user's ``target``: ``None`` (predicted class), int / sequence / tensor of class
    indices, ``ClassScore``, ``PixelSet``, or any callable ``outputs -> (B,)``."""
    if target is None:
        if outputs.ndim != 2:
            raise ValueError(
                "target=None explains the predicted class, which needs class scores (B, C); "
                f"the output has shape {tuple(outputs.shape)}: pass a PixelSet(c, mask) for segmentation"
            )
        return ClassScore(outputs.argmax(1))
    if isinstance(target, (numbers.Integral, Sequence, Tensor, np.ndarray, np.generic)) and not isinstance(target, (str, bool, np.bool_)):
        return ClassScore(target)
    if callable(target):
        return target
    raise TypeError(
        f"unsupported target {target!r}: give an int, a list / NumPy array / tensor of ints (one per sample), "
        "ClassScore(c), PixelSet(c, mask) or a callable outputs -> (B,) tensor"
    )


# --- pixel-set builders (masks shaped like the output's spatial dims) ---------------------------


def from_prediction(outputs: Tensor, classes: Classes) -> Tensor:
    """``M_b = {u : argmax_c outputs[b, :, u] == c_b}``: where the model predicts class ``c``; ``(B, *S)``."""
    index = class_index(classes, outputs)
    return outputs.argmax(1) == index.view(-1, *(1,) * (outputs.ndim - 2))


def point(shape: Sequence[int], position: Sequence[int]) -> Tensor:
    """A single pixel / voxel."""
    mask = empty(shape)
    _check_inside(shape, position)
    mask[tuple(position)] = True
    return mask


def box(shape: Sequence[int], start: Sequence[int], stop: Sequence[int]) -> Tensor:
    """The half-open box ``start <= u < stop`` (clipped to the image)."""
    if len(start) != len(shape) or len(stop) != len(shape):
        raise ValueError(f"box corners need {len(shape)} coordinates for shape {tuple(shape)}")
    mask = empty(shape)
    mask[tuple(slice(max(a, 0), b) for a, b in zip(start, stop))] = True
    return mask


def ball(shape: Sequence[int], center: Sequence[float], radius: float) -> Tensor:
    """A brush stroke's dab: all ``u`` with ``|u - center| <= radius`` (disc in 2D, ball in 3D)."""
    if len(center) != len(shape):
        raise ValueError(f"center needs {len(shape)} coordinates for shape {tuple(shape)}")
    grids = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in shape), indexing="ij")
    distance2 = sum((grid - c) ** 2 for grid, c in zip(grids, center))
    return distance2 <= radius**2


def all_pixels(shape: Sequence[int]) -> Tensor:
    """Every pixel: Seg-Grad-CAM's whole-image explanation."""
    return torch.ones(tuple(shape), dtype=torch.bool)


def empty(shape: Sequence[int]) -> Tensor:
    """No pixel: the sanity check whose CAM must be exactly zero."""
    return torch.zeros(tuple(shape), dtype=torch.bool)


def _check_inside(shape: Sequence[int], position: Sequence[int]) -> None:
    if len(position) != len(shape) or any(not 0 <= p < n for p, n in zip(position, shape)):
        raise IndexError(f"position {tuple(position)} is outside the output's spatial shape {tuple(shape)}")
