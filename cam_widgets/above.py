"""Forward passes that start at a layer: the part of the network below it replayed from a cache.

A perturbation method (Ablation-CAM, LIFT-CAM) changes the activations ``A`` of one layer and needs
the model's output for each change. Nothing that finished before the layer started can depend on
``A``, so ``LowerPart`` records one forward pass and afterwards answers every module call below the
layer with its recorded output: the top-most such calls (those whose caller is the model or one of
the layer's ancestors) return their outputs repeated for the groups of the perturbation batch (a
copy, never a view, made only when something reads it), and the layer returns the injected
activations (a copy too). Everything
else runs as written, the model's own code between the modules included, so skip connections
(U-Nets) and in-place residual adds stay exact for any module graph. A module that runs both below
and above the layer cannot be replayed and is refused, as shared modules are.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

from .layers import call_model, run_hooked

_NO_FORWARD = object()


def map_tensors(fn: Callable[[Tensor], Tensor], value: object) -> object:
    """``fn`` applied to every tensor in a (nested) tuple, list or dict; other values as they are."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, (tuple, list)):
        mapped = [map_tensors(fn, v) for v in value]
        return type(value)(*mapped) if hasattr(value, "_fields") else type(value)(mapped)
    if isinstance(value, dict):
        return type(value)((k, map_tensors(fn, v)) for k, v in value.items())
    return value


@dataclass
class _Call:
    module: nn.Module
    caller: nn.Module | None
    started_after_layer: bool


@dataclass
class LowerPart:
    """One forward pass of ``model`` on ``x`` recorded around the module ``layer``."""

    model: nn.Module
    x: Tensor
    layer: nn.Module
    cached: dict[int, list[object]] = field(default_factory=dict)
    modules: dict[int, nn.Module] = field(default_factory=dict)
    calls_above: dict[int, tuple[nn.Module, int]] = field(default_factory=dict)
    """Every module that ran above the layer, with how many times."""

    @classmethod
    def record(cls, model: nn.Module, x: Tensor, layer: nn.Module, layer_name: str) -> LowerPart:
        """Run ``model(x)`` once (no grad) and keep the outputs of the top-most calls below ``layer``."""
        with recording(model, x, layer, layer_name) as part:
            run_hooked(model, x, [])
        return part

    def run(self, activations: Tensor, groups: int, leaves_require_grad: bool = False) -> object:
        """The model's output with the layer's output replaced by ``activations`` (``(R, K, *S)``: ``groups``
        groups of the recorded batch's ``B`` samples, ``R = groups * B``); only the part above the layer computes.

        A replayed output that the part above the layer never reads (one that only feeds another replayed
        module, as the stem of a ResNet does) is not copied at all: it stands in as a NaN placeholder of its
        shape, and ``_CopiedWhenRead`` copies the recorded output into it the moment any torch function reads
        it (the same copy afterwards, so in-place ops on it hold). ``leaves_require_grad``: every replayed
        tensor is a leaf that requires grad, copied at once (hooks that attribution libraries put on the
        inputs of modules below the layer need it)."""
        batch = self.x.shape[0]
        copy_when_read = _CopiedWhenRead()

        def repeated(t: Tensor) -> Tensor:
            return t.repeat(groups, *(1,) * (t.ndim - 1)) if t.ndim and t.shape[0] == batch else t.clone()

        def replayed(t: Tensor) -> Tensor:
            if leaves_require_grad:
                copy = repeated(t)
                return copy.requires_grad_(True) if copy.is_floating_point() else copy
            if not (t.is_floating_point() and t.ndim and t.shape[0] == batch):
                return repeated(t)
            return copy_when_read.placeholder((t.shape[0] * groups, *t.shape[1:]), t, lambda: repeated(t))

        counts = dict.fromkeys(self.cached, 0)

        def replay(module_id: int) -> Callable[..., object]:
            def forward(*args: object, **kwargs: object) -> object:
                index = counts[module_id]
                counts[module_id] += 1
                return map_tensors(replayed, self.cached[module_id][index])

            return forward

        replacements = {id(m): (m, replay(i)) for i, m in self.modules.items()}
        replacements[id(self.layer)] = (self.layer, lambda *args, **kwargs: activations.clone())
        x = map_tensors(replayed, self.x)
        with _forwards_replaced(replacements.values()), copy_when_read:
            return call_model(self.model, x)


_METADATA = frozenset({
    Tensor.shape.__get__, Tensor.ndim.__get__, Tensor.dtype.__get__, Tensor.device.__get__, Tensor.layout.__get__,
    Tensor.requires_grad.__get__, Tensor.is_cuda.__get__, Tensor.size, Tensor.dim, Tensor.numel,
    Tensor.is_floating_point, Tensor.__len__,
})
"""Torch functions that read only a tensor's metadata, which a placeholder has right."""


