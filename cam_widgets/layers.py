"""Which modules of a model can be explained: names, wrappers, and the layers with spatial output.

* ``resolve_layers``: names from ``model.named_modules()`` (or module objects) to modules, with a
  short error for an unknown name (close matches and the convolution-like layers, never the
  whole module list).
* Wrappers (``nn.DataParallel``, ``DistributedDataParallel``, ``torch.compile``'s
  ``OptimizedModule``) are run through the module they wrap (``forward_module``): explanations are
  per sample, need hooks (which compiled graphs do not honour) and gain nothing from scattering a
  batch. Their submodules are named with the wrapper's prefix (``module.``, ``_orig_mod.``) in
  ``model.named_modules()``; the unprefixed name is accepted too.
* ``spatial_layers``: one traced forward that lists every module's output shape, for the default
  layer and for errors that suggest the spatial layers nearest to a non-spatial one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

LayerSpec = str | nn.Module

_PARALLEL = (nn.DataParallel, nn.parallel.DistributedDataParallel)
CANDIDATE_TYPES = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)
"""Layers named in an unknown-layer message (the usual CAM layers are among or right after them)."""
SHOWN_CANDIDATES = 8
ALL_NAMES_UP_TO = 24
"""Models with at most this many named modules get all of them listed in an unknown-layer message."""
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _inner(model: nn.Module) -> tuple[nn.Module, str] | None:
    """The module a wrapper runs and the attribute it is kept under, or None."""
    if isinstance(model, _PARALLEL):
        return model.module, "module"
    original = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
    if isinstance(original, nn.Module) and type(model).__name__ == "OptimizedModule":
        return original, "_orig_mod"
    return None


def forward_module(model: nn.Module) -> nn.Module:
    """The module whose ``forward`` we run: the model, or what its wrappers wrap (innermost)."""
    while (inner := _inner(model)) is not None:
        model = inner[0]
    return model


def call_model(model: nn.Module, x: Tensor) -> object:
    """``forward_module(model)(x)``; an exception raised inside gets a note with the input's shape and
    dtype (a wrong channel count or size otherwise surfaces as a bare shape error from deep inside)."""
    try:
        return forward_module(model)(x)
    except Exception as error:
        if hasattr(error, "add_note"):
            error.add_note(f"(raised by the model's forward pass on x of shape {tuple(x.shape)}, {x.dtype}: check that "
                           "the input's channels and spatial size are what the model takes)")
        raise


def run_hooked(model: nn.Module, x: Tensor, handles: list) -> object:
    """``call_model(model, x)`` without grad, the hooks ``handles`` removed afterwards, also when it raises."""
    try:
        with torch.no_grad():
            return call_model(model, x)
    finally:
        for handle in handles:
            handle.remove()


def wrapper_prefix(model: nn.Module) -> str:
    """``"module."``, ``"_orig_mod."``, ... : the prefix wrappers add to their submodules' names."""
    prefix = ""
    while (inner := _inner(model)) is not None:
        model, attribute = inner
        prefix += attribute + "."
    return prefix


