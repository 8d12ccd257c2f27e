"""The CAMViewer features of issue 12 in headless Chromium, on the harness page (no kernel): RGB inputs,
zoom and pan linked across panels, the hover read-out, real voxel indices of a downsampled volume, the
zero-map message, the keyboard, following the prediction, and the layout at two widths.

Canvases are compared pixel for pixel with Python's composition (``render.compose``, and for RGB also an
independent formula); what the widget writes back is read from the fake model's saves."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from cam_widgets.widgets.codec import decode_array, encode_array
from cam_widgets.widgets.colormaps import lut
from cam_widgets.widgets.figure import zero_message
from cam_widgets.widgets.render import compose

from .harness import (
    CASES, CLASS_NAMES, Case, assert_pixels, compare_map, expected, grey_of, js_value, other_axes, parse_readout,
    state_of, three_digits, wire,
)

MAIN_PANELS = ["main-canvas", "compare-canvas"]
ORTHO = {0: ["view-coronal", "view-sagittal"], 1: ["view-axial", "view-sagittal"], 2: ["view-axial", "view-coronal"]}


def with_compare(case: Case, **traits) -> tuple[dict, dict]:
    other = compare_map(case)
    return state_of(case, compare=wire(other), compare_method="layercam", **traits), other


# ---------------------------------------------------------------------------------------- a. RGB

RGB_SHAPE = (20, 24)
RED_SQUARE = (slice(4, 12), slice(3, 11))


def rgb_image(shape=RGB_SHAPE) -> np.ndarray:
    """(3, *shape): a red square on a blue background, with a faint gradient (distinct known colours)."""
    image = np.zeros((3, *shape), np.float32)
    image[0], image[1], image[2] = 0.1, 0.15, 0.85  # blue
    spatial = (slice(None),) * (len(shape) - 2) + RED_SQUARE
    image[(0, *spatial)], image[(1, *spatial)], image[(2, *spatial)] = 0.95, 0.1, 0.05  # red
    image += 0.002 * np.arange(shape[-1], dtype=np.float32)  # a gradient along x, all channels
    return image


def rgb_map(shape=RGB_SHAPE) -> np.ndarray:
    """A map that is 0 over the left half (the red square shows pure) and a ramp on the right."""
    x = np.arange(shape[-1], dtype=np.float32)
    plane = np.broadcast_to(np.clip(x - shape[-1] // 2, 0, None) / shape[-1], shape)
    return np.ascontiguousarray(plane).astype(np.float32)


def encode_rgb(image: np.ndarray) -> dict:
    """As CAMWidget encodes channel="rgb": the (3, ...) tensor quantised jointly, plus "rgb": True."""
    encoded = encode_array(image)
    encoded["rgb"] = True
    return encoded


def rgb_by_formula(image_enc: dict, cam_enc: dict, opacity: float, window=None, axis: int = 0, index: int = 0):
    """The canvas computed without render.compose: round(level_c * (1 - a) + colour_c * a) with one window
    over the three channels, a = opacity where the map is not 0, colour = inferno of the map."""
    values = np.moveaxis(decode_array(image_enc), 0, -1)  # (*spatial, 3)
    cam = decode_array(cam_enc)
    if values.ndim == 4:
        values, cam = np.take(values, index, axis=axis), np.take(cam, index, axis=axis)
    lo, hi = window or (image_enc["vmin"], image_enc["vmax"])
    level = np.clip((values - lo) / (hi - lo), 0, 1) * 255
    vmin, vmax = cam_enc["vmin"], cam_enc["vmax"]
    colour = lut("inferno")[np.round(np.clip((cam - vmin) / (vmax - vmin), 0, 1) * 255).astype(int)].astype(float)
    alpha = np.where(np.abs(cam) <= (vmax - vmin) / 510, 0.0, opacity)[..., None]
    return np.round(level * (1 - alpha) + colour * alpha).astype(np.uint8)


def rgb_state(image_enc: dict, cam_enc: dict, **traits) -> dict:
    case = CASES["2d"]
    state = state_of(case, image=wire(image_enc), cam=wire(cam_enc), n_channels=3, channel="rgb", **traits)
    if "crosshair" not in traits:
        state["crosshair"] = []  # the centre
    return state


def test_rgb_input_is_drawn_in_colour(harness):
    h = harness
    image, cam = rgb_image(), rgb_map()
    image_enc, cam_enc = encode_rgb(image), encode_array(cam)
    h.mount(rgb_state(image_enc, cam_enc, opacity=0.6))
    got = h.rgb("main-canvas")
    base = np.moveaxis(decode_array(image_enc), 0, -1)
    want = compose(base, decode_array(cam_enc), (image_enc["vmin"], image_enc["vmax"]),
                   (cam_enc["vmin"], cam_enc["vmax"]), False, "inferno", 0.6, rgb=True)
    assert_pixels(got, want, "RGB canvas vs render.compose(rgb=True)")
    assert_pixels(got, rgb_by_formula(image_enc, cam_enc, 0.6), "RGB canvas vs the formula")
    # the red square reads as red, the background as blue (where the map is 0: the input's own colours)
    red = got[RED_SQUARE].reshape(-1, 3).astype(int)
    assert (red[:, 0] > 200).all() and (red[:, 1] < 60).all() and (red[:, 2] < 60).all(), red[:3]
    background = got[15:, :8].reshape(-1, 3).astype(int)
    assert (background[:, 2] > 180).all() and (background[:, 0] < 60).all(), background[:3]

    # the window applies to all three channels at once
    h.set("window-low", "0.2")
    h.set("window-high", "0.8")
    window = (0.2, 0.8)
    assert_pixels(h.rgb("main-canvas"), rgb_by_formula(image_enc, cam_enc, 0.6, window), "windowed RGB")
    assert_pixels(h.rgb("main-canvas"), compose(base, decode_array(cam_enc), (image_enc["vmin"], image_enc["vmax"]),
                                                (cam_enc["vmin"], cam_enc["vmax"]), False, "inferno", 0.6, window,
                                                rgb=True), "windowed RGB vs compose")
    # the read-out shows the three channel values
    h.hover_pixel("main-canvas", 5, 4)
    text = h.text("readout")
    values = [three_digits(image_enc["vmin"] + q / 255 * (image_enc["vmax"] - image_enc["vmin"]))
              for q in np.frombuffer(image_enc["buffer"], np.uint8).reshape(3, *RGB_SHAPE)[:, 5, 4]]
    assert text.startswith("y=5 x=4  input=(") and "input=(" + ", ".join(f"{v:g}" for v in values) + ")" in text, text
    assert not h.page.errors, h.page.errors


def test_rgb_volume_and_the_channel_select(harness):
    h = harness
    shape = (6, *RGB_SHAPE)
    image, cam = rgb_image(shape), np.broadcast_to(rgb_map(), shape).astype(np.float32)
    image_enc, cam_enc = encode_rgb(image), encode_array(np.ascontiguousarray(cam))
    state = rgb_state(image_enc, cam_enc, axis=0, slice_index=2, crosshair=[2, 6, 5])
    h.mount(state)
    assert_pixels(h.rgb("main-canvas"), rgb_by_formula(image_enc, cam_enc, 0.5, axis=0, index=2), "axial z=2")
    assert_pixels(h.rgb("view-coronal"), rgb_by_formula(image_enc, cam_enc, 0.5, axis=1, index=6), "coronal y=6")
    assert_pixels(h.rgb("view-sagittal"), rgb_by_formula(image_enc, cam_enc, 0.5, axis=2, index=5), "sagittal x=5")
    # three channels: the select offers rgb, mean and each channel; choosing commits `channel` at once
    assert h.el("channel-select").is_visible()
    options = h.js("() => [...document.querySelector('[data-testid=\"channel-select\"]').options].map(o => o.value)")
    assert options == ["rgb", "mean", "0", "1", "2"] and h.value("channel-select") == "rgb"
    h.set("channel-select", "mean")
    assert h.saves()[-1] == {"channel": "mean"}
    h.set("channel-select", "2")
    assert h.saves()[-1] == {"channel": 2}
    # Python answers with a one-channel image: drawn grey
    grey = encode_array(image[2])
    h.update("channel", 2)
    h.set_array("image", grey)
    case = Case("blue", grey, cam_enc, False)
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 2), "channel 2 in grey")
    # one channel: no channel select
    h.update("n_channels", 1)
    assert not h.el("channel-select").is_visible()
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- b. zoom and pan


def transforms(h, testids) -> dict:
    return {t: h.js("(id) => document.querySelector(`[data-testid=\"${id}\"]`).style.transform", t) for t in testids}


def hovered_voxel(h, x: float, y: float) -> list[int]:
    """The read-out's voxel with the mouse at page point (x, y) (moved there from 1 px away)."""
    h.page.mouse.move(x + 1, y)
    h.page.mouse.move(x, y)
    assert h.el("readout").get_attribute("data-source") == "hover"
    return json.loads(h.el("readout").get_attribute("data-voxel"))


