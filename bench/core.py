"""Core speed benchmark: cam_widgets' CAMExplainer vs the libraries a user would pick instead.

    .venv/bin/python bench/core.py --workload all            # full size (several minutes on 2 cores)
    .venv/bin/python bench/core.py --quick                   # tiny sizes, a smoke run

Measured in one run, on the same seeded model and input batch (eval mode, float32):

(1) one Grad-CAM for a batch, including upsampling the map to the input size:
    ours (``CAMExplainer.explain(...).map``, a fresh forward every repeat), Captum
    (``LayerGradCam.attribute`` + ``LayerAttribution.interpolate``), torchcam (``GradCAM``:
    forward + extractor call + ``F.interpolate``), pytorch-grad-cam where it imports; plus our
    cached-reuse rows (new class on the cached forward; new method on cached gradients);
(2) all classes for a batch: ours ``explain_all_classes`` vs the peers looping over classes
    (Captum: one ``attribute`` per class; torchcam: one forward, then one extractor call per
    class with ``retain_graph=True``, the fastest way its API allows);
(3) ours vs the lower bound: one forward (without autograd below the layer) + one
    ``torch.autograd.grad`` of the explained score to the layer's activation, from one forward
    hook written here (for all classes: one batched ``autograd.grad``, ``is_grads_batched``).

Every case is checked against ours (``assert_close`` at layer resolution and at input size,
float32 rtol 1e-4) before anything is timed.  Timings are medians of ``--repeats`` repeats
(``time.perf_counter``, ``torch.cuda.synchronize()`` around each on CUDA), taken round robin
(one repeat of every case per round) so that background load on a shared machine hits all cases
alike.  Targets (CPU): ours <= 1.3x the lower bound; ours never slower than the fastest peer for
one CAM; ours >= 10x faster than every peer for all classes.  They are evaluated, never assumed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

if __package__:
    from .common import select_devices
    from .models import DEFAULTS, QUICK, Workload, make_workload
else:  # run as a script: bench/ is on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import select_devices  # type: ignore[no-redef]
    from models import DEFAULTS, QUICK, Workload, make_workload  # type: ignore[no-redef]

from cam_widgets import CAMExplainer

RTOL = 1e-4
ATOL_REL = 1e-5  # atol = ATOL_REL * max |reference|: float32 sums in another order
TARGET_LOWER_BOUND = 1.3
TARGET_ONE_CAM = 1.0
TARGET_ALL_CLASSES = 10.0
MODES = {2: "bilinear", 3: "trilinear"}


# --- timing ---------------------------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Case:
    """One row: ``run()`` does the work once and returns its duration in seconds (it times
    itself, so that extrapolating cases can scale the part they sampled)."""

    label: str
    run: Callable[[], float]
    group: str  # "one" or "all"
    role: str  # "ours", "cached", "lower", "peer"
    repeats: int
    note: str = ""
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def timed(device: torch.device, work: Callable[[], object]) -> float:
    synchronize(device)
    start = time.perf_counter()
    work()
    synchronize(device)
    return time.perf_counter() - start


def round_robin(cases: list[Case], warmup: int, seed: int = 0) -> None:
    """``warmup`` untimed rounds, then rounds of one repeat per case until each has its repeats;
    the order within a round is shuffled (seeded), so no case always follows the same one."""
    rng = random.Random(seed)
    for _ in range(warmup):
        for case in cases:
            case.run()
    for round_index in range(max(case.repeats for case in cases)):
        order = list(cases)
        rng.shuffle(order)
        for case in order:
            if round_index < case.repeats:
                case.times.append(case.run())


# --- the lower bound, written directly ------------------------------------------------------------


def forward_to_leaf(model: torch.nn.Module, x: Tensor, module: torch.nn.Module) -> tuple[Tensor, Tensor]:
    """One forward: no autograd below ``module``; its output becomes a leaf that requires grad.
    The cheapest way to get ``dy/dA`` for a layer's activation ``A``."""
    captured: list[Tensor] = []

    def hook(_module, _inputs, output):
        leaf = output.detach().requires_grad_(True)
        torch.set_grad_enabled(True)  # restored when the no_grad block below exits
        captured.append(leaf)
        return leaf

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        handle.remove()
    return logits, captured[0]


