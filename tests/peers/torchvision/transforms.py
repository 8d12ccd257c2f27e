"""``torchvision.transforms.Compose``, ``Normalize`` and ``ToTensor`` for arrays and tensors.

``ToTensor`` takes an (H, W) or (H, W, C) NumPy array (or anything ``np.asarray`` turns into one, such
as a PIL image) and returns a (C, H, W) tensor, divided by 255 only for ``uint8`` input, as
torchvision does. ``Normalize`` subtracts ``mean`` and divides by ``std`` per channel of a
(..., C, H, W) tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["Compose", "Normalize", "ToTensor"]


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, value):
        for transform in self.transforms:
            value = transform(value)
        return value

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class ToTensor:
    """(H, W[, C]) array -> (C, H, W) tensor; ``uint8`` is scaled to [0, 1] as float32."""

    def __call__(self, picture) -> Tensor:
        array = np.asarray(picture)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(f"ToTensor expects an (H, W) or (H, W, C) array, got shape {array.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
        if tensor.dtype == torch.uint8:
            return tensor.to(torch.get_default_dtype()).div(255)
        return tensor

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(tensor - mean) / std`` per channel (dim -3); not in place unless ``inplace``."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
        self.mean, self.std, self.inplace = list(mean), list(std), inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        if not tensor.is_floating_point():
            raise TypeError(f"Normalize expects a floating-point tensor, got {tensor.dtype}")
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        if (std == 0).any():
            raise ValueError("std evaluated to zero, leading to division by zero")
        return tensor.sub_(mean).div_(std) if self.inplace else (tensor - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"
