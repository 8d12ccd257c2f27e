"""PFV's cost, measured in one run: ``PFVExplainer.explain`` against a bare forward pass of the same
batch, and its decomposition (``principal_components``: the eigendecomposition of the smaller Gram
matrix) against the direct thin SVD of the positions x channels matrix, which gives the same components.

    .venv/bin/python bench/pfv.py                     # CNN-1 40^3 and ResNet-18-like 224x224, batches 8 and 32
    .venv/bin/python bench/pfv.py --quick             # tiny sizes: a smoke run

Prints medians over ``--repeats`` and the ratios; no targets are asserted here (see bench/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from cam_widgets.pfv import PFVExplainer, feature_matrix, orient, principal_components

try:
    from models import DEFAULTS, QUICK, make_workload
except ImportError:  # run as `python -m bench.pfv`
    from .models import DEFAULTS, QUICK, make_workload

RESNET_STAGES = ["layer1", "layer2", "layer3", "layer4"]


def median_seconds(run: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def direct_svd(features: torch.Tensor, numbers: tuple[int, ...]) -> torch.Tensor:
    """The baseline: Eq. 3-6 by a thin SVD of the centred (positions x channels) matrix, U S."""
    centred = feature_matrix(features)
    centred -= centred.mean(0)
    u, s, vh = torch.linalg.svd(centred, full_matrices=False)
    chosen = [k - 1 for k in numbers]
    return orient(u[:, chosen] * s[chosen], vh[chosen].T)


def bench(name: str, size: int, batch: int, repeats: int) -> None:
    workload = make_workload(name, size, batch, torch.device("cpu"))
    pfv = PFVExplainer(workload.model, layers=RESNET_STAGES if name == "resnet" else None)
    x = workload.x
    with torch.no_grad():
        forward = median_seconds(lambda: workload.model(x), repeats)
    explain = median_seconds(lambda: pfv.explain(x), repeats)
    features = pfv._capture(x)[pfv.layers[-1]]
    numbers = (1, 2, 3)
    ours = median_seconds(lambda: principal_components(features, numbers), repeats)
    svd = median_seconds(lambda: direct_svd(features, numbers), repeats)
    maps, _ = principal_components(features, numbers)
    reference = direct_svd(features, numbers)
    ours_flat = maps.movedim(1, -1).reshape(-1, len(numbers))
    difference = float((ours_flat - reference).abs().max() / reference.abs().max())
    positions = features.shape[0] * features[0, 0].numel()
    channels = features.shape[1]
    print(f"\n{workload.title.split(', layer')[0]}, batch {batch}: decomposed {pfv.layers[-1]} "
          f"({positions} positions x {channels} channels)")
    print(f"  forward pass alone            {1e3 * forward:9.1f} ms")
    print(f"  PFVExplainer.explain          {1e3 * explain:9.1f} ms   = {explain / forward:.2f} x the forward pass")
    gram = min(positions, channels)
    print(f"  decomposition, ours           {1e3 * ours:9.1f} ms   (eigh of the {gram}x{gram} Gram matrix)")
    print(f"  decomposition, thin SVD       {1e3 * svd:9.1f} ms   ours is {svd / ours:.1f}x faster; "
          f"max relative difference of the components {difference:.1e}")
    mib = positions * channels * 8 / 2**20
    print(f"  memory: ours one {positions}x{channels} float64 copy ({mib:.1f} MiB) + the {gram}x{gram} Gram matrix; "
          f"the thin SVD also holds U ({positions}x{gram}) and its workspace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["cnn1", "resnet", "all"], default="all")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, batch 4, 2 repeats")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = QUICK if args.quick else DEFAULTS
    batches = [4] if args.quick else args.batches
    repeats = 2 if args.quick else args.repeats
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, median of {repeats}")
    for name in (["cnn1", "resnet"] if args.workload == "all" else [args.workload]):
        for batch in batches:
            bench(name, sizes[name]["size"], batch, repeats)


if __name__ == "__main__":
    main()