def conv_ndim(model: nn.Module) -> int | None:
    """Spatial dimensionality of the model: that of its first ``ConvNd`` (None if it has none)."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return len(module.kernel_size)
    return None


def resolve_layers(model: nn.Module, layers: Iterable[LayerSpec]) -> dict[str, nn.Module]:
    """Map names from ``model.named_modules()`` (or module objects) to ``{name: module}``.

    Raises ``KeyError`` for an unknown name, with close matches and a short list of candidates.
    """
    named = dict(model.named_modules())
    names_by_id = {id(m): n for n, m in named.items()}
    prefix = wrapper_prefix(model)
    resolved: dict[str, nn.Module] = {}
    for layer in layers:
        if isinstance(layer, nn.Module):
            if id(layer) not in names_by_id:
                raise KeyError(f"module {type(layer).__name__} is not part of the model; pass one of its submodules or a name")
            name = names_by_id[id(layer)]
        elif isinstance(layer, str):
            name = layer if layer in named or not prefix else prefix + layer
            if name not in named or layer == "":
                raise KeyError(unknown_layer_message(layer, named))
        else:
            raise TypeError(f"a layer is a name from model.named_modules() or an nn.Module, got {type(layer).__name__}")
        resolved[name] = named[name]
    if not resolved:
        raise ValueError("no layer given: pass at least one layer name, or layers=None for the default")
    return resolved


def unknown_layer_message(name: str, named: Mapping[str, nn.Module]) -> str:
    """Close matches, then every name for a small model; for a larger one the last few convolution /
    pooling layers and the top-level children: a few hundred characters however large the model."""
    valid = [n for n in named if n]
    lowered = {n.lower(): n for n in valid}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=5, cutoff=0.6)
    close = [lowered[c] for c in close]
    close += [n for n in valid if n.endswith("." + name) and n not in close]
    parts_of_name = name.split(".")
    parent = next((".".join(parts_of_name[:k]) for k in range(len(parts_of_name) - 1, 0, -1)
                   if ".".join(parts_of_name[:k]) in named), None)
    if parent:  # the deepest module the name starts with: its convolution-like layers come first
        inside = [n for n, m in named.items() if n.startswith(parent + ".") and isinstance(m, CANDIDATE_TYPES)]
        close = inside[-3:] + [c for c in close if c not in inside]
    hint = f" Did you mean {', '.join(repr(c) for c in close[:5])}?" if close else ""
    if len(valid) <= ALL_NAMES_UP_TO:
        return f"unknown layer {name!r}.{hint} Valid layer names: {', '.join(valid)}"
    convs = [n for n, m in named.items() if n and isinstance(m, CANDIDATE_TYPES)]
    children = [n for n in valid if "." not in n]
    parts = [f"unknown layer {name!r}.{hint}"]
    if convs:
        shown = convs[-SHOWN_CANDIDATES:]
        more = f" (the last {len(shown)} of {len(convs)})" if len(convs) > len(shown) else ""
        parts.append(f"Convolution and pooling layers{more}: {', '.join(shown)}.")
    if children:
        more = f", ... ({len(children)} in all)" if len(children) > SHOWN_CANDIDATES else ""
        parts.append(f"Top-level modules: {', '.join(children[:SHOWN_CANDIDATES])}{more}.")
    parts.append(f"The model has {len(valid)} named modules: see model.named_modules().")
    return " ".join(parts)


# --- traced forward: every module's output shape ------------------------------------------------


@dataclass(frozen=True)
class Traced:
    """One module's output in a traced forward: ``order`` is when it finished (children before
    their containers), ``positions`` its spatial size (0 when its output is not ``(B, C, *S)``)."""

    name: str
    order: int
    positions: int
    calls: int


def trace_outputs(model: nn.Module, x: Tensor) -> list[Traced]:
    """Run ``model(x)`` once (no grad) with a hook on every named module; hooks removed in ``finally``."""
    spatial_ndim = x.ndim - 2
    seen: dict[str, list[int]] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            spatial = isinstance(output, Tensor) and output.ndim == spatial_ndim + 2
            positions = int(torch.tensor(output.shape[2:]).prod()) if spatial else 0
            entry = seen.setdefault(name, [len(seen), positions, 0])
            entry[2] += 1

        return hook

    run_hooked(model, x, [m.register_forward_hook(make_hook(n)) for n, m in model.named_modules() if n])
    return [Traced(name, order, positions, calls) for name, (order, positions, calls) in seen.items()]


def find_deepest_spatial_layer(model: nn.Module, x: Tensor) -> str:
    """The default layer: of the modules whose output still has spatial extent (more than one
    position) and that run once, the one with the fewest positions, the last to run among equals."""
    candidates = [t for t in trace_outputs(model, x) if t.positions > 1 and t.calls == 1]
    if not candidates:
        raise ValueError(
            "found no layer whose output has spatial dims (B, C, *spatial) and runs once per forward; "
            "pass layers=[...] explicitly"
        )
    return min(candidates, key=lambda t: (t.positions, -t.order)).name


def spatial_layers_near(model: nn.Module, x: Tensor, name: str, count: int = 3) -> list[str]:
    """The spatial layers (output ``(B, C, *S)`` with more than one position, run once) that finished
    closest before ``name`` (the last ones first), or, when none did, the first ones after it."""
    traced = trace_outputs(model, x)
    spatial = [t for t in traced if t.positions > 1 and t.calls == 1 and t.name != name]
    order = next((t.order for t in traced if t.name == name), len(traced))
    before = sorted((t for t in spatial if t.order < order), key=lambda t: -t.order)
    after = sorted((t for t in spatial if t.order > order), key=lambda t: t.order)
    return [t.name for t in (before or after)[:count]]


def require_spatial(model: nn.Module, x: Tensor, name: str, activation: Tensor, module: nn.Module) -> None:
    """A CAM needs the layer's output shaped like the input, ``(B, K, *spatial)``: say which layers are."""
    if activation.ndim == x.ndim and activation.shape[0] == x.shape[0]:
        return
    near = spatial_layers_near(model, x, name)
    hint = f"; the spatial layers nearest to it: {', '.join(repr(n) for n in near)}" if near else ""
    what = "the whole model" if name == "" else f"layer {name!r} ({type(module).__name__})"
    raise ValueError(
        f"{what} outputs shape {tuple(activation.shape)}, which has no spatial dims like the input's "
        f"{tuple(x.shape)}: a CAM needs a layer whose output is (B, channels, {_SPATIAL.get(x.ndim - 2, '*spatial')}), "
        f"e.g. a convolution, pooling or activation before the flatten / pooling head{hint}"
    )
