"""Speed of the perturbation methods and Eigen-CAM: ours vs the passes they cannot avoid, and vs the peers.

    .venv/bin/python bench/methods.py              # default sizes (about 4 minutes on 2 shared CPU cores)
    .venv/bin/python bench/methods.py --quick      # tiny sizes, 1 repeat: a smoke run (seconds)

Measured in one run, on the same seeded models as ``bench/core.py`` (``models.py``: the ResNet-18-like
net at 224x224 and CNN-1 at 40^3, eval mode, float32), targets the predicted classes:

(1) Score-CAM (ResNet ``layer3``, CNN-1 ``maxpool2``): ours, ``explain(x, t, ScoreCAM(batch_size=32)).map``
    with a fresh forward, vs its lower bound, the ``K * B`` full forwards of the masked inputs
    ``x * H_k`` (all precomputed here, the same rows per forward, ``torch.no_grad``) plus the one forward
    that gives ``A``; vs pytorch-grad-cam's ``ScoreCAM`` (2D only) and torchcam's ``ScoreCAM``, with the
    same batch size, each followed by what its user needs for a map at input size.
(2) Ablation-CAM (same layers): ours fresh vs one forward + the ``K * B`` forwards of the part above
    the layer (written by hand here: the ResNet's ``layer4`` + pooling + ``fc`` as an ``nn.Sequential``,
    CNN-1's layers after ``maxpool2``) on the precomputed ablated activations; ours on a cached forward
    vs those ``K * B`` forwards alone; vs pytorch-grad-cam's ``AblationCAM`` (2D only), which replaces
    the layer by a module that returns the ablated activations but recomputes everything below it.
(3) Eigen-CAM for a batch of 32 (ResNet ``layer4``, CNN-1 ``maxpool2``): ours on a cached forward
    (the batched torch SVD, the ReLU and the upsampling) vs pytorch-grad-cam's ``get_2d_projection``
    (a NumPy SVD per sample, ``full_matrices=True``) on the same activations; for scale, both
    end to end with their forward pass, and pytorch-grad-cam's whole post-forward path (projection,
    ReLU, ``scale_cam_image``).

Before anything is timed every comparison is checked for equal maps where the definitions agree (max
abs difference printed): the lower bounds' scores are turned into weights and maps by the papers'
equations here and must equal ours (weights and raw maps, rtol 1e-4); pytorch-grad-cam's Ablation-CAM
ablates post-ReLU layers with zeros as ours does and divides by ``y`` (ours by ``max(|y|, 1e-7)``: equal
for ``y > 0``); both peers' Score-CAMs weight with a softmax over channels (pytorch-grad-cam also upsamples
the masks with ``align_corners=True``, torchcam normalises before upsampling), so for the check only they
get the log-probability as target (a softmax over channels of ``log p_k`` is ``p_k / sum p``, ours up to a
factor per sample) and their mask upsampling aligned with ours; peers' maps are compared after a min-max
normalisation per sample (pytorch-grad-cam's output is normalised); Eigen-CAM up to the SVD's sign per
sample. Timings: ``time.perf_counter``, medians of the repeats, round robin in a shuffled order (see
``core.py``), the checks' runs serving as warm-up. Targets (CPU): ours <= 1.3x its lower bound;
Ablation-CAM >= 3x faster than pytorch-grad-cam's at ``layer3``; Score-CAM no slower than the fastest peer;
Eigen-CAM >= 5x faster than pytorch-grad-cam's per-sample SVD. Exit status 1 on a missed target only with
``--strict``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

if __package__:
    from .common import select_devices
    from .core import load, machine
    from .methods_ablationcam import bench_ablation_cam
    from .methods_eigencam import bench_eigen_cam
    from .methods_peers import peers
    from .methods_scorecam import bench_score_cam
    from .methods_section import Settings, Verdict, fmt
    from .methods_workloads import BATCH_SIZE
else:  # run as a script: bench/ is on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import select_devices  # type: ignore[no-redef]
    from core import load, machine  # type: ignore[no-redef]
    from methods_ablationcam import bench_ablation_cam  # type: ignore[no-redef]
    from methods_eigencam import bench_eigen_cam  # type: ignore[no-redef]
    from methods_peers import peers  # type: ignore[no-redef]
    from methods_scorecam import bench_score_cam  # type: ignore[no-redef]
    from methods_section import Settings, Verdict, fmt  # type: ignore[no-redef]
    from methods_workloads import BATCH_SIZE  # type: ignore[no-redef]


def summary(verdicts: list[Verdict]) -> str:
    lines = ["| workload | method | ours | compared with | theirs | ratio | target | pass |",
             "| --- | --- | ---: | --- | ---: | ---: | --- | --- |"]
    for v in verdicts:
        ratio = f"{v.ratio:.2f}x" if v.ratio < 10 else f"{v.ratio:.0f}x"
        lines.append(f"| {v.workload} | {v.method} | {fmt(v.ours)} | {v.other_label} | {fmt(v.other)} "
                     f"| {ratio} | {v.target} | {'PASS' if v.ok else 'MISS'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["resnet", "cnn1", "all"], default="all")
    parser.add_argument("--method", choices=["scorecam", "ablationcam", "eigencam", "all"], default="all")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto",
                        help="auto: cpu, and cuda too when torch.cuda.is_available()")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats of the Score-CAM and Ablation-CAM rows (median); default 3, quick 1")
    parser.add_argument("--eigen-repeats", type=int, default=None, help="repeats of the Eigen-CAM rows; default 5")
    parser.add_argument("--warmup", type=int, default=0,
                        help="extra untimed rounds (the checks already ran every case's work once)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat: a smoke run")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of ours per section")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N); default: torch's own (one per core); see README")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is missed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    settings = Settings(
        repeats=args.repeats if args.repeats is not None else (1 if args.quick else 3),
        eigen_repeats=args.eigen_repeats if args.eigen_repeats is not None else (1 if args.quick else 5),
        warmup=args.warmup, profile=args.profile, seed=args.seed, quick=args.quick,
    )
    devices = select_devices(parser, args.device)
    workloads = ["resnet", "cnn1"] if args.workload == "all" else [args.workload]
    methods = ["scorecam", "ablationcam", "eigencam"] if args.method == "all" else [args.method]
    benches = {"scorecam": bench_score_cam, "ablationcam": bench_ablation_cam, "eigencam": bench_eigen_cam}
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    elif args.quick:  # tiny ops: with 2 threads on shared cores, OpenMP barrier stalls take longer than the work
        torch.set_num_threads(1)

    found = peers()
    print(machine(devices) + f", load average {load()}")
    print(f"command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    pgc = f"(torchvision: {found.get('pgc_torchvision')})" if "pgc" in found else "n/a"
    print(f"peers: pytorch-grad-cam {pgc}, torchcam {'yes' if 'torchcam' in found else 'n/a'}")
    print(f"settings: median of {settings.repeats} (Eigen-CAM rows: {settings.eigen_repeats}), {BATCH_SIZE} rows per "
          f"forward pass for every method, round robin in shuffled order")
    verdicts: list[Verdict] = []
    for device in devices:
        for name in workloads:
            for method in methods:
                section, v = benches[method](name, device, settings, found)
                print(section.render(), flush=True)
                for item in v:
                    item.workload = f"{name}/{device.type}"
                    verdicts.append(item)
    print(f"\nload average at the end: {load()} (other processes share these cores: read the ratios)")
    print("\nsummary (targets set for CPU, evaluated from the medians above):\n")
    if args.quick:
        print("(--quick: tiny sizes, where fixed costs dominate; the targets are meant for the default sizes)\n")
    print(summary(verdicts))
    missed = [v for v in verdicts if not v.ok]
    print(f"\n{len(verdicts) - len(missed)} of {len(verdicts)} targets met")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