def canvas_offset(h, testid: str) -> tuple[float, float, float]:
    """The zoomed canvas' top-left relative to its stage and its CSS px per data pixel (from the DOM)."""
    return tuple(h.js("""(id) => { const c = document.querySelector(`[data-testid="${id}"]`);
                                   const r = c.getBoundingClientRect(), s = c.parentElement.getBoundingClientRect();
                                   return [r.left - s.left, r.top - s.top, r.width / c.width]; }""", testid))


def assert_crosshair_follows_zoom(h, testid: str, row: int, col: int) -> None:
    """The crosshair lines of a panel go through the centre of data pixel (row, col) of the zoomed canvas."""
    left, top, px = canvas_offset(h, testid)
    lines = h.js("""(id) => { const s = document.querySelector(`[data-testid="${id}"]`).parentElement;
                              return [parseFloat(s.querySelector('.cam-cross-v').style.left),
                                      parseFloat(s.querySelector('.cam-cross-h').style.top)]; }""", testid)
    assert lines[0] == pytest.approx(left + (col + 0.5) * px, abs=0.01)
    assert lines[1] == pytest.approx(top + (row + 0.5) * px, abs=0.01)


def test_zoom_and_pan_are_linked_across_panels(harness):
    h = harness
    case = CASES["3d"]
    state, _ = with_compare(case)
    h.mount(state)  # crosshair (4, 5, 7)
    panels = MAIN_PANELS + ORTHO[0]
    before = {t: h.rgb(t) for t in panels}
    assert all(v == "" for v in transforms(h, panels).values())
    assert h.text("zoom-value") == "1.00×"

    # wheel up over data pixel (3, 15) of the main canvas: zoom in about the pointer, three notches
    x, y = h.pixel_position("main-canvas", 3, 15)
    under = hovered_voxel(h, x, y)
    assert under == [4, 3, 15]
    n = len(h.saves())
    h.page.mouse.wheel(0, -100)
    t0 = time.perf_counter()
    saved = h.wait_saved("zoom", n, timeout=500)
    assert time.perf_counter() - t0 < 0.5
    assert saved["zoom"] == pytest.approx(1.25) and len(saved["zoom_center"]) == 3
    h.page.mouse.wheel(0, -100)
    h.page.mouse.wheel(0, -100)
    h.page.wait_for_timeout(400)
    saved = h.saved(n)
    assert saved["zoom"] == pytest.approx(1.25 ** 3) and "crosshair" not in saved
    assert h.model("zoom") == pytest.approx(1.25 ** 3)
    for t in panels:  # every panel has the same zoom; nothing was redrawn
        assert h.zoom_scale(t) == pytest.approx(1.25 ** 3, rel=1e-4), t
        assert_pixels(h.rgb(t), before[t], f"{t} is not redrawn by the zoom")
    assert transforms(h, ["main-canvas"]) == {"main-canvas": transforms(h, ["compare-canvas"])["compare-canvas"]}
    assert h.text("zoom-value") == "1.95×"
    assert hovered_voxel(h, x, y) == under, "the voxel under the pointer moved"
    # the compare panel shows the same place: the same voxel under the same point of its stage
    main_stage, compare_stage = h.stage_box("main-canvas"), h.stage_box("compare-canvas")
    assert hovered_voxel(h, x - main_stage["x"] + compare_stage["x"], y - main_stage["y"] + compare_stage["y"]) == under
    # the orthogonal views zoom about the same centre: the stage's centre shows zoom_center
    center = saved["zoom_center"]
    for t, axis in zip(ORTHO[0], other_axes(0)):
        stage = h.stage_box(t)
        voxel = hovered_voxel(h, stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
        shown = [a for a in range(3) if a != axis]
        assert all(abs(voxel[a] - center[a]) <= 0.51 for a in shown), (t, voxel, center)
    for t, (row, col) in zip(panels, [(5, 7), (5, 7), (4, 7), (4, 5)]):
        assert_crosshair_follows_zoom(h, t, row, col)

    # Ctrl + drag pans every panel: what was under the start point is under the end point
    start = h.pixel_position("main-canvas", 6, 12)
    under_start = hovered_voxel(h, *start)
    end = (start[0] - 40, start[1] - 30)
    n = len(h.saves())
    h.page.keyboard.down("Control")
    h.page.mouse.move(*start)
    h.page.mouse.down()
    h.page.mouse.move(*end, steps=5)
    h.page.mouse.up()
    h.page.keyboard.up("Control")
    saved = h.wait_saved("zoom_center", n, timeout=500)
    assert "crosshair" not in saved and "zoom" not in saved, saved
    assert saved["zoom_center"] != center
    assert hovered_voxel(h, *end) == under_start
    assert transforms(h, ["main-canvas"])["main-canvas"] == transforms(h, ["compare-canvas"])["compare-canvas"]
    assert all(h.zoom_scale(t) == pytest.approx(1.25 ** 3, rel=1e-4) for t in panels)
    assert h.model("zoom_center") == saved["zoom_center"]

    # double-click resets every panel
    n = len(h.saves())
    h.page.mouse.dblclick(*h.pixel_position("main-canvas", 8, 10))
    saved = h.wait_saved("zoom", n, timeout=500)
    assert saved["zoom"] == 1 and saved["zoom_center"] == []
    assert all(v == "" for v in transforms(h, panels).values())
    assert h.text("zoom-value") == "1.00×"

    # Python sets the zoom and its centre: every panel moves there, nothing is written back
    n = len(h.saves())
    h.update("zoom", 4.0)
    h.update("zoom_center", [4, 8, 10])
    assert all(h.zoom_scale(t) == pytest.approx(4, rel=1e-4) for t in panels), transforms(h, panels)
    stage = h.stage_box("main-canvas")
    voxel = hovered_voxel(h, stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    assert voxel[1:] == [8, 10]
    assert h.text("zoom-value") == "4.00×"
    h.page.wait_for_timeout(300)
    assert not any("zoom" in s or "zoom_center" in s for s in h.saves()[n:]), h.saves()[n:]
    h.el("zoom-reset").click()
    assert h.saved(n)["zoom"] == 1 and h.model("zoom_center") == []
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- c. hover


def assert_hover_readout(h, case: Case, other: dict, voxel) -> None:
    got = parse_readout(h.text("readout"))
    letters = "zyx"[3 - case.ndim:]
    assert [got[a] for a in letters] == list(voxel)
    assert got["input"] == three_digits(js_value(case.image_enc, voxel))
    assert got["gradcam"] == three_digits(js_value(case.cam_enc, voxel))
    assert got["layercam"] == three_digits(js_value(other, voxel))
    assert abs(got["gradcam"] - case.cam[tuple(voxel)]) <= 5e-3 * abs(case.cam[tuple(voxel)]) + 1e-9
    assert json.loads(h.el("readout").get_attribute("data-voxel")) == list(voxel)
    assert h.el("readout").get_attribute("data-source") == "hover"


@pytest.mark.parametrize("name", ["2d", "3d"])
def test_hover_readout_without_a_click(harness, name):
    h = harness
    case = CASES[name]
    state, other = with_compare(case)
    h.mount(state)
    crosshair = state["crosshair"]
    assert h.el("readout").get_attribute("data-source") == "crosshair"
    n = len(h.saves())
    if case.ndim == 3:
        points = [("main-canvas", 6, 9, [4, 6, 9]), ("compare-canvas", 11, 2, [4, 11, 2]),
                  ("view-coronal", 9, 15, [9, 5, 15]), ("view-sagittal", 2, 12, [2, 12, 7])]
    else:
        points = [("main-canvas", 6, 12, [6, 12]), ("compare-canvas", 15, 2, [15, 2]), ("main-canvas", 0, 25, [0, 25])]
    for testid, row, col, voxel in points:
        h.hover_pixel(testid, row, col)
        assert_hover_readout(h, case, other, voxel)
    assert h.saves()[n:] == [], "hovering saved something"
    # leaving the panels: back to the crosshair
    h.page.mouse.move(5, 5)
    assert h.el("readout").get_attribute("data-source") == "crosshair"
    assert json.loads(h.el("readout").get_attribute("data-voxel")) == crosshair
    got = parse_readout(h.text("readout"))
    assert got["input"] == three_digits(js_value(case.image_enc, crosshair))
    # the crosshair can be hidden (and shown again)
    h.check("crosshair-checkbox", False)
    assert h.saves()[-1] == {"show_crosshair": False}
    assert h.js("() => [...document.querySelectorAll('.cam-cross')].every(e => e.hidden)")
    h.check("crosshair-checkbox", True)
    assert h.js("() => [...document.querySelectorAll('[data-testid=\"main-canvas\"] ~ .cam-cross')].every(e => !e.hidden)")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- d. real voxel indices

DOWN = (64, 64, 64)
REAL = [256, 256, 256]


@pytest.fixture(scope="module")
def downsampled() -> Case:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in DOWN), indexing="ij")
    image = 0.01 * x + 0.02 * y + 0.03 * z
    cam = np.clip(x - 20, 0, None) * (1 + 0.02 * z) * (1 + 0.01 * y)
    return Case("down", encode_array(image), encode_array(cam), False)


