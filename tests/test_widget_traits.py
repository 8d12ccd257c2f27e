"""Trait values set from Python are checked as the browser clamps them: an invalid value is shown as
the widget's error, the last valid state stays (traits, maps, static PNG), and the next valid
change clears the message; in the constructor an invalid value raises."""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from cam_widgets import CAMExplainer, CAMViewer, PixelSetPicker

from .models import classifier, segnet


@pytest.fixture
def viewer():
    model = classifier(3).float()
    x = torch.randn(2, 1, 8, 8, 8)
    return CAMViewer(CAMExplainer(model, layers=["4", "1"]), x)


def state(widget, names):
    return {n: getattr(widget, n) for n in names} | {"png": widget.static_png(), "cam": widget.cam["buffer"],
                                                     "image": widget.image["buffer"]}


VIEWER_TRAITS = ["axis", "opacity", "slice_index", "sample", "target_class", "layer", "method", "compare_method",
                 "colormap", "crosshair", "window", "zoom", "zoom_center", "show_crosshair", "channel",
                 "follow_prediction", "true_labels"]


@pytest.mark.parametrize("name, bad, reason", [
    ("axis", 7, r"axis \(0 = z, 1 = y, 2 = x\) must be 0..2, got 7"),
    ("axis", -1, "must be 0..2, got -1"),
    ("opacity", 5.0, "opacity must be between 0 and 1, got 5.0"),
    ("opacity", float("nan"), "opacity must be between 0 and 1"),
    ("slice_index", 8, "slice_index must be 0..7, got 8"),
    ("slice_index", -1, "slice_index must be 0..7, got -1"),
    ("sample", 2, r"sample \(the batch's index\) must be 0..1, got 2"),
    ("target_class", 5, r"target_class must be 0..4 \(the model has 5 classes\), got 5"),
    ("layer", "nope", "unknown layer 'nope'"),
    ("method", "gradcam+", "unknown CAM method 'gradcam\\+'"),
    ("compare_method", "nope", "unknown CAM method 'nope'"),
    ("colormap", "RdBu", "unknown colormap 'RdBu'; valid: inferno, viridis, jet, hot"),
    ("crosshair", [1, 2], r"crosshair must be \[\] or 3 indices inside the input's shape \(8, 8, 8\)"),
    ("crosshair", [1, 2, 9], "crosshair must be .* 3 indices"),
    ("zoom", 0.5, r"zoom must be a finite number in 1..64 \(1 = fit\), got 0.5"),
    ("zoom", 65.0, "zoom must be a finite number in 1..64"),
    ("zoom", float("inf"), "zoom must be a finite number"),
    ("zoom_center", [1.0, 2.0], r"zoom_center must be \[\] \(the centre\) or 3 voxel coordinates"),
    ("zoom_center", [0.0, 7.5, 7.01], r"each in 0..n-1 of the input's shape \(8, 8, 8\)"),
    ("zoom_center", [-0.5, 1.0, 1.0], "zoom_center must be"),
    ("zoom_center", [float("nan"), 1.0, 1.0], "zoom_center must be"),
    ("channel", "rgb", r"channel must be 'mean' or a channel index 0..0 for an input with 1 channel\(s\) \('rgb' needs"),
    ("channel", 1, "channel must be 'mean' or a channel index 0..0"),
    ("channel", "red", "channel must be"),
    ("true_labels", [0], r"got 1 labels for 2 sample\(s\)"),
    ("true_labels", [0, 5], r"label 5 must be a class name or a class index -1 \(unknown\), 0..4"),
    ("window", [2.0, 1.0], r"window must be \[\] \(full range\) or \[low, high\] with finite low < high"),
])
def test_invalid_values_are_refused_and_the_last_valid_state_stays(viewer, name, bad, reason):
    viewer.opacity, viewer.axis, viewer.slice_index = 0.7, 1, 3
    before = state(viewer, VIEWER_TRAITS)
    setattr(viewer, name, bad)
    assert state(viewer, VIEWER_TRAITS) == before  # traits, map and the static PNG unchanged
    assert viewer.error.startswith(f"{name} = {bad!r} was not applied (kept {before[name]!r}): ")
    assert re.search(reason, viewer.error), viewer.error
    bundle = viewer._repr_mimebundle_()
    assert bundle is not None and "image/png" in bundle[0]
    viewer.opacity = 0.2  # any valid change clears the message
    assert viewer.error == "" and viewer.opacity == 0.2


def test_numpy_numbers_and_aliases_are_accepted_and_normalised(viewer):
    viewer.slice_index, viewer.opacity, viewer.sample = np.int64(2), np.float32(0.25), np.int32(1)
    assert (viewer.slice_index, viewer.opacity, viewer.sample) == (2, 0.25, 1)
    assert type(viewer.slice_index) is int and type(viewer.opacity) is float
    viewer.target_class = np.argmax([0, 0, 0, 9, 0])
    assert viewer.target_class == 3 and viewer.result.scores.shape == (1,)
    viewer.method = "Grad-CAM++"
    assert viewer.method == "gradcam++" and viewer.result.method == "gradcam++"
    viewer.layer = "3"  # not captured yet: captured on demand and offered in the select
    assert viewer.layers == ["4", "1", "3"] and viewer.result.layer == "3" and viewer.error == ""


