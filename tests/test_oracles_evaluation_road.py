"""ROAD and its imputer against pytorch-grad-cam 1.5.5 (``pytorch_grad_cam.metrics.road``), 2D, noise 0 on both sides.

Mapping: their ``percentile`` is the share of positions KEPT, and they remove every position at or above
``np.percentile(cam, percentile)`` (MoRF; LeRF does the same on ``1 - cam``): on tie-free maps that is our
``count_of(100 - p, P)`` first (MoRF) / last (LeRF) positions of the ranking for every p where the two counts agree
(checked below; on 20 x 20 they agree for every multiple of 5). Their score is ``ClassifierOutputSoftmaxTarget``
(the softmax probability, ours for class targets), reported as score after - score before, as ours; their
``ROADCombined(ps)`` is ``(mean LeRF - mean MoRF) / 2`` over the same percentiles: ours with ``100 - ps``.

Where they differ from the definition (and we test against the definition): ``NoisyLinearImputer`` casts its
solution to float32 (``torch.tensor(spsolve(A, b), dtype=torch.float)``), which makes it raise for a float64 input
("Index put requires the source and destination dtypes match"): the metric comparisons use a subclass that keeps
the input's dtype (their system, their solve, unchanged otherwise); with every position removed their system is
singular and they return NaN (ours: 0); their noise is ``torch.randn_like`` on the global torch RNG (not NumPy's),
drawn even at noise 0, so their calls run inside ``fork_rng``; their ``weighting`` argument is ignored (the module's
``neighbors_weights`` are always used).
"""

import math
import warnings

import numpy as np
import pytest
import torch

from cam_widgets import CAMExplainer
from cam_widgets.evaluation.common import count_of
from cam_widgets.evaluation.imputer import noisy_linear_impute
from cam_widgets.evaluation.road import road
from tests.models import classifier
from tests.peers import load_pytorch_grad_cam

load_pytorch_grad_cam()
from pytorch_grad_cam.metrics import road as pgc  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget  # noqa: E402

SIDE = 20
pytestmark = pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")   # NumPy 2 on their np.float32(tensor)


def assert_close(ours, theirs, rel=1e-5):
    """DESIGN.md 10: values agree relative to ``max(|v|, 0.01)``."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    np.testing.assert_array_less(np.abs(ours - theirs), rel * np.maximum(np.abs(theirs), 0.01) + 1e-300)


class KeepingDtype(pgc.NoisyLinearImputer):
    """Their ``__call__`` with the solution kept in the input's dtype (their system and solve unchanged)."""

    def __call__(self, img, mask):
        from scipy.sparse import csc_matrix
        from scipy.sparse.linalg import spsolve

        imgflt, maskflt = img.reshape(img.shape[0], -1), mask.reshape(-1)
        indices = np.argwhere(maskflt == 0).flatten()
        a, b = pgc.NoisyLinearImputer.setup_sparse_system(mask.numpy(), img.numpy(), pgc.neighbors_weights)
        res = torch.tensor(spsolve(csc_matrix(a), b), dtype=img.dtype).reshape(len(indices), -1)
        filled = imgflt.clone()
        filled[:, indices] = res.t() + self.noise * torch.randn_like(res.t())
        return filled.reshape_as(img)


def their_metric(cls, percentile):
    metric = cls(percentile)
    metric.perturbation.imputer = KeepingDtype(noise=0.0)
    return metric


@pytest.mark.parametrize("shape", [(SIDE, SIDE), (9, 13), (1, 7), (2, 2), (32, 5)])
@pytest.mark.parametrize("share", [0.1, 0.5, 0.9, 0.99])
def test_imputer_equals_theirs_as_shipped(shape, share):
    """Their imputer as shipped (float32 input, float32 solution) against ours in float64."""
    rng = np.random.default_rng(int(share * 100) + shape[0])
    x = torch.from_numpy(rng.random((3, *shape))).float()
    kept = torch.from_numpy((rng.random(shape) > share).astype(np.float32))
    kept.view(-1)[rng.integers(kept.numel())] = 1.0                       # at least one known value
    with torch.random.fork_rng(devices=[]):
        theirs = pgc.NoisyLinearImputer(noise=0.0)(x, kept)
    ours = noisy_linear_impute(x[None].double(), kept[None] == 0, noise=0.0)[0]
    assert_close(ours, theirs.double())


