"""The widgets' Python side: state, binary payloads (sizes, dtypes, value ranges), recomputation."""

import numpy as np
import pytest
import torch
from PIL import Image

from cam_widgets import CAMExplainer, CAMViewer, PixelSet
from cam_widgets.targets import from_prediction
from cam_widgets.widgets.codec import decode_array, encode_array
from cam_widgets.widgets.colormaps import lut
from cam_widgets.widgets.render import compose

from .models import classifier, segnet


def float_model(ndim):
    return classifier(ndim).float()


def test_codec_round_trip_and_quantisation():
    values = torch.linspace(-3, 5, 1000).reshape(10, 100)
    encoded = encode_array(values)
    assert encoded["dtype"] == "uint8" and encoded["shape"] == [10, 100] and len(encoded["buffer"]) == 1000
    assert (encoded["vmin"], encoded["vmax"]) == (-3.0, 5.0)
    assert np.abs(decode_array(encoded) - values.numpy()).max() <= 8 / 255 / 2 + 1e-6
    exact = encode_array(values, dtype="float32")
    assert len(exact["buffer"]) == 4000 and np.array_equal(decode_array(exact), values.numpy())
    with pytest.raises(ValueError, match="'uint8' or 'float32'"):
        encode_array(values, dtype="int16")


def test_colormap_tables():
    assert lut("grey")[0].tolist() == [0, 0, 0] and lut("grey")[255].tolist() == [255, 255, 255]
    assert np.abs(lut("RdBu")[128].astype(int) - 247).max() <= 3  # white at the centre (128 of 0..255)
    assert lut("RdBu")[0][2] > lut("RdBu")[0][0] and lut("RdBu")[255][0] > lut("RdBu")[255][2]  # blue < 0 < red
    with pytest.raises(ValueError, match="unknown colormap 'nope'"):
        lut("nope")


def test_compose_blends_as_documented():
    base = np.array([[0.0, 1.0]])
    overlay = np.array([[0.0, 1.0]])
    rgb = compose(base, overlay, (0.0, 1.0), signed=False, colormap="grey", opacity=0.5)
    # pixel 0: grey 0, overlay grey 0 -> 0; pixel 1: grey 255, overlay 255 -> 255
    assert rgb.tolist() == [[[0, 0, 0], [255, 255, 255]]]
    half = compose(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), (0.0, 1.0), False, "grey", 0.25, window=(0.0, 1.0))
    assert half[0, 0].tolist() == [191, 191, 191] and half[0, 1].tolist() == [0, 0, 0]
    signed = compose(np.zeros((1, 2)), np.array([[-1.0, 1.0]]), (-1.0, 1.0), True, opacity=1.0, relu=True)
    assert signed[0, 0].tolist() == [0, 0, 0] and signed[0, 1].tolist() == lut("RdBu")[255].tolist()


@pytest.mark.parametrize("ndim", [2, 3])
def test_viewer_payloads_match_the_explainer(ndim):
    model = float_model(ndim)
    x = torch.randn(3, 1, *(8,) * ndim)
    explainer = CAMExplainer(model, layers=["7", "4"])
    viewer = CAMViewer(explainer, x, class_names=list("abcde"))
    predicted = int(model(x[:1]).argmax())
    assert viewer.target_class == predicted and viewer.n_samples == 3 and viewer.layers == ["7", "4"]
    assert viewer.class_names == list("abcde") and len(viewer.class_scores) == 5
    assert sum(viewer.class_probs) == pytest.approx(1.0)
    for trait in ("image", "cam"):
        payload = getattr(viewer, trait)
        assert payload["dtype"] == "uint8" and payload["shape"] == [8] * ndim and len(payload["buffer"]) == 8**ndim
    expected = explainer.explain(x[:1], predicted, "gradcam", "7").map[0]
    assert viewer.cam["vmin"] == pytest.approx(float(expected.min())) and viewer.cam["vmax"] == pytest.approx(float(expected.max()))
    assert np.abs(decode_array(viewer.cam) - expected.numpy()).max() <= (viewer.cam["vmax"] - viewer.cam["vmin"]) / 510 + 1e-6
    torch.testing.assert_close(viewer.result.map, expected[None])

    viewer.method = "respondcam"
    assert viewer.cam_signed and viewer.cam["vmin"] == -viewer.cam["vmax"]
    viewer.layer, viewer.target_class, viewer.sample = "4", 2, 1
    torch.testing.assert_close(viewer.result.raw, explainer.explain(x[1:2], 2, "respondcam", "4").raw)
    assert viewer.class_scores == pytest.approx(model(x[1:2])[0].tolist())
    image = decode_array(viewer.image)
    assert np.abs(image - x[1, 0].numpy()).max() <= (viewer.image["vmax"] - viewer.image["vmin"]) / 510 + 1e-6


