"""Each formula on a hand-computed case (2D and 3D), and the papers' proofs on real networks."""

import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer
from cam_widgets.methods import (
    METHODS,
    get_method,
    gradcam,
    gradcam_plus_plus,
    gradcam_plus_plus_weights,
    gradcam_weights,
    hirescam,
    layercam,
    respond_weights,
    respondcam,
    xgradcam,
)
from .models import gradient_methods

# --- a 2x2 case with two channels, worked out by hand ---------------------------------------
# A_0 = [[1, 2], [3, 4]]  (sum 10)     g_0 = [[1, 0], [0, 1]]   (mean 0.5)
# A_1 = [[0, 1], [1, 0]]  (sum 2)      g_1 = [[2, -2], [0, 2]]  (mean 0.5)
A2 = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]]], dtype=torch.float64)
G2 = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]], [[2.0, -2.0], [0.0, 2.0]]]], dtype=torch.float64)


def t(values):
    return torch.tensor(values, dtype=torch.float64)


def test_gradcam_by_hand():
    # w = (0.5, 0.5); L = 0.5 A_0 + 0.5 A_1
    torch.testing.assert_close(gradcam_weights(A2, G2), t([[0.5, 0.5]]))
    torch.testing.assert_close(gradcam(A2, G2), t([[[0.5, 1.5], [2.0, 2.0]]]))


def test_hirescam_by_hand():
    # g_0 A_0 + g_1 A_1 = [[1, 0], [0, 4]] + [[0, -2], [0, 0]]
    torch.testing.assert_close(hirescam(A2, G2), t([[[1.0, -2.0], [0.0, 4.0]]]))


def test_layercam_by_hand():
    # ReLU(g_1) = [[2, 0], [0, 2]] is zero wherever A_1 is not, so only g_0 A_0 remains
    torch.testing.assert_close(layercam(A2, G2), t([[[1.0, 0.0], [0.0, 4.0]]]))


def test_respondcam_and_xgradcam_by_hand():
    # a_0 = (1*1 + 4*1) / 10 = 0.5 ; a_1 = (1*-2) / 2 = -1 ; L = 0.5 A_0 - A_1
    torch.testing.assert_close(respond_weights(A2, G2), t([[0.5, -1.0]]))
    expected = t([[[0.5, 0.0], [0.5, 2.0]]])
    torch.testing.assert_close(respondcam(A2, G2), expected)
    torch.testing.assert_close(xgradcam(A2, G2), expected)
    # the map sums to sum(A * g) = 5 - 2 (the sum-to-score identity), up to eps = 1e-10 in a_k
    assert respondcam(A2, G2).sum().item() == pytest.approx(3.0, rel=1e-9)


def test_gradcam_plus_plus_by_hand():
    # S_0 = 10: alpha = 1 / (2 + 10) at the two g = 1 positions -> w_0 = 2 * 1/12 = 1/6
    # S_1 = 2:  alpha = 4 / (8 + 2*8) = 1/6 at the two g = 2 positions, times ReLU(g) = 2 -> w_1 = 2/3
    #           (g = -2 and g = 0 give alpha = 0)
    torch.testing.assert_close(gradcam_plus_plus_weights(A2, G2), t([[1 / 6, 2 / 3]]))
    torch.testing.assert_close(gradcam_plus_plus(A2, G2), t([[[1 / 6, 1.0], [7 / 6, 2 / 3]]]))


def test_gradcam_plus_plus_does_not_mix_indices():
    # the common library bug uses sum_ab A_ab g_ab^3 in the denominator: 1/(2 + 5) for channel 0
    mixed_w0 = 2 * (1 / (2 + (A2[0, 0] * G2[0, 0] ** 3).sum().item()))
    assert gradcam_plus_plus_weights(A2, G2)[0, 0].item() != pytest.approx(mixed_w0)


# --- a 3D case: one channel, two voxels A = (1, 3), g = (2, 4) ----------------------------------
A3 = t([1.0, 3.0]).view(1, 1, 2, 1, 1)
G3 = t([2.0, 4.0]).view(1, 1, 2, 1, 1)


@pytest.mark.parametrize(
    "method, expected",
    [
        ("gradcam", [3.0, 9.0]),  # w = mean g = 3
        ("hirescam", [2.0, 12.0]),
        ("layercam", [2.0, 12.0]),
        ("respondcam", [3.5, 10.5]),  # a = (2 + 12) / 4
        ("xgradcam", [3.5, 10.5]),
        # S = 4: alpha = 4/(8 + 32) = 0.1 at g=2, 16/(32 + 256) = 1/18 at g=4; w = 0.2 + 4/18 = 19/45
        ("gradcam++", [19 / 45, 57 / 45]),
    ],
)
def test_3d_by_hand(method, expected):
    torch.testing.assert_close(get_method(method).raw(A3, G3), t(expected).view(1, 2, 1, 1))


