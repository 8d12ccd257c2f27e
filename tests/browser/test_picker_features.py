"""The PixelSetPicker's behaviour of issue 12, driven with real mouse events in headless Chromium on the
harness page (js/test/harness.html: the built bundle on a fake anywidget model), and once in a real
JupyterLab with a Python kernel:

- the class M is explained for is the class under each plain point / region click; shift-clicks and
  brush / lasso / rectangle keep it, and the hint names it;
- in 3D, strokes on the main pick view along every axis and on the two orthogonal pick views set the
  right voxels of M, and the slice strip lists the slices that hold M;
- the class legend follows the labels toggle; "all pixels" leaves the image readable;
- the cam panel says that the map is zero when M is empty;
- zoom is linked between the pick view and the cam panel, and a stroke while zoomed takes the pixel
  under the pointer.

Every expected mask is computed here independently (NumPy / scipy.ndimage) and compared with the
``mask_bits`` the widget saved, decoded by Python's ``unpack_mask``.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from scipy import ndimage

from cam_widgets.widgets.codec import encode_array

from .test_picker_tools import (  # noqa: F401 (picker: the fixture)
    Picker, assert_same, brush_expected, one_pixel, picker, rect_expected, wire,
)

# ---------------------------------------------------------------------------------------- data

NAMES = ["background", "rect", "disc", "bar"]
SHAPE_2D = (30, 40)
SHAPE_3D = (6, 10, 12)  # (z, y, x)


def labels_2d() -> np.ndarray:
    lab = np.zeros(SHAPE_2D, dtype=np.uint8)
    lab[3:11, 3:15] = 1  # class 1: a rectangle
    rows, cols = np.mgrid[: SHAPE_2D[0], : SHAPE_2D[1]]
    lab[(rows - 19) ** 2 + (cols - 29) ** 2 <= 6**2] = 2  # class 2: a disc
    lab[22:28, 2:12] = 3  # class 3: a bar
    return lab


def labels_3d() -> np.ndarray:
    lab = np.zeros(SHAPE_3D, dtype=np.uint8)
    lab[1:5, 2:6, 3:9] = 1
    lab[2:4, 6:9, 4:11] = 2
    return lab


LABELS_2D = labels_2d()
LABELS_3D = labels_3d()


def component(labels: np.ndarray, pixel: tuple[int, ...]) -> np.ndarray:
    """The 4-connected component (6-connected in 3D: ndimage's default) of equal labels holding `pixel`."""
    comps, _ = ndimage.label(labels == labels[pixel])
    return comps == comps[pixel]


def mask_saves(picker: Picker) -> list[dict]:
    return [s for s in picker.saves() if "mask_bits" in s]


def hint(picker: Picker) -> str:
    return picker.el("hint").text_content()


def slices_holding(mask: np.ndarray, axis: int) -> str:
    others = tuple(a for a in range(3) if a != axis)
    return ",".join(str(i) for i in np.flatnonzero(mask.any(axis=others)))


def mount(picker: Picker, labels: np.ndarray, **traits) -> None:
    picker.mount(labels, **{"class_names": NAMES, **traits})


# ---------------------------------------------------------------------------------------- a. the class under the click


def test_plain_clicks_take_the_class_under_them_and_other_tools_keep_it(picker):
    mount(picker, LABELS_2D, tool="region")
    assert "Click an object" in hint(picker)
    picker.click(5, 7)  # the rectangle: class 1
    saves = picker.saves()
    assert len(saves) == 1 and saves[0]["target_class"] == 1, saves
    assert_same(picker.mask_of(saves[0]), LABELS_2D == 1, "region of class 1")
    assert "M is explained for class 1: rect" in hint(picker)

    # a plain click on an object of another class: ONE save, the new class, and M = that object only
    picker.click(19, 29)  # the disc: class 2
    saves = picker.saves()
    assert len(saves) == 2, saves[1:]
    assert set(saves[1]) == {"mask_bits", "target_class"} and saves[1]["target_class"] == 2
    m = LABELS_2D == 2
    assert_same(picker.mask_of(saves[1]), m, "M = the clicked disc, not the rectangle too")
    assert "M is explained for class 2: disc" in hint(picker)
    assert picker.el("class-select").input_value() == "2"
    assert picker.page.locator(".cam-legend-item.target").get_attribute("data-class") == "2"

    # shift-click on class 3: M grows, the class stays 2
    picker.page.keyboard.down("Shift")
    picker.click(24, 5)  # the bar: class 3
    picker.page.keyboard.up("Shift")
    saves = picker.saves()
    assert len(saves) == 3 and set(saves[2]) == {"mask_bits"}, saves[2:]
    m = m | (LABELS_2D == 3)
    assert_same(picker.mask_of(saves[2]), m, "shift adds the bar")
    assert "M is explained for class 2: disc" in hint(picker)

    # brush, lasso and rectangle keep the class, wherever they start (here: on class 1 and 3)
    picker.tool("brush")
    path = [picker.centre(6, 5), picker.centre(6, 12)]
    picker.drag(path)
    assert set(picker.saves()[-1]) == {"mask_bits"}, picker.saves()[-1]
    assert_same(picker.last_mask(), brush_expected(path, 3, SHAPE_2D), "plain brush replaces M")
    picker.tool("rectangle")
    p0, p1 = (3.2, 23.3), (9.7, 26.6)  # inside the bar
    picker.drag([p0, p1])
    assert set(picker.saves()[-1]) == {"mask_bits"}
    assert_same(picker.last_mask(), rect_expected(p0, p1, SHAPE_2D), "rectangle")
    picker.tool("lasso")
    picker.drag([(4.5, 4.4), (13.6, 4.6), (9.3, 9.7)], steps=1)  # inside the rectangle (class 1)
    assert set(picker.saves()[-1]) == {"mask_bits"}
    assert "M is explained for class 2: disc" in hint(picker)
    assert all("target_class" not in s for s in picker.saves()[3:]), "only plain point / region clicks change the class"

    # a plain point click changes it again
    picker.tool("point")
    picker.click(0, 0)  # background: class 0
    assert picker.saves()[-1]["target_class"] == 0
    assert_same(picker.last_mask(), one_pixel(SHAPE_2D, 0, 0), "point")
    assert "M is explained for class 0: background" in hint(picker)


# ---------------------------------------------------------------------------------------- b. 3D: all three axes


def test_3d_strokes_on_every_axis_and_on_the_orthogonal_pick_views(picker):
    D, H, W = SHAPE_3D
    mount(picker, LABELS_3D, tool="rectangle", target_class=1, slice_index=3, crosshair=[3, 5, 6])
    assert picker.saves() == []
    assert picker.el("mask-slices").get_attribute("data-slices") == ""

    # axis 1 (coronal): the main pick view is the (z, x) slice at y = 5
    picker.set_input("axis-select", 1)
    assert picker.saves()[-1] == {"axis": 1, "slice_index": 5}
    assert picker.el("pick-canvas").evaluate("(c) => [c.height, c.width]") == [D, W]
    p0, p1 = (2.2, 1.3), (8.7, 4.6)  # x 2..8, z 1..4
    picker.drag([p0, p1], on="pick-canvas")
    want = np.zeros(SHAPE_3D, dtype=bool)
    want[:, 5, :] = rect_expected(p0, p1, (D, W))
    assert want.sum() == 7 * 4
    saves = picker.saves()
    assert set(saves[-2]) == {"mask_bits"}, "the rectangle keeps the class"
    assert_same(picker.mask_of(saves[-2]), want, "rectangle on the coronal slice y=5")
    assert saves[-1] == {"crosshair": [1, 5, 2]}, "the crosshair moves to the pressed voxel"
    assert picker.el("mask-slices").get_attribute("data-slices") == slices_holding(want, 1) == "5"

    # axis 2 (sagittal): the (z, y) slice at x = 2 (the crosshair's); a plain brush stroke
    picker.set_input("axis-select", 2)
    assert picker.saves()[-1] == {"axis": 2, "slice_index": 2}
    assert picker.el("pick-canvas").evaluate("(c) => [c.height, c.width]") == [D, H]
    picker.tool("brush")
    picker.set_input("brush-radius", 1)
    path = [(1.5, 1.5), (8.5, 4.5)]  # (y, z) in data pixels
    picker.drag(path, on="pick-canvas")
    want = np.zeros(SHAPE_3D, dtype=bool)
    want[:, :, 2] = brush_expected(path, 1, (D, H))
    assert_same(picker.last_mask(), want, "brush on the sagittal slice x=2")
    assert picker.el("mask-slices").get_attribute("data-slices") == "2"
    picker.set_input("axis-select", 0)
    assert picker.el("mask-slices").get_attribute("data-slices") == slices_holding(want, 0)
    picker.set_input("axis-select", 2)

    # a region click on the sagittal slice x = 5: the 4-connected component there, of the class under it
    picker.set_input("slice-slider", 5)
    assert picker.saves()[-1]["slice_index"] == 5
    picker.tool("region")
    picker.click(2, 7, on="pick-canvas")  # z = 2, y = 7: class 2
    assert LABELS_3D[2, 7, 5] == 2
    saves = mask_saves(picker)
    assert saves[-1]["target_class"] == 2
    want = np.zeros(SHAPE_3D, dtype=bool)
    want[:, :, 5] = component(LABELS_3D[:, :, 5], (2, 7))
    assert_same(picker.mask_of(saves[-1]), want, "region on the sagittal slice")
    assert picker.saves()[-1] == {"crosshair": [2, 7, 5]}

    # axis 0: the orthogonal pick views are coronal (y = 7) and sagittal (x = 5); both take strokes
    picker.set_input("axis-select", 0)
    assert picker.el("pick-coronal").evaluate("(c) => [c.height, c.width]") == [D, W]
    assert picker.el("pick-sagittal").evaluate("(c) => [c.height, c.width]") == [D, H]
    assert picker.el("pick-ortho-0-title").text_content() == "coronal y=7"
    assert picker.el("pick-ortho-1-title").text_content() == "sagittal x=5"
    picker.tool("rectangle")
    q0, q1 = (6.2, 0.3), (10.6, 3.4)  # x 6..10, z 0..3 on the coronal slice y = 7
    picker.drag([q0, q1], on="pick-coronal")
    want = np.zeros(SHAPE_3D, dtype=bool)
    want[:, 7, :] = rect_expected(q0, q1, (D, W))
    assert_same(picker.last_mask(), want, "rectangle on the coronal pick view")
    # the crosshair goes to the pressed voxel (z 0, y 7, x 6): the main axial slice follows
    last = picker.saves()[-1]
    assert last == {"crosshair": [0, 7, 6], "slice_index": 0}, last
    assert picker.el("pick-ortho-1-title").text_content() == "sagittal x=6"

    # shift + brush on the sagittal pick view (now at x = 6) adds to M; its outline follows the pointer there
    picker.tool("brush")
    path = [(2.5, 4.5), (8.5, 4.5)]  # y 2..8 at z 4
    picker.page.mouse.move(*picker.xy(5.0, 3.0, on="pick-sagittal"))
    cursor = picker.el("brush-cursor")
    assert cursor.is_visible()
    assert cursor.evaluate("(c) => c.parentNode.contains(document.querySelector('[data-testid=\"pick-sagittal\"]'))")
    box, rows, cols = picker.geometry("pick-sagittal")
    got = cursor.bounding_box()
    assert got["x"] + got["width"] / 2 == pytest.approx(box["x"] + 5.0 / cols * box["width"], abs=1.5)
    assert got["width"] == pytest.approx(2 * 1 * box["width"] / cols, abs=1.5)  # radius 1
    picker.page.keyboard.down("Shift")
    picker.drag(path, on="pick-sagittal")
    picker.page.keyboard.up("Shift")
    want[:, :, 6] |= brush_expected(path, 1, (D, H))
    assert_same(picker.last_mask(), want, "shift brush on the sagittal pick view")
    assert picker.el("mask-slices").get_attribute("data-slices") == slices_holding(want, 0) == "0,1,2,3,4,5"
    picker.set_input("axis-select", 1)
    assert picker.el("mask-slices").get_attribute("data-slices") == slices_holding(want, 1)
    picker.set_input("axis-select", 2)
    assert picker.el("mask-slices").get_attribute("data-slices") == slices_holding(want, 2)
    # Python's count
    picker.update("n_selected", int(want.sum()))
    assert picker.el("selected-count").text_content() == f"{int(want.sum())} voxels in M"


# ---------------------------------------------------------------------------------------- c. legend, all pixels


def swatch_colours(picker: Picker) -> list[str]:
    return picker.page.evaluate("""() => [...document.querySelectorAll('[data-testid="legend"] .cam-swatch')]
      .map((s) => getComputedStyle(s).backgroundColor)""")


def test_legend_follows_the_labels_toggle(picker):
    mount(picker, LABELS_2D, target_class=2)
    legend = picker.el("legend")
    assert legend.locator(".cam-legend-item").all_text_contents() == [f"{i}: {n}" for i, n in enumerate(NAMES)]
    assert picker.el("legend-note").count() == 0
    on = swatch_colours(picker)
    assert on[1:] == ["rgb(78, 121, 167)", "rgb(242, 142, 43)", "rgb(225, 87, 89)"]  # label_overlay's palette
    with_labels = picker.canvas()

    picker.el("labels-checkbox").click()
    assert picker.saves()[-1] == {"show_labels": False}
    assert picker.el("legend-note").text_content() == "labels hidden"
    assert all(c in ("rgba(0, 0, 0, 0)", "transparent") for c in swatch_colours(picker)[1:]), swatch_colours(picker)
    grey = picker.canvas()
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all(), "labels still drawn"
    assert (with_labels[LABELS_2D > 0] != grey[LABELS_2D > 0]).any()

    picker.el("labels-checkbox").click()
    assert picker.saves()[-1] == {"show_labels": True}
    assert picker.el("legend-note").count() == 0
    assert swatch_colours(picker) == on
    assert np.array_equal(picker.canvas(), with_labels)

    # Python turns them off too
    picker.update("show_labels", False)
    assert picker.el("legend-note").text_content() == "labels hidden"


def test_all_pixels_leaves_the_image_readable(picker):
    mount(picker, LABELS_2D, target_class=1)
    before = picker.canvas().astype(float)
    picker.el("all-pixels").click()
    assert_same(picker.last_mask(), np.ones(SHAPE_2D, dtype=bool), "all pixels")
    after = picker.canvas().astype(float)
    # M's colour is yellow (blue 0): the blue channel says how much of the image is left; M's outline
    # is the image's frame, so count the pixels inside it
    kept = after[..., 2] / np.maximum(before[..., 2], 1)
    inner = np.zeros(SHAPE_2D, dtype=bool)
    inner[1:-1, 1:-1] = True
    readable = inner & (kept >= 0.7)
    share = readable.sum() / inner.sum()
    assert share >= 0.75, f"only {share:.0%} of the pixels keep 70% of the image"
    yellow = (after[..., 0] > 240) & (after[..., 1] > 215) & (after[..., 2] < 15)
    assert not yellow[inner].any(), f"{yellow[inner].mean():.0%} of the pixels inside are solid yellow"
    # the image's structure is still there: where it is readable, it follows the image before, linearly
    r = [np.corrcoef(before[readable][:, ch], after[readable][:, ch])[0, 1] for ch in range(3)]
    assert min(r) > 0.95, r
    # and M is visible: its outline (the image's frame) is M's colour, and every pixel inside is yellower
    assert yellow[~inner].all()
    assert (after[inner][:, 0] - after[inner][:, 2] > before[inner][:, 0] - before[inner][:, 2]).all()


# ---------------------------------------------------------------------------------------- d. zero map


def test_empty_m_with_a_class_says_the_map_is_zero(picker):
    mount(picker, LABELS_2D)  # no class yet, an all-zero cam
    message = picker.el("cam-canvas-message")
    assert message.is_hidden(), "no class chosen: nothing to say yet"
    picker.update("target_class", 2)
    assert message.is_visible()
    text = message.text_content()
    assert "zero" in text and "M is empty" in text, text
    # M set and a map that is not zero: the message goes away
    m = LABELS_2D == 2
    picker.set_mask(m)
    picker.update("n_selected", int(m.sum()))
    cam = np.where(m, 1.0, 0.0).astype(np.float32)
    picker.page.evaluate("(v) => window.__setArray('cam', v)", wire(encode_array(cam)))
    assert message.is_hidden()
    # a zero map for a non-empty M names method, class and layer
    picker.page.evaluate("(v) => window.__setArray('cam', v)", wire(encode_array(np.zeros(SHAPE_2D, np.float32), 0, 0)))
    assert message.is_visible()
    text = message.text_content()
    assert "zero" in text and "seg-gradcam" in text and "disc" in text and "enc.conv2" in text, text
    # back to empty M
    picker.el("empty").click()
    picker.update("n_selected", 0)
    assert "M is empty" in message.text_content()


# ---------------------------------------------------------------------------------------- e. zoom


def stage_box(picker: Picker, panel: str) -> dict:
    return picker.page.locator(f'[data-testid="{panel}"] .cam-stage').bounding_box()


def test_zoom_is_linked_and_a_zoomed_click_picks_the_pixel_under_the_pointer(picker):
    mount(picker, LABELS_2D, tool="point", target_class=1)
    rows, cols = SHAPE_2D
    page = picker.page
    page.mouse.move(*picker.xy(30.0, 8.0))
    page.mouse.wheel(0, -300)  # three notches in
    page.wait_for_timeout(400)  # the zoom is committed 150 ms after the gesture
    pick_t = picker.el("pick-canvas").evaluate("(c) => c.style.transform")
    cam_t = picker.el("cam-canvas").evaluate("(c) => c.style.transform")
    assert pick_t and "scale" in pick_t and pick_t == cam_t, (pick_t, cam_t)
    zooms = [s for s in picker.saves() if "zoom" in s]
    assert len(zooms) == 1, picker.saves()
    k, centre = zooms[0]["zoom"], zooms[0]["zoom_center"]
    assert k == pytest.approx(1.25**3)
    assert picker.el("zoom-value").text_content() == f"{k:.2f}×"
    # the point under the pointer stayed there: (x, y) = (30, 8) data px
    stage = stage_box(picker, "pick-panel")
    scale = stage["width"] / cols
    assert stage["height"] / rows == pytest.approx(scale)
    tx = cols * scale / 2 - k * scale * (centre[1] + 0.5)
    ty = rows * scale / 2 - k * scale * (centre[0] + 0.5)
    x_px, y_px = picker.xy(30.0, 8.0)  # where the pointer was (on the unzoomed stage)
    assert (x_px - stage["x"] - tx) / (k * scale) == pytest.approx(30.0, abs=0.05)
    assert (y_px - stage["y"] - ty) / (k * scale) == pytest.approx(8.0, abs=0.05)
    # the cam panel shows the same part of the image
    cam_stage = stage_box(picker, "cam-panel")
    assert cam_stage["width"] == pytest.approx(stage["width"])

    # click the centre of a few pixels in view, with the mapping computed here: exactly that pixel
    def client(row: int, col: int) -> tuple[float, float]:
        return stage["x"] + tx + k * scale * (col + 0.5), stage["y"] + ty + k * scale * (row + 0.5)

    for row, col in [(8, 30), (5, 16), (18, 34)]:  # view: rows 3.9..19.4, cols 14.6..35.1
        x, y = client(row, col)
        assert stage["x"] < x < stage["x"] + stage["width"] and stage["y"] < y < stage["y"] + stage["height"]
        page.mouse.click(x, y)
        assert_same(picker.last_mask(), one_pixel(SHAPE_2D, row, col), f"zoomed click on ({row}, {col})")
    # near a pixel's corner: still the pixel whose area holds the pointer (a quarter pixel inside)
    x, y = client(10, 27)
    page.mouse.click(x - 0.25 * k * scale, y + 0.25 * k * scale)
    assert_same(picker.last_mask(), one_pixel(SHAPE_2D, 10, 27), "zoomed click off centre")

    # a brush stroke while zoomed: the discs are where the pointer went
    picker.tool("brush")
    picker.set_input("brush-radius", 1.5)
    page.mouse.move(*client(8, 28))
    cursor = picker.el("brush-cursor").bounding_box()
    assert cursor["width"] == pytest.approx(2 * 1.5 * k * scale, abs=1.5), "the brush outline is zoomed too"
    assert cursor["x"] + cursor["width"] / 2 == pytest.approx(client(8, 28)[0], abs=1.5)
    a, b = client(5, 24), client(11, 33)
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=4)
    page.mouse.up()
    assert_same(picker.last_mask(), brush_expected([(24.5, 5.5), (33.5, 11.5)], 1.5, SHAPE_2D), "zoomed brush")

    # double-click resets both panels
    page.mouse.dblclick(*client(15, 30))
    assert picker.el("pick-canvas").evaluate("(c) => c.style.transform") == ""
    assert picker.el("cam-canvas").evaluate("(c) => c.style.transform") == ""


