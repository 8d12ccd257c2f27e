"""``bench/evaluation.py`` section 2: where only we run (3D, segmentation), each metric's cost against its lower
bound, the forward passes it cannot avoid.

Each lower bound is written here from DESIGN.md section 10: the perturbed inputs are built beforehand (untimed),
then the forwards alone are timed with our ``Scorer``'s rows per pass (``ceil(batch_size / B) * B``), under
``torch.no_grad``, plus the forward of the unmodified batch. Its scores, turned into the metric by the definition,
must equal ours (the check before timing): the bound does the same work, nothing less. ROAD's bound adds our
imputer called alone on the same removal masks (its cost is the solve; the rest of ``road`` should be free).
"""

from __future__ import annotations

import math

import torch

if __package__:
    from .evaluation_section import Section, Settings, Verdict, versus_bound
    from .evaluation_workloads import (
        Workload, deletion_bound, forward_rows, lower_bound, masked_inputs, probabilities, rows_per_pass,
        topk_inputs,
    )
else:  # imported by bench/evaluation.py run as a script: bench/ is on sys.path
    from evaluation_section import Section, Settings, Verdict, versus_bound  # type: ignore[no-redef]
    from evaluation_workloads import (  # type: ignore[no-redef]
        Workload, deletion_bound, forward_rows, lower_bound, masked_inputs, probabilities, rows_per_pass,
        topk_inputs,
    )

from cam_widgets import evaluation as ev
from cam_widgets.targets import PixelSet

STEPS = 20
PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
ROAD_SAMPLES = 8   # of the batch, for ROAD (--quick: 1)
ROAD_REPEATS = 3   # at most, for ROAD's rows


def bench_classifier(w: Workload, device: torch.device, s: Settings) -> tuple[Section, list[Verdict]]:
    """Deletion / insertion, average drop and ROAD of the demo CNN-1 on subtomograms, against their forwards."""
    x, model, explainer, classes = w.x, w.model, w.explainer, w.classes
    batch = x.shape[0]
    batch_size = ev.DEFAULT_BATCH_SIZE
    rpp = rows_per_pass(batch_size, batch)
    name = f"3D/{device.type}"
    section = Section(f"{name}: {w.name}, x {tuple(x.shape)}, Grad-CAM at {explainer.layers}, {rpp} rows per "
                      f"forward", device)
    bounds: list[tuple[str, object, object, bool]] = []
    with torch.no_grad():
        original = probabilities(model(x)[None], classes)[0].double().cpu()

    def ours_case(label, call):
        case = section.add(f"ours: {label}", call, s.repeats, setup=explainer.clear)
        if s.profile:
            section.profile(label, call)
        return case

    # deletion / insertion: 2 (K - 2) + 1 distinct perturbed inputs per sample
    call = lambda: ev.deletion_insertion(explainer, x, maps=w.maps, steps=STEPS, progress=False)  # noqa: E731
    ours = ours_case(f"ev.deletion_insertion(maps=, steps={STEPS})", call)
    mine = call()
    stack, deletion, insertion = deletion_bound(model, x, w.maps, STEPS, classes, rpp)
    agree = (section.check("deletion_curve vs the lower bound's forwards", mine.deletion_curve, deletion)
             & section.check("insertion_curve vs the lower bound's forwards", mine.insertion_curve, insertion))
    bound = section.add(f"lower bound: 1 + {len(stack)} forwards per sample (K = {deletion.shape[1]})",
                        lambda: lower_bound(model, x, stack, rpp), s.repeats)
    bounds.append(("deletion_insertion", ours, bound, agree))

    # average drop: x and m * x
    call = lambda: ev.average_drop(explainer, x, maps=w.maps, progress=False)  # noqa: E731
    ours = ours_case("ev.average_drop(maps=)", call)
    mine = call()
    masked = masked_inputs(x, w.maps)
    o = probabilities(forward_rows(model, masked, rpp), classes).double().cpu()[0]
    agree = section.check("average_drop .drop vs the lower bound's forwards", mine.drop,
                          torch.relu(original - o) / (original + 1e-7))
    bound = section.add("lower bound: 2 forwards of B rows (x, m * x)", lambda: lower_bound(model, x, masked, rpp),
                        s.repeats)
    bounds.append(("average_drop", ours, bound, agree))

    if hasattr(ev, "road"):
        _road(section, w, s, original, bounds)
    else:
        section.notes.append("ev.road: not importable yet, ROAD not measured")

    section.time(s.warmup, s.seed)
    return section, [versus_bound(name, metric, ours, "lower bound", bound.median, agree)
                     for metric, ours, bound, agree in bounds]


