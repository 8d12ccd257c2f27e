"""A cached forward pass never outlives the data it came from: weights and inputs written behind
autograd's back (``.data``, NumPy memory) start a new session; equal values reuse the old one."""

import numpy as np
import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets.fingerprint import InputSnapshot, WeightsFingerprint, model_tensors, tensor_fingerprint

from .models import classifier, segnet


def fresh(model: nn.Module, x: torch.Tensor, target=1, layer="4", method="gradcam") -> torch.Tensor:
    return CAMExplainer(model, layers=[layer]).explain(x.clone(), target, method).raw


def count_forwards(model: nn.Module) -> dict:
    counter = {"n": 0}
    model.register_forward_pre_hook(lambda module, args: counter.__setitem__("n", counter["n"] + 1))
    return counter


@pytest.mark.parametrize("edit", ["mul", "ema_copy", "swap_filters", "one_value", "bias_zero"])
def test_weight_writes_through_data_start_a_new_session(edit):
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    before = explainer.explain(x, 1).raw.clone()
    conv = model[2]
    if edit == "mul":
        conv.weight.data.mul_(0.5)
    elif edit == "ema_copy":  # an EMA update written into the live weights
        ema = {k: v.clone() * 0.9 + 0.1 * torch.randn_like(v) for k, v in model.state_dict().items()}
        for name, p in model.named_parameters():
            p.data.copy_(ema[name])
    elif edit == "swap_filters":  # weight surgery: the same values at other positions
        w = conv.weight.data
        w[[0, 1]] = w[[1, 0]].clone()
    elif edit == "one_value":
        conv.weight.data[0, 0, 1, 1] += 0.05
    else:
        model[5].bias.data.zero_()
    after = explainer.explain(x, 1).raw
    torch.testing.assert_close(after, fresh(model, x), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(before, after)


def test_buffer_written_through_data_starts_a_new_session():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 36, 3)).double().eval()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["1"])
    before = explainer.explain(x, 1).raw.clone()
    model[1].running_mean.data.add_(0.5)
    after = explainer.explain(x, 1).raw
    torch.testing.assert_close(after, fresh(model, x, layer="1"))
    assert not torch.allclose(before, after)


def test_numpy_memory_and_x_data_written_in_place_start_a_new_session():
    model = classifier(2)
    array = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    x = torch.from_numpy(array)
    explainer = CAMExplainer(model, layers=["4"])
    first = explainer.explain(x, 1).raw.clone()
    array *= 2  # NumPy writes the tensor's memory; x._version does not move
    second = explainer.explain(x, 1).raw.clone()
    torch.testing.assert_close(second, fresh(model, torch.from_numpy(array.copy())))
    assert not torch.allclose(first, second)
    x.data.copy_(torch.randn(2, 1, 8, 8, dtype=torch.float64))
    third = explainer.explain(x, 1).raw
    torch.testing.assert_close(third, fresh(model, x))
    assert not torch.allclose(second, third)


def test_equal_values_reuse_the_forward_and_check_weights_false_trusts_versions():
    model = classifier(2)
    counter = count_forwards(model)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    explainer.explain(x, 1)
    explainer.explain(x.clone(), 2)  # another tensor, the same values
    assert counter["n"] == 1
    with torch.no_grad():
        model[0].weight.mul_(1.0)  # seen by autograd's version counter, even when values stay
    explainer.explain(x, 1)
    assert counter["n"] == 2
    trusting = CAMExplainer(model, layers=["4"], check_weights=False)
    stale = trusting.explain(x, 1).raw.clone()
    model[2].weight.data.mul_(0.5)
    assert torch.equal(trusting.explain(x, 1).raw, stale)  # the documented opt-out: no value check
    with torch.no_grad():
        model[2].weight.mul_(2.0)  # an autograd-visible write is still noticed
    torch.testing.assert_close(trusting.explain(x, 1).raw, fresh(model, x))


def test_fingerprint_sees_every_position_and_is_deterministic():
    torch.manual_seed(0)
    big = torch.randn(3 * 4096 + 17)  # whole rows and a tail
    base = tensor_fingerprint(big)
    assert torch.equal(base, tensor_fingerprint(big.clone()))
    for position in (0, 4095, 4096, 3 * 4096, 3 * 4096 + 16):
        changed = big.clone()
        changed[position] += 1e-3 * big.abs().mean()
        assert not torch.equal(base, tensor_fingerprint(changed)), position
    swapped = big.clone()
    swapped[[5, 9000]] = swapped[[9000, 5]]
    assert not torch.equal(base, tensor_fingerprint(swapped))
    model = classifier(2)
    state = WeightsFingerprint(model_tensors(model))
    assert state == WeightsFingerprint(model_tensors(model))
    model[9].weight.data[3, 3] = model[9].weight.data[3, 3] + 1e-9
    assert state != WeightsFingerprint(model_tensors(model))
    snapshot = InputSnapshot(big)
    assert snapshot.matches(big.clone()) and not snapshot.matches(big.double()) and not snapshot.matches(big[:-1])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_pixel_set_weights_with_nan_or_inf_are_refused(bad):
    seg = segnet()
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    weights = torch.ones(8, 8, dtype=torch.float64)
    weights[2, 3] = bad
    with pytest.raises(ValueError, match=r"pixel-set mask \(shape \(8, 8\), torch.float64\) has 1 NaN or inf weight"):
        PixelSet(1, weights)
    target = PixelSet(1, torch.ones(8, 8, dtype=torch.float64))
    target.mask[0, 0] = bad  # written after construction: refused when used
    with pytest.raises(ValueError, match="NaN or inf weight"):
        CAMExplainer(seg, layers=["dec"]).explain(x, target)
