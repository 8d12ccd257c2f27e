"""``bench/methods.py``'s Eigen-CAM section: ours on a cached forward (batched torch SVD, ReLU, upsampling) vs
pytorch-grad-cam's per-sample NumPy SVD (``get_2d_projection``) on the same activations; for scale, both end to
end and pytorch-grad-cam's whole path after its forward; every map checked (up to the SVD's sign) before
timing."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

if __package__:
    from .methods_peers import add_pgc_case, quiet
    from .methods_section import (ATOL_NORMALISED, TARGET_EIGEN_PEER, Section, Settings, Verdict, profile_text,
                                  versus_peer)
    from .methods_workloads import minmax, no_grad, prepare
else:  # imported by bench/methods.py run as a script: bench/ is on sys.path
    from methods_peers import add_pgc_case, quiet  # type: ignore[no-redef]
    from methods_section import (ATOL_NORMALISED, TARGET_EIGEN_PEER, Section, Settings,  # type: ignore[no-redef]
                                 Verdict, profile_text, versus_peer)
    from methods_workloads import minmax, no_grad, prepare  # type: ignore[no-redef]

from cam_widgets import CAMExplainer


def bench_eigen_cam(name: str, device: torch.device, s: Settings, found: dict) -> tuple[Section, list[Verdict]]:
    p = prepare(name, "eigen", device, s.seed, s.quick)
    w, a, layer, targets = p.w, p.a, p.layer, p.targets
    model, x = w.model, w.x
    batch, channels = a.shape[:2]
    positions = math.prod(a.shape[2:])
    section = Section(f"{w.title}: Eigen-CAM at {layer} ({positions} positions x {channels} channels), "
                      f"batch {batch}, {device.type}", device)
    explainer = CAMExplainer(model, layers=[layer])
    cached = CAMExplainer(model, layers=[layer])
    ours = cached.explain(x, targets, "eigencam", layer)
    size = tuple(x.shape[2:])

    def ours_fresh() -> Tensor:
        explainer.clear()
        return explainer.explain(x, targets, "eigencam", layer).map

    def ours_cached() -> Tensor:
        return cached.explain(x, targets, "eigencam", layer).map

    section.add("for scale: one forward, torch.no_grad()", lambda: no_grad(model, x), s.eigen_repeats)
    section.add("ours: explain(x, t, 'eigencam').map, fresh forward", ours_fresh, s.eigen_repeats, "ours")
    mine = section.add("ours: the same on the cached forward (batched torch SVD + ReLU + upsampling)", ours_cached,
                       s.eigen_repeats, "ours")
    verdicts: list[Verdict] = []
    if "pgc" in found:
        from pytorch_grad_cam import EigenCAM as PgcEigenCAM
        from pytorch_grad_cam.utils.image import scale_cam_image
        from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

        a_np = a.cpu().numpy()
        projection = torch.from_numpy(get_2d_projection(a_np.copy()))
        flat_ours, flat_theirs = ours.raw.flatten(1).cpu(), projection.flatten(1)
        sign = torch.where((flat_ours * flat_theirs).sum(1) < 0, -1.0, 1.0)
        section.check("pytorch-grad-cam get_2d_projection (its per-sample NumPy SVD) up to sign == ours.raw",
                      projection * sign.view(-1, *(1,) * (projection.ndim - 1)), ours.raw)
        flipped = int((sign < 0).sum())
        section.notes.append(f"the SVD's sign: pytorch-grad-cam's differs from ours (sum_k v_k >= 0) in {flipped} of "
                             f"{batch} samples (its map is then ReLU of the other sign)")
        module = dict(model.named_modules())[layer]
        try:
            with quiet(), PgcEigenCAM(model, [module]) as cam:
                theirs = torch.from_numpy(cam(x, None))
            if x.ndim == 4:  # its 2D resize is cv2's bilinear, as ours; in 3D it uses scipy's cubic zoom
                expected = F.interpolate(torch.relu(ours.raw * sign.to(ours.raw.device).view(-1, 1, 1))[:, None],
                                         size=size, mode="bilinear", align_corners=False)[:, 0]
                section.check("pytorch-grad-cam EigenCAM(x) (ReLU of its sign), normalised", theirs,
                              minmax(expected).cpu(), atol=ATOL_NORMALISED)
            else:
                section.notes.append("pytorch-grad-cam's 3D maps are resized with scipy's cubic zoom: compared at "
                                     "layer resolution only")
            add_pgc_case(section, "pytorch-grad-cam: EigenCAM(model, [layer])(x), end to end",
                         lambda: PgcEigenCAM(model, [module]), x, None, s.eigen_repeats)
        except Exception as error:  # noqa: BLE001
            section.notes.append(f"pytorch-grad-cam EigenCAM does not run here: {type(error).__name__}: {error}")

        def pgc_after_forward() -> object:
            acts = a.cpu().numpy()  # what its hook stores, as NumPy
            cams = np.maximum(get_2d_projection(acts), 0)
            return scale_cam_image(scale_cam_image(cams, size[::-1]))  # its (W, H) / (D', W', H') order, then once more

        def pgc_svd() -> object:
            return get_2d_projection(a.cpu().numpy())

        section.add("pytorch-grad-cam: after its forward (projection, ReLU, scale_cam_image)", pgc_after_forward,
                    s.eigen_repeats, "peer")
        svd = section.add("pytorch-grad-cam: get_2d_projection(A) alone (per-sample np.linalg.svd)", pgc_svd,
                          s.eigen_repeats, "peer")
    else:
        section.notes.append(f"pytorch-grad-cam not available: {found.get('pgc_error')}")
        svd = None
    section.notes.append("torchcam has no Eigen-CAM")

    section.time(max(s.warmup, 1), s.seed)
    if s.profile:
        section.notes.append(profile_text(ours_cached, f"Eigen-CAM cached forward, {name}"))
    if svd is not None:
        verdicts.append(versus_peer(name, f"Eigen-CAM, {layer}, B={batch}, cached forward", mine.median,
                                    "pytorch-grad-cam get_2d_projection alone", svd.median, TARGET_EIGEN_PEER))
    return section, verdicts
