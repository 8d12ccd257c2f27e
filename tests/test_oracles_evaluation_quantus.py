"""Quantus 0.6.0 as the oracle of localisation and the sanity checks, on the same 2D maps (to 1e-5).

Where Quantus's definition differs from ours (DESIGN.md section 10), the test says so and checks both sides:

* ``RelevanceMassAccuracy`` sums the signed map (``sum_G m / sum m``); ours sums ``relu(m)``. Equal on
  non-negative maps; ours equals ``AttributionLocalisation(positive_attributions=True)`` on any map (up to the
  ``1e-9`` Quantus adds to its denominator).
* ``RelevanceRankAccuracy`` ranks by ``np.argsort(-a)`` (not a stable sort), ours with ties in C order: equal on
  tie-free maps.
* ``PointingGame``: a hit when *any* position of the maximum value lies in ``G`` (ours: the first in C order),
  and an empty mask counts as a hit (a bug: ``hit[empty] = np.nan`` on a bool array stores True; ours: NaN). It
  has no tolerance; ours with ``tolerance=r`` equals Quantus's on ``G`` dilated by the ball of radius ``r``.
* Energy-based pointing game: Quantus has none; ``AttributionLocalisation`` (inside ratio of the positive
  attribution) on the min-max normalised maps is ours. (Its ``weighted=True`` divides ``|G|`` by
  ``x_batch[2:].size``, the elements of samples 2.., not the spatial size: not used here.)
* ``RandomLogit``: the other class is the ``r``-th of the classes other than ``y`` with ``r`` from
  ``np.random.randint(0, C - 1)`` after ``np.random.seed(seed)`` (it reseeds NumPy's global RNG); ours is
  ``(y + 1 + r) % C`` from a torch generator. Equal for C = 2 (one other class) with its Spearman similarity.
* ``MPRT``: re-initialises every module with ``reset_parameters`` (including ones the forward never calls,
  silently keeping modules without it) in reverse *registration* order, after ``torch.manual_seed(seed + 1)``
  on the global RNG (left changed). Ours: modules that own parameters, reverse *first-call* order, the skipped
  ones listed, the RNG untouched. Equal on a Sequential (registration = call order) with seed ``ours - 1``.
* Quantus refuses 3D inputs: 3D is tested by hand in test_evaluation_localisation.py.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import quantus
import torch
from scipy import ndimage

from cam_widgets import CAMExplainer
from cam_widgets.evaluation.common import spearman
from cam_widgets.evaluation.localisation import localisation
from cam_widgets.evaluation.sanity import random_logit, randomisation

from .models import classifier, gap_linear
from .test_evaluation_sanity import OutOfOrder, batch

QUIET = {"disable_warnings": True}
SHAPE = (10, 12)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Quantus's 0 / 0 and parameterisation warnings
        yield


def data(seed=0, signed=False, n=8):
    """Tie-free maps and masks of several sizes (one empty, one full)."""
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(n, *SHAPE)) if signed else rng.random((n, *SHAPE))
    masks = rng.random((n, *SHAPE)) < rng.uniform(0.05, 0.6, (n, 1, 1))
    masks[1] = False
    masks[2] = True
    return maps, masks


def ours(maps, masks, tolerance=0):
    maps, masks = torch.as_tensor(maps), torch.as_tensor(masks)
    x = torch.zeros(maps.shape[0], 1, *maps.shape[1:], dtype=torch.float64)
    return localisation(CAMExplainer(gap_linear(2)), x, masks, tolerance=tolerance, maps=maps, progress=False)


def theirs(metric, maps, masks):
    x = np.zeros((maps.shape[0], 1, *maps.shape[1:]), np.float32)
    return np.asarray(metric(model=None, x_batch=x, y_batch=np.zeros(len(maps), int), a_batch=maps[:, None],
                             s_batch=masks[:, None]), dtype=np.float64)


def test_relevance_mass_and_rank():
    maps, masks = data()
    result = ours(maps, masks)
    np.testing.assert_allclose(result.mass.numpy(), theirs(quantus.RelevanceMassAccuracy(**QUIET), maps, masks),
                               rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(result.rank.numpy(), theirs(quantus.RelevanceRankAccuracy(**QUIET), maps, masks),
                               rtol=1e-5, atol=1e-12)
    assert np.isnan(result.mass[1]) and np.isnan(result.rank[1])  # both: NaN for the empty mask


def test_relevance_mass_of_signed_maps():
    maps, masks = data(1, signed=True)
    mass = ours(maps, masks).mass.numpy()
    positive = quantus.AttributionLocalisation(positive_attributions=True, abs=False, normalise=False, **QUIET)
    np.testing.assert_allclose(mass, theirs(positive, maps, masks), rtol=1e-5, atol=1e-12)
    signed = theirs(quantus.RelevanceMassAccuracy(normalise=False, **QUIET), maps, masks)
    inside = masks.reshape(len(maps), -1)
    np.testing.assert_allclose(signed, np.where(inside.any(1), (maps.reshape(len(maps), -1) * inside).sum(1)
                                                / maps.reshape(len(maps), -1).sum(1), np.nan), rtol=1e-12)
    kept = ~np.isnan(mass)
    assert not np.allclose(mass[kept], signed[kept])  # Quantus sums the negative values too


def test_pointing_game():
    maps, masks = data(2)
    pointing = ours(maps, masks).pointing.numpy()
    quantus_hits = theirs(quantus.PointingGame(**QUIET), maps, masks)
    kept = masks.reshape(len(maps), -1).any(1)
    np.testing.assert_array_equal(pointing[kept], quantus_hits[kept])
    assert np.isnan(pointing[1]) and quantus_hits[1] == 1.0  # Quantus's bug: the empty mask is a hit
    assert "tolerance" not in inspect.signature(quantus.PointingGame.__init__).parameters


def test_pointing_game_ties():
    maps = np.array([[[1.0, 5.0, 0.0], [5.0, 2.0, 0.0]]])
    masks = np.zeros((1, 2, 3), bool)
    masks[0, 1, 0] = True  # the second of the two tied maxima
    assert float(ours(maps, masks).pointing) == 0.0  # ours: the first maximum in C order, (0, 1), is outside
    assert theirs(quantus.PointingGame(**QUIET), maps, masks)[0] == 1.0  # Quantus: any maximum inside


@pytest.mark.parametrize("tolerance", [1, 1.5, 2.3, 4])
def test_pointing_game_tolerance_is_quantus_on_the_dilated_mask(tolerance):
    maps, masks = data(3, n=12)
    masks = masks & (np.random.default_rng(4).random(masks.shape) < 0.08)  # small, scattered masks: misses happen
    radius = int(tolerance)
    grid = np.indices((2 * radius + 1,) * 2) - radius
    ball = (grid**2).sum(0) <= tolerance**2
    dilated = np.stack([ndimage.binary_dilation(m, ball) for m in masks])
    pointing = ours(maps, masks, tolerance).pointing.numpy()
    expected = theirs(quantus.PointingGame(**QUIET), maps, dilated)
    kept = masks.reshape(len(maps), -1).any(1)
    np.testing.assert_array_equal(pointing[kept], expected[kept])
    assert 0 < np.nansum(pointing) < kept.sum()  # the case has hits and misses


def test_energy_pointing_game():
    maps, masks = data(5, signed=True)
    energy = ours(maps, masks).energy.numpy()
    flat = maps.reshape(len(maps), -1)
    low, high = flat.min(1)[:, None, None], flat.max(1)[:, None, None]
    normalised = (maps - low) / (high - low)
    metric = quantus.AttributionLocalisation(positive_attributions=True, abs=False, normalise=False, **QUIET)
    np.testing.assert_allclose(energy, theirs(metric, normalised, masks), rtol=1e-5, atol=1e-12)


def test_quantus_refuses_3d():
    x, maps = np.zeros((2, 1, 3, 4, 5), np.float32), np.random.default_rng(0).random((2, 1, 3, 4, 5))
    with pytest.raises(ValueError, match="1D and 2D"):
        quantus.RelevanceMassAccuracy(**QUIET)(model=None, x_batch=x, y_batch=np.zeros(2, int), a_batch=maps,
                                               s_batch=maps > 0.5)


def explain_func(layer):
    def explain(model, inputs, targets, **kwargs):
        explainer = CAMExplainer(model, layers=[layer])
        target = torch.as_tensor(np.asarray(targets)).long()
        return explainer.explain(torch.as_tensor(inputs), target=target, progress=False).map.detach().numpy()

    return explain


def test_random_logit_two_classes():
    model, x = classifier(2, n_classes=2), batch(8)
    result = random_logit(CAMExplainer(model, layers=["6"]), x, progress=False)
    metric = quantus.RandomLogit(num_classes=2, similarity_func=quantus.similarity_func.correlation_spearman,
                                 abs=False, normalise=False, **QUIET)
    predicted = model(x).argmax(1)
    scores = metric(model=model, x_batch=x.numpy(), y_batch=predicted.numpy(), a_batch=None,
                    explain_func=explain_func("6"))
    assert torch.equal(result.classes, 1 - predicted)
    np.testing.assert_allclose(result.correlation.numpy(), np.asarray(scores, np.float64), rtol=1e-5, atol=1e-10)


def test_random_logit_class_choice_differs():
    model, x = classifier(2, n_classes=5), batch(8)
    predicted = np.arange(8) % 5  # explained classes (the predictions are all class 0)
    metric = quantus.RandomLogit(num_classes=5, seed=3, similarity_func=quantus.similarity_func.correlation_spearman,
                                 abs=False, normalise=False, **QUIET)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    scores = np.asarray(metric(model=model, x_batch=x.numpy(), y_batch=predicted, a_batch=None,
                               explain_func=explain_func("6")), np.float64)
    assert not np.array_equal(np.random.get_state()[1], state)  # Quantus reseeds NumPy's global RNG
    np.random.seed(3)  # Quantus's draw: the r-th class other than y
    draws = np.random.randint(0, 4, len(x))
    others = np.array([[c for c in range(5) if c != y][r] for y, r in zip(predicted, draws)])
    explainer = CAMExplainer(model, layers=["6"])
    mine = spearman(explainer.explain(x, predicted).map, explainer.explain(x, others).map).numpy()
    np.testing.assert_allclose(mine, scores, rtol=1e-5, atol=1e-10)  # the same similarity of the same maps
    mine = random_logit(explainer, x, target=predicted, seed=3, progress=False).classes.numpy()
    # torch's CPU generator and NumPy's legacy one are both MT19937 and here draw the same r: the rules differ
    assert np.array_equal(torch.randint(4, (8,), generator=torch.Generator().manual_seed(3)).numpy(), draws)
    assert np.array_equal(mine, (predicted + 1 + draws) % 5) and not np.array_equal(mine, others)


def test_mprt_on_a_sequential_model():
    model, x = classifier(2), batch(6)
    state = torch.get_rng_state()
    result = randomisation(CAMExplainer(model, layers=["6"]), x, seed=5, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    metric = quantus.MPRT(seed=4, similarity_func=quantus.similarity_func.correlation_spearman, abs=False,
                          normalise=False, **QUIET)
    scores = metric(model=model, x_batch=x.numpy(), y_batch=model(x).argmax(1).numpy(), a_batch=None,
                    explain_func=explain_func("6"))
    assert not torch.equal(torch.get_rng_state(), state)  # Quantus leaves the global RNG seeded
    assert list(scores)[1:] == result.layers  # "original" (step 0) first
    np.testing.assert_allclose(result.correlation.numpy(), np.array([scores[name] for name in result.layers]).T,
                               rtol=1e-5, atol=1e-10)


def test_mprt_order_differs_where_registration_is_not_call_order():
    model, x = OutOfOrder().double().eval(), batch(4)
    result = randomisation(CAMExplainer(model, layers=["conv_a"]), x, progress=False)
    metric = quantus.MPRT(similarity_func=quantus.similarity_func.correlation_spearman, **QUIET)
    scores = metric(model=model, x_batch=x.numpy(), y_batch=model(x).argmax(1).numpy(), a_batch=None,
                    explain_func=explain_func("conv_a"))
    assert result.layers == ["head", "conv_b", "conv_a"] and result.skipped == ["gain"]
    assert list(scores)[1:] == ["conv_a", "unused", "conv_b", "head"]  # Quantus: reverse registration order
