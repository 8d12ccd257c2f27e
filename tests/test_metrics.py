"""The Respond-CAM evaluation: L1 error (Eq. 4) and Kendall's tau-b (Eq. 5)."""

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from torch.utils.data import DataLoader, TensorDataset

from cam_widgets import CAMExplainer
from cam_widgets.metrics import evaluate_sum_to_score, map_sums, sum_to_score

from .test_methods import linear_head_net


def test_l1_and_tau_by_definition():
    torch.manual_seed(0)
    model = linear_head_net(2)
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    allc = CAMExplainer(model, layers=["1"]).explain_all_classes(x, "gradcam")
    sums, scores = map_sums(allc).numpy(), allc.scores.numpy()
    assert sums.shape == (3, 7)
    for b in range(3):
        torch.testing.assert_close(torch.tensor(sums[b, 4]), allc.raw[4, b].sum())
    result = sum_to_score(allc)
    np.testing.assert_allclose(result.l1, np.abs(sums - scores).mean(1))
    expected_tau = [kendalltau(sums[b], scores[b]).statistic for b in range(3)]
    np.testing.assert_allclose(result.tau, expected_tau)


def test_respond_cam_l1_is_the_mean_absolute_bias_for_a_linear_head():
    torch.manual_seed(1)
    model = linear_head_net(3)
    x = torch.rand(4, 2, 4, 4, 4, dtype=torch.float64)
    allc = CAMExplainer(model, layers=["4"]).explain_all_classes(x, "respondcam")
    result = sum_to_score(allc)
    np.testing.assert_allclose(result.l1, model[-1].bias.detach().abs().mean().item(), rtol=1e-6)


def test_evaluation_over_a_loader_concatenates_batches():
    torch.manual_seed(2)
    model = linear_head_net(2)
    x = torch.rand(5, 2, 8, 8, dtype=torch.float64)
    loader = DataLoader(TensorDataset(x, torch.zeros(5)), batch_size=2)
    explainer = CAMExplainer(model, layers=["4"])
    results = evaluate_sum_to_score(explainer, loader, progress=False)
    assert set(results) == {"gradcam", "respondcam"}
    whole = sum_to_score(explainer.explain_all_classes(x, "gradcam"))
    np.testing.assert_allclose(results["gradcam"].l1, whole.l1)
    np.testing.assert_allclose(results["gradcam"].tau, whole.tau)
    mean, std = results["respondcam"].l1_mean_std
    assert mean == pytest.approx(model[-1].bias.detach().abs().mean().item()) and std == pytest.approx(0, abs=1e-9)
    assert "L1" in str(results["gradcam"]) and "n=5" in str(results["gradcam"])
