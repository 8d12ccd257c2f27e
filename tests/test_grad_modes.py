"""CAMs under the modes evaluation code runs in (``no_grad``, ``inference_mode``), through
checkpointed, frozen, wrapped and compiled models; and the errors where autograd cannot see a layer."""

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from cam_widgets import CAMExplainer, PixelSet

from .models import any_head_methods, classifier, segnet
from .test_errors import assert_clean


@pytest.fixture
def x():
    return torch.randn(2, 1, 8, 8, dtype=torch.float64)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_explain_works_under_no_grad_and_inference_mode(mode, x):
    model = classifier(2)
    expected = {m: CAMExplainer(model, layers=["4"]).explain(x, [1, 3], m).raw for m in any_head_methods()}
    seg = segnet()
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[2:5, 2:5] = True
    seg_expected = CAMExplainer(seg, layers=["dec"]).explain(x, PixelSet(1, mask), "hirescam").raw
    context = torch.no_grad() if mode == "no_grad" else torch.inference_mode()
    with context:
        inputs = x.clone()  # under inference_mode: an inference tensor, as evaluation code makes
        explainer = CAMExplainer(model, layers=["4"])
        for method, raw in expected.items():
            torch.testing.assert_close(explainer.explain(inputs, [1, 3], method).raw, raw, rtol=0, atol=0)
        all_classes = explainer.explain_all_classes(inputs, "gradcam")
        seg_raw = CAMExplainer(seg, layers=["dec"]).explain(inputs, PixelSet(1, mask), "hirescam").raw
        assert not torch.is_grad_enabled()
        assert torch.is_inference_mode_enabled() == (mode == "inference_mode")
    torch.testing.assert_close(all_classes.raw[[1, 3], [0, 1]], expected["gradcam"])
    torch.testing.assert_close(seg_raw, seg_expected, rtol=0, atol=0)
    assert_clean(model)


def test_parameters_made_in_inference_mode_get_an_error_that_names_it(x):
    with torch.inference_mode():
        model = classifier(2)
    with pytest.raises(RuntimeError, match=r"inference tensors \(created or loaded inside torch.inference_mode\(\)\)"):
        CAMExplainer(model, layers=["4"]).explain(x, 1)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


class Checkpointed(nn.Module):
    def __init__(self, reentrant: bool):
        super().__init__()
        self.reentrant = reentrant
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        h = checkpoint(self.block, self.stem(x), use_reentrant=self.reentrant)
        return self.fc(h.mean((2, 3)))


def test_reentrant_checkpointing_is_named_as_the_cause(x):
    model = Checkpointed(reentrant=True).double().eval()
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad"):  # torch's own warning
        with pytest.raises(ValueError, match=r"layer 'block.0': it runs inside torch.utils.checkpoint\(\.\.\., "
                                             r"use_reentrant=True\).*use use_reentrant=False"):
            CAMExplainer(model, layers=["block.0"]).explain(x, 1)
        with pytest.raises(ValueError, match="use_reentrant=True"):
            CAMExplainer(model, layers=["block.0"]).explain_all_classes(x)
    with pytest.raises(ValueError, match=r"checkpoint\(\.\.\., use_reentrant=True\) above the explained layer.*"
                                         "use use_reentrant=False"):
        CAMExplainer(model, layers=["stem"]).explain(x, 1)
    assert_clean(model)


def test_non_reentrant_checkpointing_gives_the_plain_models_maps(x):
    model = Checkpointed(reentrant=False).double().eval()
    plain = Checkpointed(reentrant=False).double().eval()
    plain.load_state_dict(model.state_dict())
    plain.forward = lambda inputs: plain.fc(plain.block(plain.stem(inputs)).mean((2, 3)))
    for layer in ("block.0", "stem"):
        torch.testing.assert_close(CAMExplainer(model, layers=[layer]).explain(x, 1).raw,
                                   CAMExplainer(plain, layers=[layer]).explain(x, 1).raw)


