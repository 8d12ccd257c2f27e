"""The new Table 1 methods against hand-written oracles of their equations, in 1D, 2D and 3D.

The oracles (``tests/peers/equations.py``, DESIGN.md section 9) share no code with the package: explicit
masked forwards per channel (Score-CAM), full forwards with channel k zeroed by a hook (Ablation-CAM),
NumPy's SVD (Eigen-CAM), a loop over the pooling windows (XRes-CAM), the official FullGrad formulas,
and DeepLIFT's Rescale rule as a linearised network (LIFT-CAM; it agrees with Captum's DeepLift, see
``test_hand_deeplift_equals_captum``). Targets: class logits on a classifier and a ``PixelSet`` on a
segmenter (Seg-Score-CAM, Seg-Ablation-CAM, ...). The oracle always runs in float64; ours runs in
float64 (relative 1e-6) and float32 (relative 1e-4, DESIGN.md 8), on the same weights. Tolerances are
relative to each value and, for values near 0, to the oracle's largest magnitude.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import pytest
import torch
from captum.attr import DeepLift
from torch import Tensor, nn

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets.methods import XResCAM
from tests.peers import equations as E

RTOL = {torch.float64: 1e-6, torch.float32: 1e-4}
pytestmark = [  # Captum's notices when we call its DeepLift ourselves
    pytest.mark.filterwarnings("ignore:Setting forward, backward hooks:UserWarning"),
    pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients:UserWarning"),
]
CLASS_LAYERS = ["features.4", "features.6"]  # signed, full resolution; rectified, half resolution (dead channels)
SEG_LAYERS = ["1", "5"]  # rectified, full resolution; signed logits, half resolution


class Case(NamedTuple):
    model: nn.Module  # float64, for the oracle; ours gets a copy in the tested dtype
    x: Tensor
    target: object  # what we pass to explain()
    y: object  # the oracle's target function: outputs -> (B,)
    layer: str


@pytest.fixture(params=[1, 2, 3], ids=["1d", "2d", "3d"])
def ndim(request) -> int:
    return request.param


@pytest.fixture(params=[torch.float64, torch.float32], ids=["f64", "f32"])
def dtype(request):
    return request.param


@pytest.fixture(params=[(kind, i) for kind in ("class", "pixel-set") for i in range(2)],
                ids=[f"{kind}-{layer}" for kind, layers in (("class", CLASS_LAYERS), ("pixel-set", SEG_LAYERS))
                     for layer in layers])
def case(request, ndim) -> Case:
    kind, i = request.param
    if kind == "class":
        return Case(E.classifier(ndim), E.batch(ndim), E.CLASSES, E.class_target(E.CLASSES), CLASS_LAYERS[i])
    mask = E.seg_mask(ndim)
    return Case(E.segmenter(ndim), E.batch(ndim, seed=200), PixelSet(E.SEG_CLASSES, mask),
                E.pixel_set_target(E.SEG_CLASSES, mask), SEG_LAYERS[i])


def ours(case: Case, method, dtype):
    model = copy.deepcopy(case.model).to(dtype)
    result = CAMExplainer(model, layers=[case.layer]).explain(case.x.to(dtype), target=case.target, method=method,
                                                              progress=False)
    assert result.raw.dtype == dtype
    return result


def assert_same(mine: Tensor, oracle: Tensor, dtype) -> None:
    """Equal to the dtype's precision, and not trivially: every sample has a non-zero oracle value."""
    assert mine.shape == oracle.shape, (mine.shape, oracle.shape)
    assert (oracle.flatten(1).abs().amax(1) > 1e-6).all(), "degenerate oracle (all zero for a sample)"
    rtol = RTOL[dtype]
    torch.testing.assert_close(mine.double(), oracle, rtol=rtol, atol=rtol * oracle.abs().max().item())


def a_and_g(case: Case):
    return E.activation_and_gradient(case.model, case.layer, case.x, case.y)


