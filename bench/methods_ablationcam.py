"""``bench/methods.py``'s Ablation-CAM section: ours (fresh, and on a cached forward) vs its lower bound, the
``K * B`` forwards of the part above the layer on the precomputed ablated activations (plus one forward for
the fresh row), and vs pytorch-grad-cam's ``AblationCAM``; every map checked before timing."""

from __future__ import annotations

import copy

import torch
from torch import Tensor

if __package__:
    from .methods_peers import add_pgc_case, quiet
    from .methods_section import (ATOL_NORMALISED, TARGET_ABLATION_PEER, Section, Settings, Verdict, profile_text,
                                  versus_lower_bound, versus_peer)
    from .methods_workloads import (BATCH_SIZE, ablated_activations, above_part, forwards, minmax, no_grad, prepare,
                                    rows_per_pass, weighted)
else:  # imported by bench/methods.py run as a script: bench/ is on sys.path
    from methods_peers import add_pgc_case, quiet  # type: ignore[no-redef]
    from methods_section import (ATOL_NORMALISED, TARGET_ABLATION_PEER, Section,  # type: ignore[no-redef]
                                 Settings, Verdict, profile_text, versus_lower_bound, versus_peer)
    from methods_workloads import (BATCH_SIZE, ablated_activations, above_part, forwards,  # type: ignore[no-redef]
                                   minmax, no_grad, prepare, rows_per_pass, weighted)

from cam_widgets import CAMExplainer
from cam_widgets.methods import AblationCAM


def bench_ablation_cam(name: str, device: torch.device, s: Settings, found: dict) -> tuple[Section, list[Verdict]]:
    p = prepare(name, "ablation", device, s.seed, s.quick)
    w, logits, a, layer, targets, index = p.w, p.logits, p.a, p.layer, p.targets, p.index
    model, x = w.model, w.x
    y = logits.gather(1, index[:, None])[:, 0]
    batch, channels = a.shape[:2]
    above = above_part(model, layer)
    section = Section(f"{w.title}: Ablation-CAM at {layer} ({channels} channels), batch {batch}, "
                      f"{rows_per_pass(batch)} rows per forward, {device.type}", device)
    method = AblationCAM(batch_size=BATCH_SIZE)
    explainer = CAMExplainer(model, layers=[layer])
    cached = CAMExplainer(model, layers=[layer])

    with torch.no_grad():
        section.check("the hand-written part above the layer: above(A) == model(x)", above(a), logits)
    ours = explainer.explain(x, targets, method, layer, progress=False)
    chunks = ablated_activations(a)
    y_k = forwards(above, chunks, index, softmax=False).T  # (B, K)
    w_k = (y[:, None] - y_k) / y.abs().clamp_min(1e-7)[:, None]
    section.check("lower bound's scores -> weights (y - y_k) / max(|y|, 1e-7) (ours.weights)", ours.weights, w_k)
    section.check("lower bound's scores -> raw map sum_k w_k A_k (ours.raw)", ours.raw, weighted(w_k, a))
    ours_map = ours.map
    cached.explain(x, targets, method, layer, progress=False)  # its session keeps the forward (and the lower part)
    shift = [0]

    def ours_fresh() -> Tensor:
        explainer.clear()
        return explainer.explain(x, targets, method, layer, progress=False).map

    def ours_cached() -> Tensor:
        shift[0] += 1  # another class each repeat: nothing but the forward pass can come from a cache
        other = [(t + shift[0]) % w.n_classes for t in targets]
        return cached.explain(x, other, method, layer, progress=False).map

    forward = section.add("for scale: one forward, torch.no_grad()", lambda: no_grad(model, x), s.repeats)
    lower = section.add(f"lower bound: the {channels * batch} forwards above the layer (activations precomputed)",
                        lambda: forwards(above, chunks, index, softmax=False), s.repeats, "lower")
    mine = section.add("ours: explain(x, t, AblationCAM(batch_size=32)).map, fresh forward", ours_fresh,
                       s.repeats, "ours")
    mine_cached = section.add("ours: the same on the cached forward (another class each repeat)", ours_cached,
                              s.repeats, "ours")
    peer_case = None
    if "pgc" in found:
        from pytorch_grad_cam import AblationCAM as PgcAblationCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        # its own copy of the model: AblationCAM swaps the layer for its AblationLayer and, when it fails
        # (3D), leaves it there
        pgc_model = copy.deepcopy(model)
        module = dict(pgc_model.named_modules())[layer]
        positive = y > 0

        def pgc_cam() -> PgcAblationCAM:
            return PgcAblationCAM(pgc_model, [module], batch_size=BATCH_SIZE)

        try:
            with quiet(), pgc_cam() as cam:
                theirs = torch.from_numpy(cam(x, [ClassifierOutputTarget(c) for c in targets]))
            if bool(positive.any()):
                section.check(f"pytorch-grad-cam AblationCAM (ablates with 0: post-ReLU layer), normalised, "
                              f"{int(positive.sum())} of {batch} samples with y > 0",
                              theirs[positive.cpu()], minmax(ours_map)[positive].cpu(), atol=ATOL_NORMALISED)
            if not bool(positive.all()):
                section.notes.append("samples with y <= 0 not compared: pytorch-grad-cam divides by y, ours by |y|")
            peer_case = add_pgc_case(section,
                                     "pytorch-grad-cam: AblationCAM(model, [layer], batch_size=32)(x, targets)",
                                     pgc_cam, x, [ClassifierOutputTarget(c) for c in targets], s.repeats)
        except Exception as error:  # noqa: BLE001
            section.notes.append(f"pytorch-grad-cam AblationCAM does not run here: {type(error).__name__}: "
                                 f"{str(error).splitlines()[0][:120]}")
    else:
        section.notes.append(f"pytorch-grad-cam not available: {found.get('pgc_error')}")
    section.notes.append("torchcam has no Ablation-CAM")

    section.time(s.warmup, s.seed)
    if s.profile:
        section.notes.append(profile_text(ours_fresh, f"Ablation-CAM fresh, {name}"))
        section.notes.append(profile_text(ours_cached, f"Ablation-CAM cached forward, {name}"))
    method_label = f"Ablation-CAM, {layer}, B={batch}"
    verdicts = [
        versus_lower_bound(name, method_label, mine.median, f"lower bound: 1 forward + {channels * batch} above",
                           lower.median + forward.median),
        versus_lower_bound(name, method_label + ", cached forward", mine_cached.median,
                           f"lower bound: {channels * batch} forwards above", lower.median),
    ]
    if peer_case is not None:
        verdicts.append(versus_peer(name, method_label, mine.median, "pytorch-grad-cam AblationCAM", peer_case.median,
                                    TARGET_ABLATION_PEER if layer == "layer3" else None))
    return section, verdicts
