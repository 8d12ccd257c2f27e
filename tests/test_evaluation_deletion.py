"""Deletion / insertion and average drop (DESIGN.md 10) on hand-computed cases in 2D and 3D, and their invariances."""

import numpy as np
import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets import evaluation as ev
from tests.models import classifier, segnet, sum_model

X = [1.0, 2.0, 3.0, 4.0]
MAP = [0.1, 0.4, 0.3, 0.2]          # ranking: positions 1, 2, 3, 0
SCALE = 0.3


def linear_model(shape: tuple[int, ...]) -> nn.Module:
    return sum_model(shape, SCALE)


def sigmoid(v):
    return 1 / (1 + np.exp(-np.asarray(v, dtype=float)))


@pytest.mark.parametrize("shape", [(2, 2), (1, 2, 2)])
def test_deletion_and_insertion_by_hand(shape):
    x = torch.tensor(X, dtype=torch.float64).reshape(1, 1, *shape)
    maps = torch.tensor(MAP, dtype=torch.float64).reshape(1, *shape)
    r = ev.deletion_insertion(CAMExplainer(linear_model(shape)), x, target=0, steps=4, maps=maps)
    fractions = [0, 0.25, 0.5, 0.75, 1]
    deletion = sigmoid(SCALE * np.array([10, 8, 5, 1, 0]))       # remove 2, then 3, then 4, then 1
    insertion = sigmoid(SCALE * np.array([0, 2, 5, 9, 10]))
    np.testing.assert_allclose(r.fractions, fractions)
    np.testing.assert_allclose(r.deletion_curve[0], deletion, rtol=1e-12)
    np.testing.assert_allclose(r.insertion_curve[0], insertion, rtol=1e-12)
    np.testing.assert_allclose(r.deletion_auc[0], np.trapezoid(deletion, fractions), rtol=1e-12)
    np.testing.assert_allclose(r.insertion_auc[0], np.trapezoid(insertion, fractions), rtol=1e-12)


def test_step_counts_follow_torchcam_rule():
    """``s = ceil(P / steps)``, counts 0, s, 2s, ... with P last: 4 positions in 3 steps -> 0, 2, 4."""
    x = torch.tensor(X, dtype=torch.float64).reshape(1, 1, 2, 2)
    maps = torch.tensor(MAP, dtype=torch.float64).reshape(1, 2, 2)
    r = ev.deletion_insertion(CAMExplainer(linear_model((2, 2))), x, target=0, steps=3, maps=maps, baseline=1.0)
    np.testing.assert_allclose(r.fractions, [0, 0.5, 1])
    np.testing.assert_allclose(r.deletion_curve[0], sigmoid(SCALE * np.array([10, 7, 4])), rtol=1e-12)
    np.testing.assert_allclose(r.insertion_curve[0], sigmoid(SCALE * np.array([4, 7, 10])), rtol=1e-12)


def test_ties_are_ranked_in_c_order():
    x = torch.tensor(X, dtype=torch.float64).reshape(1, 1, 2, 2)
    maps = torch.zeros(1, 2, 2, dtype=torch.float64)       # all tied: removed in the order 0, 1, 2, 3
    r = ev.deletion_insertion(CAMExplainer(linear_model((2, 2))), x, target=0, steps=4, maps=maps)
    np.testing.assert_allclose(r.deletion_curve[0], sigmoid(SCALE * np.array([10, 9, 7, 4, 0])), rtol=1e-12)


def test_baselines_tensor_and_callable_agree():
    torch.manual_seed(0)
    model = classifier(ndim=2, side=16)
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    explainer = CAMExplainer(model)
    mean = x.mean(dim=(2, 3), keepdim=True)
    by_tensor = ev.deletion_insertion(explainer, x, baseline=mean, steps=5)
    by_callable = ev.deletion_insertion(explainer, x, baseline=lambda v: v.mean(dim=(2, 3), keepdim=True), steps=5)
    torch.testing.assert_close(by_tensor.deletion_curve, by_callable.deletion_curve)
    by_zero = ev.deletion_insertion(explainer, x, steps=5)
    assert not torch.allclose(by_tensor.deletion_curve, by_zero.deletion_curve)
    with pytest.raises(ValueError, match="does not broadcast"):
        ev.deletion_insertion(explainer, x, baseline=torch.zeros(2, 2))
    with pytest.raises(TypeError, match="baseline must be"):
        ev.deletion_insertion(explainer, x, baseline="zeros")


@pytest.mark.parametrize("shape", [(2, 2), (1, 2, 2)])
def test_average_drop_by_hand(shape):
    x = torch.tensor(X, dtype=torch.float64).reshape(1, 1, *shape)
    maps = torch.tensor(MAP, dtype=torch.float64).reshape(1, *shape)
    r = ev.average_drop(CAMExplainer(linear_model(shape)), x, target=0, maps=maps)
    m = (np.array(MAP) - 0.1) / 0.3
    y, o = sigmoid(SCALE * 10), sigmoid(SCALE * np.dot(m, X))
    np.testing.assert_allclose(r.drop[0], max(0, y - o) / (y + 1e-7), rtol=1e-12)
    assert r.increase[0] == float(o > y)
    constant = ev.average_drop(CAMExplainer(linear_model(shape)), x, target=0, maps=torch.ones_like(maps))
    np.testing.assert_allclose(constant.drop[0], (y - 0.5) / (y + 1e-7), rtol=1e-12)   # m = 0: score of 0 input


