"""The shared pieces of the metrics: Spearman's rho (against SciPy), ranking, counts and removal masks."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from cam_widgets.evaluation.common import centred_ranks, count_of, ranking, removal_masks, spearman


@pytest.mark.parametrize("ties", [False, True])
def test_spearman_equals_scipy_with_and_without_ties(ties):
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(6, 4, 5, 3, generator=generator, dtype=torch.float64)
    b = a + 0.5 * torch.rand(a.shape, generator=generator, dtype=torch.float64)
    if ties:
        a, b = (a * 4).round(), (b * 3).round()
    expected = [spearmanr(u.flatten(), v.flatten()).statistic for u, v in zip(a.numpy(), b.numpy())]
    np.testing.assert_allclose(spearman(a, b), expected, rtol=1e-12)
    np.testing.assert_allclose(spearman(centred_ranks(a), b), expected, rtol=1e-12)


def test_spearman_is_nan_for_a_constant_map():
    a = torch.ones(2, 9, dtype=torch.float64)
    b = torch.rand(2, 9, dtype=torch.float64)
    assert torch.isnan(spearman(a, b)).all() and torch.isnan(spearman(b, a)).all()


def test_ranking_is_descending_with_ties_in_c_order_and_counts_round_half_up():
    maps = torch.tensor([[[0.5, 0.9], [0.5, 0.1]]])
    assert ranking(maps).tolist() == [[1, 0, 2, 3]]
    assert [count_of(p, 10) for p in (5, 14, 15, 25, 100)] == [1, 1, 2, 3, 10]    # floor(p P / 100 + 0.5)
    masks = removal_masks(ranking(maps), torch.tensor([0, 1, 3]))
    assert masks.tolist() == [[[False] * 4], [[False, True, False, False]], [[True, True, True, False]]]
