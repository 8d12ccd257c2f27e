"""Speed of ``cam_widgets.evaluation``: ours vs torchcam, pytorch-grad-cam and Quantus on the same 2D maps, and in 3D
(where only we run) against the forward passes each metric needs.

    .venv/bin/python bench/evaluation.py              # default sizes (about 2 minutes on 2 shared CPU cores)
    .venv/bin/python bench/evaluation.py --quick      # tiny sizes, 1 repeat: a smoke run

Measured in one run (``time.perf_counter``, medians, round robin in a shuffled order as in ``core.py``):

(1) 2D (``evaluation_2d.py``): a seeded small CNN on 16 smooth random 3x60x60 images with one disc mask each; the
    maps are our Grad-CAM, computed once, and every metric on both sides gets them. torchcam 0.5.0's
    ``DeletionInsertionMetric`` and ``ClassificationMetric`` (softmax scores; a stand-in CAM extractor that returns
    our maps, min-max normalised for average drop) vs ``ev.deletion_insertion`` / ``ev.average_drop``;
    pytorch-grad-cam 1.5.5's ``ROADCombined`` (softmax targets, imputer noise 0, its percentiles 100 - ours) vs
    ``ev.road(noise=0)``; Quantus 0.6.0's ``RelevanceMassAccuracy``, ``RelevanceRankAccuracy`` and
    ``PointingGame`` vs ``ev.localisation``, and its ``PixelFlipping`` (steps aligned, baseline 0) vs our deletion
    curve. ROAD and Quantus get tie-free maps with our ranking. Values are checked first (``1e-5`` relative to
    ``max(|v|, 0.01)``, the max differences printed). Target (CPU): ours >= 5x faster than each peer, met only at
    equal values. The lower bound (the forwards alone) is printed for deletion and average drop too.
(2) 3D and segmentation (``evaluation_3d.py``, ``evaluation_sanity.py``): the demo CNN-1 on 8 simulated 24^3
    subtomograms (deletion / insertion, average drop, ROAD with its default noise, the cascading randomisation and
    the random-logit test) and the demo U-Net on 8 64x64 scenes (segmentation faithfulness of a Seg-Grad-CAM, one
    object per scene): ours vs the passes the metric needs (forwards at our rows per pass; ROAD adds our imputer
    called alone; the sanity checks one forward and backward per Grad-CAM), their values checked against ours.
    Target: ours <= 1.5x that lower bound.

Options: ``--device {cpu,cuda,auto}`` (default cpu), ``--section {2d,3d,all}``, ``--repeats N`` (ours and the
lower bounds, default 7; ROAD's rows at most 3), ``--peer-repeats N`` (default 3), ``--warmup N``, ``--profile``
(cProfile of ours), ``--threads N`` (default 1: the peers' NumPy / SciPy work runs on one thread, and with other
processes on the same cores torch's OpenMP threads stall; we measured ``ev.localisation`` at 5 ms with 1 thread
and 225 ms with 2 on a loaded 2-core machine, ``core.py``'s README has more), ``--strict`` (exit status 1 when a
target is not met), ``--seed``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

if __package__:
    from .common import select_devices
    from .core import load, machine
    from .evaluation_2d import bench_2d
    from .evaluation_3d import bench_classifier, bench_segmentation
    from .evaluation_peers import load_peers, version
    from .evaluation_sanity import bench_sanity
    from .evaluation_section import Settings, Verdict, summary
    from .evaluation_workloads import workload_2d, workload_cnn1, workload_unet
else:  # run as a script: bench/ is on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import select_devices  # type: ignore[no-redef]
    from core import load, machine  # type: ignore[no-redef]
    from evaluation_2d import bench_2d  # type: ignore[no-redef]
    from evaluation_3d import bench_classifier, bench_segmentation  # type: ignore[no-redef]
    from evaluation_peers import load_peers, version  # type: ignore[no-redef]
    from evaluation_sanity import bench_sanity  # type: ignore[no-redef]
    from evaluation_section import Settings, Verdict, summary  # type: ignore[no-redef]
    from evaluation_workloads import workload_2d, workload_cnn1, workload_unet  # type: ignore[no-redef]

DEFAULT_SIZES = {"batch_2d": 16, "size_2d": 60, "batch_3d": 8, "size_3d": 24, "batch_seg": 8, "size_seg": 64}
QUICK_SIZES = {"batch_2d": 4, "size_2d": 30, "batch_3d": 2, "size_3d": 24, "batch_seg": 2, "size_seg": 32}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                        help="auto: cpu, and cuda too when torch.cuda.is_available()")
    parser.add_argument("--section", choices=["2d", "3d", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of ours and the lower bounds; default 7")
    parser.add_argument("--peer-repeats", type=int, default=None, help="repeats of the peers' rows; default 3")
    parser.add_argument("--warmup", type=int, default=0, help="extra untimed rounds (the checks ran everything once)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat: a smoke run")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of each of ours")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads(N); default 1 (see the module docstring)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is not met")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    settings = Settings(repeats=args.repeats or (1 if args.quick else 7),
                        peer_repeats=args.peer_repeats or (1 if args.quick else 3),
                        warmup=args.warmup, profile=args.profile, seed=args.seed, quick=args.quick)
    sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    devices = select_devices(parser, args.device)
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    found = load_peers()
    print(machine(devices) + f", load average {load()}")
    print(f"command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    print("peers: " + ", ".join(
        f"{label} {version(dist) if key in found else 'n/a (' + str(found.get(key + '_error')) + ')'}"
        for key, label, dist in [("torchcam", "torchcam", "torchcam"), ("pgc", "pytorch-grad-cam", "grad-cam"),
                                 ("quantus", "Quantus", "quantus")]))
    print(f"settings: median of {settings.repeats} (peers: {settings.peer_repeats}), round robin in shuffled order")
    verdicts: list[Verdict] = []
    for device in devices:
        if args.section in ("2d", "all"):
            w = workload_2d(sizes["batch_2d"], sizes["size_2d"], device, args.seed)
            section, v = bench_2d(w, device, settings, found)
            print(section.render(), flush=True)
            verdicts += v
        if args.section in ("3d", "all"):
            w = workload_cnn1(sizes["batch_3d"], sizes["size_3d"], device, args.seed)
            section, v = bench_classifier(w, device, settings)
            print(section.render(), flush=True)
            verdicts += v
            sanity = bench_sanity(w, device, settings)
            if sanity is None:
                print("\n(ev.randomisation / ev.random_logit not importable yet: sanity checks not measured)")
            else:
                print(sanity[0].render(), flush=True)
                verdicts += sanity[1]
            w = workload_unet(sizes["batch_seg"], sizes["size_seg"], device, args.seed)
            section, v = bench_segmentation(w, device, settings)
            print(section.render(), flush=True)
            verdicts += v
    print(f"\nload average at the end: {load()} (other processes share these cores: read the ratios)")
    print("\nsummary (targets set for CPU, from the medians above; met only where the values are equal):\n")
    if args.quick:
        print("(--quick: tiny sizes, where fixed costs dominate; the targets are meant for the default sizes)\n")
    print(summary(verdicts))
    missed = [v for v in verdicts if not v.ok]
    print(f"\n{len(verdicts) - len(missed)} of {len(verdicts)} targets met; the run took "
          f"{time.perf_counter() - started:.0f} s")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