def test_zero_gradients_give_zero_maps_not_nan():
    a = torch.rand(2, 3, 4, 4, 4, dtype=torch.float64)
    for method in [*gradient_methods(), METHODS["cam"]]:
        raw = method.raw(a, torch.zeros_like(a))
        assert torch.equal(raw, torch.zeros_like(raw)), method.name


def test_class_axis_broadcasts():
    """Gradients with a leading class axis give the per-class maps of separate calls."""
    a = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    g = torch.randn(4, 2, 3, 5, 4, dtype=torch.float64)
    for method in gradient_methods():
        stacked = method.raw(a, g)
        assert stacked.shape == (4, 2, 5, 4)
        for c in range(4):
            torch.testing.assert_close(stacked[c], method.raw(a, g[c]))


def test_method_names_and_aliases():
    assert get_method("Grad-CAM++").name == "gradcam++"
    assert get_method("respond_cam").name == "respondcam"
    assert get_method("Seg-HiRes-Grad-CAM").name == "hirescam"
    assert get_method("Seg-XRes-CAM").name == get_method("segxrescam").name == "xrescam"
    assert get_method("Seg-Score-CAM").name == "scorecam" and get_method("seg_ablation_cam").name == "ablationcam"
    assert get_method("Seg-CAM").name == "gradcam"  # Seg-Grad-CAM's other name, not CAM (n/a for segmentation)
    with pytest.raises(ValueError, match="valid methods: ablationcam, cam, eigencam"):
        get_method("scorecam2")
    assert [m for m, spec in METHODS.items() if not spec.final_relu] == ["respondcam"]


# --- proofs on networks whose head after the target layer is one Linear layer -------------------


def linear_head_net(ndim: int) -> nn.Sequential:
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if ndim == 2 else (nn.Conv3d, nn.MaxPool3d)
    side = 8 if ndim == 2 else 4
    return nn.Sequential(
        conv(2, 5, 3, padding=1), nn.ReLU(), conv(5, 6, 3, padding=1), nn.ReLU(), pool(2),
        nn.Flatten(), nn.Linear(6 * (side // 2) ** ndim, 7),
    ).double().eval()


@pytest.mark.parametrize("ndim", [2, 3])
def test_respond_cam_sums_to_score_minus_bias(ndim):
    torch.manual_seed(ndim)
    model = linear_head_net(ndim)
    x = torch.randn(3, 2, *(8 if ndim == 2 else 4,) * ndim, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    bias = model[-1].bias.detach()
    for c in range(7):
        result = explainer.explain(x, target=c, method="respondcam")
        torch.testing.assert_close(result.raw.flatten(1).sum(1), result.scores - bias[c], rtol=1e-6, atol=1e-8)
        # HiResCAM's raw map is the gradient-times-input decomposition of y - b
        hires = explainer.explain(x, target=c, method="hirescam")
        torch.testing.assert_close(hires.raw.flatten(1).sum(1), hires.scores - bias[c], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("ndim", [2, 3])
def test_gradcam_weights_are_spatial_mean_of_linear_weights(ndim):
    """With one Linear head, dy_c/dA is the head's weight row W_c, reshaped: w_k = mean_ij W_c[k, ij]."""
    torch.manual_seed(10 + ndim)
    model = linear_head_net(ndim)
    x = torch.randn(2, 2, *(8 if ndim == 2 else 4,) * ndim, dtype=torch.float64)
    result = CAMExplainer(model, layers=["4"]).explain(x, target=[1, 4], method="gradcam")
    weight = model[-1].weight.detach()
    for b, c in enumerate([1, 4]):
        expected = weight[c].view(6, -1).mean(1)
        torch.testing.assert_close(result.weights[b], expected)


def test_grad_cam_does_not_sum_to_score_where_respond_cam_does():
    """The evaluation's premise: Grad-CAM's sums miss the score on a network with a linear head."""
    torch.manual_seed(3)
    model = linear_head_net(2)
    x = torch.rand(4, 2, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    grad_sum = explainer.explain(x, 0, "gradcam").raw.flatten(1).sum(1)
    respond = explainer.explain(x, 0, "respondcam")
    target = respond.scores - model[-1].bias[0].detach()
    assert (grad_sum - target).abs().max() > 1e-3
    torch.testing.assert_close(respond.raw.flatten(1).sum(1), target)
