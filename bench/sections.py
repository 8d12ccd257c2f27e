"""A table of cases timed together (round robin, as in ``core.py``), with the value checks that ran before them;
``bench/methods.py`` and ``bench/evaluation.py`` subclass it with their own ``check``."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable

import torch

if __package__:
    from .core import Case, round_robin, timed
else:  # imported by a bench script run as a script: bench/ is on sys.path
    from core import Case, round_robin, timed  # type: ignore[no-redef]


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def profile_text(call: Callable[[], object], label: str) -> str:
    """cProfile of one ``call()``: the top 14 functions by their own time."""
    with cProfile.Profile() as profiler:
        call()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(14)
    return f"\nprofile of ours, {label}, top 14 by own time:\n{stream.getvalue()}"


class TimedSection:
    """Cases timed together; ``checks`` and ``notes`` are lines printed above the timings."""

    LABEL_WIDTH = 78

    def __init__(self, title: str, device: torch.device):
        self.title, self.device = title, device
        self.cases: list[Case] = []
        self.checks: list[str] = []
        self.notes: list[str] = []
        self.profiles: list[str] = []

    def add(self, label: str, work: Callable[[], object], repeats: int, role: str = "info",
            setup: Callable[[], Callable[[], None] | None] | None = None) -> Case:
        """``work`` timed; ``setup()`` runs untimed before each repeat (e.g. ``explainer.clear()``, or a peer's
        hooks) and may return its own teardown, run after."""
        device = self.device

        def run() -> float:
            teardown = setup() if setup is not None else None
            try:
                return timed(device, work)
            finally:
                if callable(teardown):
                    teardown()

        case = Case(label, run, "section", role, repeats)
        self.cases.append(case)
        return case

    def time(self, warmup: int, seed: int) -> None:
        if self.cases:
            round_robin(self.cases, warmup, seed)

    def profile(self, label: str, call: Callable[[], object]) -> None:
        self.profiles.append(profile_text(call, label))

    def render(self) -> str:
        width = self.LABEL_WIDTH
        out = [f"\n== {self.title} ==", "checks (before timing):", *self.checks]
        out.extend(f"  {note}" for note in self.notes)
        out.append(f"  {'case':<{width}} {'median':>10} {'(min)':>10}")
        for case in self.cases:
            out.append(f"  {case.label:<{width}} {fmt(case.median):>10} {fmt(min(case.times)):>10}")
        out.extend(self.profiles)
        return "\n".join(out)
