"""``bench/evaluation.py`` section 1: ours vs torchcam, pytorch-grad-cam and Quantus on the same 2D maps.

The maps are computed once (our Grad-CAM of the 2D classifier, ``evaluation_workloads.py``); every metric and
every peer gets them. Deletion / insertion and average drop use them as they are (torchcam sorts with the same
stable descending ``argsort``; its average drop gets the min-max normalised maps, DESIGN.md 10); ROAD and the
Quantus metrics get the tie-free maps with the same ranking (``(P - rank) / P``: pytorch-grad-cam removes every
tie at its threshold, Quantus sorts with NumPy's unstable ``argsort``). Before timing, every pair is compared
value by value; then the pairs are timed round robin. Ours runs after ``explainer.clear()`` (so it pays for its
own forward of the unmodified batch, as each peer does).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

if __package__:
    from . import evaluation_peers as peers
    from .evaluation_section import Section, Settings, Verdict, versus_bound, versus_peer
    from .evaluation_workloads import (
        Workload, as_numpy, deletion_bound, lower_bound, masked_inputs, probabilities, rows_per_pass,
    )
else:  # imported by bench/evaluation.py run as a script: bench/ is on sys.path
    import evaluation_peers as peers  # type: ignore[no-redef]
    from evaluation_section import Section, Settings, Verdict, versus_bound, versus_peer  # type: ignore[no-redef]
    from evaluation_workloads import (  # type: ignore[no-redef]
        Workload, as_numpy, deletion_bound, lower_bound, masked_inputs, probabilities, rows_per_pass,
    )

from cam_widgets import CAMExplainer
from cam_widgets import evaluation as ev

OUR_PERCENTILES = [10, 20, 30, 40, 50, 60, 70, 80, 90]


def bench_2d(w: Workload, device: torch.device, s: Settings, found: dict) -> tuple[Section, list[Verdict]]:
    x, model, explainer = w.x, w.model, w.explainer
    batch = x.shape[0]
    batch_size = ev.DEFAULT_BATCH_SIZE
    name = f"2D/{device.type}"
    section = Section(f"{name}: {w.name}, x {tuple(x.shape)}, Grad-CAM at {w.explainer.layers}, {batch_size} rows "
                      f"per forward", device)
    verdicts: list[Verdict] = []
    pairs: list[tuple[str, object, str, list, bool]] = []  # metric, our case, peer label, peer cases, agree
    clear = explainer.clear
    r_ours, r_peer = s.repeats, s.peer_repeats

    def ours_case(label, call):
        case = section.add(f"ours: {label}", call, r_ours, setup=clear)
        if s.profile:
            section.profile(label, call)
        return case

    # --- torchcam: deletion / insertion, average drop ---------------------------------------------------------
    tc = found.get("torchcam")

    def deletion():
        return ev.deletion_insertion(explainer, x, maps=w.maps, batch_size=batch_size, progress=False)

    ours_del = ours_case("ev.deletion_insertion(maps=)", deletion)
    mine = deletion()
    rpp = rows_per_pass(batch_size, batch)
    stack, lb_deletion, lb_insertion = deletion_bound(model, x, w.maps, 20, w.classes, rpp)
    lb_agree = (section.check("deletion_curve vs the lower bound's forwards", mine.deletion_curve, lb_deletion)
                & section.check("insertion_curve vs the lower bound's forwards", mine.insertion_curve, lb_insertion))
    lb_del = section.add(f"lower bound: {len(stack)} perturbed forwards per sample + 1, {rpp} rows per pass",
                         lambda: lower_bound(model, x, stack, rpp), r_ours)
    if tc is not None:
        metric = peers.torchcam_deletion(tc, model, w.maps, batch_size)
        metric.update(x)
        fractions, t_del, t_ins = metric.curves
        agree = all([section.check("deletion_insertion .fractions vs torchcam", mine.fractions, fractions),
                     section.check("deletion_insertion .deletion_curve vs torchcam", mine.deletion_curve, t_del),
                     section.check("deletion_insertion .insertion_curve vs torchcam", mine.insertion_curve, t_ins),
                     section.check("deletion_insertion .deletion_auc vs torchcam",
                                   mine.deletion_auc, torch.trapezoid(t_del, fractions, dim=1)),
                     section.check("deletion_insertion .insertion_auc vs torchcam",
                                   mine.insertion_auc, torch.trapezoid(t_ins, fractions, dim=1)),
                     section.check("deletion_insertion mean AUCs vs torchcam summary()",
                                   [float(mine.deletion_auc.mean()), float(mine.insertion_auc.mean())],
                                   [metric.summary()["deletion_auc"], metric.summary()["insertion_auc"]])])
        peer = section.add("torchcam: DeletionInsertionMetric(stand-in, softmax, batch_size=64).update(x)",
                           lambda: peers.torchcam_deletion(tc, model, w.maps, batch_size).update(x), r_peer)
        pairs.append(("deletion_insertion", ours_del, "torchcam", [peer], agree))
    pairs.append(("deletion_insertion", ours_del, "lower bound", [lb_del], lb_agree))

    drop = lambda: ev.average_drop(explainer, x, maps=w.maps, batch_size=batch_size, progress=False)  # noqa: E731
    ours_drop = ours_case("ev.average_drop(maps=)", drop)
    mine_drop = drop()
    masked = masked_inputs(x, w.maps)
    with torch.no_grad():
        y, o = (probabilities(model(v)[None], w.classes)[0].double().cpu() for v in (x, masked[0]))
    lb_drop_agree = section.check("average_drop .drop vs the lower bound's forwards", mine_drop.drop,
                                  torch.relu(y - o) / (y + 1e-7))
    lb_drop = section.add("lower bound: 2 forwards of B rows (x, m * x)",
                          lambda: lower_bound(model, x, masked, rpp), r_ours)
    if tc is not None:
        normalised = masked_inputs(torch.ones_like(x[:, :1]), w.maps)[0, :, 0]
        t_drop, t_inc = peers.torchcam_average_drop_per_sample(tc, model, x, normalised)
        agree = all([section.check("average_drop .drop vs torchcam (one update per sample)", mine_drop.drop, t_drop),
                     section.check("average_drop .increase vs torchcam", mine_drop.increase, t_inc)])
        peer = section.add("torchcam: ClassificationMetric(stand-in of min-max maps, softmax).update(x)",
                           lambda: peers.torchcam_average_drop(tc, model, normalised).update(x), r_peer)
        pairs.append(("average_drop", ours_drop, "torchcam", [peer], agree))
    pairs.append(("average_drop", ours_drop, "lower bound", [lb_drop], lb_drop_agree))

    # --- pytorch-grad-cam: ROAD (float64, see _road) ------------------------------------------------------------
    road = found.get("pgc")
    if road is not None and hasattr(ev, "road"):
        _road(section, w, s, road, ours_case, pairs)
    elif road is None:
        section.notes.append(f"pytorch-grad-cam: not available ({found.get('pgc_error')})")
    else:
        section.notes.append("ev.road: not importable yet, ROAD not compared")

    # --- Quantus: localisation, pixel flipping -------------------------------------------------------------------
    quantus = found.get("quantus")
    if quantus is not None and hasattr(ev, "localisation"):
        call = lambda: ev.localisation(explainer, x, w.masks, maps=w.tie_free, progress=False)  # noqa: E731
        ours_loc = ours_case("ev.localisation(masks, maps=tie-free)", call)
        mine_loc = call()
        xs, ys = as_numpy(x), as_numpy(w.classes).astype(int)
        a, seg = as_numpy(w.tie_free)[:, None], as_numpy(w.masks)[:, None].astype(np.float32)
        theirs, cases, agree = {}, [], True
        for key, label in [("mass", "RelevanceMassAccuracy"), ("rank", "RelevanceRankAccuracy"),
                           ("pointing", "PointingGame")]:
            metric = peers.quantus_localisation(quantus, key)
            theirs[key] = peers.quantus_call(metric, model, xs, ys, a, seg, device)
            agree &= section.check(f"localisation .{key} vs Quantus {label}", getattr(mine_loc, key), theirs[key])
            cases.append(section.add(f"Quantus: {label}(normalise=False, abs=False)(model, x, y, a, s)",
                                     lambda m=metric: peers.quantus_call(m, model, xs, ys, a, seg, device), r_peer))
        empty = np.zeros_like(seg[:1])
        hit = peers.quantus_call(peers.quantus_localisation(quantus, "pointing"), model, xs[:1], ys[:1], a[:1], empty,
                                 device)
        section.notes.append(f"Quantus PointingGame with an empty mask gives {hit.tolist()} (a bool array set to NaN "
                             f"reads True: a hit); DESIGN.md 10 and ours: NaN")
        pairs.append(("localisation", ours_loc, "Quantus (3 metrics)", cases, agree))
        _pixel_flipping(section, w, device, s, quantus, ours_case, pairs)
    elif quantus is None:
        section.notes.append(f"Quantus: not available ({found.get('quantus_error')})")
    else:
        section.notes.append("ev.localisation: not importable yet, localisation not compared")

    section.time(s.warmup, s.seed)
    bounds = {metric: cases[0].median for metric, _, label, cases, _ in pairs if label == "lower bound"}
    for metric_name, _, label, cases, _ in pairs:
        if label == "torchcam" and metric_name in bounds:
            ratio = cases[0].median / bounds[metric_name]
            section.notes.append(f"torchcam {metric_name} / its lower bound: {ratio:.2f}x (the same forwards: no one "
                                 f"running them is 5x faster than a peer this close)")
    for metric_name, ours, label, cases, agree in pairs:
        total = sum(c.median for c in cases)
        if label == "lower bound":
            verdicts.append(versus_bound(name, metric_name, ours, label, total, agree))
        else:
            verdicts.append(versus_peer(name, metric_name, ours, label, total, agree))
    return section, verdicts


def _road(section: Section, w: Workload, s: Settings, road, ours_case, pairs) -> None:
    """ROAD at noise 0 on the tie-free maps, their percentiles ``100 - ours``, in float64 (the model and x cast,
    pytorch-grad-cam's imputer keeping the dtype: as shipped it casts its solution to float32, which alone moves
    the scores by more than 1e-5 of 0.01; that as-shipped float32 difference is printed as a note). Its scores
    are still cast to float32 (``np.float32(scores)``), so float64 agrees to a float32 rounding of them."""
    x, model, positions = w.x, w.model, w.x[0, 0].numel()
    kept = [100 - p for p in OUR_PERCENTILES]
    cams, classes = as_numpy(w.tie_free), w.classes
    counts_ok = True
    for p, q in zip(OUR_PERCENTILES, kept):
        morf_n, lerf_n = peers.pgc_removed_counts(cams, q)
        ours_n = int(np.floor(p * positions / 100 + 0.5))
        counts_ok &= bool((morf_n == ours_n).all() and (lerf_n == ours_n).all())
    section.notes.append(f"pytorch-grad-cam removes the same counts as DESIGN's floor(p P / 100 + 0.5) at every "
                         f"percentile for P = {positions}: {'yes' if counts_ok else 'NO'}")
    targets = peers.pgc_targets(classes)
    record: dict = {}
    peers.pgc_road(road, kept, record)(x, cams, targets, model)
    shipped = ev.road(w.explainer, x, maps=w.tie_free, noise=0.0, progress=False)
    their = np.stack([record[("morf", q)] for q in kept] + [record[("lerf", q)] for q in kept], 1)
    diff = np.abs(np.concatenate([as_numpy(shipped.morf), as_numpy(shipped.lerf)], 1) - their).max()
    section.notes.append(f"ROAD in float32 as shipped (their solution cast to float32): max|diff| {diff:.2e}")

    model64 = copy.deepcopy(model).double()
    x64, explainer64 = x.double(), CAMExplainer(model64, layers=w.explainer.layers)

    def call():
        return ev.road(explainer64, x64, maps=w.tie_free, noise=0.0, progress=False)

    ours = ours_case("ev.road(maps=tie-free, noise=0), float64", call)
    mine = call()
    record = {}
    combined = peers.pgc_road(road, kept, record, keep_dtype=True)(x64, cams, targets, model64)
    agree = all([section.check("road .morf vs pytorch-grad-cam (noise 0, their p = 100 - ours, float64)",
                               mine.morf, np.stack([record[("morf", q)] for q in kept], 1)),
                 section.check("road .lerf vs pytorch-grad-cam", mine.lerf,
                               np.stack([record[("lerf", q)] for q in kept], 1)),
                 section.check("road .combined vs pytorch-grad-cam ROADCombined", mine.combined, combined)])
    peer = section.add("pytorch-grad-cam: ROADCombined(noise 0)(x, cams, softmax targets, model), float64",
                       lambda: peers.pgc_road(road, kept, {}, keep_dtype=True)(x64, cams, targets, model64),
                       s.peer_repeats)
    pairs.append(("road", ours, "pytorch-grad-cam", [peer], agree))


def _pixel_flipping(section: Section, w: Workload, device, s: Settings, quantus, ours_case, pairs) -> None:
    """Quantus's PixelFlipping is our deletion curve without its first point when the steps line up (see
    ``peers.pixel_flipping_step``) and the baseline is 0 (its default "black" is each sample's minimum of x)."""
    x, explainer = w.x, w.explainer
    positions, channels = x[0, 0].numel(), x.shape[1]
    step = peers.pixel_flipping_step(positions, channels)
    if step is None:
        section.notes.append(f"Quantus PixelFlipping: no step s with s | P and C s | P for P = {positions}, "
                             f"C = {channels}; not compared")
        return
    steps = positions // step
    call = lambda: ev.deletion_insertion(explainer, x, maps=w.tie_free, steps=steps, progress=False)  # noqa: E731
    ours = ours_case(f"ev.deletion_insertion(maps=tie-free, steps={steps}) (both curves)", call)
    mine = call()
    metric = peers.quantus_pixel_flipping(quantus, channels * step)
    xs, ys, a = as_numpy(x), as_numpy(w.classes).astype(int), as_numpy(w.tie_free)[:, None]
    theirs = peers.quantus_call(metric, w.model, xs, ys, a, None, device, softmax=True)
    agree = section.check(f"deletion_curve[:, 1:] vs Quantus PixelFlipping (s = {step}, baseline 0)",
                          mine.deletion_curve[:, 1:], theirs)
    section.notes.append(f"PixelFlipping scores deletion only ({steps} forwards of B rows); ours also scores "
                         f"insertion ({2 * steps - 1} per sample): the ratio counts our extra curve against us")
    peer = section.add(f"Quantus: PixelFlipping(features_in_step={channels * step}, perturb_baseline=0.0, "
                       f"normalise=False)(model, x, y, a, softmax=True)",
                       lambda: peers.quantus_call(metric, w.model, xs, ys, a, None, device, softmax=True),
                       s.peer_repeats)
    pairs.append(("deletion curve (PixelFlipping)", ours, "Quantus", [peer], agree))