def lower_bound_grad(model, x, module, index: Tensor) -> tuple[Tensor, Tensor]:
    logits, activation = forward_to_leaf(model, x, module)
    score = logits.gather(1, index[:, None]).sum()
    (grad,) = torch.autograd.grad(score, activation)
    return activation.detach(), grad


def lower_bound_all(model, x, module, n_classes: int) -> tuple[Tensor, Tensor]:
    logits, activation = forward_to_leaf(model, x, module)
    eye = torch.eye(n_classes, dtype=logits.dtype, device=logits.device)
    cotangents = eye[:, None, :].expand(-1, logits.shape[0], -1)
    (grad,) = torch.autograd.grad(logits, activation, grad_outputs=cotangents, is_grads_batched=True)
    return activation.detach(), grad


def gradcam_from(activation: Tensor, grad: Tensor) -> Tensor:
    """Reference Grad-CAM (after its ReLU) at layer resolution; ``grad`` may have a class axis."""
    spatial = tuple(range(-(activation.ndim - 2), 0))
    weights = grad.mean(spatial, keepdim=True)
    return torch.relu((weights * activation).sum(-(activation.ndim - 1)))


# --- checks ----------------------------------------------------------------------------------------


def compare(label: str, actual: Tensor, expected: Tensor, lines: list[str]) -> None:
    actual, expected = actual.detach().float().cpu(), expected.detach().float().cpu()
    scale = float(expected.abs().max())
    diff = float((actual - expected).abs().max())
    torch.testing.assert_close(actual, expected, rtol=RTOL, atol=ATOL_REL * max(scale, 1e-30),
                               msg=lambda m: f"{label}: maps differ from ours\n{m}")
    nonzero = float((expected > 0).float().mean())
    lines.append(f"  {label:<58} max|diff| {diff:.2e}  (max|map| {scale:.2e}, {100 * nonzero:.0f}% > 0)  OK")


# --- the bench for one workload ----------------------------------------------------------------------


@dataclass
class Settings:
    repeats: int
    all_repeats: int
    warmup: int
    peer_budget: float
    profile: bool


