"""PixelSetPicker's Python side: the mask codec, the CAM of the picked set, errors, save and load."""

import numpy as np
import pytest
import torch

from cam_widgets import CAMExplainer, PixelSet, PixelSetPicker
from cam_widgets.targets import ball, box
from cam_widgets.widgets import codec, pixel_set_picker
from cam_widgets.widgets.codec import decode_array, pack_mask, unpack_mask

from .models import classifier, segnet


def make_picker(**kwargs):
    model = segnet().float()
    x = torch.randn(1, 8, 8)
    explainer = CAMExplainer(model, layers=["dec", "bottleneck"])
    return PixelSetPicker(explainer, x, **kwargs), explainer, x[None], model


def test_mask_codec_is_numpys_packbits():
    assert (pixel_set_picker.pack_mask, pixel_set_picker.unpack_mask) == (codec.pack_mask, codec.unpack_mask)  # one codec
    mask = np.zeros(9, bool)
    mask[[0, 8]] = True
    assert pack_mask(mask)["buffer"] == bytes([128, 128])  # most significant bit first, padded
    rng = np.random.default_rng(0)
    for shape in [(8, 8), (5, 7), (3, 4, 5)]:
        mask = rng.random(shape) < 0.3
        assert np.array_equal(unpack_mask(pack_mask(mask), shape), mask)
    assert not unpack_mask({}, (2, 3)).any()
    with pytest.raises(ValueError, match=r"the pixel set has shape \(2, 3\), the model's output is \(3, 2\)"):
        unpack_mask(pack_mask(np.ones((2, 3))), (3, 2))


def test_picked_set_gives_exactly_the_explainers_cam():
    picker, explainer, x, model = make_picker(target_class=2, compare_method="gradcam")
    mask = box((8, 8), (1, 2), (4, 6)) | ball((8, 8), (6, 6), 1.0)
    picker.mask = mask.numpy()
    expected = explainer.explain(x, PixelSet(2, mask), "hirescam", "dec")
    assert picker.error == "" and picker.n_selected == int(mask.sum())
    assert torch.equal(picker.result.raw, expected.raw) and picker.result.method == "hirescam"
    torch.testing.assert_close(picker.compare_result.raw, explainer.explain(x, PixelSet(2, mask), "gradcam", "dec").raw)
    cam = decode_array(picker.cam)
    assert np.abs(cam - expected.map[0].numpy()).max() <= (picker.cam["vmax"] - picker.cam["vmin"]) / 510 + 1e-6
    picker.layer, picker.method = "bottleneck", "respondcam"
    assert torch.equal(picker.result.raw, explainer.explain(x, PixelSet(2, mask), "respondcam", "bottleneck").raw)
    assert picker.cam_signed and picker.cam["vmin"] == -picker.cam["vmax"]


def test_labels_and_defaults():
    picker, _, x, model = make_picker()
    predicted = model(x).argmax(1)[0]
    assert picker.labels["shape"] == [8, 8] and np.array_equal(decode_array(picker.labels), predicted.numpy())
    assert picker.target_class == -1 and picker.cam == {} and "click on the image" in picker.notice
    assert picker.method == "hirescam" and picker.layers == ["dec", "bottleneck"]


def test_empty_set_is_the_zero_sanity_check_and_errors_keep_the_widget_working():
    picker, *_ = make_picker(target_class=1)
    assert picker.n_selected == 0 and float(picker.result.map.abs().max()) == 0.0 and "empty" in picker.notice
    picker.target_class = 7  # refused as the browser's select would: the last valid class stays
    assert picker.target_class == 1 and "target_class = 7 was not applied (kept 1)" in picker.error
    assert "-1 (none), 0..2" in picker.error
    picker.mask_bits = {"buffer": b"\x00", "shape": [2, 2], "encoding": "bits"}
    assert "the pixel set has shape (2, 2)" in picker.error
    picker.target_class = 1
    picker.mask = np.ones((8, 8), bool)
    assert picker.error == "" and picker.n_selected == 64
    with pytest.raises(ValueError, match=r"spatial shape \(8, 8\)"):
        picker.mask = np.ones((4, 4), bool)


def test_one_forward_for_every_stroke(tmp_path):
    picker, explainer, x, model = make_picker(target_class=0)
    calls = {"n": 0}
    handle = model.register_forward_pre_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    try:
        for r in range(1, 4):
            picker.mask = ball((8, 8), (4, 4), r).numpy()
        picker.method = "gradcam"
    finally:
        handle.remove()
    assert calls["n"] == 0  # the forward pass of the constructor serves every later stroke
    path = picker.save_mask(tmp_path / "m.npy")
    saved = picker.mask
    picker.mask = np.zeros((8, 8), bool)
    picker.load_mask(path)
    assert np.array_equal(picker.mask, saved)


def test_bad_inputs():
    with pytest.raises(ValueError, match="needs a segmentation output"):
        PixelSetPicker(CAMExplainer(classifier(2).float()), torch.randn(1, 8, 8))
    with pytest.raises(ValueError, match="explains one image"):
        PixelSetPicker(CAMExplainer(segnet().float()), torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="2 class names for a model with 3 output classes"):
        PixelSetPicker(CAMExplainer(segnet().float()), torch.randn(1, 8, 8), class_names=["a", "b"])


def test_observers_see_the_new_state_whole():
    """A stroke arrives as one message (mask and first class together); an observer of ``cam`` sees the
    new mask count and result, never a half-updated widget."""
    picker, explainer, x, model = make_picker()
    seen = []
    picker.observe(lambda change: seen.append((picker.target_class, picker.n_selected, picker.result.method)), names=["cam"])
    mask = box((8, 8), (2, 2), (5, 5)).numpy()
    picker.set_state({"mask_bits": pack_mask(mask), "target_class": 1})
    assert seen == [(1, 9, "hirescam")]
