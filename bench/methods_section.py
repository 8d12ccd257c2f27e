"""``bench/methods.py``'s sections: a table of cases timed together (round robin, as in ``core.py``) with the
checks that ran before them, and the verdicts (ours vs a lower bound or a peer, against a target) that go into
the summary table."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

if __package__:
    from .sections import TimedSection, fmt, profile_text
else:  # imported by bench/methods.py run as a script: bench/ is on sys.path
    from sections import TimedSection, fmt, profile_text  # type: ignore[no-redef]

__all__ = ["Section", "Settings", "Verdict", "fmt", "profile_text", "versus_lower_bound", "versus_peer"]

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


class Section(TimedSection):
    """A table of cases timed together (round robin), with the checks that ran before."""

    LABEL_WIDTH = 78

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



