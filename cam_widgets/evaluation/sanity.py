"""Sanity checks of maps (Adebayo et al. 2018, "Sanity checks for saliency maps"; DESIGN.md section 10).

* ``randomisation``: cascading model-parameter randomisation from the top down. The modules that own
  parameters (``recurse=False``) and have ``reset_parameters()`` are re-initialised one more per step, in
  reverse order of their first call in a forward; step ``l`` reports, per sample,
  ``rho_l = spearman(map(f), map(f_l))`` with ``f_l`` the model with its top ``l`` such modules re-initialised
  (step 0, the original model, is not a column). A map that follows the model decorrelates as ``l`` grows.
* ``random_logit``: ``rho = spearman(map(c), map(c'))`` with ``c`` the explained class and
  ``c' = (c + 1 + r) % C``, ``r ~ randint(C - 1)`` drawn per sample: a class-sensitive map is not the same
  for another class.

The user's model is never touched: randomisation works on ``copy.deepcopy(model)``, and every draw comes
from a seeded generator (the global RNG state is the same afterwards).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from ..checks import require_eval_mode
from ..explainer import CAMExplainer
from ..layers import LayerSpec, resolve_layers
from ..methods import CAMMethod
from ..probe import Progress, make_reporter
from ..targets import ClassScore, as_target, class_index
from .common import DEFAULT_BATCH_SIZE, centred_ranks, spearman
from .results import MetricResult, over_data

if TYPE_CHECKING:
    from collections.abc import Iterable

Pair = tuple[str | CAMMethod, LayerSpec | None]


@dataclass
class RandomisationResult(MetricResult):
    """``layers``: the re-initialised modules, top-down (column ``l`` of ``correlation`` has the first ``l + 1``
    of them re-initialised); ``skipped``: modules that own parameters but have no ``reset_parameters()`` (kept
    as they are), in the same order (modules the forward never calls are in neither); ``correlation``
    ``(B, L)`` float64: Spearman's rho between the original and the randomised map per sample and step (NaN
    where either map is constant)."""

    layers: list[str]
    skipped: list[str]
    correlation: Tensor

    MAIN = ("correlation",)
    SHARED = ("layers", "skipped")
    COLUMNS = {"correlation": "layers"}


@dataclass
class RandomLogitResult(MetricResult):
    """``correlation`` ``(B,)`` float64: Spearman's rho between the map of the explained class and the map of
    ``classes`` ``(B,)`` (int64), the random other class of each sample."""

    correlation: Tensor
    classes: Tensor

    MAIN = ("correlation",)


@over_data
def randomisation(explainer: CAMExplainer, x: Tensor, target: object = None, method: str | CAMMethod = "gradcam",
                  layer: LayerSpec | None = None, seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: Progress = True) -> RandomisationResult:
    """Cascading model-parameter randomisation: ``correlation[b, l] = spearman(map_b(f), map_b(f_l))``.

    ``f_l``: a deep copy of the model whose top ``l + 1`` modules (of those owning parameters and having
    ``reset_parameters()``, in reverse order of their first call) are re-initialised, each by its own
    ``reset_parameters()`` right after seeding the CPU generator with ``seed`` (inside
    ``torch.random.fork_rng``), run on the CPU so the new weights do not depend on the model's device.
    ``target=None`` explains the original model's predicted class at every step; the maps are ``.map`` of a
    ``CAMExplainer`` on the copy with the user's ``output=`` selector and layer. ``batch_size`` is accepted for
    a uniform signature (each step is one explanation of the batch).

        r = randomisation(explainer, x, layer="maxpool2"); r.layers, r.correlation.mean(0)
    """
    pair = (method, layer)
    layers, skipped, correlations = randomisation_correlations(explainer, x, target, [pair], seed, progress)
    return RandomisationResult(layers, skipped, correlations[pair])


def randomisation_correlations(explainer: CAMExplainer, x: Tensor, target: object, pairs: Sequence[Pair],
                               seed: int = 0, progress: Progress = True
                               ) -> tuple[list[str], list[str], dict[Hashable, Tensor]]:
    """``(layers, skipped, {pair: (B, L) float64 on the CPU})`` for several ``(method, layer)`` pairs from the
    same randomised copies (one re-initialisation and one forward per step for all pairs); ``randomisation``
    is this with one pair."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("give at least one (method, layer) pair to randomise")
    _check_seed(seed)
    x = torch.as_tensor(x)
    require_eval_mode(explainer.model)
    model = _copy_model(explainer.model)
    twin, names = _twin_explainer(explainer, model, [layer for _, layer in pairs])
    inner = False if callable(progress) else progress
    owners = {name: m for name, m in model.named_modules() if next(m.parameters(recurse=False), None) is not None}
    first_call: dict[str, int] = {}
    handles = [m.register_forward_pre_hook(functools.partial(_record, first_call, name)) for name, m in owners.items()]
    try:
        output = twin.predict(x)
        fixed = as_target(None, output) if target is None else target  # the original model's predicted class
        names = [twin.layers[0] if name is None else name for name in names]
        originals = [centred_ranks(twin.explain(x, fixed, method, name, inner).map.detach())
                     for (method, _), name in zip(pairs, names)]
    finally:
        for handle in handles:
            handle.remove()
    top_down = sorted(first_call, key=first_call.__getitem__, reverse=True)
    layers = [name for name in top_down if callable(getattr(owners[name], "reset_parameters", None))]
    skipped = [name for name in top_down if name not in layers]
    columns = [torch.full((x.shape[0], len(layers)), float("nan"), dtype=torch.float64) for _ in pairs]
    report = make_reporter(progress, len(layers), "randomisation steps")
    try:
        for step, name in enumerate(layers):
            _reinitialise(owners[name], name, seed)
            twin.clear()
            for column, (method, _), layer_name, original in zip(columns, pairs, names, originals):
                randomised = twin.explain(x, fixed, method, layer_name, inner).map.detach()
                column[:, step] = spearman(original, randomised).cpu()
            report(1)
    finally:
        report(None)
    return layers, skipped, dict(zip(pairs, columns))


