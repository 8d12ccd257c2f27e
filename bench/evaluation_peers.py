"""``bench/evaluation.py``'s peers, each run as its user runs it, on our maps.

* torchcam 0.5.0 ``torchcam.metrics``: ``DeletionInsertionMetric`` and ``ClassificationMetric`` (average drop /
  increase) want a CAM extractor; ``MapsExtractor`` is a stand-in satisfying their protocol (``model``,
  ``__call__`` returning ``[maps]``, ``fuse_cams``, ``_hooks_off``) that hands back given maps. Both metrics keep
  only sums; per-sample values for the check come from ``RecordingDeletion`` (records ``_compute_curves``) and from
  one ``ClassificationMetric.update`` per sample (untimed).
* pytorch-grad-cam 1.5.5 ``metrics.road``: ``ROADCombined`` with its averagers' per-percentile metrics built with
  ``noise = 0`` (their imputer adds ``0.01 N(0, 1)`` by default) and recorded; its percentile is the share kept.
* Quantus 0.6.0: ``RelevanceMassAccuracy``, ``RelevanceRankAccuracy``, ``PointingGame`` (``normalise=False``,
  ``abs=False``) and ``PixelFlipping`` (``perturb_baseline=0.0``, ``features_in_step = C * s``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parent.parent


def load_peers() -> dict[str, object]:
    """``{"torchcam": module, "pgc": module, "quantus": module}`` for the peers that import, ``"<name>_error"`` for
    those that do not (pytorch-grad-cam through ``tests/peers``, see ``tests/peers/__init__.py``)."""
    found: dict[str, object] = {}
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    loaders = {
        "torchcam": lambda: importlib.import_module("torchcam.metrics"),
        "pgc": _load_pgc,
        "quantus": _load_quantus,
    }
    for name, load in loaders.items():
        try:
            found[name] = load()
        except Exception as error:  # noqa: BLE001 - reported, the rows are skipped
            found[f"{name}_error"] = f"{type(error).__name__}: {error}"
    return found


def _load_pgc():
    from tests.peers import load_pytorch_grad_cam

    load_pytorch_grad_cam()
    return importlib.import_module("pytorch_grad_cam.metrics.road")


def _load_quantus():
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return importlib.import_module("quantus")


def version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v(name)
    except PackageNotFoundError:
        return "?"


# --- torchcam ---------------------------------------------------------------------------------------------------


class MapsExtractor:
    """torchcam's ``_CAMExtractor`` protocol over maps computed elsewhere: ``__call__`` returns ``[maps]``."""

    def __init__(self, model: nn.Module, maps: Tensor):
        self.model, self.maps = model, maps

    def __call__(self, class_idx=None, scores=None, normalized=True, *, targets=None, **kwargs):
        return [self.maps]

    def fuse_cams(self, cams: list[Tensor]) -> Tensor:
        return cams[0]

    def _hooks_off(self):
        return contextlib.nullcontext()


def torchcam_deletion(tc, model: nn.Module, maps: Tensor, batch_size: int, steps: int = 20):
    """A ``DeletionInsertionMetric`` (softmax scores, zero baseline) on ``maps`` that records its curves."""

    class RecordingDeletion(tc.DeletionInsertionMetric):
        def _compute_curves(self, *args, **kwargs):
            self.curves = super()._compute_curves(*args, **kwargs)
            return self.curves

    return RecordingDeletion(MapsExtractor(model, maps), partial(torch.softmax, dim=-1), steps=steps,
                             batch_size=batch_size)


def torchcam_average_drop(tc, model: nn.Module, normalised_maps: Tensor):
    """A ``ClassificationMetric`` (softmax scores) that multiplies ``x`` by the given (min-max normalised) maps."""
    return tc.ClassificationMetric(MapsExtractor(model, normalised_maps), partial(torch.softmax, dim=-1))


def torchcam_average_drop_per_sample(tc, model: nn.Module, x: Tensor, normalised_maps: Tensor) -> tuple[Tensor, Tensor]:
    """``(B,)`` drop and increase, one ``update`` per sample (torchcam keeps only sums)."""
    drops, increases = [], []
    for i in range(x.shape[0]):
        metric = torchcam_average_drop(tc, model, normalised_maps[i:i + 1])
        metric.update(x[i:i + 1])
        summary = metric.summary()
        drops.append(summary["avg_drop"])
        increases.append(summary["conf_increase"])
    return torch.tensor(drops, dtype=torch.float64), torch.tensor(increases, dtype=torch.float64)


# --- pytorch-grad-cam ROAD ---------------------------------------------------------------------------------------


