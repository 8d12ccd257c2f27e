"""One codec for every array that goes to the browser: ``{buffer, dtype, shape, vmin, vmax}``.

A ``uint8`` value ``q`` stands for ``vmin + q / 255 * (vmax - vmin)``; the JS twin is
``js/src/codec.js`` (``decodeArray``). Arrays travel as binary buffers, never as JSON lists.
"""

from __future__ import annotations

import numpy as np
import torch

from ..resample import to_uint8


def encode_array(values: torch.Tensor | np.ndarray, vmin: float | None = None, vmax: float | None = None,
                 dtype: str = "uint8") -> dict:
    """Encode ``values`` (any shape) for a binary trait; the range defaults to the values' min and max."""
    tensor = torch.as_tensor(values).detach().to("cpu", torch.float32)
    low = float(tensor.min()) if vmin is None else float(vmin)
    high = float(tensor.max()) if vmax is None else float(vmax)
    if dtype == "uint8":
        data = to_uint8(tensor, low, high).numpy()
    elif dtype == "float32":
        data = tensor.numpy()
    else:
        raise ValueError(f"dtype must be 'uint8' or 'float32', got {dtype!r}")
    return {"buffer": np.ascontiguousarray(data).tobytes(), "dtype": dtype, "shape": list(tensor.shape),
            "vmin": low, "vmax": high}


def decode_array(encoded: dict) -> np.ndarray:
    """The real values of an encoded array (float64, as JavaScript computes them)."""
    shape = tuple(encoded["shape"])
    if encoded["dtype"] == "float32":
        return np.frombuffer(encoded["buffer"], dtype=np.float32).reshape(shape).astype(np.float64)
    q = np.frombuffer(encoded["buffer"], dtype=np.uint8).reshape(shape).astype(np.float64)
    return encoded["vmin"] + (encoded["vmax"] - encoded["vmin"]) / 255 * q