def _road(section: Section, w: Workload, s: Settings, original: torch.Tensor, bounds: list) -> None:
    """ROAD with ``noise=0.01`` on the first ``ROAD_SAMPLES`` samples (at most ``ROAD_REPEATS`` repeats: the
    imputer's solves dominate); the bound: our imputer (``impute_disjoint``, one solve per MoRF / LeRF pair that
    covers the input once, then ``add_noise``) on all ``2 P b`` removal masks (MoRF: the first ``count_of(p)`` positions of the ranking, LeRF the last), then the forwards. The
    check runs both at ``noise=0`` (the order of the noise draws is ``road``'s own business)."""
    from cam_widgets.evaluation.imputer import add_noise, impute_disjoint

    samples = 1 if s.quick else ROAD_SAMPLES
    percentiles = (50,) if s.quick else PERCENTILES
    x, maps, classes, original = w.x[:samples], w.maps[:samples], w.classes[:samples], original[:samples]
    model, explainer = w.model, w.explainer
    repeats = min(s.repeats, ROAD_REPEATS)
    call = lambda: ev.road(explainer, x, maps=maps, percentiles=percentiles, progress=False)  # noqa: E731
    ours = section.add(f"ours: ev.road(maps=, noise=0.01) on {samples} samples, {len(percentiles)} percentiles",
                       call, repeats, setup=explainer.clear)
    if s.profile:
        section.profile("road", call)
    mine = ev.road(explainer, x, maps=maps, percentiles=percentiles, noise=0.0, progress=False)
    flat = maps.flatten(1)
    batch, positions = flat.shape
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(positions, device=x.device).expand_as(order))
    counts = [int(math.floor(p * positions / 100 + 0.5)) for p in percentiles]
    removed = torch.cat([torch.stack([ranks < c for c in counts]),
                         torch.stack([ranks >= positions - c for c in counts])])
    removed = removed.reshape(-1, *x.shape[2:])                                  # (2 P b, *S)
    rpp = rows_per_pass(ev.DEFAULT_BATCH_SIZE, batch)

    def impute(noise: float) -> torch.Tensor:
        """MoRF at the i-th smallest percentile with LeRF at the i-th largest (disjoint: one solve per pair, as
        ``road`` pairs them), then the noise; stacked MoRF then LeRF, each in percentile order."""
        g = torch.Generator(device=x.device).manual_seed(0)
        blocks = removed.unflatten(0, (2, len(counts), batch))
        morf, lerf_partners = blocks[0].flatten(0, 1), blocks[1].flip(0).flatten(0, 1)
        tiled = x.repeat(len(counts), *[1] * (x.ndim - 1))
        first, second = impute_disjoint(tiled, morf, lerf_partners)
        first, second = add_noise(first, morf, noise, g), add_noise(second, lerf_partners, noise, g)
        second = second.unflatten(0, (len(counts), batch)).flip(0).flatten(0, 1)
        return torch.cat([first, second]).unflatten(0, (-1, batch))

    stack = impute(0.0)
    p = probabilities(forward_rows(model, stack, rpp), classes).double().cpu() - original[None]
    half = len(counts)
    agree = (section.check("road .morf (noise 0) vs the bound's imputer + forwards", mine.morf, p[:half].T)
             & section.check("road .lerf (noise 0) vs the bound's imputer + forwards", mine.lerf, p[half:].T))
    imputer = section.add(f"lower bound, part 1: the imputer alone, {half} pairs of masks x {batch} at once",
                          lambda: impute(0.01), repeats)
    forwards = section.add(f"lower bound, part 2: 1 + {2 * half} forwards per sample",
                           lambda: lower_bound(model, x, stack, rpp), repeats)

    class Sum:  # the bound's median: the two parts' medians added
        @property
        def median(self) -> float:
            return imputer.median + forwards.median

    bounds.append(("road", ours, Sum(), agree))