def bench_workload(w: Workload, device: torch.device, s: Settings) -> tuple[str, list[tuple[str, bool]]]:
    model, x, layer, n_classes = w.model, w.x, w.layer, w.n_classes
    module = dict(model.named_modules())[layer]
    batch = x.shape[0]
    size = w.spatial
    mode = MODES[len(size)]
    targets = [i % n_classes for i in range(batch)]
    index = torch.tensor(targets, device=device)
    out: list[str] = []
    checks: list[str] = []
    verdicts: list[tuple[str, bool]] = []

    def upsample_peer(maps: Tensor) -> Tensor:  # (N, *S) -> (N, *size), as a peer's user writes it
        return F.interpolate(maps.unsqueeze(1), size=size, mode=mode, align_corners=False)[:, 0]

    # --- ours ---
    explainer = CAMExplainer(model, layers=[layer])
    cached = CAMExplainer(model, layers=[layer])  # keeps its session: the cached-reuse rows
    ours = explainer.explain(x, targets, "gradcam", layer)
    ours_layer = torch.relu(ours.raw)
    ours_all = explainer.explain_all_classes(x, "gradcam", layer)
    ours_all_layer = torch.relu(ours_all.raw)
    cached.explain(x, targets, "gradcam", layer)
    shift = [0]

    def ours_one() -> float:
        explainer.clear()  # a fresh forward every repeat (otherwise the cache answers)
        return timed(device, lambda: explainer.explain(x, targets, "gradcam", layer).map)

    def ours_new_class() -> float:
        shift[0] += 1  # another class each time: the gradient cache (LRU of 4) never answers
        other = [(t + shift[0]) % n_classes for t in targets]
        return timed(device, lambda: cached.explain(x, other, "gradcam", layer).map)

    def ours_cached_grads() -> float:
        cached.explain(x, targets, "gradcam++", layer)  # gradients of `targets` are cached
        return timed(device, lambda: cached.explain(x, targets, "gradcam", layer).map)

    def ours_all_classes() -> float:
        explainer.clear()
        return timed(device, lambda: explainer.explain_all_classes(x, "gradcam", layer).map)

    # --- lower bounds ---
    a, g = lower_bound_grad(model, x, module, index)
    compare("lower bound (hook + autograd.grad) -> Grad-CAM", gradcam_from(a, g), ours_layer, checks)
    a, g = lower_bound_all(model, x, module, n_classes)
    compare("lower bound, all classes (batched grad)", gradcam_from(a, g), ours_all_layer, checks)
    del a, g

    def lb_one() -> float:
        return timed(device, lambda: lower_bound_grad(model, x, module, index))

    def lb_all() -> float:
        return timed(device, lambda: lower_bound_all(model, x, module, n_classes))

    def forward_only() -> float:
        with torch.no_grad():
            return timed(device, lambda: model(x))

    one_cases = [
        Case("for scale: forward only, torch.no_grad()", forward_only, "one", "info", s.repeats),
        Case("lower bound: forward + autograd.grad to the layer", lb_one, "one", "lower", s.repeats),
        Case("ours: explain(x, t, 'gradcam').map, fresh forward", ours_one, "one", "ours", s.repeats),
        Case("ours: cached forward, new class", ours_new_class, "one", "cached", s.repeats),
        Case("ours: cached forward + gradients, new method", ours_cached_grads, "one", "cached", s.repeats),
    ]
    all_cases = [
        Case("lower bound: forward + one batched autograd.grad", lb_all, "all", "lower", s.repeats),
        Case("ours: explain_all_classes(x, 'gradcam').map", ours_all_classes, "all", "ours", s.repeats),
    ]
    per_class: dict[str, Callable[[], float]] = {}  # peer -> the one-CAM case, to size the all-classes run
    unavailable: list[str] = []

    # --- Captum ---
    try:
        from captum.attr import LayerAttribution, LayerGradCam
        import captum
    except ImportError as error:
        unavailable.append(f"captum: not available: {error}")
    else:
        lgc = LayerGradCam(model, module)

        def captum_map(target) -> tuple[Tensor, Tensor]:
            attr = lgc.attribute(x, target=target, relu_attributions=True)
            return attr[:, 0], LayerAttribution.interpolate(attr, size, interpolate_mode=mode)[:, 0]

        layer_map, full_map = captum_map(targets)
        compare(f"captum {captum.__version__} LayerGradCam (layer resolution)", layer_map, ours_layer, checks)
        compare("captum LayerAttribution.interpolate (input size)", full_map, ours.map, checks)
        for c in sorted({0, n_classes - 1}):
            compare(f"captum, all classes: class {c}", captum_map(c)[0], ours_all_layer[c], checks)

        def captum_one() -> float:
            return timed(device, lambda: captum_map(targets))

        def captum_all_factory(k: int) -> Callable[[], float]:
            def run() -> float:
                def work():
                    for c in range(k):
                        captum_map(c)
                return timed(device, work) * n_classes / k
            return run

        one_cases.append(Case("captum: LayerGradCam.attribute + interpolate", captum_one, "one", "peer", s.repeats))
        per_class["captum"] = lambda: next(c for c in one_cases if c.label.startswith("captum")).median
        all_cases.append(Case("captum: one attribute (+ interpolate) per class", captum_all_factory, "all", "peer",
                              s.all_repeats, note="per-class"))

    # --- torchcam ---
    try:
        import torchcam
        from torchcam.methods import GradCAM as TorchcamGradCAM
    except ImportError as error:
        unavailable.append(f"torchcam: not available: {error}")
    else:
        extractor = TorchcamGradCAM(model, target_layer=layer)
        extractor.disable_hooks()  # its hooks stay on the model: on only while torchcam runs

        def torchcam_run(classes: list, forward_times: list[float] | None = None) -> list[Tensor]:
            """One forward, then one extractor call per entry of ``classes`` (retaining the graph
            between calls), each map upsampled; returns the layer-resolution maps."""
            extractor.enable_hooks()
            try:
                start = time.perf_counter()
                scores = model(x)
                if forward_times is not None:
                    synchronize(device)
                    forward_times.append(time.perf_counter() - start)
                maps = []
                for i, c in enumerate(classes):
                    (cam,) = extractor(class_idx=c, scores=scores, normalized=False,
                                       retain_graph=i < len(classes) - 1)
                    upsample_peer(cam)
                    maps.append(cam)
                return maps
            finally:
                extractor.disable_hooks()
                extractor.reset_hooks()

        (layer_map,) = torchcam_run([targets])
        compare(f"torchcam {torchcam.__version__} GradCAM (layer resolution)", layer_map, ours_layer, checks)
        compare("torchcam + F.interpolate (input size)", upsample_peer(layer_map), ours.map, checks)
        cams = torch.stack(torchcam_run(list(range(n_classes))))
        compare(f"torchcam, all classes (all {n_classes}, retain_graph loop)", cams, ours_all_layer, checks)
        del cams

        def torchcam_one() -> float:
            return timed(device, lambda: torchcam_run([targets]))

        def torchcam_all_factory(k: int) -> Callable[[], float]:
            def run() -> float:
                forward: list[float] = []
                total = timed(device, lambda: torchcam_run(list(range(k)), forward))
                return forward[0] + (total - forward[0]) * n_classes / k
            return run

        one_cases.append(Case("torchcam: forward + GradCAM call + F.interpolate", torchcam_one, "one", "peer",
                              s.repeats))
        per_class["torchcam"] = lambda: 0.0  # one forward for all classes; the extractor calls are cheap
        all_cases.append(Case("torchcam: 1 forward + 1 GradCAM call per class (retain_graph)", torchcam_all_factory,
                              "all", "peer", s.all_repeats, note="per-class"))

    # --- pytorch-grad-cam ---
    try:
        import pytorch_grad_cam
        from pytorch_grad_cam import GradCAM as PgcGradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except Exception as error:  # it imports torchvision (and cv2), which may fail to load
        unavailable.append(f"pytorch-grad-cam: not available: {type(error).__name__}: {error}")
    else:
        def pgc_map(classes: list[int]) -> Tensor:
            # its hooks copy every forward's activation to the CPU: keep them on only for its own
            # calls (the context manager releases them; constructing one is cheap)
            with PgcGradCAM(model=model, target_layers=[module]) as pgc:
                cams = pgc(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])
            return torch.as_tensor(cams)

        # it only returns min-max normalised maps resized with cv2: compare normalised, loosely
        from cam_widgets.resample import normalize
        mine = normalize(ours.map).cpu()
        try:
            theirs = pgc_map(targets)
        except Exception as error:  # e.g. a version without 3D support
            unavailable.append(f"pytorch-grad-cam: failed on this workload: {type(error).__name__}: {error}")
        else:
            diff = float((theirs.reshape(mine.shape) - mine).abs().max())
            checks.append(f"  pytorch-grad-cam {getattr(pytorch_grad_cam, '__version__', '?')} (normalised, its own "
                          f"resize; loose)  max|diff| {diff:.2e}" + ("  OK" if diff < 0.05 else "  DIFFERS"))

        def pgc_one() -> float:
            return timed(device, lambda: pgc_map(targets))

        def pgc_all_factory(k: int) -> Callable[[], float]:
            def run() -> float:
                def work():
                    for c in range(k):
                        pgc_map([c] * batch)
                return timed(device, work) * n_classes / k
            return run

        if not unavailable or not unavailable[-1].startswith("pytorch-grad-cam"):
            one_cases.append(Case("pytorch-grad-cam: GradCAM (normalised, resized)", pgc_one, "one", "peer",
                                  s.repeats))
            per_class["pytorch-grad-cam"] = lambda: next(c for c in one_cases if c.label.startswith("pytorch")).median
            all_cases.append(Case("pytorch-grad-cam: one GradCAM call per class", pgc_all_factory, "all", "peer",
                                  s.all_repeats, note="per-class"))

    # --- (1) + (3): one CAM ---
    round_robin(one_cases, s.warmup)

    # --- (2): all classes; peers that loop over classes may sample k classes and extrapolate ---
    for case in all_cases:
        if case.note != "per-class":
            continue
        peer = case.label.split(":")[0]
        t_class = per_class[peer]()
        k = n_classes
        if t_class * n_classes * case.repeats > s.peer_budget:
            k = max(2, min(n_classes, int(s.peer_budget / (t_class * case.repeats))))
        case.run = case.run(k)  # the factory, now sized
        case.note = "" if k == n_classes else f"EXTRAPOLATED linearly from {k} of {n_classes} classes"
    # every code path already ran in the checks above: no extra warm-up round here
    round_robin(all_cases, 0)

    # --- report ---
    ours_one_t = next(c for c in one_cases if c.role == "ours").median
    lb_one_t = next(c for c in one_cases if c.role == "lower").median
    ours_all_t = next(c for c in all_cases if c.role == "ours").median
    lb_all_t = next(c for c in all_cases if c.role == "lower").median

    def row(case: Case, ratio: str) -> str:
        label = case.label + (f"  [{case.note}]" if case.note and case.note != "per-class" else "")
        return f"  {label:<78} {1e3 * case.median:>10.1f} {1e3 * min(case.times):>9.1f} {len(case.times):>3}   {ratio}"

    header = f"  {'method':<78} {'median ms':>10} {'(min ms)':>9} {'n':>3}   ratio (of medians)"
    out.append(f"\n=== {w.title} | batch {batch} | device {device} ===")
    out.append("sanity checks (ours vs each, float32 rtol 1e-4, atol 1e-5*max|map|), before timing:")
    out.extend(checks)
    out.append(f"\n(1)+(3) one Grad-CAM for the batch (targets {targets[:4]}{'...' if batch > 4 else ''}), "
               f"incl. upsampling to {'x'.join(map(str, size))}")
    out.append(header)
    peers_one = []
    for case in one_cases:
        if case.role == "lower":
            ratio = "(reference)"
        elif case.role == "info":
            ratio = f"{case.median / lb_one_t:.2f} of the lower bound"
        elif case.role == "ours":
            ratio = f"ours / lower bound = {ours_one_t / lb_one_t:.2f}"
        elif case.role == "cached":
            ratio = f"{ours_one_t / case.median:.0f}x faster than a fresh forward"
        else:
            peers_one.append(case)
            ratio = f"peer / ours = {case.median / ours_one_t:.2f}"
        out.append(row(case, ratio))
    out.extend(f"  {line}" for line in unavailable)
    ok = ours_one_t / lb_one_t <= TARGET_LOWER_BOUND
    verdicts.append((f"{w.name}/{device.type}: ours <= {TARGET_LOWER_BOUND}x lower bound (one CAM): "
                     f"{ours_one_t / lb_one_t:.3f}x", ok))
    if peers_one:
        fastest = min(peers_one, key=lambda c: c.median)
        ratio = fastest.median / ours_one_t
        verdicts.append((f"{w.name}/{device.type}: fastest peer / ours (one CAM) >= 1: "
                         f"{fastest.label.split(':')[0]} {ratio:.3f}", ratio >= TARGET_ONE_CAM))

    out.append(f"\n(2)+(3) all {n_classes} classes for the batch, incl. upsampling")
    out.append(header)
    for case in all_cases:
        if case.role == "lower":
            ratio = "(reference)"
        elif case.role == "ours":
            ratio = f"ours / lower bound = {ours_all_t / lb_all_t:.2f}"
        else:
            ratio = f"peer / ours = {case.median / ours_all_t:.1f}"
            verdicts.append((f"{w.name}/{device.type}: {case.label.split(':')[0]} / ours (all classes) >= "
                             f"{TARGET_ALL_CLASSES:.0f}: {case.median / ours_all_t:.1f}",
                             case.median / ours_all_t >= TARGET_ALL_CLASSES))
        out.append(row(case, ratio))
    out.append(f"  all classes vs one CAM: ours all / ours one = {ours_all_t / ours_one_t:.2f}")
    out.append("  how the peers do all classes: Captum, one LayerGradCam.attribute(x, target=c) per class (each is a "
               "forward + backward); torchcam, one hooked forward, then GradCAM(class_idx=c, scores, normalized=False, "
               "retain_graph=True) per class (its API takes one class, or one per sample, per call and backpropagates "
               "a scalar: a loop over a retained graph is the fastest it allows)")
    if s.profile:
        out.append(profile_ours(explainer, x, targets, layer))
    return "\n".join(out), verdicts


