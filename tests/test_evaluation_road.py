"""ROAD (DESIGN.md 10) and its N-D noisy linear imputer: hand-computed 1D, 2D and 3D cases, the defining equations
against an independent dense solve, the noise's order and seeding, and batch invariance."""

import itertools

import numpy as np
import pytest
import torch

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets.evaluation import imputer
from cam_widgets.evaluation.imputer import impute_disjoint, linear_impute, noisy_linear_impute, stencil
from cam_widgets.evaluation.road import RoadResult, road
from tests.models import classifier, segnet, sum_model

SCALE = 0.3



def sigmoid(v):
    return 1 / (1 + np.exp(-np.asarray(v, dtype=float)))


def dense_reference(x: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """The definition, solved densely: each removed value is the 1/d^2-weighted mean of its in-bounds neighbours."""
    shape, positions = removed.shape, removed.size
    if removed.all():
        return np.zeros_like(x)                                   # nothing known: 0 by definition
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=len(shape)) if any(o)]
    a, b = np.eye(positions), x.reshape(x.shape[0], -1).T.copy()
    for i in np.flatnonzero(removed.ravel()):
        here = np.unravel_index(i, shape)
        a[i, i], b[i] = 0.0, 0.0
        for o in offsets:
            there = tuple(h + d for h, d in zip(here, o))
            if all(0 <= t < n for t, n in zip(there, shape)):
                j, w = np.ravel_multi_index(there, shape), 1.0 / sum(d * d for d in o)
                a[i, i] += w
                if removed.ravel()[j]:
                    a[i, j] -= w
                else:
                    b[i] += w * x.reshape(x.shape[0], -1)[:, j]
    return np.linalg.solve(a, b).T.reshape(x.shape)


def test_stencil_is_pytorch_grad_cams_in_2d_and_inverse_square_in_3d():
    two = dict(stencil(2))
    assert two[(0, 1)] == pytest.approx(1 / 6) and two[(1, 1)] == pytest.approx(1 / 12) and len(two) == 8
    three = dict(stencil(3))
    total = 6 + 12 / 2 + 8 / 3
    assert three[(0, 0, 1)] == pytest.approx(1 / total) and three[(0, 1, 1)] == pytest.approx(0.5 / total)
    assert three[(1, 1, 1)] == pytest.approx(1 / 3 / total) and len(three) == 26
    assert dict(stencil(1)) == {(-1,): 0.5, (1,): 0.5}


@pytest.mark.parametrize("values, removed, expected", [
    ([1.0, 0.0, 4.0], [0, 1, 0], [1.0, 2.5, 4.0]),               # the mean of the two neighbours
    ([1.0, 0.0, 0.0, 4.0], [0, 1, 1, 0], [1.0, 2.0, 3.0, 4.0]),  # a removed line: the linear interpolation
    ([0.0, 3.0, 5.0], [1, 0, 0], [3.0, 3.0, 5.0]),               # at the border: its one in-bounds neighbour
])
def test_1d_by_hand(values, removed, expected):
    x = torch.tensor(values, dtype=torch.float64).view(1, 1, -1)
    out = noisy_linear_impute(x, torch.tensor(removed, dtype=torch.bool).view(1, -1), noise=0.0)
    torch.testing.assert_close(out.view(-1), torch.tensor(expected, dtype=torch.float64), rtol=1e-13, atol=1e-13)


def test_2d_single_pixels_by_hand():
    x = torch.tensor([[1.0, 5, 2], [7, 3, 8], [4, 9, 6]], dtype=torch.float64).view(1, 1, 3, 3)
    centre = torch.zeros(1, 3, 3, dtype=torch.bool)
    centre[0, 1, 1] = True
    out = noisy_linear_impute(x, centre, noise=0.0)
    assert out[0, 0, 1, 1].item() == pytest.approx((5 + 7 + 8 + 9) / 6 + (1 + 2 + 4 + 6) / 12, rel=1e-13)
    corner = torch.zeros(1, 3, 3, dtype=torch.bool)
    corner[0, 2, 2] = True
    out = noisy_linear_impute(x, corner, noise=0.0)
    assert out[0, 0, 2, 2].item() == pytest.approx((9 / 6 + 8 / 6 + 3 / 12) / (5 / 12), rel=1e-13)
    assert torch.equal(out[0, 0][~corner[0]], x[0, 0][~corner[0]])