class _CopiedWhenRead(TorchFunctionMode):
    """Placeholders for replayed outputs, replaced by their copies in every torch function that reads them."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[int, list] = {}  # id(placeholder) -> [placeholder (kept alive), make copy, copy]
        self._nan: dict[tuple, Tensor] = {}  # one NaN scalar per dtype and device, expanded to each shape

    def placeholder(self, shape: tuple[int, ...], like: Tensor, make: Callable[[], Tensor]) -> Tensor:
        """A NaN tensor of ``shape`` (``like``'s dtype and device, no memory of its own) that ``make()``'s result
        replaces wherever a torch function reads it."""
        key = (like.dtype, like.device)
        if key not in self._nan:
            self._nan[key] = torch.full((), float("nan"), dtype=like.dtype, device=like.device)
        stand_in = self._nan[key].expand(shape)
        self._pending[id(stand_in)] = [stand_in, make, None]
        return stand_in

    def _copy(self, value: object) -> object:
        entry = self._pending.get(id(value)) if isinstance(value, Tensor) else None
        if entry is None:
            return value
        if entry[2] is None:
            entry[2] = entry[1]()
        return entry[2]

    def _reads_a_placeholder(self, values: object) -> bool:
        """Whether any argument is a placeholder (containers are looked into by ``tree_map``: True)."""
        for value in values:
            if isinstance(value, Tensor):
                if id(value) in self._pending:
                    return True
            elif isinstance(value, (list, tuple, dict)):
                return True
        return False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in _METADATA and (self._reads_a_placeholder(args) or self._reads_a_placeholder(kwargs.values())):
            args, kwargs = tree_map(self._copy, (args, kwargs))
        return func(*args, **kwargs)


@contextlib.contextmanager
def recording(model: nn.Module, x: Tensor, layer: nn.Module, layer_name: str) -> Iterator[LowerPart]:
    """Hooks on every module that record the ``LowerPart`` of the forward pass of ``model`` on ``x`` run inside
    the block (the explainer's own forward, or ``LowerPart.record``'s); removed on exit, also after an error."""
    part = LowerPart(model, x, layer)
    ancestors = {id(m) for m in model.modules() if any(sub is layer for sub in m.modules())}
    names = {id(m): n for n, m in model.named_modules()}
    stack: list[_Call] = []
    below_names: dict[int, str] = {}
    state = {"started": False, "finished": False}

    def pre_hook(module: nn.Module, args: tuple) -> None:
        stack.append(_Call(module, stack[-1].module if stack else None, state["finished"]))
        if module is layer:
            state["started"] = True

    def hook(module: nn.Module, args: tuple, output: object) -> None:
        call = stack.pop()
        if module is layer:
            state["finished"] = True
        elif call.started_after_layer:
            calls = part.calls_above.get(id(module), (module, 0))[1]
            part.calls_above[id(module)] = (module, calls + 1)
        elif not state["started"]:
            below_names[id(module)] = names.get(id(module), type(module).__name__)
            if call.caller is None or id(call.caller) in ancestors:
                part.cached.setdefault(id(module), []).append(map_tensors(lambda t: t.detach().clone(), output))
                part.modules[id(module)] = module

    modules = {id(m): m for m in model.modules()}.values()
    handles = [h for m in modules for h in (m.register_forward_pre_hook(pre_hook), m.register_forward_hook(hook))]
    try:
        yield part
    finally:
        for handle in handles:
            handle.remove()
    both = sorted(below_names[i] for i in part.calls_above if i in below_names)
    if both:
        raise RuntimeError(
            f"module(s) {', '.join(repr(n) for n in both)} run both below and above layer {layer_name!r} (a shared "
            "module such as one self.relu used throughout), so the network above the layer cannot be run on its "
            "own for a perturbation method: give each use its own module, or choose another layer"
        )


class _PerCall(nn.Module):
    """Stands in for a module that runs more than once in a forward pass: its ``i``-th call runs copy ``i``."""

    def __init__(self, module: nn.Module, calls: int):
        super().__init__()
        self.copies = nn.ModuleList(copy.deepcopy(module) for _ in range(calls))
        self._calls = 0

    def forward(self, *args: object, **kwargs: object) -> object:
        module = self.copies[self._calls % len(self.copies)]
        self._calls += 1
        return module(*args, **kwargs)


class _Alias(nn.Module):
    """A second registration of a module (``self.act`` also inside ``self.final``): calls it without holding it
    as a child, so a walk over the children (``Module.apply``) meets the module once."""

    def __init__(self, module: nn.Module):
        super().__init__()
        object.__setattr__(self, "_target", module)

    def forward(self, *args: object, **kwargs: object) -> object:
        return self._target(*args, **kwargs)


@contextlib.contextmanager
def one_module_per_call(part: LowerPart) -> Iterator[None]:
    """While the block lasts, each module without parameters or buffers that runs more than once above the layer
    (one ``self.relu`` for both ReLUs of a ResNet block) is, in every parent that holds it, a ``_PerCall`` whose
    copies each serve one call: an attribution library that keeps state per module (Captum's DeepLift) then sees
    every call apart. A module registered in more than one place is reached through its first registration
    only (the others become ``_Alias`` calls to it), so such a library does not hook it twice. The same
    functions, so the same outputs; the parents get their own modules back on exit."""
    shared = {i: (m, n) for i, (m, n) in part.calls_above.items()
              if n > 1 and not list(m.children()) and next(iter(m.parameters()), None) is None
              and next(iter(m.buffers()), None) is None}
    stand_ins = {i: _PerCall(m, n) for i, (m, n) in shared.items()}
    registrations = [(parent, name, child) for parent in part.model.modules()
                     for name, child in parent._modules.items() if child is not None]
    seen: set[int] = set()
    swapped = []
    for parent, name, child in registrations:
        used = stand_ins.get(id(child), child)
        if id(child) in seen:
            swapped.append((parent, name, child, _Alias(used)))
        elif used is not child:
            swapped.append((parent, name, child, used))
        seen.add(id(child))
    try:
        for parent, name, child, stand_in in swapped:
            parent._modules[name] = stand_in
        yield
    finally:
        for parent, name, child, stand_in in swapped:
            parent._modules[name] = child


@contextlib.contextmanager
def _forwards_replaced(replacements: object) -> Iterator[None]:
    """Each module's ``forward`` replaced by an instance attribute, restored exactly afterwards."""
    saved = []
    try:
        for module, forward in replacements:
            saved.append((module, module.__dict__.get("forward", _NO_FORWARD)))
            module.forward = forward
        yield
    finally:
        for module, previous in saved:
            if previous is _NO_FORWARD:
                del module.forward
            else:
                module.forward = previous
