"""cam_widgets.evaluation.localisation: relevance mass, relevance rank, pointing game (with a tolerance) and the
energy-based pointing game, on hand-computed 2D and 3D cases (DESIGN.md section 10)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cam_widgets import CAMExplainer
from cam_widgets.evaluation.localisation import LocalisationResult, localisation

from .models import classifier, gap_linear

NAN = math.nan


def run(maps, masks, tolerance=0, batch=False):
    """localisation on given maps (one sample, or a batch with ``batch=True``); the explainer is never run."""
    maps = torch.as_tensor(np.asarray(maps), dtype=torch.float64)
    if not batch:
        maps, masks = maps[None], (masks[None] if isinstance(masks, (torch.Tensor, np.ndarray)) else [masks])
    explainer = CAMExplainer(gap_linear(maps.ndim - 1))
    x = torch.zeros(maps.shape[0], 1, *maps.shape[1:], dtype=torch.float64)
    return localisation(explainer, x, masks, tolerance=tolerance, maps=maps, progress=False)


def values(result: LocalisationResult) -> list[list[float]]:
    return [[float(v) for v in getattr(result, name)] for name in ("mass", "rank", "pointing", "energy")]


def assert_values(result, expected):
    got = values(result)
    for name, g, e in zip(("mass", "rank", "pointing", "energy"), got, expected):
        np.testing.assert_allclose(g, e if isinstance(e, list) else [e], rtol=1e-12, atol=0, err_msg=name)


MAP_2D = [[0.0, 1.0, 2.0, 0.5],
          [3.0, -1.0, 0.0, 4.0],
          [1.5, 2.5, 0.0, 1.0]]
MASK_2D = [[False, True, True, False],
           [False, False, False, False],
           [False, True, False, False]]


def test_hand_computed_2d():
    # m+ sums to 15.5, 5.5 of it in G (1 + 2 + 2.5); the top 3 are 4.0, 3.0, 2.5, one of them in G; the argmax
    # (1, 3) is outside G; min-max normalised n = (m + 1) / 5 sums to 26.5 / 5, of which 8.5 / 5 in G
    result = run(MAP_2D, MASK_2D)
    assert_values(result, [11 / 31, 1 / 3, 0.0, 17 / 53])
    for field in ("mass", "rank", "pointing", "energy"):
        value = getattr(result, field)
        assert value.dtype == torch.float64 and value.device.type == "cpu" and value.shape == (1,)


def test_pointing_tolerance_2d():
    # the nearest G voxel to the argmax (1, 3) is (0, 2), at distance sqrt(2)
    assert float(run(MAP_2D, MASK_2D, tolerance=1).pointing) == 0.0
    assert float(run(MAP_2D, MASK_2D, tolerance=1.41).pointing) == 0.0
    assert float(run(MAP_2D, MASK_2D, tolerance=1.42).pointing) == 1.0
    assert float(run(MAP_2D, MASK_2D, tolerance=math.sqrt(2)).pointing) == 1.0  # the boundary counts
    assert float(run(MAP_2D, MASK_2D, tolerance=100).pointing) == 1.0
    # the tolerance changes nothing else
    assert values(run(MAP_2D, MASK_2D, tolerance=5))[:2] == values(run(MAP_2D, MASK_2D))[:2]


MAP_3D = [[[0.2, 0.0, 0.9],
           [0.4, -0.1, 0.3]],
          [[0.7, 0.0, 0.5],
           [0.6, 0.8, 0.0]]]
MASK_3D = np.zeros((2, 2, 3), bool)
MASK_3D[1, 0, 0] = MASK_3D[1, 1, 1] = MASK_3D[0, 1, 2] = MASK_3D[1, 1, 2] = True


def test_hand_computed_3d():
    # m+ sums to 4.4, 1.8 in G (0.7 + 0.8 + 0.3 + 0); the top 4 are 0.9, 0.8, 0.7, 0.6: two in G; the argmax
    # (0, 0, 2) is outside G; n = (m + 0.1) / 1.0 sums to 5.5, 2.2 in G
    assert_values(run(MAP_3D, MASK_3D), [9 / 22, 0.5, 0.0, 0.4])
    # the nearest G voxel to the argmax is (0, 1, 2), at distance 1
    assert float(run(MAP_3D, MASK_3D, tolerance=0.99).pointing) == 0.0
    assert float(run(MAP_3D, MASK_3D, tolerance=1).pointing) == 1.0


def test_pointing_tolerance_3d_diagonal():
    mask = np.zeros((2, 2, 3), bool)
    mask[1, 1, 1] = True  # at distance sqrt(1 + 1 + 1) from the argmax (0, 0, 2)
    assert float(run(MAP_3D, mask, tolerance=1.7).pointing) == 0.0
    assert float(run(MAP_3D, mask, tolerance=1.75).pointing) == 1.0
    mask[0, 0, 2] = True
    assert float(run(MAP_3D, mask).pointing) == 1.0


@pytest.mark.parametrize("ndim", [2, 3])
def test_argmax_ties_take_the_first_in_c_order(ndim):
    flat = torch.tensor([1.0, 5.0, 0.0, 5.0, 2.0, 0.0], dtype=torch.float64)
    shape = (2, 3) if ndim == 2 else (1, 2, 3)
    first, second = torch.zeros(6, dtype=torch.bool), torch.zeros(6, dtype=torch.bool)
    first[1], second[3] = True, True
    maps = flat.reshape(shape)
    assert float(run(maps, first.reshape(shape)).pointing) == 1.0
    assert float(run(maps, second.reshape(shape)).pointing) == 0.0  # the tied maximum at flat 3 comes second
    # 2D: flat 1 = (0, 1) and flat 3 = (1, 0) are sqrt(2) apart; 3D: (0, 0, 1) and (0, 1, 0) too
    assert float(run(maps, second.reshape(shape), tolerance=1).pointing) == 0.0
    assert float(run(maps, second.reshape(shape), tolerance=1.5).pointing) == 1.0


def test_rank_ties_in_c_order():
    maps = [[3.0, 1.0, 1.0], [1.0, 0.0, 2.0]]
    mask = [[False, True, True], [True, False, False]]
    # top 3: 3.0 (flat 0), 2.0 (flat 5), then of the tied 1.0s the first in C order, flat 1 (in G)
    assert float(run(maps, mask).rank) == pytest.approx(1 / 3, abs=1e-15)
    mask = [[False, False, True], [True, False, False]]  # top 2: flat 0 and flat 5, none in G
    assert float(run(maps, mask).rank) == 0.0


def test_zero_map():
    zero = np.zeros((2, 3))
    at_first = np.zeros((2, 3), bool)
    at_first[0, 0] = True
    at_last = np.zeros((2, 3), bool)
    at_last[1, 2] = True
    # no relevance: mass and energy undefined; rank and pointing follow C order (flat 0 first)
    assert_values(run(zero, at_first), [NAN, 1.0, 1.0, NAN])
    assert_values(run(zero, at_last), [NAN, 0.0, 0.0, NAN])
    negative = -np.ones((2, 3))
    negative[1, 2] = -0.5
    assert_values(run(negative, at_last), [NAN, 1.0, 1.0, 1.0])  # m+ = 0; n is 1 at flat 5, 0 elsewhere


def test_constant_map():
    mask = np.array([[True, False, True], [False, False, False]])
    # mass |G| / P; the top 2 are flats 0 and 1 (C order), one in G; the argmax is flat 0; n undefined
    assert_values(run(np.full((2, 3), 2.0), mask), [1 / 3, 0.5, 1.0, NAN])


@pytest.mark.parametrize("ndim", [2, 3])
def test_empty_mask_is_nan_never_a_hit(ndim):
    shape = (3, 4) if ndim == 2 else (2, 3, 4)
    maps = torch.rand(2, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    masks = torch.zeros(2, *shape, dtype=torch.bool)
    masks[0].view(-1)[maps[0].argmax()] = True
    for tolerance in (0, 3):
        result = run(maps, masks, tolerance=tolerance, batch=True)
        assert [v[0] for v in values(result)] == [v[0] for v in values(run(maps[0], masks[0], tolerance=tolerance))]
        assert float(result.pointing[0]) == 1.0
        assert all(math.isnan(v[1]) for v in values(result))
    assert result.summary()["pointing"] == (1.0, 0.0)  # the NaN is left out of the summary


def test_masks_accepted_and_refused():
    maps = torch.tensor(MAP_2D, dtype=torch.float64)[None]
    boolean = torch.tensor(MASK_2D)[None]
    expected = values(run(maps, boolean, batch=True))
    assert values(run(maps, boolean.to(torch.uint8), batch=True)) == expected
    assert values(run(maps, boolean.long().numpy(), batch=True)) == expected
    assert values(run(maps, boolean.numpy(), batch=True)) == expected
    assert values(run(maps, boolean.tolist(), batch=True)) == expected
    with pytest.raises(TypeError, match="masks > 0.5"):
        run(maps, boolean.double(), batch=True)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        run(maps, boolean.long() * 2, batch=True)
    explainer, x = CAMExplainer(gap_linear(2)), torch.zeros(1, 1, 3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(1, 3, 4\)"):
        localisation(explainer, x, boolean[0], maps=maps, progress=False)
    with pytest.raises(ValueError, match=r"\(1, 3, 4\)"):
        localisation(explainer, x, boolean[:, None], maps=maps, progress=False)
    for bad in (-1, math.nan, math.inf, True, "1"):
        with pytest.raises(ValueError, match="tolerance"):
            localisation(explainer, x, boolean, tolerance=bad, maps=maps, progress=False)


def counting(model):
    calls = []
    model.register_forward_hook(lambda m, i, o: calls.append(1))
    return calls


def test_maps_from_the_explainer_and_no_extra_forward():
    model = classifier(2)
    calls = counting(model)
    explainer = CAMExplainer(model, layers=["3"])
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    masks = torch.rand(4, 8, 8, generator=torch.Generator().manual_seed(2)) > 0.7
    result = localisation(explainer, x, masks, method="layercam", target=2, tolerance=1.5, progress=False)
    assert len(calls) == 1  # the explanation's forward only
    maps = CAMExplainer(classifier(2), layers=["3"]).explain(x, target=2, method="layercam").map
    reference = localisation(explainer, x, masks, tolerance=1.5, maps=maps, progress=False)
    assert len(calls) == 1  # none with maps=
    assert values(result) == values(reference)


@pytest.mark.parametrize("ndim", [2, 3])
def test_batch_and_data_set_invariance(ndim):
    shape = (6, 7) if ndim == 2 else (4, 5, 3)
    generator = torch.Generator().manual_seed(ndim)
    maps = torch.randn(5, *shape, dtype=torch.float64, generator=generator).relu()
    masks = torch.rand(5, *shape, generator=generator) > 0.6
    masks[2] = False
    explainer = CAMExplainer(gap_linear(ndim))
    x = torch.zeros(5, 1, *shape, dtype=torch.float64)
    whole = localisation(explainer, x, masks, tolerance=2, maps=maps, progress=False)
    halves = (slice(0, 3), slice(3, 5))
    parts = LocalisationResult.concat([localisation(explainer, x[s], masks[s], tolerance=2, maps=maps[s], progress=False)
                                       for s in halves])
    data = localisation(explainer, [{"x": x[s], "masks": masks[s], "maps": maps[s]} for s in halves], tolerance=2,
                        progress=False)
    for other in (parts, data):
        for a, b in zip(values(whole), values(other)):
            np.testing.assert_array_equal(a, b)
    assert all(math.isnan(v[2]) for v in values(whole))


def test_data_set_of_tuples_with_explanations():
    model = classifier(2)
    explainer = CAMExplainer(model, layers=["6"])
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64, generator=generator)
    masks = torch.rand(5, 8, 8, generator=generator) > 0.5
    whole = localisation(explainer, x, masks, progress=False)
    batches = localisation(explainer, [(x[:2], masks[:2]), (x[2:], masks[2:])], progress=False)
    for a, b in zip(values(whole), values(batches)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_invariance():
    generator = torch.Generator().manual_seed(9)
    maps = torch.randn(4, 5, 6, 7, dtype=torch.float64, generator=generator)
    masks = torch.rand(4, 5, 6, 7, generator=generator) > 0.8
    explainer, x = CAMExplainer(gap_linear(3).cuda()), torch.zeros(4, 1, 5, 6, 7, dtype=torch.float64)
    for tolerance in (0, 1.8):
        cpu = localisation(CAMExplainer(gap_linear(3)), x, masks, tolerance=tolerance, maps=maps, progress=False)
        gpu = localisation(explainer, x.cuda(), masks.cuda(), tolerance=tolerance, maps=maps.cuda(), progress=False)
        for a, b in zip(values(cpu), values(gpu)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