def test_pixel_set_score_is_the_mean_probability_over_the_set():
    model = segnet()
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[2:9, 3:7] = True
    explainer = CAMExplainer(model)
    scorer = ev.common.Scorer(explainer, x, PixelSet(1, mask))
    expected = model(x).softmax(1)[:, 1][:, mask].mean(1)
    torch.testing.assert_close(scorer.original, expected.detach())
    weights = mask.double() * 2.5
    weighted = ev.common.Scorer(explainer, x, PixelSet(1, weights))
    torch.testing.assert_close(weighted.original, expected.detach())


@pytest.mark.parametrize("ndim", [2, 3])
def test_invariant_to_batch_size_and_splitting(ndim):
    torch.manual_seed(1)
    model = classifier(ndim=ndim)
    x = torch.randn(4, 1, *[8] * ndim, dtype=torch.float64)
    explainer = CAMExplainer(model)
    whole = ev.deletion_insertion(explainer, x, method="hirescam", steps=6)
    rows = ev.deletion_insertion(explainer, x, method="hirescam", steps=6, batch_size=1)
    split = ev.deletion_insertion(explainer, [x[:1], x[1:]], method="hirescam", steps=6, batch_size=7)
    for other in (rows, split):
        torch.testing.assert_close(other.deletion_curve, whole.deletion_curve, rtol=1e-12, atol=0)
        torch.testing.assert_close(other.insertion_auc, whole.insertion_auc, rtol=1e-12, atol=0)
    drop, drop_split = ev.average_drop(explainer, x), ev.average_drop(explainer, [(x[:3],), (x[3:],)])
    torch.testing.assert_close(drop.drop, drop_split.drop)


def test_data_set_items_give_targets_by_position_and_name():
    torch.manual_seed(2)
    explainer = CAMExplainer(classifier(ndim=2))
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3])
    whole = ev.deletion_insertion(explainer, x, labels, steps=4)
    tuples = ev.deletion_insertion(explainer, [(x[:2], labels[:2]), (x[2:], labels[2:])], steps=4)
    dicts = ev.deletion_insertion(explainer, [{"x": x[:2], "target": labels[:2]}, {"x": x[2:], "target": labels[2:]}],
                                  steps=4)
    torch.testing.assert_close(tuples.deletion_auc, whole.deletion_auc)
    torch.testing.assert_close(dicts.deletion_auc, whole.deletion_auc)
    assert not torch.allclose(ev.deletion_insertion(explainer, x, steps=4).deletion_curve[:, 1:-1],
                              whole.deletion_curve[:, 1:-1])
    with pytest.raises(ValueError, match="given both"):
        ev.deletion_insertion(explainer, [(x, labels)], target=1)
    with pytest.raises(ValueError, match="unknown argument"):
        ev.deletion_insertion(explainer, [{"x": x, "labels": labels}])
    with pytest.raises(ValueError, match="no batches"):
        ev.deletion_insertion(explainer, [])


def test_summary_and_text():
    explainer = CAMExplainer(classifier(ndim=2))
    r = ev.deletion_insertion(explainer, torch.randn(3, 1, 8, 8, dtype=torch.float64), steps=4)
    summary = r.summary()
    assert set(summary) == {"deletion_auc", "insertion_auc"}
    assert summary["deletion_auc"][0] == pytest.approx(float(r.deletion_auc.mean()))
    assert summary["deletion_auc"][1] == pytest.approx(float(r.deletion_auc.std(unbiased=False)))
    assert "deletion_auc" in str(r) and "n=3" in str(r)


def test_bad_maps_and_steps_are_refused_with_what_is_accepted():
    explainer = CAMExplainer(classifier(ndim=2))
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(2, 8, 8\)"):
        ev.deletion_insertion(explainer, x, maps=torch.rand(2, 2, 2))
    with pytest.raises(ValueError, match="NaN or inf"):
        ev.deletion_insertion(explainer, x, maps=torch.full((2, 8, 8), float("nan")))
    with pytest.raises(TypeError, match="float"):
        ev.average_drop(explainer, x, maps=torch.ones(2, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="steps must be"):
        ev.deletion_insertion(explainer, x, steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        ev.deletion_insertion(explainer, x, batch_size=0)
    with pytest.raises(TypeError, match="iterable of batches"):
        ev.deletion_insertion(explainer, 3.0)


def test_model_untouched_and_progress_callable():
    model = classifier(ndim=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    calls = []
    ev.deletion_insertion(CAMExplainer(model), torch.randn(2, 1, 8, 8, 8, dtype=torch.float64), steps=4,
                          batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (2 * 3 + 1, 2 * 3 + 1) and len(calls) == 7        # one pass of 2 rows per input
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [p.requires_grad for p in model.parameters()] == flags and all(p.grad is None for p in model.parameters())
    assert not model.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
