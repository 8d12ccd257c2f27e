"""The widgets' shared state: one trait schema (declared once in CAMWidget, defaults read from it),
positions in the input's own voxel indices, zoom, the channel shown (RGB mapped jointly), a failed
explanation that leaves the traits of the map on screen, and the export hooks."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cam_widgets import CAMExplainer, CAMViewer, PixelSetPicker
from cam_widgets.targets import box
from cam_widgets.widgets.base import CAMWidget
from cam_widgets.widgets.codec import decode_array, pack_mask
from cam_widgets.widgets.schema import trait_defaults

from .models import classifier, segnet

SHARED = ["busy", "error", "notice", "image", "cam", "cam_signed", "compare", "compare_signed", "class_names",
          "layers", "methods", "layer", "method", "target_class", "compare_method", "slice_index", "axis",
          "crosshair", "opacity", "colormap", "zoom", "zoom_center", "show_crosshair", "input_shape", "channel",
          "n_channels"]


def close_to(encoded, values):
    """``encoded`` decodes to ``values`` within half a uint8 step."""
    step = (encoded["vmax"] - encoded["vmin"]) / 255
    return np.abs(decode_array(encoded) - np.asarray(values, dtype=np.float64)).max() <= step / 2 + 1e-6


def seg3d(channels=1):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv3d(channels, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 3, 1)).double().eval()


# --- one schema ------------------------------------------------------------------------------------


def test_shared_traits_are_declared_once_in_the_base_class():
    base = CAMWidget.class_traits(sync=True)
    assert set(SHARED) <= set(base)
    for cls in (CAMViewer, PixelSetPicker):
        traits = cls.class_traits(sync=True)
        assert all(traits[name] is base[name] for name in SHARED), cls  # the same trait objects: no re-declaration
        assert not set(SHARED) & set(vars(cls))
    assert {"sample", "follow_prediction", "window", "relu"} <= set(CAMViewer.class_traits()) - set(base)
    assert {"mask_bits", "tool", "labels"} <= set(PixelSetPicker.class_traits()) - set(base)
    assert "sample" not in PixelSetPicker.class_traits() and "mask_bits" not in CAMViewer.class_traits()


def test_trait_defaults_come_from_the_classes():
    viewer, picker = trait_defaults(CAMViewer), trait_defaults(PixelSetPicker)
    assert json.loads(json.dumps(viewer)) == viewer and json.loads(json.dumps(picker)) == picker
    assert set(SHARED) <= set(viewer) and set(SHARED) <= set(picker)
    assert not {"_esm", "_css", "layout", "_model_name"} & set(viewer)  # anywidget's own traits are not ours
    assert (viewer["method"], viewer["target_class"], viewer["follow_prediction"]) == ("gradcam", 0, True)
    assert (picker["method"], picker["target_class"], picker["tool"]) == ("hirescam", -1, "region")  # picker overrides
    assert (viewer["zoom"], viewer["zoom_center"], viewer["show_crosshair"], viewer["channel"]) == (1.0, [], True, "mean")
    assert "sample" not in picker and "mask_bits" not in viewer
    made = PixelSetPicker(CAMExplainer(segnet().float(), layers=["dec"]), torch.randn(1, 8, 8))
    for name in ("opacity", "colormap", "zoom", "zoom_center", "show_crosshair", "tool", "brush_radius", "show_labels",
                 "method", "target_class", "compare_method"):
        assert getattr(made, name) == picker[name], name  # what the constructor leaves alone is the schema's default


# --- positions in the input's own indices -------------------------------------------------------------


def test_positions_are_the_inputs_voxel_indices_on_a_downsampled_volume():
    model = classifier(3, side=16).float()
    viewer = CAMViewer(CAMExplainer(model, layers=["7"]), torch.randn(1, 16, 16, 16), max_display_voxels=8**3)
    assert viewer.image["shape"] == [8, 8, 8] and viewer.input_shape == [16, 16, 16]
    assert viewer.slice_index == 8 and viewer.crosshair == [8, 8, 8]  # the centre in real indices, not 4
    viewer.slice_index, viewer.crosshair, viewer.zoom_center = 15, [15, 0, 9], [15.0, 0.0, 7.5]
    assert (viewer.slice_index, viewer.crosshair, viewer.zoom_center) == (15, [15, 0, 9], [15.0, 0.0, 7.5])
    assert viewer.error == ""
    viewer.slice_index = 16
    assert viewer.slice_index == 15 and "slice_index must be 0..15, got 16" in viewer.error
    viewer.crosshair = [16, 0, 0]
    assert viewer.crosshair == [15, 0, 9] and "inside the input's shape (16, 16, 16)" in viewer.error
    viewer.zoom_center = [15.5, 0.0, 0.0]
    assert viewer.zoom_center == [15.0, 0.0, 7.5] and "zoom_center must be" in viewer.error
    viewer.zoom = 64
    assert viewer.zoom == 64.0 and type(viewer.zoom) is float and viewer.error == ""


def test_the_picker_picks_along_any_axis_of_a_volume():
    picker = PixelSetPicker(CAMExplainer(seg3d(), layers=["1"]), torch.randn(1, 4, 6, 10, dtype=torch.float64))
    assert picker.input_shape == [4, 6, 10] and picker.axis == 0
    assert picker.slice_index == 2 and picker.crosshair == [2, 3, 5]
    picker.axis, picker.slice_index = 2, 9
    assert (picker.axis, picker.slice_index, picker.error) == (2, 9, "")
    picker.crosshair = [3, 5, 9]
    picker.axis = 0  # slice 9 does not exist along z: the crosshair's z, as in the browser
    assert picker.slice_index == 3 and picker.error == ""
    picker.slice_index = 4
    assert picker.slice_index == 3 and "slice_index must be 0..3, got 4" in picker.error
    picker.axis = 3
    assert picker.axis == 0 and "axis (0 = z, 1 = y, 2 = x) must be 0..2, got 3" in picker.error
    picker.crosshair = [0, 6, 0]
    assert picker.crosshair == [3, 5, 9] and "inside the input's shape (4, 6, 10)" in picker.error
    flat = PixelSetPicker(CAMExplainer(segnet().float(), layers=["dec"]), torch.randn(1, 8, 8))
    flat.axis = 1
    assert flat.axis == 0 and "axis of a 2D image must be 0..0" in flat.error


def test_display_values_are_checked_in_both_widgets():
    picker = PixelSetPicker(CAMExplainer(segnet().float(), layers=["dec"]), torch.randn(1, 8, 8))
    picker.zoom = 0.99
    assert picker.zoom == 1.0 and "zoom must be a finite number in 1..64" in picker.error
    picker.show_crosshair = np.False_  # a NumPy bool, e.g. from a comparison
    assert picker.show_crosshair is False and picker.error == ""
    with pytest.raises(Exception, match="show_crosshair"):
        picker.show_crosshair = "no"
    viewer = CAMViewer(CAMExplainer(classifier(2), layers=["3"]), torch.randn(1, 8, 8, dtype=torch.float64))
    viewer.ortho_map = "compare"
    viewer.ortho_map = "gradcam"  # a method is not a choice here: the views show "cam" or "compare"
    assert viewer.ortho_map == "compare" and "unknown ortho_map 'gradcam'; valid: cam, compare" in viewer.error


# --- the channel shown ---------------------------------------------------------------------------------


def rgb_classifier(ndim=2):
    torch.manual_seed(0)
    conv, pool = (nn.Conv2d, nn.AdaptiveAvgPool2d) if ndim == 2 else (nn.Conv3d, nn.AdaptiveAvgPool3d)
    return nn.Sequential(conv(3, 4, 3, padding=1), nn.ReLU(), pool(1), nn.Flatten(), nn.Linear(4, 2)).double().eval()


def test_rgb_inputs_are_shown_in_colour_with_one_range_for_all_channels():
    torch.manual_seed(1)
    x = torch.rand(3, 8, 8, dtype=torch.float64) * torch.tensor([10.0, 1.0, 0.1], dtype=torch.float64).view(3, 1, 1)
    viewer = CAMViewer(CAMExplainer(rgb_classifier(), layers=["1"]), x)
    assert viewer.n_channels == 3 and viewer.channel == "rgb"
    assert viewer.image["rgb"] is True and viewer.image["shape"] == [3, 8, 8]
    assert (viewer.image["vmin"], viewer.image["vmax"]) == (float(x.float().min()), float(x.float().max()))  # jointly
    assert close_to(viewer.image, x.numpy())


def test_changing_the_channel_re_encodes_the_image_only():
    torch.manual_seed(2)
    model = rgb_classifier()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), x)
    viewer.sample = 1
    result, cam = viewer.result, viewer.cam
    calls = {"n": 0}
    handle = model.register_forward_pre_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    try:
        viewer.channel = 2
        assert "rgb" not in viewer.image and viewer.image["shape"] == [8, 8] and close_to(viewer.image, x[1, 2].numpy())
        assert viewer.image["vmin"] == float(x[1, 2].float().min())
        viewer.channel = "mean"
        assert close_to(viewer.image, x[1].mean(0).numpy()) and viewer.image["vmin"] == pytest.approx(float(x[1].mean(0).min()))
        viewer.channel = np.int64(0)
        assert viewer.channel == 0 and close_to(viewer.image, x[1, 0].numpy())
    finally:
        handle.remove()
    assert calls["n"] == 0 and viewer.result is result and viewer.cam is cam  # no forward, no new explanation
    viewer.sample = 0
    assert close_to(viewer.image, x[0, 0].numpy())  # the chosen channel stays for the next sample
    for bad in (3, -1, "red", True):
        viewer.channel = bad
        assert viewer.channel == 0 and "channel must be 'mean', 'rgb' or a channel index 0..2" in viewer.error


def test_rgb_volumes_are_downsampled_per_channel():
    torch.manual_seed(3)
    x = torch.randn(3, 16, 16, 16, dtype=torch.float64)
    viewer = CAMViewer(CAMExplainer(rgb_classifier(3), layers=["1"]), x, max_display_voxels=8**3)
    expected = F.interpolate(x[None].float(), size=(8, 8, 8), mode="trilinear", align_corners=False)[0]
    assert viewer.image["shape"] == [3, 8, 8, 8] and viewer.image["rgb"] is True
    assert close_to(viewer.image, expected.numpy())


def test_other_channel_counts_show_the_mean_and_refuse_rgb():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU(), nn.Conv2d(3, 3, 1)).double().eval()  # a 2-channel segmenter
    x = torch.randn(2, 8, 8, dtype=torch.float64)
    picker = PixelSetPicker(CAMExplainer(model, layers=["1"]), x)
    assert picker.n_channels == 2 and picker.channel == "mean" and close_to(picker.image, x.mean(0).numpy())
    picker.channel = "rgb"
    assert picker.channel == "mean" and "('rgb' needs exactly 3 channels)" in picker.error
    picker.channel = 1
    assert close_to(picker.image, x[1].numpy()) and picker.error == ""
    rgb = PixelSetPicker(CAMExplainer(nn.Sequential(nn.Conv2d(3, 3, 1)).double().eval(), layers=["0"]),
                         torch.rand(3, 8, 8, dtype=torch.float64))
    assert rgb.channel == "rgb" and rgb.image["shape"] == [3, 8, 8]


# --- errors never disagree with the map ------------------------------------------------------------


def failing(monkeypatch, explainer, when):
    """``explainer.explain`` raises RuntimeError("boom") where ``when(x, target, method, layer)``."""
    explain = explainer.explain

    def patched(x, target=None, method="gradcam", layer=None):
        if when(x, target, method, layer):
            raise RuntimeError("boom")
        return explain(x, target, method, layer)

    monkeypatch.setattr(explainer, "explain", patched)


def test_a_failed_explanation_puts_back_the_state_of_the_map_on_screen(monkeypatch):
    explainer = CAMExplainer(classifier(3).float(), layers=["7", "4"])
    viewer = CAMViewer(explainer, torch.randn(2, 1, 8, 8, 8), target_class=1)
    failing(monkeypatch, explainer, lambda x, target, method, layer: method == "layercam")
    shown = (viewer.cam["buffer"], viewer.result, viewer.static_png())
    viewer.method = "layercam"
    assert viewer.method == "gradcam" and (viewer.cam["buffer"], viewer.result, viewer.static_png()) == shown
    assert viewer.error == "method = 'layercam' failed (kept 'gradcam'): RuntimeError: boom"
    viewer.set_state({"sample": 1, "layer": "4", "method": "layercam"})  # one message from the browser
    assert (viewer.sample, viewer.layer, viewer.method) == (0, "7", "gradcam") and viewer.result is shown[1]
    assert viewer.error == ("layer = '4', method = 'layercam', sample = 1 failed "
                            "(kept layer = '7', method = 'gradcam', sample = 0): RuntimeError: boom")
    assert viewer.image["buffer"] == viewer._encode_image()["buffer"]  # the image of sample 0, too
    viewer.set_state({"sample": 1, "layer": "4"})
    assert viewer.error == "" and viewer.result.layer == "4" and viewer.sample == 1


def test_a_layer_that_resolves_but_cannot_be_explained_is_not_kept():
    viewer = CAMViewer(CAMExplainer(classifier(3).float(), layers=["7"]), torch.randn(1, 8, 8, 8))
    result = viewer.result
    viewer.layer = "9"  # a Linear layer: it resolves, but has no spatial dims
    assert viewer.layer == "7" and viewer.result is result and viewer.layers == ["7"]
    assert viewer.error.startswith("layer = '9' failed (kept '7'): ValueError: layer '9' (Linear) outputs shape (1, 16)")


def test_the_picker_keeps_the_pixel_set_and_class_of_its_map(monkeypatch):
    explainer = CAMExplainer(segnet().float(), layers=["dec"])
    picker = PixelSetPicker(explainer, torch.randn(1, 8, 8))
    picker.set_state({"mask_bits": pack_mask(box((8, 8), (0, 0), (2, 2)).numpy()), "target_class": 1})
    result, n = picker.result, picker.n_selected
    assert n == 4 and picker.error == ""
    failing(monkeypatch, explainer, lambda x, target, method, layer: int(target.classes) == 2)
    picker.set_state({"mask_bits": pack_mask(box((8, 8), (4, 4), (7, 7)).numpy()), "target_class": 2})  # a click
    assert picker.target_class == 1 and picker.n_selected == 4 and picker.mask.sum() == 4 and picker.result is result
    assert picker.error == ("target_class = 2, mask_bits = <9 pixel(s), shape (8, 8)> failed "
                            "(kept target_class = 1, mask_bits = <4 pixel(s), shape (8, 8)>): RuntimeError: boom")
    picker.mask_bits = {"buffer": b"\x00", "shape": [2, 2], "encoding": "bits"}
    assert picker.mask.sum() == 4 and picker.error.startswith(
        "mask_bits = <0 pixel(s), shape (2, 2)> failed (kept <4 pixel(s), shape (8, 8)>): ValueError: the pixel set has shape (2, 2)")


def test_when_nothing_was_computed_yet_the_error_stays_and_the_traits_too(monkeypatch):
    explainer = CAMExplainer(classifier(2).float(), layers=["4"])
    failing(monkeypatch, explainer, lambda *_: True)
    viewer = CAMViewer(explainer, torch.randn(1, 8, 8), target_class=3, method="hirescam")
    assert (viewer.target_class, viewer.method, viewer.cam, viewer.result) == (3, "hirescam", {}, None)
    assert viewer.error.startswith("explaining layer = '4', method = 'hirescam', target_class = 3") and \
        viewer.error.endswith("failed: RuntimeError: boom")
    assert viewer.image["shape"] == [8, 8]  # the input is shown anyway
    monkeypatch.undo()
    viewer.refresh()
    assert viewer.error == "" and viewer.result.method == "hirescam"


# --- export hooks ----------------------------------------------------------------------------------


class Recording(CAMViewer):
    """A viewer that records the export hooks the base class calls."""

    def __init__(self, *args, **kwargs):
        self.refreshes, self.messages = 0, []
        super().__init__(*args, **kwargs)

    def _refresh_static_png(self):
        self.refreshes += 1

    def _handle_export_message(self, widget, content, buffers):
        self.messages.append((widget, content))


def test_the_static_picture_follows_each_explanation_and_display_change(monkeypatch):
    explainer = CAMExplainer(classifier(3).float(), layers=["7", "4"])
    viewer = Recording(explainer, torch.randn(1, 8, 8, 8))
    assert viewer.refreshes == 1  # the first explanation
    viewer.opacity, viewer.zoom, viewer.window = 0.3, 2.0, [0.0, 1.0]
    viewer.channel = 0
    assert viewer.refreshes == 5
    viewer.layer = "4"
    assert viewer.refreshes == 6
    viewer.opacity = 7.0  # refused: nothing changed
    viewer.layer = "4"  # the same map
    failing(monkeypatch, explainer, lambda *_: True)
    viewer.method = "layercam"  # failed: the map on screen stays
    assert viewer.refreshes == 6 and viewer.method == "gradcam"
    viewer._handle_custom_msg({"type": "png", "scale": 1}, [])  # what the comm does with a custom message
    assert viewer.messages == [(viewer, {"type": "png", "scale": 1})]


def test_each_widget_takes_only_its_own_options():
    explainer = CAMExplainer(classifier(2).float(), layers=["4"])
    with pytest.raises(TypeError, match="CAMViewer\\(\\) got an unexpected keyword argument 'mask'"):
        CAMViewer(explainer, torch.randn(1, 8, 8), mask=np.ones((8, 8), bool))
    with pytest.raises(TypeError, match="PixelSetPicker\\(\\) got an unexpected keyword argument 'labels'"):
        PixelSetPicker(CAMExplainer(segnet().float(), layers=["dec"]), torch.randn(1, 8, 8), labels=[0])
    assert CAMViewer(explainer, torch.randn(1, 8, 8), "abcde", None, "hirescam", 2).method == "hirescam"  # positional