def profile_ours(explainer: CAMExplainer, x: Tensor, targets: list[int], layer: str) -> str:
    """cProfile of one fresh ``explain`` and one ``explain_all_classes`` (top entries by own time)."""
    text = []
    for label, call in (("explain", lambda: explainer.explain(x, targets, "gradcam", layer).map),
                        ("explain_all_classes", lambda: explainer.explain_all_classes(x, "gradcam", layer).map)):
        explainer.clear()
        profiler = cProfile.Profile()
        profiler.enable()
        call()
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(12)
        text.append(f"\nprofile of ours, {label} (fresh forward), top 12 by own time:\n{stream.getvalue()}")
    return "".join(text)


def machine(devices: list[torch.device]) -> str:
    parts = [f"machine: {platform.machine()} {platform.processor() or ''}".rstrip(),
             f"{os.cpu_count()} CPUs (torch threads {torch.get_num_threads()})",
             f"torch {torch.__version__}", f"python {platform.python_version()}"]
    for d in devices:
        if d.type == "cuda":
            parts.append(f"cuda: {torch.cuda.get_device_name(d)}")
    return ", ".join(parts)


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["cnn1", "resnet", "all"], default="all")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto",
                        help="auto: cpu, and cuda too when torch.cuda.is_available()")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (median); default 7")
    parser.add_argument("--all-repeats", type=int, default=None,
                        help="repeats for the peers' all-classes loops (slow); default min(repeats, 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds before timing the one-CAM cases")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 8; quick: 2)")
    parser.add_argument("--size", type=int, default=None,
                        help="input size per spatial dim for the chosen workload(s) (default cnn1 40, resnet 224)")
    parser.add_argument("--peer-budget", type=float, default=150.0,
                        help="seconds a peer's all-classes row may take over its repeats; beyond it a subset of "
                             "classes is timed and extrapolated linearly (default 150)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 repeats: a smoke run")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of ours")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N); default: leave torch's default (one per core). On a "
                             "shared, loaded machine --threads 1 avoids OpenMP barrier stalls that swamp the timings")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 7)
    settings = Settings(
        repeats=repeats,
        all_repeats=args.all_repeats if args.all_repeats is not None else min(repeats, 3),
        warmup=args.warmup,
        peer_budget=args.peer_budget,
        profile=args.profile,
    )
    devices = select_devices(parser, args.device)
    workloads = ["cnn1", "resnet"] if args.workload == "all" else [args.workload]
    warnings.filterwarnings("ignore", category=UserWarning)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(machine(devices) + f", load average {load()}")
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(f"settings: median of {settings.repeats} (peers' all-classes loops: {settings.all_repeats}), "
          f"{settings.warmup} warm-up round(s), round robin in shuffled order")
    verdicts: list[tuple[str, bool]] = []
    for device in devices:
        for name in workloads:
            base = QUICK[name] if args.quick else DEFAULTS[name]
            w = make_workload(name, args.size or base["size"], args.batch or base["batch"], device, args.seed)
            text, v = bench_workload(w, device, settings)
            print(text, flush=True)
            verdicts.extend(v)
            del w
    print(f"\nload average at the end: {load()} (other processes share these cores: see README)")
    print("\ntargets (set for CPU; evaluated from the medians above):")
    for text, ok in verdicts:
        print(f"  {'PASS' if ok else 'MISS'}  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
