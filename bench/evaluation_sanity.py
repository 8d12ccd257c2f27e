"""``bench/evaluation.py``, sanity checks of the demo CNN-1 (3D) against the passes they need: the cascading
randomisation needs one Grad-CAM (a forward and a backward to the layer) of the batch on the original model and on
each of the ``L`` randomised copies; the random-logit test one forward and two backwards (two classes).

The bound's passes are ``core.py``'s: a forward whose layer output becomes a leaf (no autograd below it) and one
``torch.autograd.grad`` of the summed class scores to it, on copies randomised beforehand (untimed) as DESIGN.md 10
says (top-down over the modules that own parameters and have ``reset_parameters()``, each re-initialised after
``torch.manual_seed(seed)`` in ``fork_rng``, on the CPU). Their Grad-CAMs, upsampled as ``.map`` is, give the
Grad-CAMs, upsampled as ``.map`` is, must equal ``.map`` of a ``CAMExplainer`` on those copies (to 1e-5 of each
map's maximum), and the correlations of those ``.map``s must equal ours (the check before timing: the copies
are the same, and the bound computes the same maps). The correlations are not computed from the bound's own maps:
a rank correlation moves when near-equal values swap order, and two float32 gradient paths differ by an ulp
(up to 9e-7 in the correlation here, 1.4e-6 even in float64, where ReLU's zeros meet 1e-17 residues).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

if __package__:
    from .core import forward_to_leaf, gradcam_from
    from .evaluation_section import Section, Settings, Verdict, versus_bound
    from .evaluation_workloads import Workload
else:  # imported by bench/evaluation.py run as a script: bench/ is on sys.path
    from core import forward_to_leaf, gradcam_from  # type: ignore[no-redef]
    from evaluation_section import Section, Settings, Verdict, versus_bound  # type: ignore[no-redef]
    from evaluation_workloads import Workload  # type: ignore[no-redef]

from cam_widgets import CAMExplainer
from cam_widgets import evaluation as ev
from cam_widgets.resample import upsample


def bench_sanity(w: Workload, device: torch.device, s: Settings) -> tuple[Section, list[Verdict]] | None:
    if not (hasattr(ev, "randomisation") and hasattr(ev, "random_logit")):
        return None
    x, model, explainer, classes = w.x, w.model, w.explainer, w.classes
    layer = explainer.layers[0]
    name = f"3D/{device.type}"
    section = Section(f"{name} sanity checks: {w.name}, x {tuple(x.shape)}, Grad-CAM at {layer}", device)
    size = tuple(x.shape[2:])

    def gradcams(net: nn.Module, targets: list[torch.Tensor]) -> list[torch.Tensor]:
        logits, activation = forward_to_leaf(net, x, dict(net.named_modules())[layer])
        maps = []
        for i, t in enumerate(targets):
            (grad,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), activation,
                                          retain_graph=i + 1 < len(targets))
            maps.append(upsample(gradcam_from(activation.detach(), grad), size))
        return maps

    def explained(net: nn.Module, target: torch.Tensor) -> torch.Tensor:
        return CAMExplainer(net, layers=[layer]).explain(x, target, "gradcam", layer, progress=False).map.detach()

    def same_maps(label: str, bound: list[torch.Tensor], reference: list[torch.Tensor]) -> bool:
        scale = [r.flatten(1).amax(1).clamp_min(1e-30).reshape(-1, *[1] * len(size)) for r in reference]
        return section.check(label, torch.stack([b / c for b, c in zip(bound, scale)]),
                             torch.stack([r / c for r, c in zip(reference, scale)]), floor=1.0)

    # randomisation: the original and L randomised copies, one Grad-CAM each
    call = lambda: ev.randomisation(explainer, x, layer=layer, progress=False)  # noqa: E731
    ours = section.add("ours: ev.randomisation(layer=)", call, s.repeats, setup=explainer.clear)
    if s.profile:
        section.profile("randomisation", call)
    mine = call()
    order = top_down(model, x)
    section.notes.append(f"randomisation order (DESIGN.md 10, found here): {order}; ours: {mine.layers}"
                         f" {'(same)' if order == mine.layers else '(DIFFERENT)'}")
    copies = [model] + randomised_copies(model, x, order, seed=0)
    reference = [explained(net, classes) for net in copies]
    rho = torch.stack([ev.spearman(reference[0], r).cpu() for r in reference[1:]], 1)
    agree_r = order == mine.layers and all([
        section.check(f"randomisation .correlation ({len(order)} steps) vs .map on the copies made here",
                      mine.correlation, rho),
        same_maps("the bound's Grad-CAMs / max vs .map / max on those copies",
                  [gradcams(net, [classes])[0] for net in copies], reference)])
    bound_r = section.add(f"lower bound: {len(copies)} x (forward + backward to {layer}), copies made beforehand",
                          lambda: [gradcams(net, [classes]) for net in copies], s.repeats)

    # random logit: one forward, two backwards
    call = lambda: ev.random_logit(explainer, x, progress=False)  # noqa: E731
    ours_l = section.add("ours: ev.random_logit()", call, s.repeats, setup=explainer.clear)
    mine_l = call()
    g = torch.Generator().manual_seed(0)
    n_classes = int(explainer.predict(x).shape[1])
    other = ((classes.cpu() + 1 + torch.randint(n_classes - 1, (x.shape[0],), generator=g)) % n_classes).to(x.device)
    reference = [explained(model, classes), explained(model, other)]
    agree_l = all([section.check("random_logit .classes vs the definition's draws", mine_l.classes, other),
                   section.check("random_logit .correlation vs .map of both classes", mine_l.correlation,
                                 ev.spearman(*reference)),
                   same_maps("the bound's two Grad-CAMs / max vs .map / max", gradcams(model, [classes, other]),
                             reference)])
    bound_l = section.add(f"lower bound: 1 forward + 2 backwards to {layer}",
                          lambda: gradcams(model, [classes, other]), s.repeats)
    section.time(s.warmup, s.seed)
    return section, [versus_bound(name, "randomisation", ours, "lower bound", bound_r.median, agree_r),
                     versus_bound(name, "random_logit", ours_l, "lower bound", bound_l.median, agree_l)]


def top_down(model: nn.Module, x: torch.Tensor) -> list[str]:
    """The modules that own parameters and have ``reset_parameters()``, in reverse order of their first call."""
    first: dict[str, int] = {}
    owners = {n: m for n, m in model.named_modules() if next(m.parameters(recurse=False), None) is not None}

    def record(name: str):
        def hook(_module, _inputs) -> None:
            first.setdefault(name, len(first))
        return hook

    handles = [m.register_forward_pre_hook(record(n)) for n, m in owners.items()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return [n for n in sorted(first, key=first.__getitem__, reverse=True)
            if callable(getattr(owners[n], "reset_parameters", None))]


def randomised_copies(model: nn.Module, x: torch.Tensor, order: list[str], seed: int) -> list[nn.Module]:
    """``len(order)`` deep copies, copy ``l`` with the modules ``order[:l + 1]`` re-initialised (each by its
    ``reset_parameters()`` on the CPU right after ``torch.manual_seed(seed)``, inside ``fork_rng``)."""
    twin = copy.deepcopy(model)
    modules = dict(twin.named_modules())
    copies = []
    for name in order:
        module = modules[name]
        device = next(module.parameters()).device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module.to("cpu")
            module.reset_parameters()
            module.to(device)
        copies.append(copy.deepcopy(twin))
    return copies