def pgc_road(road, percentiles_kept: list[int], record: dict, keep_dtype: bool = False) -> object:
    """``ROADCombined(percentiles_kept)`` whose per-percentile metrics have ``noise = 0`` and store their results in
    ``record[("morf" | "lerf", percentile_kept)]`` (``(B,)`` arrays: score after imputation - score).
    ``keep_dtype``: the imputer returns the solution in the input's dtype (as shipped it casts it to float32)."""

    def factory(cls, curve):
        def make(percentile):
            metric = cls(percentile)
            if keep_dtype:
                metric.perturbation.imputer = _imputer_keeping_dtype(road)
            metric.perturbation.imputer.noise = 0.0

            def run(input_tensor, cams, targets, model):
                record[(curve, percentile)] = result = metric(input_tensor, cams, targets, model)
                return result

            return run

        return make

    combined = road.ROADCombined(percentiles=list(percentiles_kept))
    combined.morf_averager.imputer = factory(road.ROADMostRelevantFirst, "morf")
    combined.lerf_averager.imputer = factory(road.ROADLeastRelevantFirst, "lerf")
    return combined


def _imputer_keeping_dtype(road):
    """pytorch-grad-cam's ``NoisyLinearImputer.__call__`` line for line, but ``torch.tensor(spsolve(A, b),
    dtype=img.dtype)`` where it has ``dtype=torch.float``: its float32 cast alone puts ~1 ulp (2e-7 at |x| ~ 4) in
    the imputed values, more than 1e-5 of a probability difference allows after a float32 model."""
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import spsolve

    class KeepingDtype(road.NoisyLinearImputer):
        def __call__(self, img: Tensor, mask: Tensor) -> Tensor:
            imgflt = img.reshape(img.shape[0], -1)
            maskflt = mask.reshape(-1)
            indices_linear = np.argwhere(maskflt == 0).flatten()
            A, b = road.NoisyLinearImputer.setup_sparse_system(mask.numpy(), img.numpy(), road.neighbors_weights)
            res = torch.tensor(spsolve(csc_matrix(A), b), dtype=img.dtype)
            img_infill = imgflt.clone()
            img_infill[:, indices_linear] = res.t() + self.noise * torch.randn_like(res.t())
            return img_infill.reshape_as(img)

    return KeepingDtype()


def pgc_targets(classes: Tensor) -> list:
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    return [ClassifierOutputSoftmaxTarget(int(c)) for c in classes]


def pgc_removed_counts(cams: np.ndarray, percentile_kept: float) -> tuple[np.ndarray, np.ndarray]:
    """``(B,)`` how many positions pytorch-grad-cam removes for MoRF and LeRF at ``percentile_kept`` (its rule:
    keep ``m < np.percentile(m, q)``; LeRF on ``1 - m``)."""
    flat = cams.reshape(cams.shape[0], -1)
    morf = [(row >= np.percentile(row, percentile_kept)).sum() for row in flat]
    lerf = [((1 - row) >= np.percentile(1 - row, percentile_kept)).sum() for row in flat]
    return np.array(morf), np.array(lerf)


# --- Quantus ------------------------------------------------------------------------------------------------------


def quantus_localisation(quantus, which: str):
    cls = {"mass": quantus.RelevanceMassAccuracy, "rank": quantus.RelevanceRankAccuracy,
           "pointing": quantus.PointingGame}[which]
    return cls(normalise=False, abs=False, disable_warnings=True)


def quantus_call(metric, model: nn.Module, x: np.ndarray, y: np.ndarray, a: np.ndarray, s: np.ndarray | None,
                 device: torch.device, softmax: bool = False) -> np.ndarray:
    """One Quantus metric call as its user writes it (numpy in, a list of per-sample values out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = metric(model=model, x_batch=x, y_batch=y, a_batch=a, s_batch=s, channel_first=True,
                        softmax=softmax, device=str(device))
    return np.asarray(values, dtype=np.float64)


def pixel_flipping_step(positions: int, channels: int, steps: int = 20) -> int | None:
    """A step ``s`` (positions per step) that makes our deletion curve and Quantus's PixelFlipping the same
    points: ``s = ceil(P / steps')`` dividing ``P``, with ``C * s`` dividing ``P`` (Quantus asserts
    ``P % features_in_step == 0`` over the spatial positions only, and flips ``C * s`` elements of the
    channel-broadcast map per step); ``steps'`` the nearest to ``steps``. None when there is none."""
    candidates = [n for n in range(2, positions + 1)
                  if positions % n == 0 and positions % (channels * (positions // n)) == 0]
    if not candidates:
        return None
    n = min(candidates, key=lambda n: (abs(n - steps), n))
    return positions // n


def quantus_pixel_flipping(quantus, features_in_step: int):
    return quantus.PixelFlipping(features_in_step=features_in_step, perturb_baseline=0.0, normalise=False, abs=False,
                                 disable_warnings=True)