def test_3d_single_voxel_by_hand():
    torch.manual_seed(0)
    x = torch.rand(1, 2, 3, 3, 3, dtype=torch.float64)
    removed = torch.zeros(1, 3, 3, 3, dtype=torch.bool)
    removed[0, 1, 1, 1] = True
    out = noisy_linear_impute(x, removed, noise=0.0)
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=3) if any(o)]
    weights = [1 / sum(d * d for d in o) for o in offsets]
    expected = sum(w * x[0, :, 1 + a, 1 + b, 1 + c] for w, (a, b, c) in zip(weights, offsets)) / sum(weights)
    torch.testing.assert_close(out[0, :, 1, 1, 1], expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape", [(40,), (9, 11), (6, 5, 7)])
def test_linear_ramps_are_reproduced(shape):
    """A linear function is its own weighted neighbour mean away from the faces across its gradient."""
    torch.manual_seed(1)
    ramp = torch.arange(shape[-1], dtype=torch.float64).expand(*shape).clone()
    x = torch.stack([ramp * 0.5 - 2, -ramp]).unsqueeze(0)
    removed = torch.rand(1, *shape) < 0.7
    removed[..., 0] = removed[..., -1] = False
    noisy = x.clone()
    noisy[:, :, removed[0]] = 123.0                     # the removed values must not matter
    torch.testing.assert_close(noisy_linear_impute(noisy, removed, noise=0.0), x, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("solver", ["default", "direct", "conjugate gradients"])
@pytest.mark.parametrize("shape", [(1,), (2,), (30,), (5, 6), (1, 9), (13, 8), (37, 23), (2, 3, 2), (4, 5, 6),
                                   (7, 7, 7)])
def test_equals_the_dense_solve_of_the_definition(shape, solver, monkeypatch):
    """Default: the direct solve in 1D and 2D, conjugate gradients in 3D; each is checked in every dimension."""
    monkeypatch.setattr(imputer, "_DIRECT_UP_TO", {"default": imputer._DIRECT_UP_TO, "direct": 3}.get(solver, 0))
    rng = np.random.default_rng(sum(shape))
    x = rng.random((4, 2, *shape))
    removed = rng.random((4, *shape)) < np.array([0.05, 0.5, 0.95, 1.0]).reshape(4, *[1] * len(shape))
    removed[3] = True                                             # sample 3: nothing known
    removed.reshape(4, -1)[2, 0] = False                          # sample 2: one known value
    out = noisy_linear_impute(torch.from_numpy(x), torch.from_numpy(removed), noise=0.0).numpy()
    for b in range(4):
        np.testing.assert_allclose(out[b], dense_reference(x[b], removed[b]), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(out[3], 0.0)                     # no known value: 0 by definition
    # the defining equation holds at every removed position
    ones = torch.ones(1, *shape, dtype=torch.float64)
    filled = torch.from_numpy(out)
    residual = imputer.neighbour_sum(filled, len(shape)) - imputer.neighbour_sum(ones, len(shape)) * filled
    solvable = removed[:3] & ~removed[:3].reshape(3, -1).all(1).reshape(3, *[1] * len(shape))
    assert np.abs(residual.numpy()[:3][np.broadcast_to(solvable[:, None], out[:3].shape)]).max(initial=0) < 1e-10


def test_chunks_and_batches_do_not_change_the_solution(monkeypatch):
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.random((6, 3, 12, 10)))
    removed = torch.from_numpy(rng.random((6, 12, 10)) < 0.6)
    whole = noisy_linear_impute(x, removed, noise=0.0)
    monkeypatch.setattr(imputer, "_CACHE", 1)                      # one system per chunk
    monkeypatch.setattr(imputer, "_MEMORY", 1)
    alone = torch.cat([noisy_linear_impute(x[i:i + 1], removed[i:i + 1], noise=0.0) for i in range(6)])
    torch.testing.assert_close(noisy_linear_impute(x, removed, noise=0.0), whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(alone, whole, rtol=1e-12, atol=1e-12)
    assert torch.equal(noisy_linear_impute(x, torch.zeros_like(removed), noise=0.5), x)   # nothing removed
    for level in imputer._plan((12, 10), "cpu").levels:             # index maps made when needed (large grids)
        monkeypatch.setattr(level, "up_front", None)
    torch.testing.assert_close(noisy_linear_impute(x, removed, noise=0.0), whole, rtol=1e-12, atol=1e-12)


def test_noise_is_one_draw_per_sample_from_the_generator():
    torch.manual_seed(2)
    x = torch.rand(3, 2, 5, 4, dtype=torch.float64)
    removed = torch.rand(3, 5, 4) < 0.5
    clean = noisy_linear_impute(x, removed, noise=0.0)
    noisy = noisy_linear_impute(x, removed, noise=0.5, generator=torch.Generator().manual_seed(9))
    generator = torch.Generator().manual_seed(9)
    draws = torch.stack([torch.randn(2, 5, 4, generator=generator, dtype=torch.float64) for _ in range(3)])
    torch.testing.assert_close(noisy, clean + 0.5 * draws * removed[:, None], rtol=1e-13, atol=1e-13)
    split = torch.Generator().manual_seed(9)
    parts = [noisy_linear_impute(x[:1], removed[:1], 0.5, split), noisy_linear_impute(x[1:], removed[1:], 0.5, split)]
    torch.testing.assert_close(torch.cat(parts), noisy, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape", [(13, 9), (5, 4, 6)])
def test_disjoint_masks_in_one_solve_equal_their_solves_apart(shape):
    torch.manual_seed(8)
    x = torch.rand(3, 2, *shape, dtype=torch.float64)
    first = torch.rand(3, *shape) < 0.4
    second = ~first & (torch.rand(3, *shape) < 0.8)
    first[0], second[0] = True, False                   # sample 0: the first mask removes everything
    both = impute_disjoint(x, first, second)
    for filled, mask in zip(both, (first, second)):
        torch.testing.assert_close(filled, linear_impute(x, mask), rtol=1e-10, atol=1e-10)
    assert torch.equal(both[0][0], torch.zeros_like(x[0]))
    with pytest.raises(ValueError, match="twice"):
        impute_disjoint(x, first, first)


def test_imputer_refuses_bad_arguments():
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(TypeError, match="bool"):
        noisy_linear_impute(x, torch.ones(2, 4, 4))
    with pytest.raises(ValueError, match=r"\(2, 4, 4\)"):
        noisy_linear_impute(x, torch.ones(2, 3, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="floating"):
        noisy_linear_impute(torch.ones(2, 1, 4, 4, dtype=torch.long), torch.ones(2, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="noise"):
        noisy_linear_impute(x, torch.ones(2, 4, 4, dtype=torch.bool), noise=-1.0)


def test_road_2d_by_hand():
    """3 x 3, percentiles 10 and 20: 1 and 2 positions (floor(9 p / 100 + 0.5))."""
    x = torch.tensor([[1.0, 5, 2], [7, 3, 8], [4, 9, 6]], dtype=torch.float64).view(1, 1, 3, 3)
    maps = torch.tensor([[0.3, 0.8, 0.2], [0.4, 0.9, 0.5], [0.15, 0.6, 0.1]], dtype=torch.float64).view(1, 3, 3)
    r = road(CAMExplainer(sum_model((3, 3), SCALE)), x, target=0, percentiles=(10, 20), noise=0.0, maps=maps, progress=False)
    total = 45.0
    centre = (5 + 7 + 8 + 9) / 6 + (1 + 2 + 4 + 6) / 12                     # MoRF 10: the centre (3)
    # MoRF 20: the centre c and the top middle t (5): (8/12) t = (1 + 2 + c) / 6 + (7 + 8) / 12, c = ...
    c, t = np.linalg.solve([[12, -2], [-2, 8]], [(7 + 8 + 9) * 2 + (1 + 2 + 4 + 6), (1 + 2) * 2 + (7 + 8)])
    morf = sigmoid(SCALE * np.array([total - 3 + centre, total - 3 - 5 + c + t])) - sigmoid(SCALE * total)
    low, second = (9 / 6 + 8 / 6 + 3 / 12) / (5 / 12), (9 / 6 + 7 / 6 + 3 / 12) / (5 / 12)  # LeRF: 6, then 4
    lerf = sigmoid(SCALE * np.array([total - 6 + low, total - 6 - 4 + low + second])) - sigmoid(SCALE * total)
    np.testing.assert_allclose(r.morf[0], morf, rtol=1e-11)
    np.testing.assert_allclose(r.lerf[0], lerf, rtol=1e-11)
    np.testing.assert_allclose(r.combined[0], (lerf.mean() - morf.mean()) / 2, rtol=1e-11)
    np.testing.assert_array_equal(r.percentiles, [10.0, 20.0])


def test_road_3d_by_hand():
    torch.manual_seed(3)
    x = torch.rand(1, 1, 3, 3, 3, dtype=torch.float64)
    maps = torch.rand(1, 3, 3, 3, dtype=torch.float64)
    maps[0, 1, 1, 1], maps[0, 0, 0, 0] = 2.0, -1.0                # first: the centre; last: a corner
    r = road(CAMExplainer(sum_model((3, 3, 3), SCALE)), x, target=0, percentiles=(4,), noise=0.0, maps=maps, progress=False)
    v = x[0, 0].numpy()
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=3) if any(o)]
    centre = sum(v[1 + a, 1 + b, 1 + c] / (a * a + b * b + c * c) for a, b, c in offsets)
    centre /= sum(1 / (a * a + b * b + c * c) for a, b, c in offsets)
    near = [o for o in itertools.product((0, 1), repeat=3) if any(o)]
    corner = sum(v[o] / sum(o) for o in near) / sum(1 / sum(o) for o in near)
    total = v.sum()
    np.testing.assert_allclose(r.morf[0, 0], sigmoid(SCALE * (total - v[1, 1, 1] + centre)) - sigmoid(SCALE * total),
                               rtol=1e-11)
    np.testing.assert_allclose(r.lerf[0, 0], sigmoid(SCALE * (total - v[0, 0, 0] + corner)) - sigmoid(SCALE * total),
                               rtol=1e-11)


@pytest.mark.parametrize("ndim", [2, 3])
def test_road_invariant_to_batch_size_and_splitting(ndim):
    torch.manual_seed(4)
    explainer = CAMExplainer(classifier(ndim=ndim))
    x = torch.randn(3, 1, *[8] * ndim, dtype=torch.float64)
    whole = road(explainer, x, method="hirescam", progress=False)
    rows = road(explainer, x, method="hirescam", batch_size=1, progress=False)
    for name in ("morf", "lerf", "combined"):
        torch.testing.assert_close(getattr(rows, name), getattr(whole, name), rtol=1e-12, atol=1e-15)
    clean = road(explainer, x, method="hirescam", noise=0.0, progress=False)
    split = road(explainer, [x[:1], x[1:]], method="hirescam", noise=0.0, batch_size=5, progress=False)
    for name in ("morf", "lerf", "combined"):
        torch.testing.assert_close(getattr(split, name), getattr(clean, name), rtol=1e-12, atol=1e-15)
    assert whole.morf.shape == whole.lerf.shape == (3, 9) and whole.combined.shape == (3,)
    torch.testing.assert_close(whole.combined, (whole.lerf.mean(1) - whole.morf.mean(1)) / 2)
    assert whole.morf.dtype == torch.float64 and whole.morf.device.type == "cpu"


def test_noise_order_seed_and_global_rng():
    """The noise, from Generator(seed): MoRF at each percentile, each followed by LeRF at its partner (the i-th
    smallest with the i-th largest), one draw per sample in batch order."""
    torch.manual_seed(5)
    model = classifier(ndim=2)
    explainer = CAMExplainer(model)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    state = torch.get_rng_state()
    r = road(explainer, x, percentiles=(30, 60), noise=0.2, seed=11, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    again = road(explainer, x, percentiles=(30, 60), noise=0.2, seed=11, progress=False)
    other = road(explainer, x, percentiles=(30, 60), noise=0.2, seed=12, progress=False)
    clean = road(explainer, x, percentiles=(30, 60), noise=0.0, progress=False)
    assert torch.equal(r.morf, again.morf) and torch.equal(r.lerf, again.lerf)
    assert not torch.allclose(r.morf, other.morf) and not torch.allclose(r.morf, clean.morf)
    maps = explainer.explain(x, progress=False).map
    order = torch.argsort(maps.flatten(1), dim=1, descending=True, stable=True)
    generator = torch.Generator().manual_seed(11)
    original = model(x).softmax(1).max(1).values
    ranks = {"morf": order, "lerf": order.flip(1)}
    for curve, column, count in [("morf", 0, 19), ("lerf", 1, 38), ("morf", 1, 38), ("lerf", 0, 19)]:
        removed = torch.zeros(2, 64, dtype=torch.bool).scatter_(1, ranks[curve][:, :count], True).view(2, 8, 8)
        filled = noisy_linear_impute(x, removed, 0.2, generator)                  # count: floor(64 p / 100 + 0.5)
        expected = model(filled).softmax(1).gather(1, model(x).argmax(1, keepdim=True))[:, 0] - original
        torch.testing.assert_close(getattr(r, curve)[:, column], expected.detach(), rtol=1e-12, atol=1e-15)


def test_maps_and_unsorted_percentiles():
    torch.manual_seed(6)
    explainer = CAMExplainer(classifier(ndim=2))
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    by_method = road(explainer, x, method="gradcampp", noise=0.0, progress=False)
    maps = explainer.explain(x, method="gradcampp", progress=False).map
    by_maps = road(explainer, x, maps=maps, noise=0.0, progress=False)
    torch.testing.assert_close(by_maps.morf, by_method.morf, rtol=1e-12, atol=1e-15)
    tie_free = torch.rand(2, 8, 8, dtype=torch.float64)
    flipped, straight = (road(explainer, x, maps=m, noise=0.0, progress=False) for m in (-tie_free, tie_free))
    torch.testing.assert_close(flipped.morf, straight.lerf, rtol=1e-12, atol=1e-15)   # the same removals
    shuffled = road(explainer, x, maps=maps, percentiles=[70, 10, 40], noise=0.0, progress=False)
    np.testing.assert_array_equal(shuffled.percentiles, [70.0, 10.0, 40.0])
    torch.testing.assert_close(shuffled.morf, by_maps.morf[:, [6, 0, 3]], rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(shuffled.lerf, by_maps.lerf[:, [6, 0, 3]], rtol=1e-12, atol=1e-15)
    overlapping = road(explainer, x, maps=maps, percentiles=(60, 70), noise=0.0, progress=False)   # solved apart
    torch.testing.assert_close(overlapping.morf, by_maps.morf[:, [5, 6]], rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(overlapping.lerf, by_maps.lerf[:, [5, 6]], rtol=1e-12, atol=1e-15)


def test_pixel_set_target_on_a_segmentation_net():
    torch.manual_seed(7)
    model = segnet()
    explainer = CAMExplainer(model, layers=["dec"])
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[3:10, 4:12] = True
    target = PixelSet(1, mask)
    r = road(explainer, x, target, percentiles=(25, 75), noise=0.0, progress=False)
    maps = explainer.explain(x, target, progress=False).map
    order = torch.argsort(maps.flatten(1), dim=1, descending=True, stable=True)
    score = lambda v: model(v).softmax(1)[:, 1][:, mask].mean(1).detach()  # noqa: E731
    for curve, ranks in (("morf", order), ("lerf", order.flip(1))):
        for column, count in enumerate((64, 192)):
            removed = torch.zeros(2, 256, dtype=torch.bool).scatter_(1, ranks[:, :count], True).view(2, 16, 16)
            expected = score(noisy_linear_impute(x, removed, noise=0.0)) - score(x)
            torch.testing.assert_close(getattr(r, curve)[:, column], expected, rtol=1e-12, atol=1e-15)


def test_summary_and_result_fields():
    r = road(CAMExplainer(classifier(ndim=2)), torch.randn(3, 1, 8, 8, dtype=torch.float64), progress=False)
    assert isinstance(r, RoadResult) and set(r.summary()) == {"combined"}
    assert r.summary()["combined"][0] == pytest.approx(float(r.combined.mean()))
    assert "combined" in str(r) and "n=3" in str(r)
    np.testing.assert_array_equal(r.percentiles, np.arange(10, 100, 10))


def test_bad_arguments_are_refused_with_what_is_accepted():
    explainer = CAMExplainer(classifier(ndim=2))
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    for bad in [(0, 50), (50, 100), (-5,), (150,), (float("nan"),), (), (True, 50)]:
        with pytest.raises(ValueError, match="strictly between 0 and 100"):
            road(explainer, x, percentiles=bad, progress=False)
    for bad in [50, "10,20", None]:
        with pytest.raises(TypeError, match="percentiles must be"):
            road(explainer, x, percentiles=bad, progress=False)
    for bad in [-0.1, float("nan"), float("inf"), True]:
        with pytest.raises(ValueError, match="noise must be"):
            road(explainer, x, noise=bad, progress=False)
    with pytest.raises(TypeError, match="seed must be"):
        road(explainer, x, seed=1.5, progress=False)
    with pytest.raises(ValueError, match=r"\(2, 8, 8\)"):
        road(explainer, x, maps=torch.rand(2, 4, 4), progress=False)
    with pytest.raises(ValueError, match="NaN or inf"):
        road(explainer, x, maps=torch.full((2, 8, 8), float("inf")), progress=False)
    with pytest.raises(TypeError, match="float"):
        road(explainer, x, maps=torch.ones(2, 8, 8, dtype=torch.long), progress=False)


def test_model_untouched():
    model = classifier(ndim=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    road(CAMExplainer(model), torch.randn(2, 1, 8, 8, 8, dtype=torch.float64), percentiles=(50,), progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [p.requires_grad for p in model.parameters()] == flags and all(p.grad is None for p in model.parameters())
    assert not model.training and all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
