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
from .node_runner import run_js


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
    base, overlay = np.array([[0.0, 1.0, 1.0]]), np.array([[0.0, 1.0, 0.5]])
    rgb = compose(base, overlay, (0.0, 1.0), (0.0, 1.0), signed=False, colormap="grey", opacity=0.25)
    # 0 overlay is transparent: pure base; full overlay: 255*0.75 + 255*0.25; half: 255*0.75 + 128*0.25
    assert rgb[0, :, 0].tolist() == [0, 255, 223]
    signed = compose(np.zeros((1, 3)), np.array([[-1.0, 1.0, 0.25]]), (0.0, 1.0), (-1.0, 1.0), True, opacity=1.0, relu=True)
    # relu hides -1; +1 gets full opacity; 0.25 fades to alpha 2 * 0.25 = 0.5 over black
    assert signed[0, 0].tolist() == [0, 0, 0] and signed[0, 1].tolist() == lut("RdBu")[255].tolist()
    assert signed[0, 2].tolist() == np.round(lut("RdBu")[159] * 0.5).astype(int).tolist()


def test_float32_overlays_hide_only_exact_zeros():
    base, overlay = np.ones((1, 2)), np.array([[0.0, 0.001]])  # a white base under a near-black overlay
    uint8 = compose(base, overlay, (0.0, 1.0), (0.0, 1.0), False, "grey", 1.0)
    exact = compose(base, overlay, (0.0, 1.0), (0.0, 1.0), False, "grey", 1.0, overlay_dtype="float32")
    assert uint8[0].tolist() == [[255, 255, 255]] * 2  # 0.001 is within half a uint8 step of 0: hidden
    assert exact[0].tolist() == [[255, 255, 255], [0, 0, 0]]  # float32: only the exact 0 is hidden


NODE_COMPOSE = """
import { composeRGBA } from "./src/compose.js";
const input = JSON.parse(process.argv[2]);
const wrap = (a) => ({ data: Uint8Array.from(a.q), dtype: "uint8", vmin: a.vmin, vmax: a.vmax });
const out = composeRGBA(wrap(input.base), wrap(input.overlay), { ...input.options, fade: input.options.signed });
console.log(JSON.stringify(Array.from(out)));
"""


@pytest.mark.parametrize("signed, relu, window, colormap", [
    (False, False, None, "inferno"), (False, False, (0.2, 0.7), "viridis"), (True, False, None, "inferno"),
    (True, True, (-1.0, 3.0), "jet"),
])
def test_python_png_matches_the_browser_pixel_for_pixel(signed, relu, window, colormap, tmp_path):
    """render.compose (PNG export) and js/src/compose.js (the canvas) draw identical pixels."""
    rng = np.random.default_rng(0)
    base_q, overlay_q = rng.integers(0, 256, 400), rng.integers(0, 256, 400)
    overlay_q[:20] = 128 if signed else 0  # exact zeros: transparent in both
    base_range, overlay_range = (-0.5, 2.0), ((-1.7, 1.7) if signed else (0.0, 3.2))
    decode = lambda q, r: r[0] + (r[1] - r[0]) / 255 * q.astype(np.float64)
    ours = compose(decode(base_q, base_range)[None], decode(overlay_q, overlay_range)[None], base_range, overlay_range,
                   signed, colormap, 0.6, window, relu)[0]
    payload = {"base": {"q": base_q.tolist(), "vmin": base_range[0], "vmax": base_range[1]},
               "overlay": {"q": overlay_q.tolist(), "vmin": overlay_range[0], "vmax": overlay_range[1]},
               "options": {"signed": signed, "relu": relu, "window": list(window) if window else [],
                           "colormap": colormap, "opacity": 0.6}}
    browser = np.array(run_js(NODE_COMPOSE, payload)).reshape(-1, 4)
    assert np.array_equal(browser[:, :3], ours) and (browser[:, 3] == 255).all()


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
    shown, result = viewer.target_class, viewer.result
    viewer.target_class = 7  # refused: the trait, the map and the result stay those of the last valid class
    assert viewer.target_class == shown and viewer.result is result and not viewer.busy
    assert "target_class = 7 was not applied" in viewer.error and "0..4 (the model has 5 classes)" in viewer.error
    viewer.target_class = (shown + 1) % 5  # a valid change clears the message
    assert viewer.error == "" and viewer.result.scores.shape == (1,)
    viewer.sample = 4
    assert viewer.sample == 0 and "sample (the batch's index) must be 0..0, got 4" in viewer.error
    with pytest.raises(ValueError, match="give one sample .* or a batch"):
        CAMViewer(CAMExplainer(float_model(2)), torch.randn(8, 8))
    with pytest.raises(ValueError, match="3 class names for a model with 5 output classes"):
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
    """The picture itself is export.py's (tests/test_export*.py); here: the viewer offers it."""
    viewer = CAMViewer(CAMExplainer(float_model(3), layers=["4"]), torch.randn(1, 8, 8, 8))
    viewer.opacity, viewer.axis, viewer.slice_index = 0.0, 2, 5
    path = viewer.save_png(tmp_path / "view.png", scale=1)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.width > 8
    data, _ = viewer._repr_mimebundle_()
    assert "image/png" in data and "application/vnd.jupyter.widget-view+json" in data


def test_3d_view_follows_the_viewer():
    viewer = CAMViewer(CAMExplainer(float_model(3), layers=["1"]), torch.randn(1, 8, 8, 8))
    figure = viewer.view_3d().figure
    assert [trace.name for trace in figure.data] == ["input", "CAM > 0", "CAM < 0"]
    before = figure.data[1].x
    viewer.target_class = (viewer.target_class + 1) % 5
    assert not np.array_equal(np.asarray(figure.data[1].x), np.asarray(before))