# ---------------------------------------------------------------------------------------- f. in JupyterLab

SEG_CODE = """
import json, numpy as np, torch
from torch import nn
from cam_widgets import CAMExplainer, PixelSetPicker

# a hand-made segmentation net: the logits are the input's three channels, so the prediction is
# background (0) with object A (class 1, a rectangle) and object B (class 2, a disc)
H, W = 24, 32
x = torch.zeros(3, H, W)
x[0] = 0.5
x[1, 3:10, 4:14] = 1.0
rr, cc = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
x[2][(rr - 15) ** 2 + (cc - 22) ** 2 <= 5 ** 2] = 1.0
net = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU(), nn.Conv2d(3, 3, 1)).eval()
with torch.no_grad():
    for conv in (net[0], net[2]):
        conv.weight.copy_(torch.eye(3).reshape(3, 3, 1, 1))
        conv.bias.zero_()
picker = PixelSetPicker(CAMExplainer(net, layers=["0", "2"]), x, class_names=["background", "A", "B"])
picker
"""

READ_CODE = """print("PICKED " + json.dumps({"n": %d, "target_class": picker.target_class, "busy": picker.busy,
    "error": picker.error, "mask": np.flatnonzero(picker.mask).tolist(), "n_selected": picker.n_selected}))"""