def bench_segmentation(w: Workload, device: torch.device, s: Settings) -> tuple[Section, list[Verdict]]:
    """Segmentation faithfulness of the demo U-Net's Seg-Grad-CAM (one object per scene): ``F (1 + draws)``
    forwards per sample."""
    from cam_widgets.evaluation.segmentation import DEFAULT_FRACTIONS, RANDOM_DRAWS

    x, model, explainer = w.x, w.model, w.explainer
    batch = x.shape[0]
    rpp = rows_per_pass(ev.DEFAULT_BATCH_SIZE, batch)
    name = f"seg/{device.type}"
    section = Section(f"{name}: {w.name}, x {tuple(x.shape)}, Seg-Grad-CAM at {explainer.layers}, PixelSet of one "
                      f"object per scene, {rpp} rows per forward", device)
    pixel_set = PixelSet(w.classes.tolist(), w.masks)
    call = lambda: ev.segmentation_faithfulness(explainer, x, pixel_set, maps=w.maps, progress=False)  # noqa: E731
    ours = section.add("ours: ev.segmentation_faithfulness(pixel_set, maps=)", call, s.repeats, setup=explainer.clear)
    if s.profile:
        section.profile("segmentation_faithfulness", call)
    mine = call()
    top, random = topk_inputs(x, w.maps, DEFAULT_FRACTIONS, RANDOM_DRAWS, seed=0)
    n = len(DEFAULT_FRACTIONS)
    with torch.no_grad():
        before_out = model(x)
    outputs = forward_rows(model, torch.cat([top, random]), rpp)
    drop, dice = _seg_values(before_out, outputs, w.classes, w.masks)            # (m, B)
    random_drop = drop[n:].reshape(RANDOM_DRAWS, n, batch).mean(0).T
    random_dice = dice[n:].reshape(RANDOM_DRAWS, n, batch).mean(0).T
    agree = all([section.check("score_drop vs the lower bound's forwards", mine.score_drop, drop[:n].T),
                 section.check("dice vs the lower bound's forwards", mine.dice, dice[:n].T),
                 section.check("random_score_drop vs the lower bound's forwards", mine.random_score_drop, random_drop),
                 section.check("random_dice vs the lower bound's forwards", mine.random_dice, random_dice)])
    stack = torch.cat([top, random])
    bound = section.add(f"lower bound: 1 + {len(stack)} forwards per sample ({n} fractions x (1 + {RANDOM_DRAWS}))",
                        lambda: lower_bound(model, x, stack, rpp), s.repeats)
    section.time(s.warmup, s.seed)
    return section, [versus_bound(name, "segmentation_faithfulness", ours, "lower bound", bound.median, agree)]


def _seg_values(before_out, outputs, classes, masks) -> tuple[torch.Tensor, torch.Tensor]:
    """``(m, B)`` score drop ``(y - y_k) / max(|y|, 1e-7)`` (``y``: the class-c logits summed over M) and Dice of
    ``{u in M: argmax = c}`` before and after (1 when both are empty)."""
    shape = (-1, *[1] * (masks.ndim - 1))
    c = classes.reshape(shape)

    def y(out):  # (..., B, C, *S) -> (..., B)
        logits = out.gather(-masks.ndim, _class_index(out, classes, masks.ndim)).squeeze(-masks.ndim)
        return (logits * masks).flatten(-(masks.ndim - 1)).sum(-1)

    def predicted(out):
        return (out.argmax(-masks.ndim) == c) & masks

    y0, p0 = y(before_out).double(), predicted(before_out)
    yk, pk = y(outputs).double(), predicted(outputs)
    drop = (y0 - yk) / y0.abs().clamp_min(1e-7)
    both = (p0 & pk).flatten(-(masks.ndim - 1)).sum(-1).double()
    sizes = (p0.flatten(-(masks.ndim - 1)).sum(-1) + pk.flatten(-(masks.ndim - 1)).sum(-1)).double()
    dice = torch.where(sizes > 0, 2 * both / sizes.clamp_min(1), torch.ones_like(sizes))
    return drop.cpu(), dice.cpu()


def _class_index(out: torch.Tensor, classes: torch.Tensor, mask_ndim: int) -> torch.Tensor:
    """An index for ``gather`` along the class axis of ``out`` (``(..., B, C, *S)``) picking class ``c_b``."""
    spatial = out.shape[out.ndim - (mask_ndim - 1):]
    index = classes.reshape(-1, 1, *[1] * (mask_ndim - 1)).expand(classes.shape[0], 1, *spatial)
    return index.expand(*out.shape[:out.ndim - (mask_ndim + 1)], *index.shape)

