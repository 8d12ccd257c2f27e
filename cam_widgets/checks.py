"""The contract between a model and an input batch, checked the same way by every explainer."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

_LAYOUTS = {1: "(B, C, L)", 2: "(B, C, H, W)", 3: "(B, C, D, H, W)"}


def require_eval_mode(model: nn.Module) -> None:
    """Refuse a model in train mode, naming the modules and the fix."""
    training = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    if training:
        raise RuntimeError(
            f"the model is in train mode ({', '.join(training[:5])}{' ...' if len(training) > 5 else ''}); "
            "call model.eval() first: BatchNorm would update its running statistics and mix the samples, "
            "Dropout would drop features"
        )


def check_batch(model: nn.Module, x: Tensor, spatial_ndim: int | None) -> Tensor:
    """``x`` must be a floating batch ``(B, C, *spatial)`` of the model's dimensionality and dtype."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor batch (B, C, *spatial), got {type(x).__name__}")
    if spatial_ndim is not None and x.ndim != spatial_ndim + 2:
        layout = _LAYOUTS.get(spatial_ndim, "(B, C, *spatial)")
        hint = " (add the batch dim with x.unsqueeze(0))" if x.ndim == spatial_ndim + 1 else ""
        raise ValueError(f"the model's convolutions are {spatial_ndim}D, so x must be a batch {layout}; "
                         f"got shape {tuple(x.shape)}{hint}")
    if x.ndim >= 1 and x.shape[0] == 0:
        raise ValueError(f"x is an empty batch, shape {tuple(x.shape)}: give at least one sample")
    if 0 in x.shape[1:]:
        raise ValueError(f"x has an empty dim, shape {tuple(x.shape)}: every channel and spatial dim needs a size >= 1")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.dtype != x.dtype:
        raise TypeError(f"x is {x.dtype} but the model's parameters are {parameter.dtype}; "
                        f"convert one of them (e.g. x.to({parameter.dtype}))")
    return x


def on_model_device(model: nn.Module, x: Tensor) -> Tensor:
    """``x`` on the device of the model's first parameter or buffer (as it is for a model with none)."""
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return x if first is None else x.to(first.device)


def require_finite(x: Tensor, what: str) -> None:
    """NaN or inf in the input would give a NaN ``what``: say so instead."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"x contains NaN or inf values; a {what} of it would be NaN: clean the input first")
