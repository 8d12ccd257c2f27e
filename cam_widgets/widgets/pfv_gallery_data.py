"""What ``PFVGallery`` shows, as pure functions of a ``PFVResult`` and the batch: the grey base, the blend the
browser draws (``blendRGBA`` in ``js/src/pfv_gallery/pixels.js`` is its twin), the slices of a volume, the
foreground bars (the paper's Fig. 5), the y ticks of the bar charts and the titles.

Images travel as uint8 levels ``q = round(255 v)`` of values ``v`` in ``[0, 1]`` (``codec.encode_array`` with
the range ``[0, 1]``): the PFV ``rgb`` per displayed sample ``(n, *spatial, 3)`` and the grey base
``(n, *spatial)``. A pixel on screen is, per channel c,

    out_c = round((1 - opacity) * q_grey + opacity * q_rgb_c)      (rounding half to even)

The *foreground* of image b is where A^b (``PFVResult.activation``, Eq. 2) is above the median of A^b over
the whole displayed batch and every position (3D: the whole volume, not only the shown slice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..pfv import PFVResult

CHANNELS = ("R", "G", "B")


def grey_image(x: Tensor) -> np.ndarray:
    """A sample's grey version ``(*spatial)`` in [0, 1]: the mean over the input channels, min-max scaled per
    sample (a constant image gives zeros)."""
    g = x.detach().to(torch.float64).cpu().mean(0).numpy()
    low, high = g.min(), g.max()
    return (g - low) / (high - low) if high > low else np.zeros_like(g)


def channel_last(rgb: Tensor) -> np.ndarray:
    """``(n, 3, *spatial)`` -> ``(n, *spatial, 3)`` float64, the layout the browser receives."""
    return np.moveaxis(rgb.detach().to(torch.float64).cpu().numpy(), 1, -1)


def blend(grey: np.ndarray, rgb: np.ndarray, opacity: float) -> np.ndarray:
    """``round((1 - opacity) * grey + opacity * rgb)`` on uint8 levels: ``grey`` ``(...)``, ``rgb``
    ``(..., 3)`` -> ``(..., 3)`` uint8, as the browser draws it."""
    g = grey.astype(np.float64)[..., None]
    return np.round((1.0 - opacity) * g + opacity * rgb.astype(np.float64)).clip(0, 255).astype(np.uint8)


def take_slice(sample: np.ndarray, spatial_ndim: int, axis: int, index: int) -> np.ndarray:
    """The 2D slice of a sample ``(*spatial[, channels])`` along ``axis`` (a 2D image is its own slice), rows and
    columns as ``js/src/slicing.js``: axis 0 rows y, cols x; axis 1 rows z, cols x; axis 2 rows z, cols y."""
    return sample if spatial_ndim == 2 else np.take(sample, index, axis=axis)


def foreground(result: PFVResult) -> Tensor:
    """``(B, *spatial)`` bool: A^b above the median of A^b over the whole batch and every position."""
    a = result.activation.detach().to(torch.float64).cpu()
    return a > a.median()


def foreground_means(result: PFVResult) -> np.ndarray:
    """``(B, n)``: per image, the mean of each rgb channel over its foreground (``foreground``); 0 where an
    image has no foreground (``has_foreground`` tells those apart)."""
    rgb = result.rgb.detach().to(torch.float64).cpu()
    mask = foreground(result).to(torch.float64)
    flat_mask = mask.reshape(mask.shape[0], 1, -1)
    total = (rgb.reshape(*rgb.shape[:2], -1) * flat_mask).sum(-1)
    return (total / flat_mask.sum(-1).clamp_min(1)).numpy()   # total is 0 where the count is 0


def has_foreground(result: PFVResult) -> np.ndarray:
    """``(B,)`` bool: whether image b has any foreground position."""
    return foreground(result).flatten(1).any(1).numpy()


def no_foreground_message(result: PFVResult) -> str:
    """Why an image has no foreground bars (shown in place of them)."""
    if not result.weight_layers:
        return (f"no foreground: {result.layer} is the first layer, so A^b = 1 everywhere (nothing weights it); "
                "a later layer has R/G/B bars")
    return "no foreground: A^b of this image is nowhere above the batch median (a constant activation?)"


def bar_ticks(low: float = 0.0, high: float = 1.0, max_ticks: int = 5) -> list[float]:
    """Round tick values from ``low`` to ``high`` with a step of 1, 2 or 5 x 10^k, at most ``max_ticks``
    (``barTicks`` in ``js/src/pfv_gallery/bars.js``): ``bar_ticks(0, 1, 3) == [0, 0.5, 1]``."""
    span = high - low
    if not span > 0 or max_ticks < 2:
        return [low]
    raw = span / (max_ticks - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.ceil(low / step - 1e-9)
    count = math.floor(high / step + 1e-9) - first + 1
    return [round((first + k) * step, 12) for k in range(count)]


def class_name(names: Sequence[str] | None, c: int) -> str:
    return names[c] if names is not None and 0 <= c < len(names) else str(c)


def sample_title(shown_index: int | str, true: int | None, predicted: int | None,
                 names: Sequence[str] | None) -> str:
    """``"#12 · true ring · pred wheel"``: the data set's index of the sample, its class and the prediction."""
    parts = [f"#{shown_index}"]
    if true is not None:
        parts.append(f"true {class_name(names, true)}")
    if predicted is not None:
        parts.append(f"pred {class_name(names, predicted)}")
    return " · ".join(parts)


def header_text(result: PFVResult) -> str:
    """What the gallery shows above its grid: the layer, the components as R, G, B with their explained
    variance, and what weights them."""
    ratio = result.explained_variance_ratio
    parts = [f"{c} = component {k} ({100 * float(ratio[k - 1]):.1f}%)"
             for c, k in zip(CHANNELS, result.component_numbers)]
    weights = (f"weighted by {', '.join(result.weight_layers)}" if result.weight_layers
               else "unweighted (first layer)")
    variant = ", hierarchical" if result.hierarchical and result.weight_layers else ""
    return f"PFV of {result.layer} · {', '.join(parts)} · {weights}{variant}"


def predicted_classes(model: nn.Module, batch: Tensor, chunk: int) -> list[int] | None:
    """Each sample's predicted class where the model is a classifier (a ``(B, classes)`` tensor out), ``chunk``
    samples per forward pass; else None."""
    predictions: list[int] = []
    with torch.no_grad():
        for start in range(0, len(batch), chunk):
            out = model(batch[start:start + chunk])
            if not isinstance(out, Tensor) or out.ndim != 2:
                return None
            predictions += out.argmax(1).tolist()
    return predictions


def per_sample(values: Sequence[int] | Tensor | None, n: int, name: str, what: str) -> list[int] | None:
    """One integer per sample (``labels``, ``indices``), or None."""
    if values is None:
        return None
    flat = torch.as_tensor(values).flatten()
    if flat.is_floating_point() or flat.dtype == torch.bool or len(flat) != n:
        raise ValueError(f"{name}: {what}, {n} integers for this batch, got {len(flat)} of type {flat.dtype}")
    return [int(v) for v in flat.tolist()]
