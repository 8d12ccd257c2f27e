"""Segmentation faithfulness (DESIGN.md 10) by hand, its random reference, and its invariances."""

import numpy as np
import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets import evaluation as ev
from cam_widgets.evaluation.segmentation import RANDOM_DRAWS, random_reference
from tests.models import segnet


def threshold_net(ndim: int) -> nn.Module:
    """Logits ``(x, 0.5)`` per position: class 0 where ``x > 0.5``, class 1 elsewhere."""
    conv = (nn.Conv2d if ndim == 2 else nn.Conv3d)(1, 2, 1).double()
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0] = 1.0
        conv.bias.copy_(torch.tensor([0.0, 0.5]))
    return nn.Sequential(conv).eval()


@pytest.mark.parametrize("shape", [(2, 5), (1, 2, 5)])
def test_score_drop_and_dice_by_hand(shape):
    values = torch.tensor([1.0, 2.0, 0.2, 3.0, 4.0, 1.5, 0.1, 2.5, 1.0, 0.3], dtype=torch.float64)
    x = values.reshape(1, 1, *shape)
    members = torch.tensor([1, 1, 1, 1, 0, 0, 1, 1, 0, 1], dtype=torch.bool).reshape(shape)
    maps = torch.arange(10, 0, -1, dtype=torch.float64).reshape(1, *shape)   # ranking: positions 0, 1, 2, ...
    r = ev.segmentation_faithfulness(CAMExplainer(threshold_net(len(shape))), x, PixelSet(0, members),
                                     fractions=(0.1, 0.2, 0.5), maps=maps)
    m = members.reshape(-1).numpy()
    v = values.numpy()
    y = v[m].sum()
    before = (v > 0.5) & m
    for j, k in enumerate((1, 2, 5)):           # floor(f * 10 + 0.5) positions removed
        w = v.copy()
        w[:k] = 0
        after = (w > 0.5) & m
        assert r.score_drop[0, j].item() == pytest.approx((y - w[m].sum()) / y, rel=1e-12)
        dice = 2 * (before & after).sum() / (before.sum() + after.sum())
        assert r.dice[0, j].item() == pytest.approx(dice, rel=1e-12)
    np.testing.assert_allclose(r.fractions, [0.1, 0.2, 0.5])


def test_random_reference_is_the_mean_of_seeded_uniform_draws():
    x = torch.rand(2, 1, 2, 5, dtype=torch.float64) * 2
    members = torch.ones(2, 5, dtype=torch.bool)
    explainer = CAMExplainer(threshold_net(2))
    reference = random_reference(explainer, x, PixelSet(0, members), fractions=(0.2,), seed=3)
    generator = torch.Generator().manual_seed(3)
    drops = []
    for _ in range(RANDOM_DRAWS):
        order = torch.rand(2, 10, generator=generator).argsort(1)
        w = x.reshape(2, 10).clone()
        w.scatter_(1, order[:, :2], 0.0)
        drops.append((x.reshape(2, 10).sum(1) - w.sum(1)) / x.reshape(2, 10).sum(1))
    torch.testing.assert_close(reference[:, 0, 0], torch.stack(drops).mean(0))
    again = random_reference(explainer, x, PixelSet(0, members), fractions=(0.2,), seed=3)
    other = random_reference(explainer, x, PixelSet(0, members), fractions=(0.2,), seed=4)
    assert torch.equal(reference, again) and not torch.equal(reference, other)


def test_a_faithful_map_beats_random_positions():
    """On the threshold net the map x itself ranks the positions that carry y: its drop is larger."""
    torch.manual_seed(0)
    x = torch.rand(3, 1, 12, 12, dtype=torch.float64) * 2
    members = torch.zeros(12, 12, dtype=torch.bool)
    members[2:10, 2:10] = True
    r = ev.segmentation_faithfulness(CAMExplainer(threshold_net(2)), x, PixelSet(0, members), maps=x[:, 0] * members)
    assert (r.score_drop > r.random_score_drop).all()
    assert (r.dice < r.random_dice).all()


def test_invariant_to_batch_size_and_shared_reference():
    model = segnet()
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    mask = torch.zeros(3, 16, 16, dtype=torch.bool)
    mask[:, 4:11, 5:12] = True
    target = PixelSet([0, 1, 2], mask)
    explainer = CAMExplainer(model)
    whole = ev.segmentation_faithfulness(explainer, x, target, method="hirescam")
    rows = ev.segmentation_faithfulness(explainer, x, target, method="hirescam", batch_size=1)
    reference = random_reference(explainer, x, target)
    shared = ev.segmentation_faithfulness(explainer, x, target, method="hirescam", reference=reference)
    for other in (rows, shared):
        torch.testing.assert_close(other.score_drop, whole.score_drop, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(other.random_dice, whole.random_dice, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="reference has shape"):
        ev.segmentation_faithfulness(explainer, x, target, reference=reference[:, :2])


def test_errors_say_what_is_accepted():
    explainer = CAMExplainer(segnet())
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"PixelSet\(c, mask\)"):
        ev.segmentation_faithfulness(explainer, x, 1)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        ev.segmentation_faithfulness(explainer, x, PixelSet(0, torch.ones(16, 16, dtype=torch.bool)), fractions=(5,))


def test_both_sets_empty_gives_dice_one():
    x = torch.zeros(1, 1, 2, 5, dtype=torch.float64)
    members = torch.ones(2, 5, dtype=torch.bool)
    r = ev.segmentation_faithfulness(CAMExplainer(threshold_net(2)), x, PixelSet(0, members), maps=torch.rand(1, 2, 5,
                                     dtype=torch.float64))
    assert torch.equal(r.dice, torch.ones_like(r.dice)) and torch.equal(r.random_dice, torch.ones_like(r.dice))
