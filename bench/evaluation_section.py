"""``bench/evaluation.py``'s sections: the value checks (ours vs a peer, or vs the lower bound's own forwards, to
``1e-5`` relative to ``max(|v|, 0.01)``), the cases timed together (round robin, as in ``core.py``) and the
verdicts that go into the summary table. A verdict is met only when the values agree and the ratio meets its
target; a disagreement is printed (max differences), never hidden, and does not stop the run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

if __package__:
    from .core import Case
    from .sections import TimedSection, fmt
else:  # imported by bench/evaluation.py run as a script: bench/ is on sys.path
    from core import Case  # type: ignore[no-redef]
    from sections import TimedSection, fmt  # type: ignore[no-redef]

RELATIVE = 1e-5      # |ours - theirs| <= RELATIVE * max(|theirs|, FLOOR)
FLOOR = 0.01         # DESIGN.md 10: probabilities live in [0, 1]
TARGET_PEER = 5.0    # theirs / ours >= 5 at equal values (2D, CPU)
TARGET_BOUND = 1.5   # ours / lower bound <= 1.5 (3D and the U-Net)


@dataclass
class Settings:
    repeats: int
    peer_repeats: int
    warmup: int
    profile: bool
    seed: int
    quick: bool


@dataclass
class Verdict:
    section: str
    metric: str
    ours: float
    other_label: str
    other: float
    ratio: float
    target: str
    agree: bool
    ok: bool


def as_array(values: object) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


class Section(TimedSection):
    """A table of cases timed together (round robin), with the value checks that ran before."""

    LABEL_WIDTH = 84

    def check(self, label: str, ours: object, theirs: object, floor: float = FLOOR) -> bool:
        """``|ours - theirs| <= RELATIVE * max(|theirs|, floor)`` everywhere (NaN only where both are NaN); a line
        with the max abs and relative differences either way. ``floor``: ``FLOOR`` for scores (DESIGN.md 10), 1 for
        maps divided by their maximum (float32 maps from two gradient paths: 1e-5 of the maximum)."""
        a, b = as_array(ours), as_array(theirs)
        if a.shape != b.shape:
            self.checks.append(f"  {label:<64} shapes differ: ours {a.shape}, theirs {b.shape}  DIFFERS")
            return False
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        same_nan = bool((nan_a == nan_b).all())
        both = ~(nan_a | nan_b)
        diff = np.abs(a - b)[both]
        rel = diff / np.maximum(np.abs(b[both]), floor)
        max_diff = float(diff.max()) if diff.size else 0.0
        max_rel = float(rel.max()) if rel.size else 0.0
        ok = same_nan and max_rel <= RELATIVE
        nan_note = "" if same_nan else f", NaN in ours at {int(nan_a.sum())} / theirs at {int(nan_b.sum())}"
        self.checks.append(f"  {label:<64} max|diff| {max_diff:.2e}  max rel {max_rel:.2e} ({a.size} values"
                           f"{nan_note})  {'OK' if ok else 'DIFFERS'}")
        return ok


def versus_peer(section: str, metric: str, ours: Case, label: str, theirs: float, agree: bool) -> Verdict:
    ratio = theirs / ours.median
    return Verdict(section, metric, ours.median, label, theirs, ratio, f"peer/ours >= {TARGET_PEER:g}", agree,
                   agree and ratio >= TARGET_PEER)


def versus_bound(section: str, metric: str, ours: Case, label: str, bound: float, agree: bool) -> Verdict:
    ratio = ours.median / bound
    return Verdict(section, metric, ours.median, label, bound, ratio, f"ours/LB <= {TARGET_BOUND:g}", agree,
                   agree and ratio <= TARGET_BOUND)



def summary(verdicts: list[Verdict]) -> str:
    lines = ["| section | metric | ours | compared with | theirs | ratio | values equal | target | met |",
             "| --- | --- | ---: | --- | ---: | ---: | --- | --- | --- |"]
    for v in verdicts:
        ratio = f"{v.ratio:.2f}x" if v.ratio < 10 else f"{v.ratio:.0f}x"
        lines.append(f"| {v.section} | {v.metric} | {fmt(v.ours)} | {v.other_label} | {fmt(v.other)} | {ratio} "
                     f"| {'yes' if v.agree else 'NO'} | {v.target} | {'met' if v.ok else 'not met'} |")
    return "\n".join(lines)
