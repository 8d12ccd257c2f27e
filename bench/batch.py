"""Data-set runs (``cam_widgets.batch``): volumes per second against the passes they cannot avoid, and the speedup
from 1 to 2 processes, measured in one run.

    .venv/bin/python bench/batch.py            # 256 volumes at 40^3 (about 4 minutes on 2 shared CPU cores)
    .venv/bin/python bench/batch.py --quick    # 8 volumes, chunks of 4, 1 repeat: a smoke run

Workload (``batch_workloads.py``): a folder of ``--n`` simulated subtomograms at 40^3 written by
``save_subtomogram_folder(..., size=40)`` (``.npy``) into a temporary folder; the demo CNN-1 architecture
(conv channels 16, 16, 32, 32, dense 128, 10 classes) built at 40^3 with seeded random weights, eval mode (speed
does not depend on the weights); methods ``respondcam,gradcam`` at ``maxpool2``, target ``predicted``, float16
maps, chunks of 64 (the defaults).

(1) In this process, ``torch.set_num_threads(1)``, round robin (shuffled, seeded), medians:
    ``explain_dataset(model, folder, ...)`` into a fresh store with ``workers=2`` (the CLI's default) and
    ``workers=0``; ``batch_arrays`` (the run's per-batch compute) on the batches already in memory, to split the
    overhead into the explainer's part and the rest (file reading, store writing, set-up); and the lower
    bound: the same batches in memory, for each one forward pass with ``maxpool2``'s output captured as a leaf
    (no autograd below it) and one ``torch.autograd.grad`` of the predicted logits' sum to it, which is all
    Grad-CAM and Respond-CAM need (both share it). Ratio = lower bound / run (1.0: no overhead); target >= 0.8.
    Checked before timing: the maps and scores a run stores equal the lower bound's, turned into maps by the
    papers' equations here (float16 rounding), on the first chunk (that run is the warm-up).
(2) The command line, one process against two: ``python -m cam_widgets explain ...`` with ``OMP_NUM_THREADS=1``
    against ``torchrun --standalone --nproc-per-node 2 -m cam_widgets explain ...`` (gloo, ``OMP_NUM_THREADS=1``),
    same folder, fresh stores, alternating; the wall time of the whole command, the explain part (the seconds the
    CLI prints: ``explain_dataset`` on rank 0, process group included) and the wall time less that of the same
    command over a 2-sample folder (start-up: interpreters, imports, the model). The two stores are compared
    with ``tests/store_compare.assert_same_store`` (DESIGN.md section 11's equality). No target: reported.

Timings: ``time.perf_counter``. The machine's other processes share the 2 cores: the load average is printed
at the start and the end, and the ratios of one run are what to read.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import zarr

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))
from batch_workloads import (LAYER, METHODS, MODEL_SPEC, TARGETS, Workload, lower_bound_batch,  # noqa: E402
                             make_workload, raw_maps)
from core import load, machine  # noqa: E402
from sections import profile_text  # noqa: E402

from cam_widgets.batch import explain_dataset  # noqa: E402
from cam_widgets.batch.compute import Batch, Plan, batch_arrays  # noqa: E402
from cam_widgets.explainer import CAMExplainer  # noqa: E402
from tests.store_compare import assert_same_store  # noqa: E402

TARGET_RATIO = 0.8
TINY_N = 2
PRINTED = re.compile(r": (?:\d+ of )?\d+ samples(?: explained)? in ([0-9.]+) s")
"""The line ``cli.py`` prints at the end of ``explain``: ``OUT: 256 of 256 samples explained in 9.9 s ...``."""


@dataclass(frozen=True)
class Settings:
    n: int = 256
    chunk_size: int = 64
    repeats: int = 3
    cli_repeats: int = 2
    threads: int = 1
    seed: int = 0
    quick: bool = False
    profile: bool = False
    cli: bool = True

    @classmethod
    def quick_run(cls, **changes) -> Settings:
        return cls(**{"n": 8, "chunk_size": 4, "repeats": 1, "cli_repeats": 1, "quick": True, **changes})


@dataclass
class Row:
    """A line of the summary: ``value`` as printed, what was measured, the target and whether it is met."""

    figure: str
    value: str
    measured: str
    target: str = "reported"
    met: bool | None = None


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


# --- (1) in this process ---------------------------------------------------------------------------


class Stores:
    """Fresh store paths under ``root``, each deleted after its timed run."""

    def __init__(self, root: Path):
        self.root, self.count = root, 0

    def fresh(self) -> Path:
        self.count += 1
        return self.root / f"run-{self.count}.zarr"


def run_dataset(w: Workload, out: Path, workers: int, s: Settings, data: object = None) -> None:
    explain_dataset(w.model, str(w.folder) if data is None else data, methods=list(METHODS), layers=[LAYER],
                    targets=list(TARGETS), out=out, dtype="float16", chunk_size=s.chunk_size, workers=workers,
                    progress=False)


def lower_bound(w: Workload) -> None:
    module = dict(w.model.named_modules())[LAYER]
    for x in w.batches:
        lower_bound_batch(w.model, x, module)


def compute_in_memory(w: Workload) -> None:
    """The run's own per-batch compute (``batch_arrays``: predict, both maps, float16 arrays) on the batches in
    memory: no file reading, no store."""
    explainer = CAMExplainer(w.model, layers=[LAYER])
    plan = Plan(methods=METHODS, layers=(LAYER,), targets=TARGETS)
    for x in w.batches:
        batch_arrays(explainer, Batch(x, torch.full((len(x),), -1)), plan)


def check_first_chunk(w: Workload, stores: Stores, s: Settings) -> list[str]:
    """A run over the first chunk's samples (the warm-up) against the lower bound's passes on the same batch."""
    from cam_widgets.datasets import VolumeFolder

    first = torch.utils.data.Subset(VolumeFolder(w.folder), range(len(w.batches[0])))
    out = stores.fresh()
    run_dataset(w, out, 0, s, data=first)
    group = zarr.open_group(str(out), mode="r")
    logits, activation, gradient = lower_bound_batch(w.model, w.batches[0], dict(w.model.named_modules())[LAYER])
    lines = [_compare("scores vs the lower bound's logits", group["scores"][:], logits.numpy())]
    same = np.array_equal(group["prediction"][:], logits.argmax(1).numpy())
    lines.append(f"  {'prediction vs the lower bound argmax':<60} {'equal' if same else 'different'}  "
                 f"{'OK' if same else 'DIFFERS'}")
    for method, reference in raw_maps(activation, gradient).items():
        stored = group[f"maps/{method}/{LAYER}/predicted"][:]
        lines.append(_compare(f"maps/{method}/{LAYER}/predicted vs the papers' equation", stored, reference.numpy()))
    shutil.rmtree(out)
    return lines


def _compare(label: str, stored: np.ndarray, reference: np.ndarray) -> str:
    """Equal up to the stored dtype's rounding: one ulp of it (float16 maps; float32 scores) plus 1e-5 of the
    largest value for float32 sums taken in another order (the rule of ``tests/store_compare.py``)."""
    scale = float(np.abs(reference).max())
    ulp = np.spacing(np.abs(reference).astype(stored.dtype)).astype(np.float64)
    diff = np.abs(stored.astype(np.float64) - reference.astype(np.float64))
    ok = bool(np.all(diff <= ulp + 1e-5 * scale))
    return f"  {label:<60} max|diff| {diff.max():.2e} of max {scale:.2e} ({stored.dtype})  {'OK' if ok else 'DIFFERS'}"


def bench_in_process(w: Workload, root: Path, s: Settings) -> tuple[list[str], list[Row]]:
    stores = Stores(root)
    lines = ["\n== (1) in this process: explain_dataset vs the same batches in memory ==",
             f"torch threads {torch.get_num_threads()}; {s.n} volumes, batches of {s.chunk_size}",
             "checks (before timing; this run is the warm-up):", *check_first_chunk(w, stores, s)]

    def run(workers: int) -> Callable[[], None]:
        def work() -> None:
            out = stores.fresh()
            run_dataset(w, out, workers, s)
            shutil.rmtree(out)
        return work

    cases: dict[str, Callable[[], None]] = {
        "explain_dataset, workers=2 (the CLI's default), fresh store": run(2),
        "explain_dataset, workers=0, fresh store": run(0),
        "batch_arrays on the batches in memory (the run's compute, no I/O)": lambda: compute_in_memory(w),
        "lower bound: forward to a leaf at maxpool2 + one autograd.grad, per batch": lambda: lower_bound(w),
    }
    times: dict[str, list[float]] = {label: [] for label in cases}
    rng = random.Random(s.seed)
    for _ in range(s.repeats):
        order = list(cases)
        rng.shuffle(order)
        for label in order:
            start = time.perf_counter()
            cases[label]()
            times[label].append(time.perf_counter() - start)
    median = {label: statistics.median(t) for label, t in times.items()}
    best = {label: min(t) for label, t in times.items()}
    lower = list(cases)[-1]
    lines.append(f"  {'case':<74} {'median':>9} {'(min)':>9} {'vol/s':>7} {'lower/it':>9}")
    for label in cases:
        lines.append(f"  {label:<74} {fmt(median[label]):>9} {fmt(best[label]):>9} "
                     f"{s.n / median[label]:>7.1f} {median[lower] / median[label]:>9.2f}")
    lines.append("  (lower/it: lower bound's median / the case's median; from the minima: "
                 + ", ".join(f"{best[lower] / best[label]:.2f}" for label in list(cases)[:3]) + ")")
    if s.profile:
        out = stores.fresh()
        lines.append(profile_text(lambda: run_dataset(w, out, 0, s), "explain_dataset, workers=0"))
    rows = []
    for workers, label in ((2, list(cases)[0]), (0, list(cases)[1])):
        rows.append(Row(f"volumes/s, explain_dataset workers={workers}", f"{s.n / median[label]:.1f}",
                        f"{s.n} volumes / median {fmt(median[label])} of {s.repeats}"))
        ratio = median[lower] / median[label]
        rows.append(Row(f"lower bound / run, workers={workers}", f"{ratio:.2f}",
                        f"{fmt(median[lower])} / {fmt(median[label])} (minima: {best[lower] / best[label]:.2f})",
                        f">= {TARGET_RATIO}", ratio >= TARGET_RATIO))
    compute = list(cases)[2]
    rows.append(Row("lower bound / batch_arrays in memory", f"{median[lower] / median[compute]:.2f}",
                    f"the explainer's share of the overhead: {fmt(median[lower])} / {fmt(median[compute])}"))
    return lines, rows


# --- (2) the command line, 1 and 2 processes ---------------------------------------------------------


@dataclass
class CliRun:
    wall: float
    printed: float


def cli_command(processes: int, folder: Path, out: Path, s: Settings) -> list[str]:
    arguments = ["-m", "cam_widgets", "explain", "--model", MODEL_SPEC, "--data", str(folder), "--methods",
                 ",".join(METHODS), "--layers", LAYER, "--targets", ",".join(TARGETS), "--chunk-size",
                 str(s.chunk_size), "--out", str(out), "--no-progress"]
    if processes == 1:
        return [sys.executable, *arguments]
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = [str(torchrun)] if torchrun.is_file() else [sys.executable, "-m", "torch.distributed.run"]
    return [*launcher, "--standalone", "--nproc-per-node", str(processes), *arguments]


def run_cli(processes: int, folder: Path, out: Path, s: Settings) -> CliRun:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    done = subprocess.run(cli_command(processes, folder, out, s), cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"the CLI on {processes} process(es) exited {done.returncode}:\n"
                           f"{done.stdout}\n{done.stderr}")
    found = PRINTED.search(done.stdout)
    if found is None:
        raise RuntimeError(f"the CLI printed no line matching {PRINTED.pattern!r}:\n{done.stdout}")
    return CliRun(wall, float(found.group(1)))


def shown(command: list[str]) -> str:
    words = [Path(w).name if w in (sys.executable, str(Path(sys.executable).with_name("torchrun"))) else w
             for w in command]
    return " ".join(words)


def bench_cli(w: Workload, root: Path, s: Settings) -> tuple[list[str], list[Row]]:
    from cam_widgets.datasets.folder import save_subtomogram_folder

    tiny = save_subtomogram_folder(root / "tiny", TINY_N, size=40, seed=s.seed + 1)
    runs: dict[tuple[int, str], list[CliRun]] = {(p, k): [] for p in (1, 2) for k in ("full", "tiny")}
    kept: dict[int, Path] = {}
    for repeat in range(s.cli_repeats):
        order = [1, 2] if repeat % 2 == 0 else [2, 1]
        for processes in order:
            for kind, folder in (("full", w.folder), ("tiny", tiny)):
                out = root / f"cli-{processes}-{kind}-{repeat}.zarr"
                runs[processes, kind].append(run_cli(processes, folder, out, s))
                if kind == "full" and processes not in kept:
                    kept[processes] = out
                else:
                    shutil.rmtree(out)
    try:
        assert_same_store(kept[1], kept[2])
        equal = True
    except AssertionError as error:
        equal, detail = False, str(error)
    med = {key: (statistics.median(r.wall for r in v), statistics.median(r.printed for r in v))
           for key, v in runs.items()}
    lines = ["\n== (2) the command line: 1 process vs 2 (gloo, OMP_NUM_THREADS=1) ==",
             f"  1 process:   OMP_NUM_THREADS=1 {shown(cli_command(1, w.folder, Path('OUT.zarr'), s))}",
             f"  2 processes: {shown(cli_command(2, w.folder, Path('OUT.zarr'), s))}",
             f"  (PYTHONPATH=bench for --model {MODEL_SPEC}; cwd the repository; medians of {s.cli_repeats}, "
             "alternating; start-up: the same command over a 2-sample folder)",
             f"  {'processes':<10} {'wall':>9} {'explain (printed)':>18} {'wall, 2-sample folder':>22} "
             f"{'wall - that':>12} {'vol/s (explain)':>16}"]
    for p in (1, 2):
        wall, printed = med[p, "full"]
        tiny_wall = med[p, "tiny"][0]
        lines.append(f"  {p:<10} {fmt(wall):>9} {fmt(printed):>18} {fmt(tiny_wall):>22} "
                     f"{fmt(wall - tiny_wall):>12} {s.n / printed:>16.1f}")
    lines.append(f"  stores of 1 and 2 processes equal (tests/store_compare.assert_same_store): "
                 f"{'yes' if equal else 'NO: ' + detail}")
    speed = {
        "whole command (wall)": (med[1, "full"][0], med[2, "full"][0]),
        "explain part (the CLI's printed seconds)": (med[1, "full"][1], med[2, "full"][1]),
        "wall less the 2-sample run's wall": (med[1, "full"][0] - med[1, "tiny"][0],
                                              med[2, "full"][0] - med[2, "tiny"][0]),
    }
    rows = [Row(f"speedup 1 -> 2 processes, {what}", f"{one / two:.2f}x", f"{fmt(one)} / {fmt(two)}")
            if one > 0 and two > 0 else
            Row(f"speedup 1 -> 2 processes, {what}", "n/a", "the 2-sample run took longer: start-up noise exceeds "
                "the run at this size")
            for what, (one, two) in speed.items()]
    rows.append(Row("1- and 2-process stores equal", "yes" if equal else "NO",
                    "assert_same_store: maps within 1 float16 ulp, scores 1e-5", "equal", equal))
    return lines, rows


# --- the command line --------------------------------------------------------------------------------


def summary(rows: list[Row]) -> str:
    out = ["| figure | value | what was measured | target | met |", "| --- | ---: | --- | --- | --- |"]
    for r in rows:
        met = "" if r.met is None else ("met" if r.met else "NOT MET")
        out.append(f"| {r.figure} | {r.value} | {r.measured} | {r.target} | {met} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None, help="volumes in the folder (default 256, quick 8)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="samples per chunk and batch (default 64, quick 4)")
    parser.add_argument("--repeats", type=int, default=None, help="in-process rounds (median; default 3, quick 1)")
    parser.add_argument("--cli-repeats", type=int, default=None, help="CLI runs per process count (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads in this process (default 1)")
    parser.add_argument("--no-cli", action="store_true", help="skip part (2), the command line on 1 and 2 processes")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one explain_dataset")
    parser.add_argument("--quick", action="store_true", help="8 volumes, chunks of 4, 1 repeat: a smoke run")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is missed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    base = Settings.quick_run() if args.quick else Settings()
    given = {"n": args.n, "chunk_size": args.chunk_size, "repeats": args.repeats, "cli_repeats": args.cli_repeats}
    s = Settings(**{**base.__dict__, **{k: v for k, v in given.items() if v is not None}, "threads": args.threads,
                    "seed": args.seed, "profile": args.profile, "cli": not args.no_cli})
    torch.set_num_threads(s.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    began = time.perf_counter()
    print(machine([torch.device("cpu")]) + f", load average {load()}")
    print(f"command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    print(f"workload: {s.n} subtomograms at 40^3 (.npy, save_subtomogram_folder), the demo CNN-1 architecture at "
          f"40^3 with seeded random weights, eval mode (speed does not depend on the weights); {','.join(METHODS)} "
          f"at {LAYER}, target {','.join(TARGETS)}, float16 maps, chunks of {s.chunk_size}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        w = make_workload(root / "subtomos", s.n, s.chunk_size, seed=s.seed)
        lines, found = bench_in_process(w, root, s)
        print("\n".join(lines), flush=True)
        rows += found
        if s.cli:
            lines, found = bench_cli(w, root, s)
            print("\n".join(lines), flush=True)
            rows += found
    print(f"\nload average at the end: {load()} (other processes share these cores: read the ratios)")
    print("\nsummary:\n")
    if s.quick:
        print(f"(--quick: {s.n} volumes in chunks of {s.chunk_size}, where fixed costs dominate; the target is meant "
              "for the defaults)\n")
    print(summary(rows))
    judged = [r for r in rows if r.met is not None]
    missed = [r for r in judged if not r.met]
    print(f"\n{len(judged) - len(missed)} of {len(judged)} targets met; "
          f"the run took {time.perf_counter() - began:.0f} s")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
