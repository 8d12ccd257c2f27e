"""cam_widgets.evaluation.sanity: cascading randomisation and the random-logit test (DESIGN.md section 10).

The reference for randomisation is the definition run by hand: a deep copy, each module's own
``reset_parameters()`` right after ``torch.manual_seed(seed)``, top-down in reverse order of first call.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets.datasets import make_subtomograms
from cam_widgets.evaluation.common import spearman
from cam_widgets.evaluation.sanity import (RandomisationResult, RandomLogitResult, random_logit, randomisation,
                                           randomisation_correlations)
from cam_widgets.zoo import load_demo_cnn1

from .models import classifier, resnet, segnet

CLASSIFIER_TOP_DOWN = ["11", "9", "5", "2", "0"]  # the Linear, Linear, Conv, Conv, Conv of models.classifier


def batch(n=6, seed=3, shape=(1, 8, 8)):
    return torch.randn(n, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def snapshot(model: nn.Module) -> dict:
    """Everything of a model randomisation must leave as it was."""
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()},
        "identity": [id(p) for p in model.parameters()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grad": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "training": [m.training for m in model.modules()],
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks),
                   len(m._backward_pre_hooks), len(m._state_dict_hooks)) for m in model.modules()],
        "rng": torch.get_rng_state(),
    }


def assert_untouched(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert after["state"].keys() == before["state"].keys()
    for key, value in before["state"].items():
        assert after["state"][key].dtype == value.dtype and torch.equal(after["state"][key], value), key
    for name in ("identity", "requires_grad", "training", "hooks"):
        assert after[name] == before[name], name
    for a, b in zip(after["grad"], before["grad"]):
        assert (a is None and b is None) or torch.equal(a, b)
    assert torch.equal(after["rng"], before["rng"])


def reference(model, x, layer, order, seed=0, method="gradcam", target=None):
    """The definition, by hand: (B, L) Spearman correlations on a deep copy."""
    twin = copy.deepcopy(model)
    modules = dict(twin.named_modules())
    explainer = CAMExplainer(twin, layers=[layer])
    target = twin(x).argmax(1) if target is None else target
    original = explainer.explain(x, target, method).map
    columns = []
    state = torch.get_rng_state()
    for name in order:
        torch.manual_seed(seed)
        modules[name].reset_parameters()
        columns.append(spearman(original, CAMExplainer(twin, layers=[layer]).explain(x, target, method).map))
    torch.set_rng_state(state)
    return torch.stack(columns, 1)


@pytest.fixture(scope="module")
def demo():
    model = load_demo_cnn1()
    x = torch.as_tensor(make_subtomograms(8, size=24)[0])
    return model, x


def test_correlation_falls_on_the_trained_demo_model(demo):
    model, x = demo
    before = snapshot(model)
    explainer = CAMExplainer(model, layers=["maxpool2"])
    result = randomisation(explainer, x, layer="maxpool2", progress=False)
    assert_untouched(model, before)
    assert result.layers == ["fc3", "fc2", "fc1", "conv4", "conv3", "conv2", "conv1"] and result.skipped == []
    assert result.correlation.shape == (8, 7) and result.correlation.dtype == torch.float64
    kept = ~torch.isnan(result.correlation)
    assert bool(kept.sum(0).ge(4).all())  # most samples have non-constant maps at every step
    means = result.correlation.nanmean(0)
    assert bool((means < 0.6).all()), means  # Grad-CAM passes: the map no longer follows the original model
    assert set(result.summary()) == {f"correlation@{name}" for name in result.layers}


def test_equals_the_definition_and_leaves_the_model_untouched():
    model = resnet()  # BatchNorm with running statistics, in-place ReLUs and residual adds
    model[0].weight.requires_grad_(False)
    for p in list(model.parameters())[1:]:
        p.grad = torch.randn_like(p)
    model.register_forward_hook(lambda m, i, o: None)
    x = batch(3, shape=(1, 8, 8))
    before = snapshot(model)
    result = randomisation(CAMExplainer(model), x, layer="3.1.relu2", seed=7, progress=False)
    assert_untouched(model, before)
    assert result.layers[:3] == ["7", "4.bn2", "4.conv2"] and result.layers[-2:] == ["1", "0"]
    assert result.skipped == []
    expected = reference(model, x, "3.1.relu2", result.layers, seed=7)
    torch.testing.assert_close(result.correlation, expected, rtol=0, atol=1e-12, equal_nan=True)


def test_reproducible_with_the_seed_and_target():
    model, x = classifier(2), batch()
    explainer = CAMExplainer(model, layers=["6"])
    first = randomisation(explainer, x, seed=0, progress=False)
    assert first.layers == CLASSIFIER_TOP_DOWN
    again = randomisation(explainer, x, seed=0, progress=False)
    other = randomisation(explainer, x, seed=1, progress=False)
    torch.testing.assert_close(first.correlation, again.correlation, rtol=0, atol=0, equal_nan=True)
    assert not torch.allclose(first.correlation.nan_to_num(), other.correlation.nan_to_num())
    torch.testing.assert_close(first.correlation, reference(model, x, "6", CLASSIFIER_TOP_DOWN), rtol=0, atol=1e-12,
                               equal_nan=True)
    predicted = model(x).argmax(1)
    explicit = randomisation(explainer, x, target=predicted, progress=False)  # None: the original prediction
    torch.testing.assert_close(first.correlation, explicit.correlation, rtol=0, atol=0, equal_nan=True)
    for_class = randomisation(explainer, x, target=3, method="layercam", progress=False)
    torch.testing.assert_close(for_class.correlation, reference(model, x, "6", CLASSIFIER_TOP_DOWN, method="layercam",
                                                                target=3), rtol=0, atol=1e-12, equal_nan=True)


class Gain(nn.Module):
    """A module with a parameter and no reset_parameters(): randomisation must skip and list it."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(1.5))

    def forward(self, x):
        return self.gain * x