def read_back(page, nonce: int) -> dict:
    """Run a cell that prints the picker's target_class and mask, and read its output text."""
    page.evaluate("""async (code) => {
        const panel = window.jupyterapp.shell.currentWidget;
        const nb = panel.content;
        if (nb.widgets.length < 2) nb.model.sharedModel.insertCell(1, { cell_type: 'code', source: '' });
        nb.model.sharedModel.cells[1].setSource(code);
        nb.activeCellIndex = 1;
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }""", READ_CODE % nonce)
    deadline = time.time() + 30
    text = ""
    while time.time() < deadline:
        text = page.evaluate("""() => { const nb = window.jupyterapp.shell.currentWidget.content;
            return nb.widgets.length > 1 ? nb.widgets[1].outputArea.node.innerText : ''; }""")
        match = re.search(r"PICKED (\{.*\})", text)
        if match:
            state = json.loads(match.group(1))
            if state["n"] == nonce:
                return state
        time.sleep(0.2)
    raise AssertionError(f"no read-back output; got {text!r}")


def picked_state(page, nonce_start: int, predicate, timeout: float = 60) -> dict:
    """Read back until `predicate` holds (Python may still be computing)."""
    deadline = time.time() + timeout
    nonce = nonce_start
    while True:
        state = read_back(page, nonce)
        if predicate(state) or time.time() > deadline:
            return state
        nonce += 1
        time.sleep(0.3)


