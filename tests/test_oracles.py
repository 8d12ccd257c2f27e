"""Our CAMs against independent implementations, in 2D and 3D.

Oracles: Captum (Grad-CAM, gradient x activation), torchcam (Grad-CAM, XGrad-CAM, LayerCAM,
and Grad-CAM++ as a counter-example), and explicit-loop transcriptions of the papers' equations
(Grad-CAM++ Eq. 19, Respond-CAM Eq. 1-2, XGrad-CAM Eq. 9) written here, position by position.
Everything runs in float64 and is compared to relative 1e-6 (DESIGN.md, Decisions: Numbers), at
layer resolution: our ``.raw``, with the method's final ReLU applied where the oracle applies it.
"""

from __future__ import annotations

import copy
import itertools
from collections import OrderedDict
from math import prod
from typing import NamedTuple

import pytest
import torch
from captum.attr import LayerGradCam, LayerGradientXActivation
from torch import Tensor, nn
from torchcam.methods import GradCAM, GradCAMpp, LayerCAM, XGradCAM

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets.methods import (
    RESPOND_CAM_EPS,
    gradcam_plus_plus,
    gradcam_plus_plus_weights,
    respond_weights,
    respondcam,
)

from .peers.equations import activation_and_gradient, submodule

RTOL, ATOL = 1e-6, 1e-9
N_CLASSES = 5
CLASSES = [1, 4, 2]  # one target class per sample of a batch of 3
INPUT = {2: (2, 8, 10), 3: (1, 6, 8, 4)}  # (C, *spatial): non-square so that axis mix-ups show
CONV = {2: nn.Conv2d, 3: nn.Conv3d}
POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
# layers compared: the first ReLU's output (rectified, full resolution) and the pooled LeakyReLU
# output that feeds the dense head (signed, and its gradient is non-zero where it is negative: with
# a ReLU there, g = 0 wherever A < 0 and a sign error in A would go unnoticed)
RECTIFIED, SIGNED = "features.1", "features.4"
LAYERS = [RECTIFIED, SIGNED]


# --- shared models, inputs and helpers ---------------------------------------------------------