def random_logit(explainer: CAMExplainer, x: Tensor, target: object = None, method: str | CAMMethod = "gradcam",
                 layer: LayerSpec | None = None, seed: int | torch.Generator = 0,
                 batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True) -> RandomLogitResult:
    """Random-logit test: ``correlation_b = spearman(map_b(c_b), map_b(c'_b))``, ``c'_b = (c_b + 1 + r_b) % C``.

    ``c``: the class ``target`` names (an int or one per sample), or the predicted class for ``target=None``;
    ``r_b`` from ``torch.randint(C - 1, generator=g)`` with one CPU ``torch.Generator`` ``g`` seeded by ``seed``
    (or ``seed`` itself when it is a generator), drawn per sample in batch order and, over a data set, on
    through the batches (so a list of batches gives what one batch of all samples gives). Class outputs
    ``(B, C)`` with ``C >= 2`` only. ``batch_size`` is accepted for a uniform signature.

        r = random_logit(explainer, x); r.classes, r.correlation
    """
    given = {name: value for name, value in (("target", target), ("layer", layer)) if value is not None}
    return _random_logit(explainer, x, method=method, seed=_generator(seed), batch_size=batch_size,
                         progress=progress, **given)


def _random_logit_batch(explainer: CAMExplainer, x: Tensor, target: object = None, method: str | CAMMethod = "gradcam",
                        layer: LayerSpec | None = None, seed: torch.Generator | None = None,
                        batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress = True) -> RandomLogitResult:
    output = explainer.predict(x)
    if output.ndim != 2 or output.shape[1] < 2:
        raise ValueError(f"random_logit compares the maps of two classes, so it needs class scores (B, C) with C >= 2; "
                         f"the model's output has shape {tuple(output.shape)}")
    chosen = as_target(target, output)
    if not isinstance(chosen, ClassScore):
        raise TypeError(f"random_logit explains classes: target must be None (the predicted class), an int or one int "
                        f"per sample, got {target!r}")
    predicted = class_index(chosen.classes, output)  # checked: one per sample, in range
    n_classes = output.shape[1]
    draws = torch.randint(n_classes - 1, (x.shape[0],), generator=seed)
    classes = (predicted.cpu() + 1 + draws) % n_classes
    original = explainer.explain(x, predicted, method, layer, progress).map.detach()
    other = explainer.explain(x, classes.to(output.device), method, layer, progress).map.detach()
    return RandomLogitResult(spearman(original, other).cpu(), classes)


_random_logit_batch.__name__ = "random_logit"
_random_logit = over_data(_random_logit_batch)


# --- helpers -------------------------------------------------------------------------------------


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r}")


def _generator(seed: int | torch.Generator) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        if seed.device.type != "cpu":
            raise ValueError("random_logit draws on the CPU (the classes do not depend on the device): give a CPU "
                             f"generator, got one on {seed.device}")
        return seed
    _check_seed(seed)
    return torch.Generator().manual_seed(int(seed))


def _copy_model(model: nn.Module) -> nn.Module:
    """``copy.deepcopy(model)`` without parameter gradients (the copy is only explained)."""
    try:
        twin = copy.deepcopy(model)
    except Exception as error:
        raise TypeError(f"randomisation re-initialises a deep copy of the model (the model itself is never changed), "
                        f"and copy.deepcopy failed for this {type(model).__name__}: {error}") from error
    for parameter in twin.parameters():
        parameter.grad = None
    return twin


def _twin_explainer(explainer: CAMExplainer, model: nn.Module, layers: Iterable[LayerSpec | None]
                    ) -> tuple[CAMExplainer, list[str | None]]:
    """A ``CAMExplainer`` on the copy with the user's output selector, capturing every layer the pairs name
    (by name in the user's model, which the copy shares); ``None`` stays the user's default layer (the copy's
    first captured layer: the user's first, or the same default found on the copy)."""
    names = [None if layer is None else next(iter(resolve_layers(explainer.model, [layer]))) for layer in layers]
    captured = list(dict.fromkeys(explainer.layers + [n for n in names if n is not None]))
    if None in names and not explainer.layers:
        captured = []  # the default is found on the first input, as the user's explainer finds it
    twin = CAMExplainer(model, layers=captured or None, output=explainer.output,
                        all_class_memory=explainer.all_class_memory)
    return twin, names


def _record(first_call: dict[str, int], name: str, module: nn.Module, inputs: tuple) -> None:
    first_call.setdefault(name, len(first_call))


def _reinitialise(module: nn.Module, name: str, seed: int) -> None:
    """``module.reset_parameters()`` on the CPU right after seeding the CPU generator with ``seed``, inside
    ``fork_rng`` (the caller's RNG state is restored); the module then goes back to its device."""
    devices = {t.device for t in [*module.parameters(), *module.buffers()]}
    if len(devices) != 1:
        raise ValueError(f"module {name!r} has its tensors on several devices ({sorted(map(str, devices))}); "
                         "randomisation re-initialises one module on one device")
    device = devices.pop()
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        module.to("cpu")
        try:
            module.reset_parameters()
        finally:
            module.to(device)
