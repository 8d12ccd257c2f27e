"""What users naturally pass: NumPy integers as targets, a tensor as a data set, files with NaN."""

import numpy as np
import pytest
import torch

from cam_widgets import CAMExplainer, ClassScore, PixelSet
from cam_widgets.datasets import load_volume
from cam_widgets.metrics import evaluate_sum_to_score

from .models import classifier, segnet


@pytest.fixture
def setup():
    model = classifier(2)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    return CAMExplainer(model, layers=["4"]), x


def test_numpy_and_array_like_integer_targets_are_accepted(setup):
    explainer, x = setup
    expected = explainer.explain(x, [1, 2, 4]).raw
    predicted = explainer.predict(x).numpy().argmax(1)
    for target in (np.array([1, 2, 4]), np.array([1, 2, 4], dtype=np.int32), np.array([1, 2, 4], dtype=np.uint8),
                   (np.int64(1), np.int16(2), 4), torch.tensor([[1], [2], [4]]), ClassScore(np.array([1, 2, 4]))):
        torch.testing.assert_close(explainer.explain(x, target).raw, expected, rtol=0, atol=0)
    torch.testing.assert_close(explainer.explain(x, np.int64(2)).raw, explainer.explain(x, 2).raw, rtol=0, atol=0)
    torch.testing.assert_close(explainer.explain(x, predicted).raw, explainer.explain(x).raw, rtol=0, atol=0)
    torch.testing.assert_close(explainer.explain(x, int(np.argmax([0, 0, 5]))).raw, explainer.explain(x, 2).raw)
    seg = CAMExplainer(segnet(), layers=["dec"])
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = True
    torch.testing.assert_close(seg.explain(x[:1], PixelSet(np.int64(1), mask)).raw,
                               seg.explain(x[:1], PixelSet(1, torch.from_numpy(mask))).raw, rtol=0, atol=0)


@pytest.mark.parametrize("bad, error, message", [
    (np.array([1.0, 2.0, 3.0]), TypeError, "class indices must be integers, got dtype torch.float64"),
    (np.float64(2.0), TypeError, "class indices must be integers"),
    (np.array([[1, 2, 3]]), ValueError, r"one int or a 1-D sequence of ints .* got shape \(1, 3\)"),
    (np.zeros((3, 8, 8), np.int64), ValueError, r"got shape \(3, 8, 8\); to explain a region .* PixelSet"),
    (True, TypeError, "unsupported target True"),
    (np.bool_(True), TypeError, "unsupported target"),
    ("3", TypeError, "unsupported target '3'"),
    ([1, "a", 2], TypeError, "class indices must be"),
])
def test_targets_that_are_not_integers_get_a_clear_error(setup, bad, error, message):
    explainer, x = setup
    with pytest.raises(error, match=message):
        explainer.explain(x, bad)


def test_load_volume_refuses_nan_and_inf_naming_the_source(tmp_path):
    volume = np.random.default_rng(0).standard_normal((8, 8, 8)).astype(np.float32)
    volume[1, 2, 3] = np.nan
    path = tmp_path / "masked.npy"
    np.save(path, volume)
    with pytest.raises(ValueError, match=r"masked.npy holds 1 NaN or inf value\(s\) of 512.*np.nan_to_num"):
        load_volume(path)
    volume[1, 2, 3] = np.inf
    with pytest.raises(ValueError, match="the array holds 1 NaN or inf"):
        load_volume(volume, normalize=False)
    volume[1, 2, 3] = 0
    assert torch.isfinite(load_volume(volume)).all()


def test_sum_to_score_takes_a_single_tensor_as_one_batch(setup):
    explainer, x = setup
    as_tensor = evaluate_sum_to_score(explainer, x, methods=("respondcam",), progress=False)
    as_list = evaluate_sum_to_score(explainer, [x], methods=("respondcam",), progress=False)
    assert as_tensor["respondcam"].l1.shape == (3,)
    np.testing.assert_array_equal(as_tensor["respondcam"].l1, as_list["respondcam"].l1)


def test_a_forward_that_fails_on_the_input_says_which_input(setup):
    explainer, x = setup
    for call in (lambda: explainer.explain(torch.randn(1, 3, 8, 8, dtype=torch.float64), 0),
                 lambda: CAMExplainer(explainer.model).explain(torch.randn(1, 1, 6, 6, dtype=torch.float64), 0)):
        with pytest.raises(RuntimeError) as caught:
            call()
        notes = getattr(caught.value, "__notes__", [])
        assert any("raised by the model's forward pass on x of shape (1, " in n and "channels and spatial size" in n
                   for n in notes), notes


def test_inputs_that_require_grad_or_have_other_layouts_give_the_same_maps(setup):
    explainer, x = setup
    expected = explainer.explain(x, 1).raw
    tracked = x.clone().requires_grad_(True)
    torch.testing.assert_close(CAMExplainer(explainer.model, layers=["4"]).explain(tracked, 1).raw, expected)
    assert tracked.grad is None
    strided = x.transpose(2, 3).contiguous().transpose(2, 3)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    assert not strided.is_contiguous()
    for other in (strided, channels_last):
        torch.testing.assert_close(CAMExplainer(explainer.model, layers=["4"]).explain(other, 1).raw, expected)


def test_targets_that_break_the_graph_are_named_as_the_cause(setup):
    explainer, x = setup
    with pytest.raises(TypeError, match="a target must return floating scores .* got dtype torch.int64"):
        explainer.explain(x, lambda out: out.argmax(1))
    with pytest.raises(ValueError, match=r"does not depend on the model's output through autograd: did it call \.detach"):
        explainer.explain(x, lambda out: out[:, 1].detach())
    torch.testing.assert_close(explainer.explain(x, lambda out: out[:, 1]).raw, explainer.explain(x, 1).raw)


def test_sum_to_score_takes_monai_style_dict_batches(setup):
    explainer, x = setup
    as_dicts = evaluate_sum_to_score(explainer, [{"image": x, "label": torch.zeros(3)}], methods=("respondcam",),
                                     progress=False)
    np.testing.assert_array_equal(as_dicts["respondcam"].l1,
                                  evaluate_sum_to_score(explainer, [x], methods=("respondcam",), progress=False)["respondcam"].l1)
    with pytest.raises(KeyError, match=r"needs the input under 'image'.*keys are \['img'\]"):
        evaluate_sum_to_score(explainer, [{"img": x}], progress=False)