def test_downsampled_volume_uses_real_voxel_indices(harness, downsampled):
    h = harness
    case = downsampled
    h.mount(state_of(case, input_shape=REAL, slice_index=100, crosshair=[100, 120, 140]))
    assert h.saves() == []
    assert h.js("() => document.querySelector('[data-testid=\"slice-slider\"]').max") == "255"
    assert h.text("slice-value") == "100/255"
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 25), "real z=100 -> display 25")

    h.set("slice-slider", 201)  # display slice floor(201 * 64 / 256) = 50
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 50), "real z=201 -> display 50")
    assert h.saves()[-1] == {"slice_index": 201, "crosshair": [201, 120, 140]}
    assert h.text("slice-value") == "201/255"
    assert h.text("main-canvas-title").endswith("axial z=201")

    # a click on display pixel (10, 20) is the real voxel floor((p + 0.5) * 4) = (42, 82)
    h.click_pixel("main-canvas", 10, 20)
    assert h.saves()[-1] == {"crosshair": [201, 42, 82]}
    h.page.mouse.move(5, 5)
    got = parse_readout(h.text("readout"))
    assert [got["z"], got["y"], got["x"]] == [201, 42, 82]
    assert got["input"] == three_digits(js_value(case.image_enc, [50, 10, 20]))
    assert got["gradcam"] == three_digits(js_value(case.cam_enc, [50, 10, 20]))
    # the orthogonal views cut through the crosshair: coronal y=42 (display 10), sagittal x=82 (display 20)
    assert_pixels(h.rgb("view-coronal"), expected(case, 1, 10), "coronal y=42")
    assert_pixels(h.rgb("view-sagittal"), expected(case, 2, 20), "sagittal x=82")
    assert h.text("ortho-0-title") == "coronal y=42" and h.text("ortho-1-title") == "sagittal x=82"
    # hovering reports real indices too
    h.hover_pixel("main-canvas", 63, 0)
    assert json.loads(h.el("readout").get_attribute("data-voxel")) == [201, 254, 2]
    # the keyboard steps real slices (202 is still display slice 50)
    h.el("main-canvas").click()
    h.page.keyboard.press("ArrowUp")
    assert h.saves()[-1]["slice_index"] == 202
    # Python sets the last real slice
    h.update("slice_index", 255)
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, 63), "real z=255 -> display 63")
    assert h.text("slice-value") == "255/255"
    # the axis: coronal slices along y, real 0..255
    h.set("axis-select", 1)
    assert h.js("() => document.querySelector('[data-testid=\"slice-slider\"]').max") == "255"
    y_real = h.saved()["crosshair"][1]
    assert_pixels(h.rgb("main-canvas"), expected(case, 1, y_real * 64 // 256), f"coronal y={y_real}")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- e. zero map


@pytest.mark.parametrize("name", ["2d", "3d"])
def test_a_zero_map_says_so(harness, name):
    h = harness
    case = CASES[name]
    zero = encode_array(np.zeros(case.shape, np.float32))
    assert zero["vmin"] == zero["vmax"] == 0
    h.mount(state_of(case, cam=wire(zero)))
    message = h.el("main-canvas-message")
    assert message.is_visible()
    assert "zero" in message.text_content()
    assert message.text_content() == zero_message("gradcam", CLASS_NAMES[0], "features.conv3")
    zero_case = Case("zero", case.image_enc, zero, False)
    index = 4 if case.ndim == 3 else 0
    assert_pixels(h.rgb("main-canvas"), np.repeat(grey_of(case, 0, index)[..., None], 3, -1), "the image alone")
    assert_pixels(h.rgb("main-canvas"), expected(zero_case, 0, index), "zero map vs compose")
    # a non-zero map hides the message
    h.set_array("cam", case.cam_enc)
    assert h.hidden("main-canvas-message") and not message.is_visible()
    assert_pixels(h.rgb("main-canvas"), expected(case, 0, index), "the map")
    # the compare panel has its own message
    h.update("compare_method", "layercam")
    h.set_array("compare", zero)
    assert h.el("compare-canvas-message").is_visible() and "zero" in h.text("compare-canvas-message")
    assert "layercam" in h.text("compare-canvas-message")
    assert h.hidden("main-canvas-message")
    h.set_array("compare", compare_map(case))
    assert h.hidden("compare-canvas-message")
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- f. keyboard


def test_keyboard_steps_the_slice_and_the_sample(harness):
    h = harness
    case = CASES["3d"]
    h.mount(state_of(case, n_samples=4, sample=0))
    assert "PgUp" in h.el("help").get_attribute("title") and "[" in h.el("help").get_attribute("title")
    h.click_pixel("main-canvas", 5, 7)  # focuses the widget (the crosshair stays at (4, 5, 7))
    assert h.js("() => document.activeElement.dataset.testid") == "cam-viewer"
    slice_index = 4
    for key, want in [("ArrowUp", 5), ("ArrowRight", 6), ("ArrowDown", 5), ("PageUp", 11), ("PageDown", 1),
                      ("ArrowLeft", 0), ("PageUp", 10), ("PageUp", 11)]:
        n = len(h.saves())
        h.page.keyboard.press(key)
        assert h.saved(n).get("slice_index", slice_index) == want, key
        assert h.model("slice_index") == want
        assert_pixels(h.rgb("main-canvas"), expected(case, 0, want), f"after {key}")
        assert h.value("slice-slider") == str(want)
        slice_index = want
    assert h.model("crosshair") == [11, 5, 7]
    # "]" and "[" step the sample through the request queue
    h.page.keyboard.press("]")
    assert h.saves()[-1] == {"sample": 1}
    h.page.keyboard.press("[")
    assert h.saves()[-1] == {"sample": 0}
    h.page.keyboard.press("[")  # the first sample: nothing to step to
    assert h.saves()[-1] == {"sample": 0} and h.model("sample") == 0
    h.update("busy", True)
    n = len(h.saves())
    h.page.keyboard.press("]")
    h.page.keyboard.press("]")
    assert h.saves()[n:] == [], "a sample was sent while Python was busy"
    assert h.value("sample-slider") == "2"
    h.update("busy", False)
    assert h.saves()[n:] == [{"sample": 2}]
    # typing in a control does not step the slice
    h.el("window-low").focus()
    n = len(h.saves())
    h.page.keyboard.press("ArrowUp")
    h.page.keyboard.press("]")
    assert not any("slice_index" in s or "sample" in s for s in h.saves()[n:])
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- g. follow_prediction


def test_class_select_follows_the_prediction(harness):
    h = harness
    case = CASES["2d"]
    h.mount(state_of(case, target_class=1, predicted_class=1, follow_prediction=True, n_samples=7, sample=2,
                     true_labels=[0, 1, 1, 2, -1, 3, 0]))
    options = h.js("() => [...document.querySelector('[data-testid=\"class-select\"]').options]"
                   ".map(o => [o.value, o.textContent])")
    assert options[0] == ["predicted", "predicted (proteasome)"]
    assert [v for v, _ in options[1:]] == ["0", "1", "2", "3"]
    assert h.value("class-select") == "predicted"
    assert h.text("sample-caption") == "sample 2/6 · true: proteasome · predicted: proteasome · ✓"

    h.set("class-select", "3")
    assert h.saves()[-1] == {"target_class": 3, "follow_prediction": False}
    assert h.value("class-select") == "3"
    h.set("class-select", "predicted")
    assert h.saves()[-1] == {"follow_prediction": True}
    assert h.value("class-select") == "predicted"
    # Python follows: the next sample's prediction (and its true label) are shown
    h.update("sample", 3)
    h.update("predicted_class", 2)
    h.update("target_class", 2)
    assert h.value("class-select") == "predicted"
    assert "predicted (TRiC)" in h.js("() => document.querySelector('[data-testid=\"class-select\"]').options[0].textContent")
    assert h.text("sample-caption") == "sample 3/6 · true: TRiC · predicted: TRiC · ✓"
    assert "TRiC" in h.text("main-canvas-title")
    h.update("sample", 0)
    h.update("predicted_class", 1)
    assert h.text("sample-caption") == "sample 0/6 · true: ribosome · predicted: proteasome · ✗"
    h.update("sample", 4)  # unknown true label
    assert h.text("sample-caption") == "sample 4/6 · predicted: proteasome"
    # a bar click leaves "predicted" too
    h.el("score-bar-0").click()
    assert h.saves()[-1] == {"target_class": 0, "follow_prediction": False}
    assert not h.page.errors, h.page.errors


# ---------------------------------------------------------------------------------------- h. layout


@pytest.mark.parametrize("width", [1400, 900])
def test_layout_follows_the_width(harness, width):
    h = harness
    h.page.set_viewport_size({"width": width, "height": 1000})
    case = CASES["3d"]
    h.mount(state_of(case))
    before = h.el("main-canvas").bounding_box()
    h.update("compare_method", "layercam")
    h.set_array("compare", compare_map(case))
    main, compare = h.el("main-panel").bounding_box(), h.el("compare-panel").bounding_box()
    after = h.el("main-canvas").bounding_box()
    assert (after["width"], after["height"], after["y"]) == (before["width"], before["height"], before["y"]), \
        "turning compare on resized or moved the main canvas"
    assert main["y"] == compare["y"] and compare["x"] >= main["x"] + main["width"], "compare is not beside main"
    a, b = (h.el(f"{t}").bounding_box() for t in ORTHO[0])
    assert a["y"] == b["y"] and b["x"] >= a["x"] + a["width"], "the orthogonal views are not side by side"
    # nothing overflows the widget, nor the page
    sizes = h.js("""() => { const r = document.querySelector('[data-testid="cam-viewer"]');
                            const box = r.getBoundingClientRect();
                            const worst = Math.max(...[...r.querySelectorAll('*')].map(e => e.getBoundingClientRect().right));
                            return { scroll: r.scrollWidth, client: r.clientWidth, right: box.right, worst,
                                     page: document.documentElement.scrollWidth, view: window.innerWidth }; }""")
    assert sizes["scroll"] <= sizes["client"], sizes
    assert sizes["worst"] <= sizes["right"] + 0.5, sizes
    assert sizes["page"] <= sizes["view"], sizes
    # the panels use the width: the two panels of the row fill most of it
    row = h.el("panels").bounding_box()
    assert compare["x"] + compare["width"] >= row["x"] + 0.75 * sizes["client"], (compare, sizes)
    # nearest-neighbour rendering, no smoothing
    assert h.js("() => getComputedStyle(document.querySelector('[data-testid=\"main-canvas\"]')).imageRendering") \
        in ("pixelated", "crisp-edges")
    assert not h.page.errors, h.page.errors



# ---------------------------------------------------------------------------------------- orthogonal views' map


def test_orthogonal_views_show_the_map_or_the_compare_map(harness):
    """With compare on, the "show" select puts the compare map on the orthogonal views (pixel for pixel, with
    its own colour bar) and saves ortho_map; Python setting ortho_map back is followed; without compare the
    select is hidden and the views show the map."""
    h = harness
    case = CASES["3d"]
    state, other = with_compare(case)
    h.mount(state)
    crosshair = state["crosshair"]
    assert not h.hidden("ortho-source") and h.js("() => document.querySelector('[data-testid=\"ortho-source\"]').value") == "cam"
    h.set("ortho-source", "compare")
    assert {"ortho_map": "compare"} in h.saves()
    for a in other_axes(0):
        assert_pixels(h.rgb(f"view-{['axial', 'coronal', 'sagittal'][a]}"), expected(case, a, crosshair[a], overlay=other),
                      f"compare map on axis {a}")
    ticks = h.js("() => [...document.querySelectorAll('[data-testid=\"ortho-0-colorbar-ticks\"] .cam-tick')]"
                 ".map(t => Number(t.dataset.value))")
    assert ticks == [other["vmin"], other["vmax"]]
    h.update("ortho_map", "cam")
    for a in other_axes(0):
        assert_pixels(h.rgb(f"view-{['axial', 'coronal', 'sagittal'][a]}"), expected(case, a, crosshair[a]), f"map on axis {a}")
    h.set_array("compare", None)
    assert h.js("() => document.querySelector('[data-testid=\"ortho-source\"]').closest('label').hidden")
    assert not h.page.errors, h.page.errors