def classifier(ndim: int, seed: int = 4) -> nn.Module:
    """Conv-ReLU-Conv-LeakyReLU-MaxPool, then two hidden Linear layers (so dy/dA varies with A and
    with the position) and a linear head; float64, eval mode. Seed 4: every sample's rectified map
    is non-zero for every method, layer and ndim here, so no comparison is trivially 0 == 0."""
    torch.manual_seed(seed)
    channels, *spatial = INPUT[ndim]
    pooled = prod(s // 2 for s in spatial)
    features = nn.Sequential(
        CONV[ndim](channels, 4, 3, padding=1), nn.ReLU(),
        CONV[ndim](4, 6, 3, padding=1), nn.LeakyReLU(0.2),
        POOL[ndim](2),
    )
    head = nn.Sequential(
        nn.Flatten(), nn.Linear(6 * pooled, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, N_CLASSES),
    )
    return nn.Sequential(OrderedDict(features=features, head=head)).double().eval()


def segmenter(ndim: int, seed: int = 0) -> nn.Module:
    """A small fully convolutional net: output (B, 3, *spatial) at input resolution, via a
    half-resolution stage (so the explained layer is smaller than the output)."""
    torch.manual_seed(seed)
    channels = INPUT[ndim][0]
    mode = {2: "bilinear", 3: "trilinear"}[ndim]
    return nn.Sequential(
        CONV[ndim](channels, 4, 3, padding=1), nn.ReLU(), POOL[ndim](2),
        CONV[ndim](4, 6, 3, padding=1), nn.ReLU(),
        CONV[ndim](6, 3, 1), nn.Upsample(scale_factor=2, mode=mode, align_corners=False),
    ).double().eval()


def batch(ndim: int, seed: int = 100, size: int = len(CLASSES)) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(size, *INPUT[ndim], generator=generator, dtype=torch.float64)


def assert_same(ours: Tensor, theirs: Tensor) -> None:
    """Equal to float64 precision, and not trivially so: every sample's map has a non-zero value."""
    assert ours.shape == theirs.shape
    assert (theirs.flatten(1).abs().amax(1) > 1e-6).all(), "degenerate oracle output (all zero for a sample)"
    torch.testing.assert_close(ours, theirs, rtol=RTOL, atol=ATOL)


def class_logits(classes):
    return lambda output: output[torch.arange(output.shape[0]), torch.as_tensor(classes)]


def positions(spatial: tuple[int, ...]):
    """Every spatial index (i, j) or (i, j, l)."""
    return itertools.product(*(range(n) for n in spatial))


class Case(NamedTuple):
    model: nn.Module
    x: Tensor
    layer: str
    ndim: int


@pytest.fixture(params=[2, 3], ids=["2d", "3d"])
def ndim(request) -> int:
    return request.param


@pytest.fixture(params=LAYERS)
def case(request, ndim) -> Case:
    return Case(classifier(ndim), batch(ndim), request.param, ndim)


def ours(case: Case, method: str, target=CLASSES):
    return CAMExplainer(case.model, layers=[case.layer]).explain(case.x, target=target, method=method)


# --- 1-2. Captum ----------------------------------------------------------------------------------
# Trusted: Captum (PyTorch's own attribution library) computes A and g through its own hooks, and its
# LayerGradCam is sum_k mean(g_k) A_k; it deviates from the paper only by making the final ReLU
# optional (off here, so it matches our .raw); LayerGradientXActivation gives g * A per channel
# (HiResCAM's terms, which we sum over channels).


def test_gradcam_equals_captum_layergradcam(case):
    result = ours(case, "gradcam")
    model = copy.deepcopy(case.model)  # Captum hooks its own copy (a copy's own module, not ours)
    captum = LayerGradCam(model, submodule(model, case.layer))
    theirs = captum.attribute(case.x, target=CLASSES, relu_attributions=False)
    assert theirs.shape == (case.x.shape[0], 1, *result.raw.shape[1:])  # channel dim summed, kept as 1
    assert_same(result.raw, theirs[:, 0])


def test_hirescam_equals_captum_gradient_x_activation(case):
    result = ours(case, "hirescam")
    model = copy.deepcopy(case.model)
    theirs = LayerGradientXActivation(model, submodule(model, case.layer)).attribute(case.x, target=CLASSES)
    channels = {RECTIFIED: 4, SIGNED: 6}[case.layer]
    assert theirs.shape == (case.x.shape[0], channels, *result.raw.shape[1:])  # per channel: (B, K, *S)
    assert_same(result.raw, theirs.sum(1))


# --- 3. torchcam ----------------------------------------------------------------------------------
# torchcam is trusted as an independent, maintained CAM library; read in its 0.5 source
# (torchcam/methods/gradient.py, core.py): GradCAM w = mean(g); XGradCAM w = sum(g A) / (sum A + eps)
# with eps = 1e-8 by default (ours 1e-10: we pass ours through its `eps` keyword, so the formulas are
# identical and the comparison exact); LayerCAM ReLU(g) * A. All three apply a final ReLU before
# the (here disabled, normalized=False) min-max normalisation, so we compare with ReLU(our raw).

TORCHCAM = {"gradcam": (GradCAM, {}), "xgradcam": (XGradCAM, {"eps": RESPOND_CAM_EPS}), "layercam": (LayerCAM, {})}


def torchcam_map(extractor_class, case: Case, classes=CLASSES, **kwargs) -> Tensor:
    """torchcam's map at layer resolution, on its own copy of the model and of the input: its hooks
    stay on the copy (and are removed on exit), and the ``requires_grad`` its README sets on the
    input touches only the copy, never what we explain."""
    model = copy.deepcopy(case.model)
    x = case.x.clone().requires_grad_(True)
    with extractor_class(model, target_layer=case.layer) as extractor:
        scores = model(x)
        (cam,) = extractor(class_idx=list(classes), scores=scores, normalized=False, **kwargs)
    assert not any(m._forward_hooks for m in model.modules()), "torchcam left hooks behind"
    return cam.detach()


@pytest.mark.parametrize("method", list(TORCHCAM))
def test_equals_torchcam(case, method):
    x_before = case.x.clone()
    result = ours(case, method)
    extractor_class, kwargs = TORCHCAM[method]
    theirs = torchcam_map(extractor_class, case, **kwargs)
    assert_same(torch.relu(result.raw), theirs)
    # the oracle did not touch our input or model
    assert torch.equal(case.x, x_before) and not case.x.requires_grad
    assert all(p.grad is None for p in case.model.parameters())


def test_xgradcam_equals_torchcam_with_its_own_eps(ndim):
    """Without passing our eps: torchcam's 1e-8 vs our 1e-10 changes w_k by a relative
    ~1e-8 / sum(A_k); on the rectified layer sum(A_k) > 1 (it is >= 10 here), so <= 1e-8, well
    below the 1e-6 tolerance, and the absolute change of the map is far below atol."""
    case = Case(classifier(ndim), batch(ndim), RECTIFIED, ndim)
    activation, _ = activation_and_gradient(case.model, case.layer, case.x, class_logits(CLASSES))
    assert activation.flatten(2).sum(-1).min() > 1  # the premise of the tolerance
    assert_same(torch.relu(ours(case, "xgradcam").raw), torchcam_map(XGradCAM, case))


# --- 4. Grad-CAM++ --------------------------------------------------------------------------------
# No library implements the paper's Eq. 19 faithfully (see the torchcam test below), so the oracle
# is the equation itself, transcribed with explicit loops over k and positions; deviation from the
# paper, as in DESIGN.md: the exp(S) factor is dropped (it only scales w) and alpha = 0 where
# g <= 0 or the denominator is 0.


def gradcam_pp_oracle(A: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
    """Chattopadhyay et al. 2018, Eq. 19 with Y = exp(S): returns (w (B, K), raw map (B, *S)).

    alpha_k^ij = g_ij^2 / (2 g_ij^2 + S_k g_ij^3),  S_k = sum_ab A_k^ab;  w_k = sum_ij alpha_k^ij ReLU(g_ij)
    """
    n_batch, n_channels, *spatial = A.shape
    w = torch.zeros(n_batch, n_channels, dtype=torch.float64)
    raw = torch.zeros(n_batch, *spatial, dtype=torch.float64)
    for b in range(n_batch):
        for k in range(n_channels):
            s_k = 0.0
            for ab in positions(spatial):
                s_k += A[(b, k, *ab)].item()
            w_k = 0.0
            for ij in positions(spatial):
                g_ij = g[(b, k, *ij)].item()
                denominator = 2 * g_ij**2 + s_k * g_ij**3
                alpha = g_ij**2 / denominator if g_ij > 0 and denominator != 0 else 0.0
                w_k += alpha * max(g_ij, 0.0)
            w[b, k] = w_k
        for ij in positions(spatial):
            raw[(b, *ij)] = sum(w[b, k].item() * A[(b, k, *ij)].item() for k in range(n_channels))
    return w, raw


def gradcam_pp_mixed_index_weights(A: Tensor, g: Tensor) -> Tensor:
    """The common library bug: sum_ab A_ab g_ab^3 (one number per channel) instead of S_k g_ij^3."""
    spatial = tuple(range(2, A.ndim))
    g2, g3 = g.pow(2), g.pow(3)
    denominator = 2 * g2 + (A * g3).sum(spatial, keepdim=True)
    alpha = torch.where((g > 0) & (denominator != 0), g2 / denominator, torch.zeros_like(g))
    return (alpha * torch.relu(g)).sum(spatial)


def random_a_g(ndim: int, seed: int, signed_a: bool = False) -> tuple[Tensor, Tensor]:
    """Random A (rectified or signed) and g with positive, negative and exactly-zero entries;
    channel 0 of sample 0 holds a zero denominator at g > 0 (S_0 = -2, g = 1: 2 - 2 = 0)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (2, 4, *((5, 3) if ndim == 2 else (3, 4, 2)))
    A = torch.randn(shape, generator=generator, dtype=torch.float64)
    A = A if signed_a else A.abs()
    g = torch.randn(shape, generator=generator, dtype=torch.float64)
    g = torch.where(torch.rand(shape, generator=generator, dtype=torch.float64) < 0.2, 0.0, g)
    A[0, 0] = 0.0
    A[(0, 0) + (0,) * ndim] = A[(0, 0) + (1,) * ndim] = -1.0
    g[(0, 0) + (0,) * ndim] = 1.0
    return A, g


@pytest.mark.parametrize("signed_a", [False, True], ids=["rectified", "signed"])
def test_gradcam_pp_equals_paper_loops(ndim, signed_a):
    A, g = random_a_g(ndim, seed=ndim, signed_a=signed_a)
    w_oracle, raw_oracle = gradcam_pp_oracle(A, g)
    assert torch.isfinite(gradcam_plus_plus_weights(A, g)).all()
    torch.testing.assert_close(gradcam_plus_plus_weights(A, g), w_oracle, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(gradcam_plus_plus(A, g), raw_oracle, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("layer", LAYERS)
def test_gradcam_pp_explainer_equals_paper_loops(ndim, layer):
    case = Case(classifier(ndim), batch(ndim), layer, ndim)
    A, g = activation_and_gradient(case.model, layer, case.x, class_logits(CLASSES))
    w_oracle, raw_oracle = gradcam_pp_oracle(A, g)
    result = ours(case, "gradcam++")
    assert (w_oracle.abs().amax(1) > 0).all()
    torch.testing.assert_close(result.weights, w_oracle, rtol=RTOL, atol=ATOL)
    assert_same(result.raw, raw_oracle)


def test_gradcam_pp_is_not_the_mixed_index_formula(ndim):
    """Where g varies over positions the two formulas differ by far more than any tolerance, and
    ours is the paper's; where g is constant in each channel (GAP + linear head) they coincide."""
    A, g = random_a_g(ndim, seed=10 + ndim)
    w_paper, _ = gradcam_pp_oracle(A, g)
    ours_w = gradcam_plus_plus_weights(A, g)
    mixed = gradcam_pp_mixed_index_weights(A, g)
    torch.testing.assert_close(ours_w, w_paper, rtol=RTOL, atol=ATOL)
    assert ((mixed - w_paper).abs() / w_paper.abs().clamp_min(1e-12)).max() > 0.1

    constant_g = g.flatten(2).mean(-1).abs()[(...,) + (None,) * ndim].expand_as(g).clone() + 0.1
    torch.testing.assert_close(
        gradcam_pp_mixed_index_weights(A, constant_g), gradcam_pp_oracle(A, constant_g)[0], rtol=RTOL, atol=ATOL
    )


def test_torchcam_gradcampp_is_not_the_paper(ndim):
    """torchcam 0.5's GradCAMpp is not Eq. 19, so it cannot serve as an oracle. Its denominator
    is the mixed-index form 2 g_ij^2 + sum_ab A_ab g_ab^3 (+ eps 1e-8), and its division
    ``alpha[idx][mask].div_(...)`` acts on the copy that boolean indexing returns, so as it runs
    alpha = g^2 and w_k = sum relu(g)^3 (then a final ReLU). We check that it is one of these two,
    that both are far from the paper on this model, and that ours equals the paper."""
    case = Case(classifier(ndim), batch(ndim), RECTIFIED, ndim)
    A, g = activation_and_gradient(case.model, case.layer, case.x, class_logits(CLASSES))
    paper = torch.relu(gradcam_pp_oracle(A, g)[1])
    theirs = torchcam_map(GradCAMpp, case)
    assert_same(torch.relu(ours(case, "gradcam++").raw), paper)

    spatial, expand = tuple(range(2, A.ndim)), (...,) + (None,) * ndim
    as_run = torch.relu((torch.relu(g).pow(3).sum(spatial)[expand] * A).sum(1))
    g2 = g.pow(2)
    intended_alpha = torch.where(g2 > 0, g2 / (2 * g2 + (A * g.pow(3)).sum(spatial, keepdim=True) + 1e-8), g2)
    intended = torch.relu(((intended_alpha * torch.relu(g)).sum(spatial)[expand] * A).sum(1))
    assert any(torch.allclose(theirs, candidate, rtol=RTOL, atol=ATOL) for candidate in (as_run, intended))
    for candidate in (theirs, as_run, intended):  # relative to the map's peak: 1.0 and 0.03 (2D), 0.2 (3D)
        assert (candidate - paper).abs().amax() / paper.abs().amax() > 0.01


# --- 5. Respond-CAM and XGrad-CAM -------------------------------------------------------------------
# No library implements Respond-CAM: the oracle is Zhao et al. 2018 Eq. 1-2 transcribed with loops,
# eps = 1e-10 added once to the sum as DESIGN.md fixes (the paper does not state an eps). XGrad-CAM's
# weight (Fu et al. 2020, Eq. 9, no eps in the paper) is the same activation-weighted mean of g.


def respond_cam_oracle(A: Tensor, g: Tensor, eps: float = RESPOND_CAM_EPS) -> tuple[Tensor, Tensor]:
    """Eq. 1: a_k = sum_ijl A_k g_k / (sum_ijl A_k + eps);  Eq. 2: L = sum_k a_k A_k (signed, no ReLU)."""
    n_batch, n_channels, *spatial = A.shape
    a = torch.zeros(n_batch, n_channels, dtype=torch.float64)
    raw = torch.zeros(n_batch, *spatial, dtype=torch.float64)
    for b in range(n_batch):
        for k in range(n_channels):
            numerator = denominator = 0.0
            for ijl in positions(spatial):
                numerator += A[(b, k, *ijl)].item() * g[(b, k, *ijl)].item()
                denominator += A[(b, k, *ijl)].item()
            a[b, k] = numerator / (denominator + eps)
        for ijl in positions(spatial):
            raw[(b, *ijl)] = sum(a[b, k].item() * A[(b, k, *ijl)].item() for k in range(n_channels))
    return a, raw


def xgradcam_paper_weights(A: Tensor, g: Tensor) -> Tensor:
    """Fu et al. 2020, Eq. 9, with loops: w_k = sum_ij (A_k^ij / sum_mn A_k^mn) g_k^ij (no eps)."""
    n_batch, n_channels, *spatial = A.shape
    w = torch.zeros(n_batch, n_channels, dtype=torch.float64)
    for b, k in itertools.product(range(n_batch), range(n_channels)):
        total = sum(A[(b, k, *mn)].item() for mn in positions(spatial))
        w[b, k] = sum(A[(b, k, *ij)].item() / total * g[(b, k, *ij)].item() for ij in positions(spatial))
    return w


@pytest.mark.parametrize("layer", LAYERS)
def test_respondcam_explainer_equals_paper_loops(ndim, layer):
    case = Case(classifier(ndim), batch(ndim), layer, ndim)
    A, g = activation_and_gradient(case.model, layer, case.x, class_logits(CLASSES))
    a_oracle, raw_oracle = respond_cam_oracle(A, g)
    result = ours(case, "respondcam")
    torch.testing.assert_close(result.weights, a_oracle, rtol=RTOL, atol=ATOL)
    assert_same(result.raw, raw_oracle)
    assert (result.raw < 0).any() and (result.map < 0).any()  # signed: no final ReLU, in .map either


def test_respondcam_equals_paper_loops_on_random_tensors(ndim):
    A, g = random_a_g(ndim, seed=20 + ndim, signed_a=True)
    A[0, 0] = A[0, 0].abs() + 0.1  # keep sum(A_k) away from 0 here: the division is not the point
    a_oracle, raw_oracle = respond_cam_oracle(A, g)
    torch.testing.assert_close(respond_weights(A, g), a_oracle, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(respondcam(A, g), raw_oracle, rtol=RTOL, atol=ATOL)


def test_xgradcam_weights_are_respondcam_weights(ndim):
    """Same formula: our XGrad-CAM and Respond-CAM weights are identical, and equal Fu et al.'s
    eps-free Eq. 9 up to the eps (relative ~1e-10 / sum A_k <= 1e-10, as sum A_k > 1 here)."""
    case = Case(classifier(ndim), batch(ndim), RECTIFIED, ndim)
    explainer = CAMExplainer(case.model, layers=[case.layer])
    xgrad = explainer.explain(case.x, target=CLASSES, method="xgradcam")
    respond = explainer.explain(case.x, target=CLASSES, method="respondcam")
    assert torch.equal(xgrad.weights, respond.weights)
    assert torch.equal(xgrad.raw, respond.raw)  # same raw map; only the final ReLU differs
    A, g = activation_and_gradient(case.model, case.layer, case.x, class_logits(CLASSES))
    assert A.flatten(2).sum(-1).min() > 1
    torch.testing.assert_close(xgrad.weights, xgradcam_paper_weights(A, g), rtol=RTOL, atol=ATOL)


# --- 6. Segmentation (Seg-Grad-CAM, Seg-HiRes-Grad-CAM) ----------------------------------------------
# An independent route to the same definition (Vinogradova et al. 2020; Rheude et al. 2024): Captum's
# classification methods on a wrapper whose only output (B, 1) is y_b = sum_{u in M_b} class-c_b logits,
# with target=0; no package code (PixelSet, targets) is involved on the oracle side.

SEG_CLASSES = [0, 2, 1]
SEG_LAYERS = ["4", "5"]  # half resolution: the ReLU (rectified) and the 1x1 conv's logits (signed)


def pixel_set_forward(model: nn.Module, classes, mask: Tensor):
    def forward(x: Tensor) -> Tensor:
        output = model(x)
        weights = mask.expand(output.shape[0], *output.shape[2:]).to(output.dtype)
        picked = torch.stack([output[b, c] for b, c in enumerate(classes)])
        return (picked * weights).flatten(1).sum(1, keepdim=True)

    return forward


def seg_masks(ndim: int) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(7)
    spatial = INPUT[ndim][1:]
    return {
        "bool-per-sample": torch.rand(len(SEG_CLASSES), *spatial, generator=generator) < 0.3,
        "float-shared": torch.rand(*spatial, generator=generator, dtype=torch.float64),
    }


@pytest.mark.parametrize("mask_kind", ["bool-per-sample", "float-shared"])
@pytest.mark.parametrize("layer", SEG_LAYERS)
@pytest.mark.parametrize(
    "method, oracle",
    [("gradcam", LayerGradCam), ("hirescam", LayerGradientXActivation)],
    ids=["seg-grad-cam", "seg-hires-grad-cam"],
)
def test_segmentation_equals_captum_on_pixel_set_sum(ndim, layer, mask_kind, method, oracle):
    model = segmenter(ndim)
    x = batch(ndim, seed=200)
    mask = seg_masks(ndim)[mask_kind]
    result = CAMExplainer(model, layers=[layer]).explain(x, target=PixelSet(SEG_CLASSES, mask), method=method)

    copy_ = copy.deepcopy(model)
    attribution = oracle(pixel_set_forward(copy_, SEG_CLASSES, mask), submodule(copy_, layer)).attribute(x, target=0)
    theirs = attribution.sum(1)  # Grad-CAM: already summed, (B, 1, *S); HiResCAM: (B, K, *S)
    assert result.raw.shape[1:] == tuple(s // 2 for s in INPUT[ndim][1:])  # layer resolution, not the output's
    assert_same(result.raw, theirs)
    torch.testing.assert_close(result.scores, pixel_set_forward(model, SEG_CLASSES, mask)(x)[:, 0].detach(),
                               rtol=RTOL, atol=ATOL)
