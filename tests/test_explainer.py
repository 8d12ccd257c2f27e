"""CAMExplainer's behaviour: sessions, batches, in-place models, 3D, segmentation, hygiene."""

import copy

import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, ClassScore, PixelSet
from cam_widgets.methods import METHODS
from cam_widgets.targets import all_pixels, ball, box, empty, from_prediction, point

from .models import any_head_methods, classifier, gradient_methods, segnet

ALL_METHODS = any_head_methods()
GRADIENT_METHODS = sorted(m.name for m in gradient_methods())


def count_forwards(model):
    counter = {"n": 0}
    handle = model.register_forward_pre_hook(lambda *_: counter.__setitem__("n", counter["n"] + 1))
    return counter, handle


def reference_activations_and_gradients(model: nn.Sequential, split: int, x, target):
    """A and dy/dA computed without the explainer: run the model in two halves."""
    activations = model[:split](x).detach().requires_grad_(True)
    y = target(model[split:](activations))
    (gradients,) = torch.autograd.grad(y.sum(), activations)
    return activations.detach(), gradients, y.detach()


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_every_method_matches_a_two_halves_reference(ndim, method):
    model = classifier(ndim)
    x = torch.randn(3, 1, *(8,) * ndim, dtype=torch.float64)
    classes = [0, 3, 1]
    activations, gradients, y = reference_activations_and_gradients(model, 5, x, ClassScore(classes))
    result = CAMExplainer(model, layers=["4"]).explain(x, target=classes, method=method)
    spec = METHODS[method]
    expected_raw = spec.raw(activations, gradients)
    torch.testing.assert_close(result.raw, expected_raw)
    torch.testing.assert_close(result.scores, y)
    shown = torch.relu(expected_raw) if spec.final_relu else expected_raw
    mode = "bilinear" if ndim == 2 else "trilinear"
    expected_map = nn.functional.interpolate(shown[:, None], size=x.shape[2:], mode=mode, align_corners=False)[:, 0]
    torch.testing.assert_close(result.map, expected_map)
    assert result.map.shape == (3, *(8,) * ndim)
    assert result.layer == "4" and result.method == method and result.signed == (not spec.final_relu)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_per_sample_targets_equal_single_sample_calls(method):
    model = classifier(2)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4", "7"])
    batched = explainer.explain(x, target=torch.tensor([2, 0, 4]), method=method, layer="7")
    for b, c in enumerate([2, 0, 4]):
        single = CAMExplainer(model, layers=["7"]).explain(x[b : b + 1], target=c, method=method)
        torch.testing.assert_close(batched.raw[b], single.raw[0])
        torch.testing.assert_close(batched.map[b], single.map[0])


@pytest.mark.parametrize("ndim", [2, 3])
def test_inplace_relu_model_equals_out_of_place_at_every_layer(ndim):
    inplace, plain = classifier(ndim, inplace=True), classifier(ndim, inplace=False)
    x = torch.randn(2, 1, *(8,) * ndim, dtype=torch.float64)
    layers = [str(i) for i in range(8)]
    a, b = CAMExplainer(inplace, layers=layers), CAMExplainer(plain, layers=layers)
    for layer in layers:
        for method in ALL_METHODS:
            torch.testing.assert_close(a.explain(x, 1, method, layer).raw, b.explain(x, 1, method, layer).raw)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_all_classes_equal_separate_calls(method):
    model = classifier(3)
    x = torch.randn(2, 1, 8, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["7", "2"])
    for layer in ["7", "2"]:
        allc = explainer.explain_all_classes(x, method=method, layer=layer)
        assert allc.raw.shape[:2] == (5, 2) and allc.scores.shape == (2, 5)
        torch.testing.assert_close(allc.scores, model(x))
        for c in range(5):
            single = explainer.explain(x, target=c, method=method, layer=layer)
            torch.testing.assert_close(allc.raw[c], single.raw)
            torch.testing.assert_close(allc.map[c], single.map)


def test_all_classes_in_chunks_equal_one_batched_call():
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    whole = CAMExplainer(model, layers=["2"]).explain_all_classes(x, "gradcam++")
    one_class_per_call = CAMExplainer(model, layers=["2"], all_class_memory=1)
    torch.testing.assert_close(one_class_per_call.explain_all_classes(x, "gradcam++").raw, whole.raw)


def test_one_forward_serves_targets_methods_and_captured_layers():
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    counter, handle = count_forwards(model)
    try:
        explainer = CAMExplainer(model, layers=["7", "4"])
        for method in GRADIENT_METHODS:  # the perturbation methods run more forwards, of their own
            for target in (0, 3, [1, 2]):
                for layer in ("7", "4"):
                    explainer.explain(x, target, method, layer)
        explainer.explain_all_classes(x, "respondcam", "4")
        assert counter["n"] == 1
        explainer.explain(x, 0, layer="1")  # not captured yet: captured on demand, one more forward
        assert counter["n"] == 2 and "1" in explainer.layers
        explainer.explain(x.clone(), 0)  # another tensor with the same values: the same session
        assert counter["n"] == 2
        explainer.explain(x + 1e-9, 0)  # other values: a new session
        assert counter["n"] == 3
    finally:
        handle.remove()


def test_session_invalidated_by_in_place_input_or_weight_change():
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    before = explainer.explain(x, 1).raw.clone()
    x.mul_(2)
    after_input = explainer.explain(x, 1).raw
    torch.testing.assert_close(after_input, CAMExplainer(model, layers=["4"]).explain(x.clone(), 1).raw)
    assert not torch.allclose(before, after_input)
    with torch.no_grad():
        model[0].weight.mul_(-1)
    after_weights = explainer.explain(x, 1).raw
    torch.testing.assert_close(after_weights, CAMExplainer(model, layers=["4"]).explain(x.clone(), 1).raw)
    assert not torch.allclose(after_input, after_weights)