def test_imputer_solves_their_system_to_rounding():
    """Their sparse system (``setup_sparse_system``) solved in float64: ours agrees to 1e-10."""
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import spsolve

    rng = np.random.default_rng(3)
    x = rng.random((2, 11, 17))
    kept = (rng.random((11, 17)) > 0.7).astype(np.float64)
    a, b = pgc.NoisyLinearImputer.setup_sparse_system(kept, x, pgc.neighbors_weights)
    solution = spsolve(csc_matrix(a), b).reshape(-1, 2)
    ours = noisy_linear_impute(torch.from_numpy(x)[None], torch.from_numpy(kept == 0)[None], noise=0.0)[0]
    np.testing.assert_allclose(ours.reshape(2, -1)[:, kept.ravel() == 0].T.numpy(), solution, rtol=1e-10, atol=1e-12)


def test_where_they_differ_from_the_definition():
    x = torch.rand(2, 4, 4)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        everything = pgc.NoisyLinearImputer(noise=0.0)(x, torch.zeros(4, 4))
        with pytest.raises(RuntimeError, match="dtype"):
            pgc.NoisyLinearImputer(noise=0.0)(x.double(), (torch.rand(4, 4) > 0.5).float())
    assert torch.isnan(everything).all()
    ours = noisy_linear_impute(x[None], torch.ones(1, 4, 4, dtype=torch.bool), noise=0.0)
    assert torch.equal(ours, torch.zeros_like(ours))          # no known value: 0 by definition


def test_their_counts_equal_ours_on_tie_free_maps():
    cams = tie_free_maps(1)[0]
    positions = cams.size
    for p in range(5, 100, 5):
        morf = int((cams >= np.percentile(cams, 100 - p)).sum())
        lerf = int((1 - cams >= np.percentile(1 - cams, 100 - p)).sum())
        assert morf == lerf == count_of(p, positions), p


def tie_free_maps(batch: int) -> np.ndarray:
    """Distinct values ``k / P`` (exact in binary, as is ``1 - k / P``): no ties for either ranking."""
    rng = np.random.default_rng(7)
    positions = SIDE * SIDE
    return np.stack([rng.permutation(positions).reshape(SIDE, SIDE) / positions for _ in range(batch)])


@pytest.mark.parametrize("percentiles", [(10, 20, 30, 40, 50, 60, 70, 80, 90), (25, 5, 75)])
def test_road_equals_their_morf_lerf_and_combined(percentiles):
    torch.manual_seed(0)
    model = classifier(ndim=2, side=SIDE)
    x = torch.randn(3, 1, SIDE, SIDE, dtype=torch.float64) * 2
    cams = tie_free_maps(3)
    classes = model(x).argmax(1).tolist()
    with torch.random.fork_rng(devices=[]):
        ours = road(CAMExplainer(model), x, target=classes, percentiles=percentiles, noise=0.0,
                    maps=torch.from_numpy(cams), progress=False)
    targets = [ClassifierOutputSoftmaxTarget(c) for c in classes]
    kept = [100 - p for p in percentiles]
    combined = pgc.ROADCombined(percentiles=kept)
    combined.morf_averager.imputer = lambda p: their_metric(pgc.ROADMostRelevantFirst, p)
    combined.lerf_averager.imputer = lambda p: their_metric(pgc.ROADLeastRelevantFirst, p)
    with torch.random.fork_rng(devices=[]):
        for column, p in enumerate(kept):
            assert_close(ours.morf[:, column], their_metric(pgc.ROADMostRelevantFirst, p)(x, cams, targets, model))
            assert_close(ours.lerf[:, column], their_metric(pgc.ROADLeastRelevantFirst, p)(x, cams, targets, model))
        assert_close(ours.combined, combined(x, cams, targets, model))
    assert not np.allclose(ours.morf, 0) and math.isfinite(float(ours.combined.sum()))