# --- Score-CAM, Ablation-CAM, LIFT-CAM: weights and maps --------------------------------------------------


def test_scorecam_equals_masked_forward_loop(case, dtype):
    """alpha_k = y(softmax(model(x * H_k))), H_k = minmax(up(A_k)); constant channels 0; L = sum alpha_k A_k."""
    A, _ = a_and_g(case)
    alpha = E.score_cam_oracle(case.model, case.x, A, case.y)
    result = ours(case, "scorecam", dtype)
    assert_same(result.weights, alpha, dtype)
    assert_same(result.raw, E.weighted_sum(alpha, A), dtype)


def test_scorecam_skips_constant_channels():
    """The half-resolution ReLU of the classifier has dead channels (max == min): their alpha is exactly
    0 (the authors' code skips them), though a masked forward of x * 0 would score them > 0."""
    case = Case(E.classifier(2), E.batch(2), E.CLASSES, E.class_target(E.CLASSES), "features.6")
    A, _ = a_and_g(case)
    dead = A.flatten(2).amax(-1) == A.flatten(2).amin(-1)
    assert dead.any() and not dead.all()
    weights = ours(case, "scorecam", torch.float64).weights
    assert (weights[dead] == 0).all() and (weights[~dead] > 0).all()
    zero_input_score = case.y(torch.softmax(case.model(torch.zeros_like(case.x)), 1))
    assert (zero_input_score > 0.01).all()


def test_ablationcam_equals_zeroed_channel_loop(case, dtype):
    """y_k: full forward with channel k of A zeroed by a hook; w_k = (y - y_k) / max(|y|, 1e-7)."""
    A, _ = a_and_g(case)
    y, y_k = E.ablated_scores(case.model, case.layer, case.x, case.y, A.shape[1])
    w = E.ablation_weights(y, y_k)
    result = ours(case, "ablationcam", dtype)
    assert_same(result.weights, w, dtype)
    assert_same(result.raw, E.weighted_sum(w, A), dtype)
    torch.testing.assert_close(result.scores.double(), y, rtol=RTOL[dtype], atol=RTOL[dtype] * y.abs().max().item())


def test_liftcam_equals_hand_deeplift(case, dtype):
    """C_k = sum over positions of DeepLIFT Rescale contributions of A_k (reference 0); L = sum C_k A_k."""
    A, _ = a_and_g(case)
    contributions = E.deeplift_rescale(E.above(case.model, case.layer), A, case.y)
    above = E.above(case.model, case.layer)  # summation to delta: the oracle is DeepLIFT, not a gradient
    delta = case.y(above(A)) - case.y(above(torch.zeros_like(A)))
    torch.testing.assert_close(contributions.flatten(1).sum(1), delta.detach(), rtol=1e-9, atol=1e-12)
    C = contributions.flatten(2).sum(-1)
    result = ours(case, "liftcam", dtype)
    assert_same(result.weights, C, dtype)
    assert_same(result.raw, E.weighted_sum(C, A), dtype)


def test_hand_deeplift_equals_captum(ndim):
    """The hand Rescale oracle is Captum's DeepLift on the part above the layer (so both are DeepLIFT)."""
    mask = E.seg_mask(ndim)
    model, x, y = E.segmenter(ndim), E.batch(ndim, seed=200), E.pixel_set_target(E.SEG_CLASSES, mask)
    A, _ = E.activation_and_gradient(model, "1", x, y)
    wrapper = nn.Sequential(copy.deepcopy(E.above(model, "1")), Lambda(lambda out: y(out)[:, None]))
    captum = DeepLift(wrapper).attribute(A.clone(), baselines=torch.zeros_like(A), target=0)
    torch.testing.assert_close(E.deeplift_rescale(E.above(model, "1"), A, y), captum.detach(), rtol=1e-9, atol=1e-12)


class Lambda(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, value):
        return self.function(value)


