"""The new Table 1 methods against independent libraries: torchcam 0.5, pytorch-grad-cam 1.5.5, Captum.

Where a peer follows the paper we require equality; where it deviates (DESIGN.md section 9) we rebuild
the peer's result from the paper's oracle (``tests/peers/equations.py``) with exactly the deviation
switched on, require equality with that, and show that the deviation changes the result on this model
while ours is the paper's. pytorch-grad-cam is read at layer resolution, where it is exact: we record
what its own ``get_cam_weights`` / ``get_cam_image`` / ``compute_cam_per_layer`` return inside its normal
call (its later min-max scaling and cv2 resize are display steps). It rounds scores to float32
(``np.float32(...)``, ``torch.Tensor(scores)``) and returns float32 maps, so its comparisons use the
float32 tolerance (relative 1e-4, DESIGN.md 8); torchcam and Captum run in float64 (relative 1e-6).
pytorch-grad-cam is loaded through ``tests.peers`` (a torchvision stand-in only during its import).
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
import torch
from captum.attr import DeepLift
from torch import Tensor, nn
from torchcam.methods import CAM as TorchcamCAM
from torchcam.methods import ScoreCAM as TorchcamScoreCAM

import tests.peers
from cam_widgets import CAMExplainer, PixelSet
from tests.peers import equations as E

pgc = tests.peers.load_pytorch_grad_cam()
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget  # noqa: E402

F64, F32 = 1e-6, 1e-4
pytestmark = [  # Captum's notices when we call its DeepLift ourselves
    pytest.mark.filterwarnings("ignore:Setting forward, backward hooks:UserWarning"),
    pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients:UserWarning"),
]


def assert_same(mine: Tensor, theirs, rtol: float = F64) -> None:
    theirs = torch.as_tensor(np.asarray(theirs) if not isinstance(theirs, Tensor) else theirs).double()
    assert mine.shape == theirs.shape, (mine.shape, theirs.shape)
    assert (theirs.flatten(1).abs().amax(1) > 1e-6).all(), "degenerate peer output (all zero for a sample)"
    torch.testing.assert_close(mine.double(), theirs, rtol=rtol, atol=rtol * theirs.abs().max().item())


def assert_differ(a: Tensor, b: Tensor, at_least: float = 0.01) -> None:
    """Not equal up to a positive factor per sample: scaled to a peak of 1 per sample, the two differ by
    more than ``at_least`` somewhere."""
    def scaled(t: Tensor) -> Tensor:
        t = t.double()
        return t / t.flatten(1).abs().amax(1)[(...,) + (None,) * (t.ndim - 1)]

    assert (scaled(a) - scaled(b)).abs().max().item() > at_least


def ours(model, x, layer, method, target=E.CLASSES):
    return CAMExplainer(model, layers=[layer]).explain(x, target=target, method=method, progress=False)


def recorded(peer, attribute: str) -> list:
    """Record what ``peer.attribute(...)`` returns while the peer runs as usual."""
    calls, original = [], getattr(peer, attribute)

    def spy(*args, **kwargs):
        calls.append(original(*args, **kwargs))
        return calls[-1]

    setattr(peer, attribute, spy)
    return calls


def run_pgc(peer_class, model, layer, x, targets, attribute, **kwargs):
    """pytorch-grad-cam on its own copy of the model; returns what ``attribute`` returned (layer resolution)."""
    model = copy.deepcopy(model)
    layers = [] if layer is None else [E.submodule(model, layer)]
    peer = peer_class(model, layers, **kwargs)
    calls = recorded(peer, attribute)
    peer(x, targets)
    peer.activations_and_grads.release()
    assert not any(m._forward_hooks for m in model.modules())
    (value,) = calls
    return torch.as_tensor(np.asarray(value))


def test_torchvision_stand_in():
    """Loaded only for pytorch-grad-cam's import: no torchvision is left importable by name, and its few
    functions are right (box_iou by hand; ToTensor scales uint8 only; Normalize per channel)."""
    assert tests.peers.TORCHVISION == "stand-in" or "torchvision" in sys.modules
    if tests.peers.TORCHVISION == "stand-in":
        assert "torchvision" not in sys.modules and tests.peers.PEERS not in sys.path
    from pytorch_grad_cam.utils import image, model_targets

    boxes = torch.tensor([[1.0, 1, 3, 3], [0, 0, 2, 2]])
    iou = model_targets.torchvision.ops.box_iou(torch.tensor([[0.0, 0, 2, 2]]), boxes)
    torch.testing.assert_close(iou, torch.tensor([[1 / 7, 1.0]]))
    rgb = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    tensor = image.ToTensor()(rgb)
    assert tensor.shape == (3, 2, 2) and tensor[1, 0, 1] == 4 / 255
    normalised = image.Normalize([0.5, 0, 0], [0.5, 1, 1])(tensor)
    torch.testing.assert_close(normalised[0], tensor[0] * 2 - 1)
    assert image.preprocess_image(rgb.astype(np.float32)).shape == (1, 3, 2, 2)


# --- torchcam ------------------------------------------------------------------------------------------
# torchcam 0.5 (torchcam/methods/activation.py, core.py) read in source. CAM: w = fc.weight[c], map =
# nansum(w A) with no ReLU (self._relu stays False, despite the docstring's ReLU). ScoreCAM:
# normalise A per sample and channel at layer resolution, *then* upsample (_get_weights, _masked_input_chunk),
# score x * mask with the target, weights = softmax over channels of (score - score(x)) (_get_score_weights),
# no skipping of constant channels, a final ReLU.


@pytest.mark.parametrize("ndim", [2, 3])
def test_cam_equals_torchcam_cam(ndim):
    model, x = E.gap_classifier(ndim), E.batch(ndim)
    result = ours(model, x, "3", "cam")
    peer_model = copy.deepcopy(model)
    with TorchcamCAM(peer_model, target_layer="3", fc_layer="6") as extractor:
        peer_model(x)
        (theirs,) = extractor(class_idx=E.CLASSES, normalized=False)
    assert_same(result.raw, theirs)
    assert (theirs < 0).any()  # torchcam applies no ReLU: its map is our raw map, signed


def torchcam_scorecam(model, layer, x, **kwargs) -> Tensor:
    peer_model = copy.deepcopy(model)
    with TorchcamScoreCAM(peer_model, target_layer=layer, batch_size=8) as extractor:
        peer_model(x)
        (cam,) = extractor(normalized=False, **kwargs)
    return cam


@pytest.mark.parametrize("ndim", [2, 3])
def test_scorecam_shares_torchcam_masked_scores(ndim):
    """At a full-resolution layer without constant channels the masks coincide (up is the identity),
    so with a probability target torchcam's weights are softmax_k(alpha_k - p(x)) = softmax_k(alpha_k):
    its map equals ReLU(sum_k softmax(our alpha)_k A_k) exactly, and differs from ours."""
    model, x, layer = E.classifier(ndim, pool=True), E.batch(ndim), "features.1"
    A, _ = E.activation_and_gradient(model, layer, x, E.class_target(E.CLASSES))
    assert (A.flatten(2).amax(-1) > A.flatten(2).amin(-1)).all()
    probability = [lambda out, c=c: torch.softmax(out, 0)[c] for c in E.CLASSES]
    theirs = torchcam_scorecam(model, layer, x, targets=probability)
    result = ours(model, x, layer, "scorecam")
    assert_same(torch.relu(E.weighted_sum(torch.softmax(result.weights, 1), A)), theirs)
    assert_differ(torch.relu(result.raw), theirs, 0.02)


@pytest.mark.parametrize("ndim", [2, 3])
def test_torchcam_scorecam_deviations(ndim):
    """At a half-resolution layer with dead channels torchcam (logit target, its default) equals the
    paper's loop with its three changes: normalise-then-upsample masks, scores of all channels (none
    skipped), softmax over channels of logit differences; the mask order alone changes the masks."""
    model, x, layer = E.classifier(ndim, pool=True), E.batch(ndim), "features.6"
    y = E.class_target(E.CLASSES)
    A, _ = E.activation_and_gradient(model, layer, x, y)
    assert (A.flatten(2).amax(-1) == A.flatten(2).amin(-1)).any()  # dead channels: torchcam scores x * 0
    masks = E.score_cam_masks(A, x.shape[2:], order="normalise-upsample")
    logits = E.score_cam_oracle(model, x, A, y, masks=masks, probabilities=False, skip_constant=False)
    weights = torch.softmax(logits - y(model(x)).detach()[:, None], 1)
    theirs = torchcam_scorecam(model, layer, x, class_idx=E.CLASSES)
    assert_same(torch.relu(E.weighted_sum(weights, A)), theirs)
    assert_differ(masks, E.score_cam_masks(A, x.shape[2:]), 0.05)
    assert_same(ours(model, x, layer, "scorecam").weights, E.score_cam_oracle(model, x, A, y))


# --- pytorch-grad-cam: Score-CAM, Ablation-CAM -----------------------------------------------------------
# score_cam.py: torch.nn.UpsamplingBilinear2d (align_corners=True), min-max per sample and channel
# (upsample first, eps 1e-8, as the authors), no skipping of constant channels, scores = target(model(x * H_k)),
# weights = Softmax(dim=-1) over channels. ablation_cam.py / ablation_layer.py: the target layer replaced
# by an AblationLayer returning the cached activations with channel k set to 0 when min(batch) == 0, else
# to min(batch) - 1e7 (AblationLayer.__call__, per row, in place, so within one batch row i gets
# min - (i + 1) * 1e7); weights = (y - y_k) / y in float32.


def test_scorecam_equals_pgc_up_to_its_softmax():
    """Full-resolution layer, no constant channel, probability target: pytorch-grad-cam's weights are
    softmax_k of our alpha (its masks and masked scores are the paper's there)."""
    model, x, layer = E.classifier(2), E.batch(2), "features.1"
    A, _ = E.activation_and_gradient(model, layer, x, E.class_target(E.CLASSES))
    assert (A.flatten(2).amax(-1) > A.flatten(2).amin(-1)).all()
    targets = [ClassifierOutputSoftmaxTarget(c) for c in E.CLASSES]
    theirs = run_pgc(pgc.ScoreCAM, model, layer, x, targets, "get_cam_weights")
    result = ours(model, x, layer, "scorecam")
    assert_same(torch.softmax(result.weights, 1), theirs, F32)
    assert_differ(result.weights, theirs, 0.02)  # softmax of values in [0, 1]: within a factor e of uniform


def test_pgc_scorecam_deviations():
    """Half-resolution layer with dead channels: pytorch-grad-cam = softmax_k of the loop with
    align_corners=True masks and no skipping; align_corners=True alone changes the masks."""
    model, x, layer = E.classifier(2), E.batch(2), "features.6"
    y = E.class_target(E.CLASSES)
    A, _ = E.activation_and_gradient(model, layer, x, y)
    assert (A.flatten(2).amax(-1) == A.flatten(2).amin(-1)).any()
    masks = E.score_cam_masks(A, x.shape[2:], align_corners=True)
    alpha = E.score_cam_oracle(model, x, A, y, masks=masks, skip_constant=False)
    targets = [ClassifierOutputSoftmaxTarget(c) for c in E.CLASSES]
    assert_same(torch.softmax(alpha, 1), run_pgc(pgc.ScoreCAM, model, layer, x, targets, "get_cam_weights"), F32)
    assert_differ(masks, E.score_cam_masks(A, x.shape[2:]), 0.05)
    assert_same(ours(model, x, layer, "scorecam").weights, E.score_cam_oracle(model, x, A, y))


def test_ablationcam_equals_pgc_after_relu():
    """A post-ReLU layer (min == 0: pytorch-grad-cam zeroes, as the paper): its weights are ours where
    y > 0 and minus ours where y < 0 (it divides by y, we by |y|)."""
    model, x, layer, classes = E.classifier(2), E.batch(2), "features.1", [0, 4, 0]
    y = E.class_target(classes)(model(x)).detach()
    assert (y[[0, 2]] > 0).all() and y[1] < 0
    theirs = run_pgc(pgc.AblationCAM, model, layer, x, [ClassifierOutputTarget(c) for c in classes], "get_cam_weights")
    result = ours(model, x, layer, "ablationcam", classes)
    assert_same(result.weights * torch.sign(y)[:, None], theirs, F32)
    assert (result.weights[1] * theirs[1] < 0).any()


def test_pgc_ablationcam_deviation_on_signed_activations():
    """A LeakyReLU layer (min < 0): pytorch-grad-cam equals the loop that sets channel k to
    min(A_b) - (k + 1) * 1e7, far from the paper's zeroing, which ours equals."""
    model, x, layer, classes = E.classifier(2), E.batch(2), "features.4", [0, 0, 0]
    y = E.class_target(classes)
    A, _ = E.activation_and_gradient(model, layer, x, y)
    assert (A.flatten(1).amin(1) < 0).all() and A.shape[1] <= 32  # one batch of channels per sample
    score, chained = E.ablated_scores(model, layer, x, y, A.shape[1], value=lambda a, k: a.min() - (k + 1) * 1e7)
    theirs = run_pgc(pgc.AblationCAM, model, layer, x, [ClassifierOutputTarget(c) for c in classes], "get_cam_weights")
    assert_same((score[:, None] - chained) / score[:, None], theirs, F32)
    result = ours(model, x, layer, "ablationcam", classes)
    assert_same(result.weights, E.ablation_weights(*E.ablated_scores(model, layer, x, y, A.shape[1])))
    assert_differ(result.weights, theirs, 0.5)


# --- pytorch-grad-cam: Eigen-CAM, Eigen-Grad-CAM, FullGrad -----------------------------------------------
# svd_on_activations.get_2d_projection: per sample, positions x channels centred over positions,
# np.linalg.svd, projection on VT[0] with LAPACK's sign, float32. fullgrad_cam.py: Conv2d / BatchNorm2d
# with a bias (BatchNorm's effective bias as the official code), |x dy/dx| and |b dy/dz| each min-max
# scaled per sample *and channel* (scale_accross_batch_and_channels, eps 1e-7) and cv2-resized.


@pytest.mark.parametrize("layer", ["features.1", "features.4", "features.6"])
@pytest.mark.parametrize("method", ["eigencam", "eigengradcam"])
def test_eigen_equals_pgc_up_to_sign(method, layer):
    model, x = E.classifier(2), E.batch(2)
    peer_class = pgc.EigenCAM if method == "eigencam" else pgc.EigenGradCAM
    theirs = run_pgc(peer_class, model, layer, x, [ClassifierOutputTarget(c) for c in E.CLASSES], "get_cam_image")
    raw = ours(model, x, layer, method).raw
    sign = torch.sign((raw * theirs.double()).flatten(1).sum(1))[:, None, None]
    assert_same(raw * sign, theirs, F64)  # float32-rounded float64 SVD: still within 1e-6
    A, g = E.activation_and_gradient(model, layer, x, E.class_target(E.CLASSES))
    assert_same(raw, E.eigen_cam_oracle(A if method == "eigencam" else g * A))  # and our sign is the rule's


def test_fullgrad_pgc_normalises_per_channel():
    """pytorch-grad-cam's FullGrad sum equals the official formulas with psi per sample and channel
    (eps 1e-7) and bilinear resizing (cv2, half-pixel: align_corners=False); per sample, as the official
    code and ours, the map is a different one. It finds the same bias modules (the bias-free conv is out)."""
    model, x, classes = E.classifier(2), E.batch(2), [0, 3, 1]
    y = E.class_target(classes)
    theirs = run_pgc(pgc.FullGrad, model, None, x, [ClassifierOutputTarget(c) for c in classes],
                     "compute_cam_per_layer")[:, 0]
    assert_same(E.fullgrad_oracle(model, x, y, per="channel", eps=1e-7), theirs, F32)
    result = ours(model, x, "features.4", "fullgrad", classes)
    assert_same(result.raw, E.fullgrad_oracle(model, x, y))
    assert_differ(result.raw, theirs, 0.1)


def test_fullgrad_official_align_corners_differs():
    """The official code upsamples the bias terms with align_corners=True; DESIGN uses False. On a
    classifier whose strided conv's term is at half resolution the two maps differ visibly."""
    model, x, y = E.classifier(2), E.batch(2), E.class_target(E.CLASSES)
    result = ours(model, x, "features.4", "fullgrad")
    assert_same(result.raw, E.fullgrad_oracle(model, x, y))
    assert_differ(result.raw, E.fullgrad_oracle(model, x, y, align_corners=True), 0.01)


# --- Captum DeepLift: LIFT-CAM --------------------------------------------------------------------------
# The LIFT-CAM authors' code: Captum's DeepLift on a module mapping the layer's activations to the score,
# reference 0; C_k = the contributions of A_k summed over positions. Our wrapper: the modules after the
# layer (max-pooling among them: Captum's own max-pool rule), then the target.


class Above(nn.Module):
    def __init__(self, model: nn.Sequential, layer: str, target=None):
        super().__init__()
        self.body, self.target = E.above(copy.deepcopy(model), layer), target

    def forward(self, activations: Tensor) -> Tensor:
        output = self.body(activations)
        return output if self.target is None else self.target(output)[:, None]


@pytest.mark.parametrize("layer", ["features.1", "features.4"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_liftcam_equals_captum_deeplift(ndim, layer):
    model, x = E.classifier(ndim, pool=True), E.batch(ndim)
    A, _ = E.activation_and_gradient(model, layer, x, E.class_target(E.CLASSES))
    theirs = DeepLift(Above(model, layer)).attribute(A.clone(), baselines=torch.zeros_like(A), target=E.CLASSES)
    C = theirs.detach().flatten(2).sum(-1)
    result = ours(model, x, layer, "liftcam")
    assert_same(result.weights, C)
    assert_same(result.raw, E.weighted_sum(C, A))


@pytest.mark.parametrize("ndim", [2, 3])
def test_seg_liftcam_equals_captum_deeplift(ndim):
    mask = E.seg_mask(ndim)
    model, x, y = E.segmenter(ndim), E.batch(ndim, seed=200), E.pixel_set_target(E.SEG_CLASSES, mask)
    A, _ = E.activation_and_gradient(model, "1", x, y)
    theirs = DeepLift(Above(model, "1", y)).attribute(A.clone(), baselines=torch.zeros_like(A), target=0)
    C = theirs.detach().flatten(2).sum(-1)
    result = ours(model, x, "1", "liftcam", PixelSet(E.SEG_CLASSES, mask))
    assert_same(result.weights, C)
    assert_same(result.raw, E.weighted_sum(C, A))
