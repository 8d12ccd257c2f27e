"""Resolve layers and capture their outputs (or inputs) during one forward pass.

Every hook lives only inside ``run_and_capture`` and is removed in ``finally``, also when the
forward raises.  The model's mode, ``requires_grad`` flags, parameters and ``.grad`` are never
touched.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping

import torch
from torch import Tensor, nn

LayerSpec = str | nn.Module


def conv_ndim(model: nn.Module) -> int | None:
    """Spatial dimensionality of the model: that of its first ``ConvNd`` (None if it has none)."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return len(module.kernel_size)
    return None


def resolve_layers(model: nn.Module, layers: Iterable[LayerSpec]) -> dict[str, nn.Module]:
    """Map names from ``model.named_modules()`` (or module objects) to ``{name: module}``.

    Raises ``KeyError`` for an unknown name, listing close matches and the valid names.
    """
    named = dict(model.named_modules())
    names_by_id = {id(m): n for n, m in named.items()}
    resolved: dict[str, nn.Module] = {}
    for layer in layers:
        if isinstance(layer, nn.Module):
            if id(layer) not in names_by_id:
                raise KeyError(f"module {type(layer).__name__} is not part of the model; pass one of its submodules or a name")
            name = names_by_id[id(layer)]
        elif isinstance(layer, str):
            name = layer
            if name not in named or name == "":
                raise KeyError(_unknown_layer_message(name, named))
        else:
            raise TypeError(f"a layer is a name from model.named_modules() or an nn.Module, got {type(layer).__name__}")
        resolved[name] = named[name]
    if not resolved:
        raise ValueError("no layer given: pass at least one layer name, or layers=None for the default")
    return resolved


def _unknown_layer_message(name: str, named: Mapping[str, nn.Module]) -> str:
    valid = [n for n in named if n]
    close = difflib.get_close_matches(name, valid, n=5, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown layer {name!r}.{hint} Valid layer names: {', '.join(valid)}"


def run_and_capture(
    model: nn.Module,
    x: Tensor,
    modules: Mapping[str, nn.Module],
    differentiable: bool,
    inputs: Collection[str] = (),
) -> tuple[object, dict[str, Tensor]]:
    """Run ``model(x)`` once and return its output and the output of every module in ``modules``
    (for the names in ``inputs``: the module's input, its first positional argument, kept by a
    forward pre-hook).  The returned dict lists the layers in the order they ran.

    Each hook keeps the tensor and hands a clone downstream, so a following in-place op
    (``ReLU(inplace=True)``) cannot overwrite what was captured.  With ``differentiable=True`` the
    autograd graph starts at the first captured layer: the forward runs without grad until then,
    that activation becomes a leaf, and nothing below it is differentiated.
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
        if differentiable and not activations:
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
        with torch.no_grad():
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in modules if name not in activations]
    if missing:
        raise ValueError(f"layer(s) {missing} did not run in the model's forward pass, so they have no activations")
    return output, activations


def find_deepest_spatial_layer(model: nn.Module, x: Tensor) -> str:
    """The default layer: of the modules whose output still has spatial extent (more than one
    position), the one with the fewest positions, the last to run among equals."""
    spatial_ndim = x.ndim - 2
    seen: list[tuple[int, int, str]] = []
    calls: dict[str, int] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            calls[name] = calls.get(name, 0) + 1
            if isinstance(output, Tensor) and output.ndim == spatial_ndim + 2:
                positions = int(torch.tensor(output.shape[2:]).prod())
                if positions > 1:
                    seen.append((positions, -len(seen), name))

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    candidates = [entry for entry in seen if calls[entry[2]] == 1]
    if not candidates:
        raise ValueError(
            "found no layer whose output has spatial dims (B, C, *spatial) and runs once per forward; "
            "pass layers=[...] explicitly"
        )
    return min(candidates)[2]
