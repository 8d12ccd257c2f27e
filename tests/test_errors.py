"""Bad input: a clear exception that says what was wrong and what is accepted, and nothing left
on the model afterwards."""

import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, PixelSet

from .models import classifier, segnet


def assert_clean(model: nn.Module) -> None:
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert torch.is_grad_enabled()


@pytest.fixture
def model():
    return classifier(2)


@pytest.fixture
def x():
    return torch.randn(2, 1, 8, 8, dtype=torch.float64)


def test_unknown_layer_lists_close_matches_and_valid_names(model):
    with pytest.raises(KeyError, match=r"unknown layer 'features\.4'.*Valid layer names: 0, 1, 2"):
        CAMExplainer(model, layers=["features.4"])
    seg = segnet()
    with pytest.raises(KeyError, match=r"Did you mean 'bottleneck'"):
        CAMExplainer(seg, layers=["botleneck"])
    with pytest.raises(KeyError, match="not part of the model"):
        CAMExplainer(model, layers=[nn.Conv2d(1, 1, 1)])
    assert_clean(model)


def test_unknown_layer_in_explain(model, x):
    with pytest.raises(KeyError, match="unknown layer '99'"):
        CAMExplainer(model, layers=["4"]).explain(x, 0, layer="99")
    assert_clean(model)


def test_unknown_method_lists_valid_ones(model, x):
    with pytest.raises(ValueError, match="unknown CAM method 'gradcam\\+'.*valid methods: ablationcam, cam, eigencam, "
                                         "eigengradcam, fullgrad, gradcam, gradcam\\+\\+, hirescam, layercam, liftcam, "
                                         "respondcam, scorecam, xgradcam, xrescam"):
        CAMExplainer(model, layers=["4"]).explain(x, 0, "gradcam+")


def test_wrong_number_of_input_dims(model):
    with pytest.raises(ValueError, match=r"x must be a batch \(B, C, H, W\); got shape \(1, 8, 8\) \(add the batch dim"):
        CAMExplainer(model, layers=["4"]).explain(torch.randn(1, 8, 8, dtype=torch.float64), 0)
    with pytest.raises(ValueError, match=r"3D, so x must be a batch \(B, C, D, H, W\)"):
        CAMExplainer(classifier(3), layers=["4"]).explain(torch.randn(1, 1, 8, 8, dtype=torch.float64), 0)


def test_non_tensor_and_dtype_mismatch(model, x):
    explainer = CAMExplainer(model, layers=["4"])
    with pytest.raises(TypeError, match="torch.Tensor"):
        explainer.explain(x.numpy(), 0)
    with pytest.raises(TypeError, match="x is torch.float32 but the model's parameters are torch.float64"):
        explainer.explain(x.float(), 0)


def test_nan_and_inf_inputs_are_refused(model, x):
    explainer = CAMExplainer(model, layers=["4"])
    for bad in (float("nan"), float("inf")):
        poisoned = x.clone()
        poisoned[0, 0, 3, 3] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            explainer.explain(poisoned, 0)
    assert_clean(model)


def test_class_out_of_range(model, x):
    explainer = CAMExplainer(model, layers=["4"])
    with pytest.raises(IndexError, match=r"class index 5 out of range: the model outputs 5 classes, valid indices are 0..4"):
        explainer.explain(x, 5)
    with pytest.raises(IndexError, match="class index -1"):
        explainer.explain(x, [0, -1])
    with pytest.raises(ValueError, match="got 3 class indices for a batch of 2"):
        explainer.explain(x, [0, 1, 2])
    assert_clean(model)


def test_mask_of_wrong_shape():
    seg = segnet()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"mask has shape \(4, 4\).*must be \(8, 8\).*or \(2, 8, 8\)"):
        CAMExplainer(seg, layers=["dec"]).explain(x, PixelSet(1, torch.ones(4, 4, dtype=torch.bool)))
    assert_clean(seg)


def test_targets_that_do_not_fit_the_output(model, x):
    with pytest.raises(ValueError, match="PixelSet needs a segmentation output"):
        CAMExplainer(model, layers=["4"]).explain(x, PixelSet(0, torch.ones(8, 8)))
    seg_x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="ClassScore needs class scores shaped \\(B, C\\)"):
        CAMExplainer(segnet(), layers=["dec"]).explain(seg_x, 1)
    with pytest.raises(ValueError, match="target=None explains the predicted class"):
        CAMExplainer(segnet(), layers=["dec"]).explain(seg_x)
    with pytest.raises(ValueError, match="explain_all_classes needs class scores"):
        CAMExplainer(segnet(), layers=["dec"]).explain_all_classes(seg_x)
    with pytest.raises(ValueError, match=r"one scalar per sample, shape \(2,\); got \(2, 5\)"):
        CAMExplainer(model, layers=["4"]).explain(x, lambda out: out)
    with pytest.raises(TypeError, match="unsupported target"):
        CAMExplainer(model, layers=["4"]).explain(x, 1.5)


def test_train_mode_is_refused_with_the_fix(model, x):
    model.train()
    with pytest.raises(RuntimeError, match=r"train mode.*call model.eval\(\)"):
        CAMExplainer(model, layers=["4"]).explain(x, 0)
    assert model.training
    assert_clean(model)


class TupleLayer(nn.Module):
    def forward(self, x):
        return x, x.mean()


class TwoHeads(nn.Module):
    """``unused`` runs in the forward but the output does not depend on it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.unused = nn.Conv2d(3, 3, 1)
        self.pair = TupleLayer()
        self.relu = nn.ReLU()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        a = self.relu(self.conv(x))
        self.unused(a)
        pooled, _ = self.pair(a)
        return self.fc(self.relu(pooled).mean((2, 3)))


def test_layer_with_tuple_output_unused_layer_and_shared_module():
    model = TwoHeads().double().eval()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    with pytest.raises(TypeError, match="layer 'pair' \\(TupleLayer\\) returns tuple, not a tensor"):
        CAMExplainer(model, layers=["pair"]).explain(x, 0)
    assert_clean(model)
    with pytest.raises(ValueError, match="does not depend on layer 'unused'"):
        CAMExplainer(model, layers=["unused"]).explain(x, 0)
    assert_clean(model)
    with pytest.raises(RuntimeError, match="layer 'relu' \\(ReLU\\) is called more than once"):
        CAMExplainer(model, layers=["relu"]).explain(x, 0)
    assert_clean(model)
    explainer = CAMExplainer(model, layers=["conv"])  # a failed on-demand layer is not kept
    with pytest.raises(TypeError, match="returns tuple"):
        explainer.explain(x, 0, layer="pair")
    assert explainer.layers == ["conv"] and explainer.explain(x, 0).raw.shape == (2, 6, 6)


class WithSpare(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = classifier(2)
        self.spare = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.body(x)


def test_layer_that_never_runs():
    model = WithSpare().double().eval()
    with pytest.raises(ValueError, match=r"layer\(s\) \['spare'\] did not run"):
        CAMExplainer(model, layers=["spare"]).explain(torch.randn(1, 1, 8, 8, dtype=torch.float64), 0)
    assert_clean(model)


def test_hooks_removed_when_the_forward_raises():
    class Exploding(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), Exploding(), nn.Flatten()).double().eval()
    with pytest.raises(RuntimeError, match="boom"):
        CAMExplainer(model, layers=["0", "1"]).explain(torch.randn(1, 1, 5, 5, dtype=torch.float64), 0)
    assert_clean(model)
