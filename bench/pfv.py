"""PFV's cost, measured in one run: ``PFVExplainer.explain`` against a bare forward pass of the same
batch, its decomposition (``principal_components``: the eigendecomposition of the smaller Gram
matrix) against the direct thin SVD of the positions x channels matrix, which gives the same components,
and the peak memory each adds (Linux), ``explain`` in chunks of 32 samples (the default) and in one pass.

    .venv/bin/python bench/pfv.py                     # CNN-1 40^3 and ResNet-18-like 224x224, batches 8 and 32
    .venv/bin/python bench/pfv.py --quick             # tiny sizes: a smoke run

Prints medians over ``--repeats`` and the ratios; no targets are asserted here (see bench/README.md).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from cam_widgets.pfv import DEFAULT_BATCH_SIZE, PFVExplainer, feature_matrix, orient, principal_components

try:
    from models import DEFAULTS, QUICK, make_workload
except ImportError:  # run as `python -m bench.pfv`
    from .models import DEFAULTS, QUICK, make_workload

RESNET_STAGES = ["layer1", "layer2", "layer3", "layer4"]
PEAK_MODES = {  # what a --peak-of child runs, by name
    "forward": lambda pfv, x: pfv.model(x),
    "explain": lambda pfv, x: pfv.explain(x),
    "explain-one-pass": lambda pfv, x: pfv.explain(x, batch_size=None),
}


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
    """The baseline: Eq. 3-6 by a thin SVD of the centred (positions x channels) matrix, U S as maps."""
    centred = feature_matrix(features)
    centred -= centred.mean(0)
    u, s, vh = torch.linalg.svd(centred, full_matrices=False)
    chosen = [k - 1 for k in numbers]
    d = (u[:, chosen] * s[chosen]).reshape(len(features), -1, len(numbers)).transpose(1, 2)
    return orient(d, vh[chosen].T).reshape(len(features), len(numbers), *features.shape[2:])


def bench(name: str, size: int, batch: int, repeats: int) -> None:
    workload = make_workload(name, size, batch, torch.device("cpu"))
    pfv = PFVExplainer(workload.model, layers=RESNET_STAGES if name == "resnet" else None)
    x = workload.x
    with torch.no_grad():
        forward = median_seconds(lambda: workload.model(x), repeats)
    explain = median_seconds(lambda: pfv.explain(x), repeats)
    features = pfv._capture(x)[pfv.layers[-1]]
    numbers = (1, 2, 3)
    ours = median_seconds(lambda: principal_components(features, numbers, batch_size=DEFAULT_BATCH_SIZE), repeats)
    svd = median_seconds(lambda: direct_svd(features, numbers), repeats)
    maps, _ = principal_components(features, numbers, batch_size=DEFAULT_BATCH_SIZE)
    reference = direct_svd(features, numbers)
    difference = float((maps - reference).abs().max() / reference.abs().max())
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
    peaks = {mode: peak_growth_mib(name, size, batch, mode) for mode in PEAK_MODES}
    if None in peaks.values():
        print("  peak memory: not measured (needs Linux's /proc/self/clear_refs)")
        return
    print(f"  peak memory added, forward pass alone        {peaks['forward']:8.1f} MiB")
    for mode, how in (("explain", f"in chunks of {DEFAULT_BATCH_SIZE}"), ("explain-one-pass", "in one pass")):
        print(f"  peak memory added, explain {how:<17} {peaks[mode]:8.1f} MiB   "
              f"= {peaks[mode] / peaks['forward']:.2f} x the forward pass")


def peak_growth_mib(name: str, size: int, batch: int, mode: str) -> float | None:
    """How much one ``PEAK_MODES[mode]`` call raises the peak resident memory, in MiB, measured in
    a fresh interpreter (so no earlier run's freed-but-kept memory hides it)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--threads", str(torch.get_num_threads()),
               "--peak-of", name, str(size), str(batch), mode]
    answer = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return float(answer[-1]) if answer and answer[-1] != "none" else None


def print_peak_growth(name: str, size: int, batch: int, mode: str) -> None:
    """The child of ``peak_growth_mib``: after a one-sample warm-up, reset the kernel's high-water
    mark (VmHWM), run once, print the peak minus the resident memory before the run."""
    workload = make_workload(name, size, batch, torch.device("cpu"))
    pfv = PFVExplainer(workload.model, layers=RESNET_STAGES if name == "resnet" else None)
    run = PEAK_MODES[mode]
    with torch.no_grad():
        run(pfv, workload.x[:1])
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        print("none")
        return
    before = memory_kib("VmRSS")
    with torch.no_grad():
        run(pfv, workload.x)
    print(f"{(memory_kib('VmHWM') - before) / 1024:.1f}")


def memory_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: the peak since the reset)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["cnn1", "resnet", "all"], default="all")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, batch 4, 2 repeats")
    parser.add_argument("--peak-of", nargs=4, help=argparse.SUPPRESS)   # the child of peak_growth_mib
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.peak_of:
        name, size, batch, mode = args.peak_of
        print_peak_growth(name, int(size), int(batch), mode)
        return
    sizes = QUICK if args.quick else DEFAULTS
    batches = [4] if args.quick else args.batches
    repeats = 2 if args.quick else args.repeats
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, median of {repeats}")
    for name in (["cnn1", "resnet"] if args.workload == "all" else [args.workload]):
        for batch in batches:
            bench(name, sizes[name]["size"], batch, repeats)


if __name__ == "__main__":
    main()
