"""``bench/methods.py``'s Score-CAM section: ours (fresh forward) vs its lower bound, the ``K * B`` forwards of
the masked inputs plus the one forward that gives ``A``, and vs pytorch-grad-cam's and torchcam's
``ScoreCAM``; every map checked before timing."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

if __package__:
    from .core import Case
    from .methods_peers import add_pgc_case, pgc_masks_aligned_with_ours, quiet
    from .methods_section import (ATOL_NORMALISED, TARGET_SCORE_PEER, Section, Settings, Verdict, profile_text,
                                  versus_lower_bound, versus_peer)
    from .methods_workloads import (BATCH_SIZE, MODES, forwards, minmax, minmax_masks, no_grad, prepare,
                                    rows_per_pass, score_cam_inputs, weighted)
else:  # imported by bench/methods.py run as a script: bench/ is on sys.path
    from core import Case  # type: ignore[no-redef]
    from methods_peers import add_pgc_case, pgc_masks_aligned_with_ours, quiet  # type: ignore[no-redef]
    from methods_section import (ATOL_NORMALISED, TARGET_SCORE_PEER, Section, Settings,  # type: ignore[no-redef]
                                 Verdict, profile_text, versus_lower_bound, versus_peer)
    from methods_workloads import (BATCH_SIZE, MODES, forwards, minmax, minmax_masks,  # type: ignore[no-redef]
                                   no_grad, prepare, rows_per_pass, score_cam_inputs, weighted)

from cam_widgets import CAMExplainer
from cam_widgets.methods import ScoreCAM


def bench_score_cam(name: str, device: torch.device, s: Settings, found: dict) -> tuple[Section, list[Verdict]]:
    p = prepare(name, "score", device, s.seed, s.quick)
    w, a, layer, targets, index = p.w, p.a, p.layer, p.targets, p.index
    model, x = w.model, w.x
    batch, channels = a.shape[:2]
    section = Section(f"{w.title}: Score-CAM at {layer} ({channels} channels), batch {batch}, "
                      f"{rows_per_pass(batch)} rows per forward, {device.type}", device)
    method = ScoreCAM(batch_size=BATCH_SIZE)
    explainer = CAMExplainer(model, layers=[layer])

    # ours and the lower bound, checked against each other (the paper's equations written here)
    ours = explainer.explain(x, targets, method, layer, progress=False)
    chunks, constant = score_cam_inputs(x, a)
    alpha = forwards(model, chunks, index, softmax=True).T.masked_fill(constant, 0)  # (B, K)
    section.check("lower bound's scores -> Score-CAM weights alpha_k (ours.weights)", ours.weights, alpha)
    section.check("lower bound's scores -> raw map sum_k alpha_k A_k (ours.raw)", ours.raw, weighted(alpha, a))
    ours_map = ours.map
    size = tuple(x.shape[2:])

    def up(maps: Tensor) -> Tensor:
        return F.interpolate(maps[:, None], size=size, mode=MODES[len(size)], align_corners=False)[:, 0]

    def ours_fresh() -> Tensor:
        explainer.clear()
        return explainer.explain(x, targets, method, layer, progress=False).map

    forward = section.add("for scale: one forward, torch.no_grad()", lambda: no_grad(model, x), s.repeats)
    lower = section.add(f"lower bound: the {channels * batch} masked forwards (inputs precomputed)",
                        lambda: forwards(model, chunks, index, softmax=True), s.repeats, "lower")
    mine = section.add("ours: explain(x, t, ScoreCAM(batch_size=32)).map, fresh forward", ours_fresh, s.repeats, "ours")
    peer_cases: list[Case] = []
    log_prob_targets = [lambda o, c=c: torch.log_softmax(o, -1)[c] for c in targets]

    if "pgc" in found:
        from pytorch_grad_cam import ScoreCAM as PgcScoreCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        module = dict(model.named_modules())[layer]

        def pgc_cam() -> PgcScoreCAM:
            cam = PgcScoreCAM(model, [module])
            cam.batch_size = BATCH_SIZE
            return cam

        try:
            with quiet(), pgc_masks_aligned_with_ours(), pgc_cam() as cam:
                theirs = cam(x, log_prob_targets)
            section.check("pytorch-grad-cam ScoreCAM (check only: log p target, masks align_corners=False), normalised",
                          torch.from_numpy(theirs), minmax(ours_map), atol=ATOL_NORMALISED)
            peer_cases.append(add_pgc_case(section, "pytorch-grad-cam: ScoreCAM(model, [layer])(x, targets), "
                                           "batch_size 32", pgc_cam, x, [ClassifierOutputTarget(c) for c in targets],
                                           s.repeats))
        except Exception as error:  # noqa: BLE001 - a peer that does not run here (3D) is reported
            section.notes.append(f"pytorch-grad-cam ScoreCAM does not run here: {type(error).__name__}: "
                                 f"{str(error).splitlines()[0][:120]}")
    else:
        section.notes.append(f"pytorch-grad-cam not available: {found.get('pgc_error')}")

    if "torchcam" in found:
        TcScoreCAM = found["torchcam"].ScoreCAM
        try:
            extractor = TcScoreCAM(model, layer, batch_size=BATCH_SIZE, input_shape=tuple(x.shape[1:]))
            try:
                # check only: masks normalised after upsampling, as ours (torchcam normalises A, then upsamples)
                extractor._normalize = lambda cams, spatial_dims=None, eps=1e-8: cams
                extractor._upsample = lambda t: minmax_masks(F.interpolate(t, size=size, mode=MODES[len(size)],
                                                                           align_corners=False))
                with torch.no_grad():
                    model(x)
                theirs = up(extractor(targets=log_prob_targets, normalized=False)[0])
            finally:
                extractor.remove_hooks()
            section.check("torchcam ScoreCAM (check only: log p target, masks normalised after upsampling), normalised",
                          minmax(theirs), minmax(ours_map), atol=ATOL_NORMALISED)
            state_tc: dict = {}

            def tc_setup() -> Callable[[], None]:
                state_tc["ex"] = TcScoreCAM(model, layer, batch_size=BATCH_SIZE, input_shape=tuple(x.shape[1:]))
                return lambda: state_tc.pop("ex").remove_hooks()

            def tc_run() -> Tensor:
                with torch.no_grad():
                    model(x)
                return up(state_tc["ex"](class_idx=targets, normalized=False)[0])

            peer_cases.append(section.add("torchcam: forward + ScoreCAM(class_idx=t, normalized=False) + upsample",
                                          tc_run, s.repeats, "peer", tc_setup))
        except Exception as error:  # noqa: BLE001
            section.notes.append(f"torchcam ScoreCAM does not run here: {type(error).__name__}: {error}")
    else:
        section.notes.append(f"torchcam not available: {found.get('torchcam_error')}")

    section.time(s.warmup, s.seed)
    if s.profile:
        section.notes.append(profile_text(ours_fresh, f"Score-CAM, {name}"))
    method_label = f"Score-CAM, {layer}, B={batch}"
    verdicts = [versus_lower_bound(name, method_label, mine.median,
                                   f"lower bound: {channels * batch} masked forwards + 1 forward",
                                   lower.median + forward.median)]
    if peer_cases:
        fastest = min(peer_cases, key=lambda c: c.median)
        verdicts.append(versus_peer(name, method_label, mine.median, f"fastest peer: {fastest.label.split(':')[0]}",
                                    fastest.median, TARGET_SCORE_PEER))
    return section, verdicts