class Doubler(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, module):
        return 2 * module(inputs)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class WithFunctionAndNoGrad(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.inner = nn.Conv2d(4, 4, 1)
        self.frozen = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h = Doubler.apply(self.conv(x), self.inner)
        with torch.no_grad():
            h = self.frozen(h)
        return self.fc(h.mean((2, 3)))


def test_custom_functions_and_no_grad_blocks_inside_the_model_are_named(x):
    model = WithFunctionAndNoGrad().double().eval()
    with pytest.raises(ValueError, match=r"layer 'inner': it runs inside a custom torch.autograd.Function"):
        CAMExplainer(model, layers=["conv", "inner"]).explain(x, 1, layer="inner")
    with pytest.raises(ValueError, match=r"layer 'frozen': it runs inside a torch.no_grad\(\) block"):
        CAMExplainer(model, layers=["conv", "frozen"]).explain(x, 1, layer="frozen")
    assert_clean(model)


def test_frozen_models_keep_working_and_stay_frozen(x):
    model = classifier(2)
    expected = CAMExplainer(model, layers=["4"]).explain(x, 1, "respondcam").raw
    model.requires_grad_(False)
    torch.testing.assert_close(CAMExplainer(model, layers=["4"]).explain(x, 1, "respondcam").raw, expected)
    assert not any(p.requires_grad for p in model.parameters())
    assert_clean(model)


def test_data_parallel_and_compiled_models_are_run_through_the_wrapped_module(x):
    model = classifier(2)
    expected = CAMExplainer(model, layers=["4"]).explain(x, 1).raw
    wrapped = nn.DataParallel(model).eval()
    for name in ("4", "module.4"):
        result = CAMExplainer(wrapped, layers=[name]).explain(x, 1)
        assert result.layer == "module.4"
        torch.testing.assert_close(result.raw, expected)
    compiled = torch.compile(model, backend="eager")
    result = CAMExplainer(compiled, layers=["4"]).explain(x, 1)
    assert result.layer == "_orig_mod.4"
    torch.testing.assert_close(result.raw, expected)
    assert CAMExplainer(compiled).explain(x, 1).layer == "_orig_mod.7"  # the default layer, found through it
    with pytest.raises(KeyError, match=r"Did you mean '_orig_mod.4'"):
        CAMExplainer(compiled, layers=["_orig_mod.44"])
    assert_clean(model)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_models_work_with_the_method_in_float32(dtype, x):
    model = classifier(2)
    low = classifier(2).to(dtype)
    for method in any_head_methods():
        expected = CAMExplainer(model, layers=["4"]).explain(x, 1, method).raw
        result = CAMExplainer(low, layers=["4"]).explain(x.to(dtype), 1, method)
        assert result.raw.dtype == torch.float32 and torch.isfinite(result.raw).all()
        error = float((result.raw.double() - expected).abs().max() / expected.abs().max())
        assert error < (0.01 if dtype == torch.float16 else 0.08), (method, error)
    with pytest.raises(TypeError, match=f"x is torch.float32 but the model's parameters are {dtype}"):
        CAMExplainer(low, layers=["4"]).explain(x.float(), 1)


def test_an_overflowing_output_is_refused_not_explained_as_nan(x):
    model = classifier(2).half()
    with torch.no_grad():
        model[11].weight.mul_(3e4)
    with pytest.raises(ValueError, match=r"output for this input contains NaN or inf \(dtype torch.float16\)"):
        CAMExplainer(model, layers=["4"]).explain((x * 100).half(), 1)


def test_pfv_runs_wrapped_compiled_half_and_inference_mode_models_like_the_plain_one(x):
    from cam_widgets import PFVExplainer

    model = classifier(2)
    expected = PFVExplainer(model).explain(x)
    for wrapped in (nn.DataParallel(model).eval(), torch.compile(model, backend="eager")):
        result = PFVExplainer(wrapped).explain(x)
        assert result.layer.endswith(expected.layer) and result.layer != expected.layer
        torch.testing.assert_close(result.rgb, expected.rgb)
    with torch.inference_mode():
        torch.testing.assert_close(PFVExplainer(model).explain(x.clone()).rgb, expected.rgb)
    half = PFVExplainer(classifier(2).half()).explain(x.half())
    assert half.rgb.dtype == torch.float16 and float((half.rgb.double() - expected.rgb).abs().mean()) < 0.02