# --- Eigen-CAM, Eigen-Grad-CAM, XRes-CAM: maps ----------------------------------------------------------


def test_eigencam_equals_numpy_svd(case, dtype):
    """Centred positions x channels matrix, first right singular vector with sum_k v_k >= 0, projected."""
    A, _ = a_and_g(case)
    result = ours(case, "eigencam", dtype)
    assert_same(result.raw, E.eigen_cam_oracle(A), dtype)
    assert result.weights is None


def test_eigengradcam_equals_numpy_svd_of_g_times_a(case, dtype):
    A, g = a_and_g(case)
    assert_same(ours(case, "eigengradcam", dtype).raw, E.eigen_cam_oracle(g * A), dtype)


def test_eigencam_sign_rule(case):
    """Our sign: sum_k v_k >= 0, i.e. (as M^T M v = s^2 v) a non-negative correlation of the map M v with
    the centred channel sum M 1 = sum_k A_k - mean; checked here directly on ours, without an SVD."""
    A, _ = a_and_g(case)
    raw = ours(case, "eigencam", torch.float64).raw
    centred_sum = A.sum(1) - A.sum(1).flatten(1).mean(1)[(...,) + (None,) * (A.ndim - 2)]
    assert ((raw * centred_sum).flatten(1).sum(1) >= 0).all()


@pytest.mark.parametrize("pool, mode, dtype", [(2, "max", torch.float64), (2, "max", torch.float32),
                                               (2, "mean", torch.float64), (3, "max", torch.float64),
                                               (3, "mean", torch.float64)],
                         ids=["p2-max-f64", "p2-max-f32", "p2-mean-f64", "p3-max-f64", "p3-mean-f64"])
def test_xrescam_equals_window_loop(case, pool, mode, dtype):
    """Windows of ``pool`` per axis; the layers' sizes (14, 8x10, 6x8x4 and halves) leave partial edge
    windows for p = 2 or 3 in every ndim."""
    A, g = a_and_g(case)
    method = "xrescam" if (pool, mode) == (2, "max") else XResCAM(pool=pool, mode=mode)  # the name's defaults
    assert_same(ours(case, method, dtype).raw, E.xres_cam_oracle(A, g, pool, mode), dtype)


# --- FullGrad and CAM -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["class", "pixel-set"])
def test_fullgrad_equals_official_formulas(ndim, dtype, kind):
    """psi per sample over all channels and positions, BatchNorm's effective bias, the strided conv's
    term upsampled (align_corners=False), the bias-free conv left out; raw at input resolution."""
    if kind == "class":
        model, x, layer = E.classifier(ndim), E.batch(ndim), "features.4"
        target, y = E.CLASSES, E.class_target(E.CLASSES)
    else:
        mask = E.seg_mask(ndim)
        model, x, layer = E.segmenter(ndim), E.batch(ndim, seed=200), "4"
        target, y = PixelSet(E.SEG_CLASSES, mask), E.pixel_set_target(E.SEG_CLASSES, mask)
    result = ours(Case(model, x, target, y, layer), "fullgrad", dtype)
    assert result.raw.shape == (x.shape[0], *x.shape[2:])
    assert "bias" in result.layer
    assert_same(result.raw, E.fullgrad_oracle(model, x, y), dtype)


def test_cam_equals_linear_weights(ndim, dtype):
    """Zhou et al. 2016 on GAP + linear: w_ck = the linear layer's weights, L = sum_k w_ck A_k (signed A)."""
    model, x = E.gap_classifier(ndim), E.batch(ndim)
    A, _ = E.activation_and_gradient(model, "3", x, E.class_target(E.CLASSES))
    w = model[-1].weight.detach()[E.CLASSES]
    result = ours(Case(model, x, E.CLASSES, None, "3"), "cam", dtype)
    assert_same(result.weights, w, dtype)
    assert_same(result.raw, E.weighted_sum(w, A), dtype)
    assert (result.raw < 0).any()
