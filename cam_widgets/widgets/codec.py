"""The codecs of every array that goes to the browser, binary buffers, never JSON lists.

- Arrays: ``{buffer, dtype, shape, vmin, vmax}``; a ``uint8`` value ``q`` stands for
  ``vmin + q / 255 * (vmax - vmin)``. JS twin: ``decodeArray`` in ``js/src/codec.js``.
- Bit masks (the picker's pixel set ``M``): ``{buffer, shape, encoding: "bits"}``, C order, 8 pixels
  per byte, most significant bit first (``np.packbits``). JS twin: ``js/src/mask_codec.js``.
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
