"""The Respond-CAM evaluation (Zhao et al. 2018, section 4): do map sums follow the class scores?

For one sample and every class ``c``: ``camsum_c = sum_u L^c[u]`` (the raw map at layer
resolution, before any ReLU or resampling) against the logit ``y_c``:

    L1  = (1/C) sum_c |camsum_c - y_c|          (paper's Eq. 4)
    tau = Kendall's tau-b between (camsum_c)_c and (y_c)_c   (Eq. 5; tau-b as the authors' code)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau
from torch import Tensor
from tqdm.auto import tqdm

from .explainer import CAMExplainer, CAMResult


@dataclass(frozen=True)
class SumToScore:
    """Per-sample L1 errors and Kendall's taus, with their mean and (population) std."""

    l1: np.ndarray
    tau: np.ndarray

    @property
    def l1_mean_std(self) -> tuple[float, float]:
        return float(self.l1.mean()), float(self.l1.std())

    @property
    def tau_mean_std(self) -> tuple[float, float]:
        return float(np.nanmean(self.tau)), float(np.nanstd(self.tau))

    def __str__(self) -> str:
        (l1, l1_sd), (tau, tau_sd) = self.l1_mean_std, self.tau_mean_std
        return f"L1 {l1:.3f} ± {l1_sd:.3f}, tau {tau:.3f} ± {tau_sd:.3f} (n={len(self.l1)})"


def map_sums(all_classes: CAMResult) -> Tensor:
    """``(B, C)``: the sum of each class's raw map over its spatial positions."""
    raw = all_classes.raw
    return raw.flatten(2).sum(2).transpose(0, 1)


def sum_to_score(all_classes: CAMResult) -> SumToScore:
    """L1 error and Kendall's tau-b per sample for a result of ``explain_all_classes``."""
    sums = map_sums(all_classes).double().cpu().numpy()
    scores = all_classes.scores.double().cpu().numpy()
    l1 = np.abs(sums - scores).mean(axis=1)
    tau = np.array([kendalltau(s, y).statistic for s, y in zip(sums, scores)])
    return SumToScore(l1=l1, tau=tau)


def batch_input(batch: object) -> Tensor:
    """The input of one data-loader batch: ``x``, ``(x, label, ...)``, or a dict with ``"image"`` (MONAI's)."""
    if isinstance(batch, (tuple, list)):
        return batch[0]
    if isinstance(batch, Mapping):
        if "image" not in batch:
            raise KeyError(f"a dict batch needs the input under 'image' (MONAI's convention); its keys are {list(batch)}")
        return batch["image"]
    return batch


def evaluate_sum_to_score(
    explainer: CAMExplainer,
    batches: Iterable,
    methods: Sequence[str] = ("gradcam", "respondcam"),
    layer: str | None = None,
    progress: bool = True,
) -> dict[str, SumToScore]:
    """Run the evaluation over a data set (a DataLoader or any iterable of batches ``x``,
    ``(x, label)`` or ``{"image": x, ...}``; a single tensor is one batch), one forward pass per
    batch shared by all ``methods``."""
    if isinstance(batches, Tensor):
        batches = [batches]
    collected: dict[str, list[SumToScore]] = {m: [] for m in methods}
    total = len(batches) if hasattr(batches, "__len__") else None
    for batch in tqdm(batches, total=total, disable=not progress, desc="sum-to-score"):
        x = batch_input(batch)
        for method in methods:
            collected[method].append(sum_to_score(explainer.explain_all_classes(x, method=method, layer=layer)))
    explainer.clear()
    return {
        m: SumToScore(np.concatenate([r.l1 for r in rs]), np.concatenate([r.tau for r in rs]))
        for m, rs in collected.items()
    }
