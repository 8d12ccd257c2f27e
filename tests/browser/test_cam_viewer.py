"""Every control of the CAMViewer front end, driven in headless Chromium through the harness page
(js/test/harness.html: the built bundle mounted on a fake anywidget model, no kernel).

States are built in Python from known synthetic arrays with the real codec (``encode_array``), and
the canvases (drawn at data resolution, scaled up by CSS) are compared pixel for pixel with
``render.compose`` -- the Python twin of the browser's composition -- on the same slice and options.
What the widget writes back is read from the fake model's ``saves`` (one entry per save_changes).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from cam_widgets.widgets.codec import decode_array, encode_array
from cam_widgets.widgets.colormaps import lut
from cam_widgets.widgets.figure import widget_figure
from cam_widgets.widgets.render import png_bytes

from .harness import (  # noqa: F401  (shared with the other harness tests; names kept importable from here)
    CASES, CLASS_NAMES, CLASS_SCORES, CUBE, LAYERS, METHODS, RECT, SHAPE_2D, SHAPE_3D, Case, Harness,
    assert_main_crosshair, assert_pixels, assert_readout, assert_views, compare_map, encode_map, expected,
    grey_of, js_value, make_case, only, readout_values, state_of, take, three_digits, wire,
)

@pytest.fixture(params=list(CASES))
def case(request) -> Case:
    """2D and 3D, unsigned and signed (tests that need a subset parametrise it indirectly)."""
    return CASES[request.param]


# ---------------------------------------------------------------------------------------- 1. parity


def test_initial_canvas_equals_python_compose(harness, case):
    h = harness
    h.mount(state_of(case, opacity=0.6))
    crosshair = [4, 5, 7] if case.ndim == 3 else [5, 7]
    want = expected(case, 0, crosshair[0], opacity=0.6)
    assert want.shape[:2] == (SHAPE_3D[1:] if case.ndim == 3 else SHAPE_2D)
    assert_pixels(h.rgb("main-canvas"), want, "main canvas")
    assert not h.hidden("main-panel") and h.hidden("placeholder") and h.hidden("compare-panel")
    if case.ndim == 3:
        assert not h.hidden("ortho-views")
        assert_views(h, case, crosshair, opacity=0.6)
    else:
        assert h.hidden("ortho-views")
    # the colour bar shows the real range (and 0 for signed maps)
    ticks = [float(t) for t in h.js("() => [...document.querySelectorAll('[data-testid=\"colorbar-ticks\"] .cam-tick')]"
                                    ".map(t => t.dataset.value)")]
    vmin, vmax = case.cam_enc["vmin"], case.cam_enc["vmax"]
    assert ticks == ([vmin, 0.0, vmax] if case.signed else [vmin, vmax])
    assert h.saves() == []  # a valid view state is not written back
    assert not h.page.errors, h.page.errors


@only("2d", "3d")
def test_no_crosshair_starts_at_the_centre(harness, case):
    h = harness
    h.mount(state_of(case, crosshair=[], slice_index=0))
    centre = [n // 2 for n in case.shape]
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, centre[0]), "main canvas")
    saved = {k: v for s in h.saves() for k, v in s.items()}
    assert saved["crosshair"] == centre
    if case.ndim == 3:
        assert saved["slice_index"] == centre[0]
        assert_views(h, case, centre)
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 2. slice and axis


@only("3d", "3d-signed")
def test_slice_slider_redraws_and_saves(harness, case):
    h = harness
    h.mount(state_of(case))
    before = h.rgb("main-canvas")
    h.set("slice-slider", 9)
    got = h.rgb("main-canvas")
    assert (got != before).any()
    assert_pixels(got, expected(case, 0, 9), "main canvas at z=9")
    assert h.saves()[-1] == {"slice_index": 9, "crosshair": [9, 5, 7]}
    assert h.text("slice-value") == "9/11"
    assert_views(h, case, [9, 5, 7])  # the axial view follows the slice
    # Python moving the slice redraws too (no save: it is Python's own value)
    n = len(h.saves())
    h.update("slice_index", 2)
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 2), "main canvas at z=2 (set by Python)")
    assert h.js("() => document.querySelector('[data-testid=\"slice-slider\"]').value") == "2"
    assert len(h.saves()) == n
    assert not h.page.errors, h.page.errors


@only("3d")
def test_axis_select_shows_the_other_orientations(harness, case):
    h = harness
    h.mount(state_of(case))  # crosshair (z, y, x) = (4, 5, 7)
    assert h.rgb("main-canvas").shape[:2] == (16, 20)  # axial: rows y, cols x

    h.set("axis-select", 1)  # coronal: rows z, cols x, at y = 5
    got = h.rgb("main-canvas")
    assert got.shape[:2] == (12, 20)
    assert_pixels(got, expected(case, 1, 5), "coronal y=5")
    assert h.saves()[-1] == {"axis": 1, "slice_index": 5}
    assert h.js("() => document.querySelector('[data-testid=\"slice-slider\"]').max") == "15"

    h.set("slice-slider", 11)  # the slider now moves along y
    assert_pixels(h.rgb("main-canvas"), expected(case, 1, 11), "coronal y=11")
    assert h.saves()[-1] == {"slice_index": 11, "crosshair": [4, 11, 7]}

    h.set("axis-select", 2)  # sagittal: rows z, cols y, at x = 7
    got = h.rgb("main-canvas")
    assert got.shape[:2] == (12, 16)
    assert_pixels(got, expected(case, 2, 7), "sagittal x=7")
    assert h.saves()[-1] == {"axis": 2, "slice_index": 7}
    assert h.text("slice-value") == "7/19"

    h.set("axis-select", 0)
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 4), "axial z=4")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 3. opacity


@only("2d", "3d")
def test_opacity_zero_is_the_grey_image_and_one_the_map_colours(harness, case):
    h = harness
    h.mount(state_of(case))
    index = 4 if case.ndim == 3 else 0

    h.set("opacity-slider", 0)
    got = h.rgb("main-canvas")
    grey = grey_of(case, 0, index)
    assert_pixels(got, np.repeat(grey[..., None], 3, axis=-1), "opacity 0: grey image")
    assert_pixels(got, expected(case, 0, index, opacity=0), "opacity 0 vs compose")
    assert h.saves()[-1] == {"opacity": 0}

    h.set("opacity-slider", 1)
    got = h.rgb("main-canvas")
    cam_q = np.frombuffer(case.cam_enc["buffer"], np.uint8).reshape(case.shape)
    q = take(cam_q, 0, index)
    shown = q > 0  # vmin = 0: code 0 is exactly 0, hidden; everything else is drawn in full colour
    assert shown.any() and (~shown).any()
    want = np.where(shown[..., None], lut("inferno")[q], np.repeat(grey[..., None], 3, axis=-1))
    assert_pixels(got, want, "opacity 1: colormap colours where the map is non-zero, grey elsewhere")
    assert_pixels(got, expected(case, 0, index, opacity=1), "opacity 1 vs compose")
    assert h.saves()[-1] == {"opacity": 1}
    assert not h.page.errors, h.page.errors


@only("2d-signed", "3d-signed")
def test_opacity_signed_map(harness, case):
    h = harness
    h.mount(state_of(case))
    index = 4 if case.ndim == 3 else 0
    for opacity in (0, 0.25, 1):
        h.set("opacity-slider", opacity)
        assert_pixels(h.rgb("main-canvas"), expected(case, 0, index, opacity=opacity), f"opacity {opacity}")
    got = h.rgb("main-canvas").astype(int)
    cam = take(case.cam, 0, index)
    m = case.cam_enc["vmax"]
    strong_neg, strong_pos = cam <= -m / 2, cam >= m / 2  # full opacity there: pure RdBu
    assert strong_neg.any() and strong_pos.any()
    assert (got[strong_neg][:, 2] > got[strong_neg][:, 0]).all(), "negative values must be blue"
    assert (got[strong_pos][:, 0] > got[strong_pos][:, 2]).all(), "positive values must be red"
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 4. colormap


@only("2d", "3d")
def test_colormap_select_changes_colours_and_is_saved(harness, case):
    h = harness
    h.mount(state_of(case, opacity=0.8))
    index = 4 if case.ndim == 3 else 0
    previous = h.rgb("main-canvas")
    assert_pixels(previous, expected(case, 0, index, opacity=0.8), "inferno")
    for name in ("viridis", "jet", "hot", "inferno"):
        h.set("colormap-select", name)
        got = h.rgb("main-canvas")
        assert (got != previous).any(), f"{name} drew the same pixels as the colormap before"
        assert_pixels(got, expected(case, 0, index, opacity=0.8, colormap=name), name)
        assert h.saves()[-1] == {"colormap": name}
        if case.ndim == 3:
            assert_views(h, case, [4, 5, 7], opacity=0.8, colormap=name)
        previous = got
    assert not h.page.errors, h.page.errors


@only("2d-signed", "3d-signed")
def test_signed_maps_always_use_rdbu(harness, case):
    h = harness
    h.mount(state_of(case, colormap="jet"))
    index = 4 if case.ndim == 3 else 0
    rdbu = expected(case, 0, index)  # signed: compose uses RdBu whatever colormap says
    assert_pixels(h.rgb("main-canvas"), rdbu, "signed map with colormap=jet")
    assert h.js("() => document.querySelector('[data-testid=\"colormap-select\"]').disabled")
    h.set("colormap-select", "viridis")  # even if the (disabled) select fires
    assert_pixels(h.rgb("main-canvas"), rdbu, "signed map with colormap=viridis")
    h.update("colormap", "hot")
    assert_pixels(h.rgb("main-canvas"), rdbu, "signed map with colormap=hot (from Python)")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 5. ReLU


@only("2d-signed", "3d-signed")
def test_relu_hides_negative_values(harness, case):
    h = harness
    h.mount(state_of(case, opacity=0.7))
    index = 4 if case.ndim == 3 else 0
    before = h.rgb("main-canvas")
    cam = take(case.cam, 0, index)
    grey = np.repeat(grey_of(case, 0, index)[..., None], 3, axis=-1)
    negative = cam < 0
    assert negative.any() and (~negative).any()
    assert (before[negative] != grey[negative]).any(-1).any(), "negative values are drawn before ReLU"

    h.check("relu-checkbox", True)
    got = h.rgb("main-canvas")
    assert_pixels(got[negative][None], grey[negative][None], "ReLU: negative values are grey")
    assert_pixels(got[~negative][None], before[~negative][None], "ReLU: positive values unchanged")
    assert_pixels(got, expected(case, 0, index, opacity=0.7, relu=True), "ReLU vs compose")
    assert h.saves()[-1] == {"relu": True}
    assert h.js("() => document.querySelector('[data-testid=\"colorbar\"]').classList.contains('relu')")
    if case.ndim == 3:
        assert_views(h, case, [4, 5, 7], opacity=0.7, relu=True)

    h.check("relu-checkbox", False)
    assert_pixels(h.rgb("main-canvas"), before, "ReLU off again")
    assert h.saves()[-1] == {"relu": False}
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 6. window


@only("2d", "3d-signed")
def test_window_inputs_change_grey_levels(harness, case):
    h = harness
    h.mount(state_of(case, opacity=0))
    index = 4 if case.ndim == 3 else 0
    image = take(case.image, 0, index)

    h.set("window-low", "0.2")  # high empty: the full range's top
    full_high = case.image_enc["vmax"]
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, index, opacity=0, window=(0.2, full_high)), "window [0.2, max]")
    h.set("window-high", "1.0")
    got = h.rgb("main-canvas")
    assert_pixels(got, expected(case, 0, index, opacity=0, window=(0.2, 1.0)), "window [0.2, 1]")
    assert (got[image <= 0.2] == 0).all() and (got[image >= 1.0] == 255).all()
    assert ((got[(image > 0.25) & (image < 0.95)] > 0) & (got[(image > 0.25) & (image < 0.95)] < 255)).all()
    assert h.saves()[-1] == {"window": [0.2, 1.0]}

    h.set("opacity-slider", 0.5)  # the overlay is blended over the windowed image
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, index, window=(0.2, 1.0)), "window [0.2, 1] with overlay")

    h.update("window", [0.5, 1.5])  # set by Python: the inputs and the pixels follow
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, index, window=(0.5, 1.5)), "window [0.5, 1.5] from Python")
    assert h.js("() => ['window-low', 'window-high'].map(id => document.querySelector(`[data-testid=\"${id}\"]`).value)") \
        == ["0.5", "1.5"]

    n = len(h.saves())
    h.set("window-high", "0.1")  # high < low: invalid, ignored, marked
    assert h.js("() => document.querySelector('[data-testid=\"window-high\"]').classList.contains('invalid')")
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, index, window=(0.5, 1.5)), "invalid window ignored")
    assert len(h.saves()) == n

    h.el("window-reset").click()
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, index), "full range")
    assert h.saves()[-1] == {"window": []}
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 7. crosshair


@only("3d", "3d-signed")
def test_clicking_each_view_moves_the_crosshair(harness, case):
    h = harness
    h.mount(state_of(case))  # crosshair (4, 5, 7), main view axial at z = 4
    assert_readout(h, case, [4, 5, 7])
    # the main view is axial; the orthogonal views below it are coronal and sagittal (not axial again)
    steps = [  # (canvas, row, col, voxel after the click)
        ("view-coronal", 9, 15, [9, 5, 15]),  # coronal y=5: rows z, cols x
        ("view-sagittal", 2, 12, [2, 12, 15]),  # sagittal x=15: rows z, cols y
        ("main-canvas", 6, 9, [2, 6, 9]),  # main (axial z=2): rows y, cols x
        ("view-coronal", 5, 10, [5, 6, 10]),  # coronal y=6 -- inside the bright cube
        ("main-canvas", 1, 3, [5, 1, 3]),  # main (axial z=5) -- negative if signed
    ]
    slice_index = 4
    for testid, row, col, voxel in steps:
        n = len(h.saves())
        h.click_pixel(testid, row, col)
        new = h.saves()[n:]
        assert new, f"clicking {testid} saved nothing"
        saved = {k: v for s in new for k, v in s.items()}
        assert saved["crosshair"] == voxel, f"clicking {testid} at ({row}, {col})"
        if voxel[0] != slice_index:
            assert saved["slice_index"] == voxel[0]
            slice_index = voxel[0]
        else:
            assert "slice_index" not in saved
        assert_views(h, case, voxel)
        assert_pixels(h.rgb("main-canvas"), expected(case, 0, voxel[0]), f"main canvas after clicking {testid}")
        assert h.js("() => document.querySelector('[data-testid=\"slice-slider\"]').value") == str(voxel[0])
        assert_readout(h, case, voxel)
        assert_main_crosshair(h, voxel[1], voxel[2], 16, 20)
    if case.signed:
        assert case.cam[5, 1, 3] < 0
    assert not h.page.errors, h.page.errors


@only("3d")
def test_clicking_the_main_view_along_another_axis(harness, case):
    h = harness
    h.mount(state_of(case, axis=2, slice_index=7))  # sagittal x = 7: rows z, cols y
    h.click_pixel("main-canvas", 10, 3)
    assert h.saves()[-1] == {"crosshair": [10, 3, 7]}
    assert_views(h, case, [10, 3, 7], axis=2)  # axial z=10 and coronal y=3
    assert_readout(h, case, [10, 3, 7])
    assert not h.page.errors, h.page.errors


@only("2d", "2d-signed")
def test_clicking_the_2d_image_moves_the_crosshair(harness, case):
    h = harness
    h.mount(state_of(case))
    for row, col in [(6, 12), (15, 2), (0, 25)]:
        h.click_pixel("main-canvas", row, col)
        assert h.saves()[-1] == {"crosshair": [row, col]}
        assert_readout(h, case, [row, col])
        assert_main_crosshair(h, row, col, *SHAPE_2D)
        assert_pixels(h.rgb("main-canvas"), expected(case), "the 2D image does not change")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 8. class scores


def test_score_bars_select_the_target_class(harness):
    h = harness
    h.mount(state_of(CASES["2d"]))
    bars = h.js("() => [...document.querySelectorAll('[data-testid^=\"score-bar-\"]')].map(b => ({"
                " i: Number(b.dataset.classIndex), cls: b.getAttribute('class'),"
                " label: b.querySelector('.cam-bar-label').textContent }))")
    assert [b["i"] for b in bars] == [0, 1, 2, 3]
    predicted = [b["i"] for b in bars if "predicted" in b["cls"].split()]
    assert predicted == [1]  # argmax of the scores
    assert bars[1]["label"].startswith("★") and not any(b["label"].startswith("★") for b in bars if b["i"] != 1)
    assert [b["i"] for b in bars if "target" in b["cls"].split()] == [0]

    h.el("score-bar-2").click()
    assert h.saves()[-1] == {"target_class": 2}  # follow_prediction is already False (a class was chosen)
    assert h.model("follow_prediction") is False
    assert h.js("() => document.querySelector('[data-testid=\"class-select\"]').value") == "2"
    assert "target" in h.el("score-bar-2").get_attribute("class").split()
    assert "TRiC" in h.text("main-canvas-title")
    h.el("score-bar-3").click()
    assert h.saves()[-1] == {"target_class": 3}
    # following the prediction: a bar click also turns that off, in the same message
    h.update("follow_prediction", True)
    h.update("target_class", 1)
    assert h.value("class-select") == "predicted"
    h.el("score-bar-0").click()
    assert h.saves()[-1] == {"target_class": 0, "follow_prediction": False}
    assert h.value("class-select") == "0"
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 9. last request wins


def test_last_request_wins_while_busy(harness):
    h = harness
    case = CASES["3d"]
    h.mount(state_of(case))
    busy = h.el("busy")
    assert not busy.is_visible()
    h.update("busy", True)
    assert busy.is_visible()
    n = len(h.saves())

    h.set("method-select", "layercam")
    h.set("layer-select", "features.conv1")
    h.set("method-select", "hirescam")
    h.set("class-select", 2)
    h.set("layer-select", "features.conv2")
    h.el("score-bar-3").click()
    h.set("compare-select", "gradcampp")
    h.set("method-select", "gradcampp")
    assert h.saves()[n:] == [], "a recompute request was sent while Python was busy"
    # the controls show the latest request
    shown = h.js("() => ['method-select', 'layer-select', 'class-select', 'compare-select']"
                 ".map(id => document.querySelector(`[data-testid=\"${id}\"]`).value)")
    assert shown == ["gradcampp", "features.conv2", "3", "gradcampp"]
    assert "4 queued" in busy.text_content()

    # display controls stay responsive (and are synced) while busy
    h.set("opacity-slider", 0.3)
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 4, opacity=0.3), "opacity while busy")
    assert h.saves()[n:] == [{"opacity": 0.3}]
    assert busy.is_visible()

    h.update("busy", False)
    assert h.saves()[n + 1:] == [{"method": "gradcampp", "layer": "features.conv2", "target_class": 3,
                                  "compare_method": "gradcampp"}]
    assert not busy.is_visible()

    # nothing is held any more: another busy period sends nothing, and an idle change goes at once
    h.update("busy", True)
    h.update("busy", False)
    assert len(h.saves()) == n + 2
    h.set("method-select", "gradcam")
    assert h.saves()[-1] == {"method": "gradcam"}
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 10. error and notice


def test_error_and_notice(harness):
    h = harness
    case = CASES["2d"]
    h.mount(state_of(case))
    assert h.hidden("error") and h.text("notice") == ""
    # the notice keeps its line when empty (nothing below it moves when one appears)
    assert not h.hidden("notice") and "empty" in h.el("notice").get_attribute("class").split()
    message = "layer 'features.conv9' not found; valid: features.conv1, features.conv2, features.conv3"
    h.update("error", message)
    assert h.el("error").is_visible() and h.text("error") == message

    # the widget keeps working meanwhile
    h.set("opacity-slider", 0.9)
    assert_pixels(h.rgb("main-canvas"), expected(case, opacity=0.9), "opacity with an error shown")
    assert h.saves()[-1] == {"opacity": 0.9}
    h.el("score-bar-1").click()
    assert h.saves()[-1] == {"target_class": 1}
    h.click_pixel("main-canvas", 3, 4)
    assert h.saves()[-1] == {"crosshair": [3, 4]}
    assert h.el("error").is_visible()

    h.update("error", "")
    assert h.hidden("error") and not h.el("error").is_visible()

    notice = "volume downsampled from 256^3 to 128^3 for display"
    top = h.el("main-canvas").bounding_box()["y"]
    h.update("notice", notice)
    assert h.el("notice").is_visible() and h.text("notice") == notice
    assert "empty" not in h.el("notice").get_attribute("class").split()
    assert h.el("main-canvas").bounding_box()["y"] == top, "the notice moved the panels"
    h.update("notice", "")
    assert h.text("notice") == "" and "empty" in h.el("notice").get_attribute("class").split()
    assert h.el("main-canvas").bounding_box()["y"] == top
    assert not h.page.errors, h.page.errors


def test_a_map_of_the_wrong_shape_is_reported_not_drawn(harness):
    h = harness
    case = CASES["2d"]
    h.mount(state_of(case))
    h.set_array("cam", encode_array(np.ones((4, 4), np.float32)))
    assert h.el("error").is_visible() and "shape" in h.text("error")
    assert_pixels(h.rgb("main-canvas"), np.repeat(grey_of(case)[..., None], 3, axis=-1), "image without the map")
    h.set_array("cam", case.cam_enc)
    assert h.hidden("error")
    assert_pixels(h.rgb("main-canvas"), expected(case), "map back")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 11. compare


@only("2d", "3d")
def test_compare_panel(harness, case):
    h = harness
    h.mount(state_of(case))
    index = 4 if case.ndim == 3 else 0
    assert h.hidden("compare-panel")

    other = compare_map(case)
    h.update("compare_method", "layercam")
    h.set_array("compare", other)
    assert not h.hidden("compare-panel") and h.el("compare-canvas").is_visible()
    assert_pixels(h.rgb("compare-canvas"), expected(case, 0, index, overlay=other, signed=False), "compare")
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, index), "main beside compare")
    assert h.text("compare-canvas-title").startswith("layercam")
    assert "layercam=" in h.text("readout")

    h.set("opacity-slider", 0.8)
    h.set("colormap-select", "viridis")
    if case.ndim == 3:
        h.set("slice-slider", 10)  # the compare panel shows the same slice
        index = 10
    assert_pixels(h.rgb("compare-canvas"),
                  expected(case, 0, index, overlay=other, signed=False, opacity=0.8, colormap="viridis"), "compare moved")

    signed_other = compare_map(case, signed=True)
    h.update("compare_signed", True)
    h.set_array("compare", signed_other)
    assert_pixels(h.rgb("compare-canvas"),
                  expected(case, 0, index, overlay=signed_other, signed=True, opacity=0.8), "signed compare (RdBu)")

    h.set_array("compare", None)
    assert h.hidden("compare-panel")
    assert "layercam=" not in h.text("readout")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- 12. PNG


@only("2d", "3d")
def test_png_button_asks_python_and_downloads_its_picture(harness, case):
    """The PNG button sends {type: "png", scale: 2}; Python's answer (the picture figure.py composes for
    this state: the same as save_png) is downloaded byte for byte, and its main panel is the canvas."""
    h = harness
    state = state_of(case, opacity=0.8)
    h.mount(state)
    canvas = h.rgb("main-canvas")
    h.el("png-button").click()
    assert h.sent() == [{"type": "png", "scale": 2}]
    picture = python_picture(state, scale=2)
    data = png_bytes(picture)
    with h.page.expect_download(timeout=5000) as info:
        h.answer_png(data, "cam_gradcam_features.conv3_class0.png")
    download = info.value
    assert download.suggested_filename == "cam_gradcam_features.conv3_class0.png"
    assert open(download.path(), "rb").read() == data
    assert h.el("cam-viewer").get_attribute("data-last-png") == str(len(data))
    # the picture's main panel is the browser's canvas, enlarged by a whole factor (nearest neighbour)
    png = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    factors = [k for k in range(2, 41, 2) if find_image(png, canvas.repeat(k, 0).repeat(k, 1))]
    assert factors, "the main canvas is not in Python's picture"
    # an error answer is shown in the widget
    h.js("() => window.__model.emit('msg:custom', { type: 'error', message: 'PNG export failed: x' }, [])")
    assert "PNG export failed" in h.text("error")
    # the scale select chooses the picture's scale
    h.set("png-scale", 4)
    h.el("png-button").click()
    assert h.sent()[-1] == {"type": "png", "scale": 4}
    assert not h.page.errors, h.page.errors


def python_picture(state: dict, scale: int) -> np.ndarray:
    """figure.widget_figure of a CAMViewer holding `state` (the traits Python would hold)."""
    from types import SimpleNamespace

    from cam_widgets import CAMViewer
    from cam_widgets.widgets.schema import trait_defaults

    traits = dict(trait_defaults(CAMViewer))
    for k, v in state.items():
        traits[k] = {**{x: y for x, y in v.items() if x != "b64"}, "buffer": base64.b64decode(v["b64"])} \
            if isinstance(v, dict) and "b64" in v else v
    widget = SimpleNamespace(**traits)
    widget.has_trait = lambda name: name in traits and name == "mask_bits"
    return widget_figure(widget, scale)


def find_image(big: np.ndarray, small: np.ndarray) -> bool:
    """True when `small` appears in `big` at some position, pixel for pixel."""
    h, w = small.shape[:2]
    first = np.all(big == small[0, 0], axis=-1)
    for y, x in np.argwhere(first):
        if y + h <= big.shape[0] and x + w <= big.shape[1] and np.array_equal(big[y:y + h, x:x + w], small):
            return True
    return False


# ---------------------------------------------------------------------------------------- 13. cleanup


@only("2d", "3d-signed")
def test_unmount_leaves_no_listeners(harness, case):
    h = harness
    h.mount(state_of(case))
    h.set("opacity-slider", 0.2)
    h.click_pixel("main-canvas", 2, 3)
    assert h.js("() => window.__model.listenerCount()") > 0
    assert h.js("() => window.__unmount()") == 0
    assert h.js("() => document.getElementById('widget').children.length") == 0
    h.update("busy", True)  # Python keeps talking to a closed view: nothing happens, nothing breaks
    h.update("error", "late")
    h.set_array("cam", case.cam_enc)
    # a second mount on a fresh model works, and cleans up as well
    h.js("async (state) => { await window.__mount(state); }", state_of(case))
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 4 if case.ndim == 3 else 0), "remounted")
    assert h.js("() => window.__unmount()") == 0
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- more controls


def test_recompute_controls_save_at_once_when_idle(harness):
    h = harness
    h.mount(state_of(CASES["2d"], n_samples=4))
    assert not h.hidden("sample-slider") and h.el("sample-slider").is_visible()
    for testid, value, saved in [
        ("layer-select", "features.conv1", {"layer": "features.conv1"}),
        ("method-select", "layercam", {"method": "layercam"}),
        ("compare-select", "hirescam", {"compare_method": "hirescam"}),
        ("compare-select", "", {"compare_method": ""}),
        ("class-select", 3, {"target_class": 3}),  # follow_prediction is already False
        ("class-select", "predicted", {"follow_prediction": True}),
        ("class-select", 2, {"target_class": 2, "follow_prediction": False}),
        ("sample-slider", 2, {"sample": 2}),
    ]:
        h.set(testid, value)
        assert h.saves()[-1] == saved, testid
    assert h.text("sample-value") == "2/3"
    assert h.text("main-canvas-title") == "layercam · features.conv1 · TRiC"
    h.update("n_samples", 1)  # one sample: no sample control
    assert not h.el("sample-slider").is_visible()
    assert not h.page.errors, h.page.errors


def test_slice_drag_is_synced_once_with_the_last_value(harness):
    """Slider drags ('input' events only) redraw at once and are saved once, shortly after."""
    h = harness
    case = CASES["3d"]
    h.mount(state_of(case))
    n = len(h.saves())
    for index in (5, 6, 7, 8):
        h.js("""(i) => { const s = document.querySelector('[data-testid="slice-slider"]');
                         s.value = String(i); s.dispatchEvent(new Event('input', { bubbles: true })); }""", index)
        assert_pixels(h.rgb("main-canvas"), expected(case, 0, index), f"dragged to z={index}")
    h.page.wait_for_function("(n) => window.__model.saves.length > n", arg=n, timeout=2000)
    h.page.wait_for_timeout(300)
    assert h.saves()[n:] == [{"slice_index": 8, "crosshair": [8, 5, 7]}]
    assert not h.page.errors, h.page.errors


def test_dragging_on_a_view_follows_the_pointer(harness):
    h = harness
    case = CASES["3d"]
    h.mount(state_of(case))  # crosshair (4, 5, 7); the coronal view (y = 5) shows rows z, cols x
    canvas = h.el("view-coronal")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()

    def at(row, col):  # the page position of data pixel (row, col) of the 12 x 20 coronal view
        return box["x"] + (col + 0.5) / 20 * box["width"], box["y"] + (row + 0.5) / 12 * box["height"]

    n = len(h.saves())
    h.page.mouse.move(*at(2, 2))
    h.page.mouse.down()
    h.page.mouse.move(*at(8, 10), steps=4)
    h.page.mouse.move(*at(10, 17), steps=4)
    h.page.mouse.up()
    saved = h.saved(n)
    assert saved["crosshair"] == [10, 5, 17] and saved["slice_index"] == 10
    h.page.mouse.move(*at(1, 1))  # moving without the button moves no crosshair (only the read-out)
    assert h.saved(n)["crosshair"] == [10, 5, 17]
    assert h.el("readout").get_attribute("data-source") == "hover"
    h.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] + 200)  # off the panels
    assert_views(h, case, [10, 5, 17])
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 10), "the main view follows the drag's z")
    assert_readout(h, case, [10, 5, 17], source="crosshair")
    assert not h.page.errors, h.page.errors


def test_crosshair_and_axis_set_by_python(harness):
    h = harness
    case = CASES["3d-signed"]
    h.mount(state_of(case))
    n = len(h.saves())
    h.update("crosshair", [8, 2, 15])
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 8), "main follows the crosshair")
    assert_views(h, case, [8, 2, 15])
    assert_readout(h, case, [8, 2, 15])
    h.update("axis", 2)
    got = h.rgb("main-canvas")
    assert got.shape[:2] == (12, 16)
    assert_pixels(got, expected(case, 2, 15), "sagittal x=15 set by Python")
    assert h.js("() => document.querySelector('[data-testid=\"axis-select\"]').value") == "2"
    assert h.text("slice-value") == "15/19"
    assert all("crosshair" not in s and "axis" not in s for s in h.saves()[n:]), h.saves()[n:]
    assert not h.page.errors, h.page.errors


def test_a_new_image_of_another_shape(harness):
    """A new sample / display size: the canvases, the slider and the crosshair follow the new shape."""
    h = harness
    h.mount(state_of(CASES["3d"], crosshair=[10, 14, 18], slice_index=10))
    z, y, x = np.meshgrid(np.arange(6.0), np.arange(8.0), np.arange(10.0), indexing="ij")
    image = encode_array((0.1 * x + 0.2 * y + 0.3 * z).astype(np.float32))
    cam = encode_array((x * y / 63 + 0.01 * z).astype(np.float32))
    case = Case("small", image, cam, False)
    h.set_array("image", image)
    h.set_array("cam", cam)
    assert h.hidden("error"), h.text("error")
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 5), "clamped to the last slice")
    assert_views(h, case, [5, 7, 9])
    saved = {k: v for s in h.saves() for k, v in s.items()}
    assert saved["crosshair"] == [5, 7, 9] and saved["slice_index"] == 5
    assert h.text("slice-value") == "5/5"
    assert not h.page.errors, h.page.errors


@only("2d", "3d-signed")
def test_float32_arrays_match_compose(harness, case):
    """float32 arrays carry their values; values outside vmin..vmax are clipped (grey and colour)."""
    h = harness
    image = decode_array(case.image_enc).astype(np.float32)
    cam = decode_array(case.cam_enc).astype(np.float32)
    lo, hi = float(image.min()), float(image.max())
    bound = float(np.abs(cam).max())
    image_enc = encode_array(image, lo + 0.2, hi - 0.3, dtype="float32")  # a narrower range: clipped
    cam_enc = encode_array(cam, -0.8 * bound, 0.8 * bound, dtype="float32") if case.signed \
        else encode_array(cam, 0.0, 0.7 * float(cam.max()), dtype="float32")
    f32 = Case(case.name + "-f32", image_enc, cam_enc, case.signed)
    h.mount(state_of(f32, opacity=0.7))
    index = 4 if case.ndim == 3 else 0
    assert_pixels(h.rgb("main-canvas"), expected(f32, 0, index, opacity=0.7), "float32")
    if case.ndim == 3:
        assert_views(h, f32, [4, 5, 7], opacity=0.7)
    assert not h.page.errors, h.page.errors