def test_one_forward_per_sample_and_compare_mode():
    model = float_model(3)
    x = torch.randn(2, 1, 8, 8, 8)
    calls = {"n": 0}
    handle = model.register_forward_pre_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    try:
        viewer = CAMViewer(CAMExplainer(model, layers=["7", "4"]), x, compare_method="respondcam")
        for method in ("gradcam++", "hirescam", "layercam"):
            viewer.method = method
        viewer.target_class, viewer.layer = 3, "4"
        assert calls["n"] == 1
        viewer.sample = 1
        assert calls["n"] == 2
    finally:
        handle.remove()
    assert viewer.compare_signed and viewer.compare["shape"] == [8, 8, 8]
    torch.testing.assert_close(viewer.compare_result.raw, CAMExplainer(model, layers=["4"]).explain(x[1:], 3, "respondcam").raw)
    viewer.compare_method = ""
    assert viewer.compare == {} and viewer.compare_result is None


def test_errors_are_shown_and_the_viewer_keeps_working():
    viewer = CAMViewer(CAMExplainer(float_model(2), layers=["7"]), torch.randn(1, 8, 8))
    viewer.target_class = 7
    assert viewer.error.startswith("IndexError: class index 7 out of range") and not viewer.busy
    viewer.target_class = 1
    assert viewer.error == "" and viewer.result.scores.shape == (1,)
    viewer.sample = 4
    assert "sample 4 out of range" in viewer.error
    with pytest.raises(ValueError, match="give one sample .* or a batch"):
        CAMViewer(CAMExplainer(float_model(2)), torch.randn(8, 8))
    with pytest.raises(ValueError, match="3 class names for a model with 5 outputs"):
        CAMViewer(CAMExplainer(float_model(2)), torch.randn(1, 8, 8), class_names=["a", "b", "c"])


def test_large_inputs_are_downsampled_for_display_with_a_notice():
    model = classifier(3, side=16).float()
    viewer = CAMViewer(CAMExplainer(model, layers=["7"]), torch.randn(1, 16, 16, 16), max_display_voxels=8**3)
    assert viewer.image["shape"] == [8, 8, 8] and viewer.cam["shape"] == [8, 8, 8]
    assert "16x16x16 shown downsampled to 8x8x8" in viewer.notice
    assert viewer.result.map.shape == (1, 16, 16, 16)


def test_segmentation_model_explains_the_predicted_region():
    model = segnet().float()
    x = torch.randn(1, 8, 8)
    explainer = CAMExplainer(model, layers=["dec"])
    viewer = CAMViewer(explainer, x)
    viewer.method, viewer.target_class = "hirescam", 1
    logits = model(x[None])
    expected = explainer.explain(x[None], PixelSet(1, from_prediction(logits, 1)), "hirescam")
    torch.testing.assert_close(viewer.result.raw, expected.raw)


def test_png_export_and_static_fallback(tmp_path):
    viewer = CAMViewer(CAMExplainer(float_model(3), layers=["4"]), torch.randn(1, 8, 8, 8))
    viewer.opacity, viewer.axis, viewer.slice_index = 0.0, 2, 5  # opacity 0: the PNG is the grey input slice
    path = viewer.save_png(tmp_path / "view.png", scale=1)
    pixels = np.asarray(Image.open(path))[..., :3]
    image = decode_array(viewer.image)[:, :, 5]
    expected = np.clip((image - image.min()) / (image.max() - image.min()), 0, 1) * 255
    assert pixels.shape == (8, 8, 3) and np.abs(pixels[..., 0] - expected).max() <= 1
    data, _ = viewer._repr_mimebundle_()
    assert "image/png" in data and "application/vnd.jupyter.widget-view+json" in data


def test_3d_view_follows_the_viewer():
    viewer = CAMViewer(CAMExplainer(float_model(3), layers=["1"]), torch.randn(1, 8, 8, 8))
    figure = viewer.view_3d()
    assert [trace.name for trace in figure.data] == ["input", "CAM > 0", "CAM < 0"]
    before = figure.data[1].x
    viewer.target_class = (viewer.target_class + 1) % 5
    assert not np.array_equal(np.asarray(figure.data[1].x), np.asarray(before))