class OutOfOrder(nn.Module):
    """Modules registered in another order than they are called; one called twice, one never."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.head = nn.Linear(4, 3)
        self.conv_b = nn.Conv2d(4, 4, 3, padding=1)
        self.gain = Gain()
        self.unused = nn.Linear(2, 2)
        self.conv_a = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        h = self.conv_b(torch.relu(self.conv_a(x)))
        h = self.conv_b(torch.relu(self.gain(h)))
        return self.head(h.mean((2, 3)))


def out_of_order():
    return OutOfOrder().double().eval()


def test_layer_order_is_reverse_first_call_and_skipped_are_listed():
    model, x = out_of_order(), batch()
    result = randomisation(CAMExplainer(model, layers=["conv_a"]), x, progress=False)
    assert result.layers == ["head", "conv_b", "conv_a"]
    assert result.skipped == ["gain"]  # "unused" is never called, so it is neither randomised nor listed
    torch.testing.assert_close(result.correlation, reference(model, x, "conv_a", result.layers), rtol=0, atol=1e-12,
                               equal_nan=True)


def test_batch_size_and_data_set_invariance():
    model, x = classifier(2), batch(7)
    explainer = CAMExplainer(model, layers=["3"])
    whole = randomisation(explainer, x, method="gradcam++", progress=False)
    parts = RandomisationResult.concat([randomisation(explainer, x[s], method="gradcam++", batch_size=1, progress=False)
                                        for s in (slice(0, 4), slice(4, 7))])
    data = randomisation(explainer, [x[:1], x[1:]], method="gradcam++", progress=False)
    targets = model(x).argmax(1)
    tuples = randomisation(explainer, [(x[:3], targets[:3]), (x[3:], targets[3:])], method="gradcam++", progress=False)
    for other in (parts, data, tuples):
        assert other.layers == whole.layers and other.skipped == whole.skipped
        torch.testing.assert_close(other.correlation, whole.correlation, rtol=0, atol=1e-10, equal_nan=True)


def test_several_pairs_share_the_randomised_copies():
    model, x = classifier(2), batch()
    calls = []
    model.register_forward_pre_hook(lambda m, i: calls.append(1))  # deep copies keep it: counts the copy's passes
    explainer = CAMExplainer(model, layers=["6"])
    pairs = [("gradcam", None), ("layercam", "6"), ("gradcam", "3"), ("hirescam", model[3])]
    layers, skipped, columns = randomisation_correlations(explainer, x, None, pairs, seed=2, progress=False)
    assert len(calls) == 1 + len(layers)  # the original, then one forward per step for all pairs
    assert layers == CLASSIFIER_TOP_DOWN and skipped == [] and list(columns) == pairs
    for (method, layer), column in columns.items():
        single = randomisation(explainer, x, method=method, layer=layer, seed=2, progress=False)
        torch.testing.assert_close(column, single.correlation, rtol=0, atol=0, equal_nan=True)


def test_segmentation_progress_and_errors():
    model, x = segnet(), batch(3)
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[2:5, 3:6] = True
    seen = []
    result = randomisation(CAMExplainer(model, layers=["dec"]), x, target=PixelSet(1, mask),
                           progress=lambda done, total: seen.append((done, total)))
    assert result.layers == ["head", "dec.0", "bottleneck.0", "enc.0"]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert bool(torch.isfinite(result.correlation).all())
    with pytest.raises(ValueError, match="PixelSet"):
        randomisation(CAMExplainer(model, layers=["dec"]), x, progress=False)
    trained = classifier(2).train()
    with pytest.raises(RuntimeError, match="train mode"):
        randomisation(CAMExplainer(trained), batch(), progress=False)
    with pytest.raises(TypeError, match="seed"):
        randomisation(CAMExplainer(classifier(2)), batch(), seed=1.5, progress=False)


# --- random logit ------------------------------------------------------------------------------------


def test_random_logit_classes_and_correlation():
    model, x = classifier(2, n_classes=5), batch(9)
    explainer = CAMExplainer(model, layers=["6"])
    before = snapshot(model)
    result = random_logit(explainer, x, seed=4, progress=False)
    assert_untouched(model, before)
    predicted = model(x).argmax(1)
    draws = torch.randint(4, (9,), generator=torch.Generator().manual_seed(4))
    assert torch.equal(result.classes, (predicted + 1 + draws) % 5) and result.classes.dtype == torch.int64
    assert bool((result.classes != predicted).all())
    expected = spearman(explainer.explain(x, predicted).map, explainer.explain(x, result.classes).map)
    torch.testing.assert_close(result.correlation, expected, rtol=0, atol=0, equal_nan=True)
    again = random_logit(explainer, x, seed=4, progress=False)
    assert torch.equal(again.classes, result.classes)
    torch.testing.assert_close(again.correlation, result.correlation, rtol=0, atol=0, equal_nan=True)
    assert not torch.equal(random_logit(explainer, x, seed=5, progress=False).classes, result.classes)
    given = random_logit(explainer, x, target=2, method="layercam", seed=4, progress=False)
    assert torch.equal(given.classes, (2 + 1 + draws) % 5)
    expected = spearman(explainer.explain(x, 2, "layercam").map, explainer.explain(x, given.classes, "layercam").map)
    torch.testing.assert_close(given.correlation, expected, rtol=0, atol=0, equal_nan=True)


def test_random_logit_data_set_draws_on_through_the_batches():
    model, x = classifier(2, n_classes=4), batch(7)
    explainer = CAMExplainer(model, layers=["3"])
    whole = random_logit(explainer, x, seed=1, progress=False)
    data = random_logit(explainer, [x[:2], x[2:5], x[5:]], seed=1, progress=False)
    generator = torch.Generator().manual_seed(1)
    parts = RandomLogitResult.concat([random_logit(explainer, x[s], seed=generator, progress=False)
                                      for s in (slice(0, 4), slice(4, 7))])
    targets = model(x).argmax(1)
    tuples = random_logit(explainer, [(x[:3], targets[:3]), (x[3:], targets[3:])], seed=1, progress=False)
    for other in (data, parts, tuples):
        assert torch.equal(other.classes, whole.classes)
        torch.testing.assert_close(other.correlation, whole.correlation, rtol=0, atol=1e-12, equal_nan=True)


def test_random_logit_refuses_what_it_cannot_compare():
    x = batch()
    with pytest.raises(ValueError, match="C >= 2"):
        random_logit(CAMExplainer(classifier(2, n_classes=1)), x, progress=False)
    with pytest.raises(ValueError, match="C >= 2"):
        random_logit(CAMExplainer(segnet()), x, target=PixelSet(0, torch.ones(8, 8, dtype=torch.bool)), progress=False)
    with pytest.raises(TypeError, match="target must be None"):
        random_logit(CAMExplainer(classifier(2)), x, target=lambda out: out[:, 0], progress=False)
    with pytest.raises(IndexError, match="out of range"):
        random_logit(CAMExplainer(classifier(2)), x, target=7, progress=False)
    with pytest.raises(TypeError, match="seed"):
        random_logit(CAMExplainer(classifier(2)), x, seed="0", progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_invariance():
    model, x = classifier(2), batch()
    cpu = randomisation(CAMExplainer(model, layers=["6"]), x, seed=3, progress=False)
    logit = random_logit(CAMExplainer(model, layers=["6"]), x, seed=3, progress=False)
    gpu_model = classifier(2).cuda()
    states = torch.get_rng_state(), torch.cuda.get_rng_state()
    gpu = randomisation(CAMExplainer(gpu_model, layers=["6"]), x.cuda(), seed=3, progress=False)
    gpu_logit = random_logit(CAMExplainer(gpu_model, layers=["6"]), x.cuda(), seed=3, progress=False)
    assert torch.equal(torch.get_rng_state(), states[0]) and torch.equal(torch.cuda.get_rng_state(), states[1])
    assert gpu.layers == cpu.layers and gpu.correlation.device.type == "cpu"
    torch.testing.assert_close(gpu.correlation, cpu.correlation, rtol=0, atol=1e-9, equal_nan=True)
    assert torch.equal(gpu_logit.classes, logit.classes)
    torch.testing.assert_close(gpu_logit.correlation, logit.correlation, rtol=0, atol=1e-9, equal_nan=True)
