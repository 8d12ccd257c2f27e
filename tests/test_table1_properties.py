"""The Table 1 methods' defining properties, from the papers' definitions.

CAM = Z * Grad-CAM on a GAP + linear head, XRes-CAM with p = 1 = HiResCAM (and one mean window = Grad-CAM),
Ablation-CAM's weights by hand, DeepLIFT's summation-to-delta, FullGrad's completeness, Eigen-CAM's class
agnosticism, Score-CAM's constant channels. Oracles against peers and hand-written equations live in
test_oracles_table1*.py; the passes from the layer up and the methods' hygiene in test_table1_passes.py.
"""

import pytest
import torch
from torch import nn

from cam_widgets import AblationCAM, CAMExplainer, PixelSet, XResCAM
from cam_widgets.targets import box

from .models import classifier, gap_linear, replaced_forward, segnet


# --- the papers' properties ----------------------------------------------------------------------


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_cam_is_the_linear_weights_and_z_times_gradcam(ndim):
    model = gap_linear(ndim)
    x = torch.randn(2, 1, *(6,) * ndim, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["3"])
    cam, grad = explainer.explain(x, [1, 3], "cam"), explainer.explain(x, [1, 3], "gradcam")
    torch.testing.assert_close(cam.weights, model[6].weight[[1, 3]].detach())
    torch.testing.assert_close(cam.raw, grad.raw * 6**ndim)
    every = explainer.explain_all_classes(x, "cam")
    torch.testing.assert_close(every.weights[:, 0], model[6].weight.detach())


def test_cam_refuses_other_heads_and_suggests_gradcam():
    with pytest.raises(ValueError, match="global average pooling of this layer followed by one linear.*method='gradcam'"):
        CAMExplainer(classifier(2), layers=["4"]).explain(torch.randn(1, 1, 8, 8, dtype=torch.float64), 0, "cam")
    with pytest.raises(ValueError, match="global average pooling"):  # n/a for a segmentation target
        CAMExplainer(segnet(), layers=["bottleneck"]).explain(
            torch.randn(1, 1, 8, 8, dtype=torch.float64), PixelSet(1, box((8, 8), (0, 0), (4, 4))), "cam")


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_xrescam_with_windows_of_one_is_hirescam(ndim):
    model = classifier(2) if ndim == 2 else gap_linear(ndim)
    x = torch.randn(2, 1, *(8,) * ndim, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["2"])
    torch.testing.assert_close(explainer.explain(x, 1, XResCAM(pool=1)).raw, explainer.explain(x, 1, "hirescam").raw)
    assert not torch.allclose(explainer.explain(x, 1, XResCAM(pool=2)).raw, explainer.explain(x, 1, "hirescam").raw)


def test_mean_xrescam_with_the_whole_map_as_window_is_gradcam_times_z():
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["2"])
    torch.testing.assert_close(explainer.explain(x, 1, XResCAM(pool=8, mode="mean")).raw,
                               explainer.explain(x, 1, "gradcam").raw)


def test_ablation_weights_by_hand_for_a_linear_head():
    """A -> flatten -> Linear: ``y - y_k = sum_u W[c, k, u] A_k[u]``, so ``w_k = that / |y|``."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 4, 4)).double().eval()
    x = torch.randn(2, 1, 5, 4, dtype=torch.float64)
    result = CAMExplainer(model, layers=["1"]).explain(x, [2, 0], AblationCAM(batch_size=2))
    a = model[:2](x).detach()
    weight = model[3].weight.detach().view(4, 3, 5, 4)
    y = model(x).detach()[[0, 1], [2, 0]]
    drop = torch.stack([(weight[c] * a[b]).sum((1, 2)) for b, c in enumerate([2, 0])])
    torch.testing.assert_close(result.weights, drop / y.abs()[:, None])
    torch.testing.assert_close(result.scores, y)


def test_liftcam_contributions_sum_to_the_difference_from_the_reference():
    """DeepLIFT's summation-to-delta: ``sum_k C_k = y(A) - y(A' = 0)``, here through ReLU and max-pooling."""
    model = classifier(2)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    result = CAMExplainer(model, layers=["4"]).explain(x, [0, 2, 4], "liftcam")
    a = model[:5](x).detach()
    at_reference = replaced_forward(model, model[4], torch.zeros_like(a), x)[[0, 1, 2], [0, 2, 4]]
    torch.testing.assert_close(result.weights.sum(1), result.scores - at_reference)


def test_fullgrad_is_complete_on_a_network_of_convolutions():
    """FullGrad's completeness (its paper's Eq. 2): with every bias a convolution's (no Linear), ReLU and
    max-pooling nets give ``y = sum(x * dy/dx) + sum over biases of sum(b * dy/dz)`` exactly."""
    from cam_widgets.probe import Probe

    model, x = segnet(), torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["dec"])
    target = PixelSet(1, box((8, 8), (1, 2), (6, 7)))
    explainer.explain(x, target, "fullgrad")
    probe = Probe(explainer, explainer._session, "dec", target, progress=False)
    input_term, biases = probe.input_and_bias_gradients()
    assert len(biases) == 4  # enc, bottleneck, dec and head convolutions
    total = input_term.flatten(2).sum(2) + sum((b.view(-1, 1, 1) * g).flatten(2).sum(2) for b, g in biases)
    torch.testing.assert_close(total[0], target(model(x)).detach())


def test_fullgrad_result_is_at_input_resolution_and_names_all_biases():
    result = CAMExplainer(classifier(3), layers=["7"]).explain(torch.randn(2, 1, 8, 8, 8, dtype=torch.float64), 1, "fullgrad")
    assert result.layer == "all biases" and result.raw.shape == (2, 8, 8, 8) and bool((result.raw >= 0).all())


def test_eigencam_is_class_agnostic_and_eigengradcam_is_not():
    model, x = classifier(2), torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    torch.testing.assert_close(explainer.explain(x, 0, "eigencam").raw, explainer.explain(x, 3, "eigencam").raw)
    assert not torch.allclose(explainer.explain(x, 0, "eigengradcam").raw, explainer.explain(x, 3, "eigengradcam").raw)


def test_scorecam_gives_a_constant_channel_no_weight():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(3, 2)).double().eval()
    with torch.no_grad():
        model[0].weight[1] = 0  # channel 1 is its bias everywhere: constant
        model[0].bias[1] = 0.7
    rows = []
    handle = model.register_forward_pre_hook(lambda module, args: rows.append(args[0].shape[0]))
    try:
        result = CAMExplainer(model, layers=["1"]).explain(torch.randn(2, 1, 6, 6, dtype=torch.float64), 1, "scorecam")
    finally:
        handle.remove()
    assert torch.equal(result.weights[:, 1], torch.zeros(2, dtype=torch.float64))
    assert bool((result.weights[:, [0, 2]] > 0).all())  # probabilities
    assert rows == [2, 2 * 2]  # the session's forward, then one pass of the two varying channels x 2 samples


def test_scorecam_of_a_layer_constant_everywhere_is_zero_without_a_pass():
    torch.manual_seed(8)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(3, 2)).double().eval()
    with torch.no_grad():
        model[0].weight.zero_()  # every channel is its bias everywhere
    result = CAMExplainer(model, layers=["1"]).explain(torch.randn(2, 1, 5, 5, dtype=torch.float64), 0, "scorecam")
    assert torch.equal(result.weights, torch.zeros(2, 3, dtype=torch.float64))
    assert torch.equal(result.map, torch.zeros_like(result.map))