def test_changing_the_axis_moves_an_out_of_range_slice_as_the_browser_does():
    model = torch.nn.Sequential(torch.nn.Conv3d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool3d(1),
                                torch.nn.Flatten(), torch.nn.Linear(3, 2)).eval()
    x = torch.randn(1, 1, 8, 8, 16)  # a non-cubic volume: 8 slices along z, 16 along x
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), x)
    viewer.axis = 2
    viewer.slice_index = 12
    viewer.crosshair = [4, 3, 12]
    viewer.axis = 0  # slice 12 does not exist along z: the browser takes the crosshair's z
    assert viewer.slice_index == 4 and viewer.error == ""


def test_2d_viewer_has_only_axis_and_slice_zero():
    viewer = CAMViewer(CAMExplainer(classifier(2).float(), layers=["4"]), torch.randn(1, 8, 8))
    viewer.axis = 1
    assert viewer.axis == 0 and "axis of a 2D image must be 0..0" in viewer.error
    viewer.slice_index = 1
    assert viewer.slice_index == 0 and "slice_index must be 0..0" in viewer.error


def test_constructor_arguments_are_checked_and_raise():
    explainer = CAMExplainer(classifier(2).float(), layers=["4"])
    x = torch.randn(1, 8, 8)
    with pytest.raises(ValueError, match="target_class: target_class must be 0..4"):
        CAMViewer(explainer, x, target_class=9)
    with pytest.raises(ValueError, match="layer: unknown layer 'conv9'"):
        CAMViewer(explainer, x, layer="conv9")
    with pytest.raises(ValueError, match="unknown CAM method 'nope'"):
        CAMViewer(explainer, x, compare_method="nope")
    assert CAMViewer(explainer, x, target_class=np.int64(2)).target_class == 2


def test_picker_tools_radius_and_classes_are_checked():
    picker = PixelSetPicker(CAMExplainer(segnet().float(), layers=["dec"]), torch.randn(1, 8, 8), target_class=1)
    before = picker.tool
    picker.tool = "spray"
    assert picker.tool == before and "unknown tool 'spray'; valid: point, region, brush, lasso, rectangle, erase" in picker.error
    picker.brush_radius = 0
    assert picker.brush_radius == 3.0 and "brush_radius must be a positive number of pixels, got 0" in picker.error
    picker.target_class = -1  # "no class yet" is valid for the picker
    assert picker.target_class == -1 and picker.error == ""
    picker.target_class = -2
    assert picker.target_class == -1 and "target_class must be -1 (none), 0..2" in picker.error
    picker.opacity = 1.5
    assert picker.opacity == 0.5 and "opacity must be between 0 and 1" in picker.error
    picker.tool = "lasso"
    assert picker.tool == "lasso" and picker.error == ""


def test_picker_masks_with_nan_are_refused_not_read_as_set():
    explainer = CAMExplainer(segnet().float(), layers=["dec"])
    with pytest.raises(ValueError, match=r"the mask has 64 NaN or inf value\(s\)"):
        PixelSetPicker(explainer, torch.randn(1, 8, 8), mask=np.full((8, 8), np.nan))
    picker = PixelSetPicker(explainer, torch.randn(1, 8, 8), target_class=1)
    weights = np.zeros((8, 8))
    weights[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        picker.mask = weights
    assert picker.n_selected == 0


def test_picker_png_before_anything_is_picked(tmp_path):
    picker = PixelSetPicker(CAMExplainer(segnet().float(), layers=["dec"]), torch.randn(1, 8, 8))
    assert picker.cam == {}
    with Image.open(io.BytesIO(picker.static_png())) as png:
        assert png.width >= 256
    assert picker.save_png(tmp_path / "p.png").stat().st_size > 0
    assert "image/png" in picker._repr_mimebundle_()[0]


def test_widgets_show_and_explain_their_own_copy_of_the_input():
    explainer = CAMExplainer(classifier(2).float(), layers=["4"])
    x = torch.randn(2, 1, 8, 8)
    original = x.clone()
    viewer = CAMViewer(explainer, x)
    image = viewer.image["buffer"]
    x.mul_(-3)  # the user's tensor changes after the viewer was made
    viewer.target_class = (viewer.target_class + 1) % 5
    expected = explainer.explain(original[:1], viewer.target_class, viewer.method, viewer.layer)
    torch.testing.assert_close(viewer.result.raw, expected.raw)
    assert viewer.image["buffer"] == image


def test_refresh_explains_the_current_state_with_the_changed_weights():
    model = classifier(2).float()
    explainer = CAMExplainer(model, layers=["4"])
    viewer = CAMViewer(explainer, torch.randn(1, 8, 8))
    before = viewer.result.raw.clone()
    model[2].weight.data.mul_(-1)
    assert torch.equal(viewer.result.raw, before)  # the widget does not watch the model by itself
    viewer.refresh()
    fresh = CAMExplainer(model, layers=["4"]).explain(viewer._samples[0], viewer.target_class).raw
    torch.testing.assert_close(viewer.result.raw, fresh)
    assert not torch.allclose(viewer.result.raw, before)


def test_list_traits_take_numpy_numbers(viewer):
    viewer.crosshair = list(np.array([1, 2, 3]))
    viewer.window = [np.float32(-1.0), np.float64(2.0)]
    assert viewer.crosshair == [1, 2, 3] and viewer.window == [-1.0, 2.0] and viewer.error == ""
