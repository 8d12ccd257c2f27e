"""``bench/methods.py``'s sections: a table of cases timed together (round robin, as in ``core.py``) with the
checks that ran before them, and the verdicts (ours vs a lower bound or a peer, against a target) that go into
the summary table."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

if __package__:
    from .core import Case, round_robin, timed
else:  # imported by bench/methods.py run as a script: bench/ is on sys.path
    from core import Case, round_robin, timed  # type: ignore[no-redef]

RTOL = 1e-4
ATOL_REL = 1e-5  # atol = ATOL_REL * max |reference|
ATOL_NORMALISED = 1e-4  # peers' min-max normalised maps, in [0, 1]
TARGET_LOWER_BOUND = 1.3
TARGET_ABLATION_PEER = 3.0
TARGET_SCORE_PEER = 1.0
TARGET_EIGEN_PEER = 5.0


@dataclass
class Settings:
    repeats: int
    eigen_repeats: int
    warmup: int
    profile: bool
    seed: int
    quick: bool


@dataclass
class Verdict:
    workload: str
    method: str
    ours: float
    other_label: str
    other: float
    ratio: float
    target: str
    ok: bool


def versus_lower_bound(workload: str, method: str, ours: float, label: str, bound: float) -> Verdict:
    """Ours against a lower bound: ``ours / bound <= TARGET_LOWER_BOUND``."""
    ratio = ours / bound
    return Verdict(workload, method, ours, label, bound, ratio, f"ours/LB <= {TARGET_LOWER_BOUND}",
                   ratio <= TARGET_LOWER_BOUND)


def versus_peer(workload: str, method: str, ours: float, label: str, theirs: float, target: float | None) -> Verdict:
    """Ours against a peer: ``theirs / ours >= target`` (no target: the row is for information, it passes)."""
    ratio = theirs / ours
    return Verdict(workload, method, ours, label, theirs, ratio, f"peer/ours >= {target:g}" if target else "-",
                   ratio >= target if target else True)


class Section:
    """A table of cases timed together (round robin), with the checks that ran before."""

    def __init__(self, title: str, device: torch.device):
        self.title, self.device = title, device
        self.cases: list[Case] = []
        self.checks: list[str] = []
        self.notes: list[str] = []

    def check(self, label: str, actual: Tensor, expected: Tensor, atol: float | None = None) -> None:
        """``assert_close`` (rtol ``RTOL``; atol ``ATOL_REL * max|expected|`` unless given), then a line for the
        table with the max abs difference."""
        actual = torch.as_tensor(actual).detach().float().cpu()
        expected = torch.as_tensor(expected).detach().float().cpu()
        scale = float(expected.abs().max())
        diff = float((actual - expected).abs().max())
        atol = ATOL_REL * max(scale, 1e-30) if atol is None else atol
        torch.testing.assert_close(actual, expected, rtol=RTOL, atol=atol,
                                   msg=lambda m: f"{label}: differs from ours\n{m}")
        self.checks.append(f"  {label:<72} max|diff| {diff:.2e}  (max|ref| {scale:.2e})  OK")

    def add(self, label: str, work: Callable[[], object], repeats: int, role: str = "info",
            setup: Callable[[], Callable[[], None]] | None = None) -> Case:
        """``work`` timed; ``setup()`` (untimed, e.g. a peer's hooks) returns its own teardown."""
        device = self.device

        def run() -> float:
            teardown = setup() if setup is not None else None
            try:
                return timed(device, work)
            finally:
                if teardown is not None:
                    teardown()

        case = Case(label, run, "section", role, repeats)
        self.cases.append(case)
        return case

    def time(self, warmup: int, seed: int) -> None:
        round_robin(self.cases, warmup, seed)

    def render(self) -> str:
        out = [f"\n== {self.title} ==", "checks (before timing):", *self.checks]
        out.extend(f"  {note}" for note in self.notes)
        out.append(f"  {'case':<78} {'median':>10} {'(min)':>10}")
        for case in self.cases:
            out.append(f"  {case.label:<78} {fmt(case.median):>10} {fmt(min(case.times)):>10}")
        return "\n".join(out)


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def profile_ours(call: Callable[[], object], label: str) -> str:
    with cProfile.Profile() as profiler:
        call()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(14)
    return f"\nprofile of ours, {label}, top 14 by own time:\n{stream.getvalue()}"