def test_results_are_not_aliased_by_later_calls():
    model = classifier(2, inplace=True)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["2", "3"])
    first = explainer.explain(x, 0, "hirescam", "2")
    kept = first.raw.clone()
    for c in range(5):
        explainer.explain(x, c, "layercam", "3")
    explainer.explain(torch.randn(2, 1, 8, 8, dtype=torch.float64), 2, "hirescam", "2")
    assert torch.equal(first.raw, kept)


def test_model_state_left_untouched():
    model = classifier(2)
    model[0].weight.requires_grad_(False)  # a frozen layer must stay frozen
    model[5].weight.grad = torch.full_like(model[5].weight, 7.0)  # an existing .grad must stay
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    params = copy.deepcopy(model.state_dict())
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4", "0"])
    for method in ALL_METHODS:
        explainer.explain(x, 2, method)
    explainer.explain_all_classes(x, "gradcam")
    assert not model.training and all(not m.training for m in model.modules())
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    for name, value in model.state_dict().items():
        assert torch.equal(value, params[name]), name
    for name, p in model.named_parameters():
        if name == "5.weight":
            assert torch.equal(p.grad, torch.full_like(p, 7.0))
        else:
            assert p.grad is None, name
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all("forward" not in m.__dict__ for m in model.modules())  # no replayed forward left behind
    assert torch.is_grad_enabled()


def test_default_layer_is_deepest_spatial_one():
    model = classifier(3)
    explainer = CAMExplainer(model)
    result = explainer.explain(torch.randn(1, 1, 8, 8, 8, dtype=torch.float64))
    assert explainer.layers == ["7"] and result.layer == "7" and result.raw.shape == (1, 2, 2, 2)
    seg = CAMExplainer(segnet())
    seg.explain(torch.randn(1, 1, 8, 8, dtype=torch.float64), PixelSet(1, all_pixels((8, 8))))
    assert seg.layers == ["bottleneck"]


def test_default_target_is_the_predicted_class():
    model = classifier(2)
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    predicted = model(x).argmax(1)
    torch.testing.assert_close(explainer.explain(x).raw, explainer.explain(x, predicted).raw)


def test_callable_target():
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    contrast = explainer.explain(x, lambda out: out[:, 1] - out[:, 2], "hirescam")
    one, two = explainer.explain(x, 1, "hirescam"), explainer.explain(x, 2, "hirescam")
    torch.testing.assert_close(contrast.raw, one.raw - two.raw)


# --- segmentation: the same methods with a PixelSet target -------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
def test_empty_pixel_set_gives_all_zero_map(method):
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    result = CAMExplainer(segnet(), layers=["bottleneck"]).explain(x, PixelSet(1, empty((8, 8))), method)
    assert torch.equal(result.scores, torch.zeros(2, dtype=torch.float64))
    if METHODS[method].class_agnostic:  # Eigen-CAM: the same map whatever the target
        other = CAMExplainer(segnet(), layers=["bottleneck"]).explain(x, PixelSet(1, all_pixels((8, 8))), method)
        assert result.raw.abs().amax() > 0 and torch.equal(result.raw, other.raw)
        return
    assert torch.equal(result.raw, torch.zeros_like(result.raw)) and torch.equal(result.map, torch.zeros_like(result.map))


def test_pixel_set_sums_class_logits_over_the_set():
    model = segnet()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    logits = model(x)
    explainer = CAMExplainer(model, layers=["bottleneck", "dec"])
    mask = box((8, 8), (2, 3), (5, 7))
    result = explainer.explain(x, PixelSet(2, mask), "gradcam")
    torch.testing.assert_close(result.scores, logits[:, 2][:, mask].sum(1))
    # float weights: a 0/1 float mask equals the bool mask, per-sample masks and classes work
    per_sample = torch.stack([mask, point((8, 8), (4, 4))])
    weighted = explainer.explain(x, PixelSet([2, 0], per_sample.double()), "hirescam", "dec")
    torch.testing.assert_close(weighted.scores, torch.stack([logits[0, 2][mask].sum(), logits[1, 0, 4, 4]]))
    first = explainer.explain(x[:1], PixelSet(2, mask), "hirescam", "dec")
    torch.testing.assert_close(weighted.raw[0], first.raw[0])


def test_pixel_set_is_linear_in_the_mask():
    """Seg-HiRes-Grad-CAM (before ReLU) of M1 + M2 is the sum of those of M1 and M2."""
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(segnet(), layers=["dec"])
    m1, m2 = ball((8, 8), (2, 2), 1.5), box((8, 8), (5, 5), (8, 8))
    both = explainer.explain(x, PixelSet(1, m1 | m2), "hirescam").raw
    parts = explainer.explain(x, PixelSet(1, m1), "hirescam").raw + explainer.explain(x, PixelSet(1, m2), "hirescam").raw
    torch.testing.assert_close(both, parts)


def test_from_prediction_and_output_selector():
    model = segnet()

    class DictOutput(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x):
            return {"out": self.net(x), "aux": None}

    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    logits = model(x)
    mask = from_prediction(logits, 1)
    assert mask.shape == (2, 8, 8) and torch.equal(mask, logits.argmax(1) == 1)
    ours = CAMExplainer(DictOutput().eval(), layers=["net.dec"], output="out").explain(x, PixelSet(1, mask), "hirescam")
    plain = CAMExplainer(model, layers=["dec"]).explain(x, PixelSet(1, mask), "hirescam")
    torch.testing.assert_close(ours.raw, plain.raw)
    with pytest.raises(TypeError, match="output="):
        CAMExplainer(DictOutput().eval(), layers=["net.dec"]).explain(x, PixelSet(1, mask))
