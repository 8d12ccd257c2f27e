"""Capture layer outputs (or inputs) during one forward pass.

Every hook lives only inside ``run_and_capture`` and is removed in ``finally``, also when the
forward raises.  The model's mode, ``requires_grad`` flags, parameters and ``.grad`` are never
touched.  Resolving names and finding layers lives in ``layers``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping

import torch
from torch import Tensor, nn

from .layers import call_model

_CHECKPOINT_FILE = os.path.join("torch", "utils", "checkpoint.py")
_FUNCTION_FILE = os.path.join("torch", "autograd", "function.py")


def hidden_from_autograd(grad_mode_known: bool = True) -> str | None:
    """Why a hook that runs now cannot be differentiated through, or None: inside a reentrant
    ``torch.utils.checkpoint`` segment or a custom ``autograd.Function``, the segment runs without
    a graph and its output is tied to the Function's own backward, never to what a hook keeps; or,
    when ``grad_mode_known`` (grad was enabled by the first capture), inside a ``no_grad`` block."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.endswith(_CHECKPOINT_FILE) and code.co_name == "forward":
            return (
                "it runs inside torch.utils.checkpoint(..., use_reentrant=True), which hides the segment's "
                "activations from autograd: use use_reentrant=False (or turn gradient checkpointing off while "
                "explaining), or choose a layer outside the checkpointed segment"
            )
        if code.co_filename.endswith(_FUNCTION_FILE) and code.co_name == "apply":
            return ("it runs inside a custom torch.autograd.Function, whose forward has no graph: choose a layer "
                    "outside that Function")
        frame = frame.f_back
    if grad_mode_known and not torch.is_grad_enabled():
        return ("it runs inside a torch.no_grad() block of the model's forward: choose a layer outside that block, "
                "or remove the no_grad from the model's forward")
    return None


def run_and_capture(
    model: nn.Module,
    x: Tensor,
    modules: Mapping[str, nn.Module],
    differentiable: bool,
    inputs: Collection[str] = (),
    hidden: dict[str, str] | None = None,
    from_input: bool = False,
) -> tuple[object, dict[str, Tensor]]:
    """Run ``model(x)`` once and return its output and the output of every module in ``modules``
    (for the names in ``inputs``: the module's input, its first positional argument, kept by a
    forward pre-hook).  The returned dict lists the layers in the order they ran.

    Each hook keeps the tensor and hands a clone downstream, so a following in-place op
    (``ReLU(inplace=True)``) cannot overwrite what was captured.  With ``differentiable=True`` the
    autograd graph starts at the first captured layer: the forward runs without grad until then,
    that activation becomes a leaf, and nothing below it is differentiated.  ``hidden`` (if given)
    receives, per layer, why autograd cannot see it (``hidden_from_autograd``). ``from_input=True``
    differentiates the whole forward instead, from ``x`` (which the caller made a leaf), as FullGrad needs.
    """
    activations: dict[str, Tensor] = {}
    calls: dict[str, int] = {}
    unknown = [name for name in inputs if name not in modules]
    if unknown:
        raise KeyError(f"inputs {unknown} are not among the captured modules ({', '.join(modules)})")

    def keep(name: str, module: nn.Module, value: object, what: str) -> Tensor:
        calls[name] = calls.get(name, 0) + 1
        if calls[name] > 1:
            raise RuntimeError(
                f"layer {name!r} ({type(module).__name__}) is called more than once in one forward "
                f"(a shared module such as one self.relu used twice); its {what} is ambiguous: "
                "choose a layer that runs once, e.g. the convolution before it"
            )
        if not isinstance(value, Tensor):
            raise TypeError(
                f"layer {name!r} ({type(module).__name__}) {'takes' if what == 'input' else 'returns'} "
                f"{type(value).__name__}, not a tensor; choose a submodule whose {what} is a single tensor"
            )
        if differentiable and hidden is not None:
            reason = hidden_from_autograd(grad_mode_known=bool(activations))
            if reason:
                hidden[name] = reason
        if differentiable and not activations and not from_input:
            value = value.detach().requires_grad_(True)
            torch.set_grad_enabled(True)
        activations[name] = value
        return value.clone()

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> Tensor:
            return keep(name, module, output, "output")

        return hook

    def make_pre_hook(name: str):
        def pre_hook(module: nn.Module, args: tuple) -> tuple:
            first = args[0] if args else None
            return (keep(name, module, first, "input"), *args[1:])

        return pre_hook

    handles = [
        module.register_forward_pre_hook(make_pre_hook(name)) if name in inputs
        else module.register_forward_hook(make_hook(name))
        for name, module in modules.items()
    ]
    try:
        with torch.set_grad_enabled(from_input):
            output = call_model(model, x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in modules if name not in activations]
    if missing:
        raise ValueError(f"layer(s) {missing} did not run in the model's forward pass, so they have no activations")
    return output, activations