def test_picker_in_jupyterlab_follows_the_clicked_object(jupyterlab, page):
    from .test_jupyterlab import open_and_run

    H, W = 24, 32
    a = np.zeros((H, W), dtype=bool)
    a[3:10, 4:14] = True
    rr, cc = np.mgrid[:H, :W]
    b = (rr - 15) ** 2 + (cc - 22) ** 2 <= 5**2

    open_and_run(page, jupyterlab, "picker_classes.ipynb", SEG_CODE)
    canvas = page.locator('[data-testid="pick-canvas"]')
    canvas.wait_for(timeout=120_000)
    page.wait_for_function("() => document.querySelector('[data-testid=\"pick-canvas\"]').width === 32", timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=60_000)
    assert page.locator('[data-testid="tool-region"]').get_attribute("aria-pressed") == "true", "region is the default"
    state = read_back(page, 0)
    assert state["target_class"] == -1 and state["mask"] == []

    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()

    def click(row: int, col: int) -> None:
        page.mouse.click(box["x"] + (col + 0.5) * box["width"] / W, box["y"] + (row + 0.5) * box["height"] / H)

    click(6, 8)  # object A
    state = picked_state(page, 1, lambda s: s["target_class"] == 1 and not s["busy"] and s["n_selected"] > 0)
    assert state["target_class"] == 1 and state["error"] == ""
    assert state["mask"] == np.flatnonzero(a).tolist()
    assert state["n_selected"] == int(a.sum())
    page.wait_for_function("() => document.querySelector('[data-testid=\"hint\"]').textContent.includes('class 1: A')")

    click(15, 22)  # object B
    state = picked_state(page, 100, lambda s: s["target_class"] == 2 and not s["busy"]
                         and s["n_selected"] == int(b.sum()))
    assert state["target_class"] == 2 and state["error"] == ""
    assert state["mask"] == np.flatnonzero(b).tolist(), "M must be object B only"
    hint_text = page.locator('[data-testid="hint"]').text_content()
    assert "M is explained for class 2: B" in hint_text, hint_text
    # the cam panel is not zero for a non-empty M: no zero message
    assert page.locator('[data-testid="cam-canvas-message"]').is_hidden()
    assert not page.errors, page.errors
