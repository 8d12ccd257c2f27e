"""The PixelSetPicker's picking tools, driven with real mouse events in headless Chromium through the
harness page (js/test/harness.html: the built bundle mounted on a fake anywidget model, no kernel).

States are built in Python with the real codec (``encode_array``) from known labels (a rectangle of
class 1 with a diagonal-only neighbour pixel and a second, separate block of class 1; a disc of class
2; background 0). Each tool is used with ``page.mouse`` at data-pixel positions mapped onto the pick
canvas, what the widget saved (``__model.saves``, the ``mask_bits`` buffer) is decoded with
``unpack_mask`` and compared pixel for pixel with a mask computed here independently (NumPy /
scipy.ndimage), following docs/picker_protocol.md and the geometry in js/src/rasterize.js.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
from scipy import ndimage

from cam_widgets.widgets.codec import encode_array
from cam_widgets.widgets.pixel_set_picker import pack_mask, unpack_mask

# ---------------------------------------------------------------------------------------- data

SHAPE_2D = (32, 40)  # (rows, cols)
SHAPE_3D = (4, 16, 20)  # (z, rows, cols)
CLASS_NAMES = ["background", "rect", "disc"]


def labels_2d() -> np.ndarray:
    lab = np.zeros(SHAPE_2D, dtype=np.uint8)
    lab[3:11, 3:15] = 1  # the rectangle of class 1
    lab[11, 15] = 1  # touches the rectangle's corner diagonally only: not in its 4-connected component
    lab[22:29, 2:9] = 1  # a second, separate block of class 1
    rows, cols = np.mgrid[: SHAPE_2D[0], : SHAPE_2D[1]]
    lab[(rows - 20) ** 2 + (cols - 28) ** 2 <= 7**2] = 2  # the disc
    return lab


def labels_3d() -> np.ndarray:
    lab = np.zeros(SHAPE_3D, dtype=np.uint8)
    lab[:, 2:8, 3:10] = 1
    lab[1:3, 9:14, 12:18] = 2
    return lab


LABELS_2D = labels_2d()
LABELS_3D = labels_3d()


def wire(encoded: dict) -> dict:
    """The harness' form of an encoded array: the buffer as base64."""
    return {"b64": base64.b64encode(encoded["buffer"]).decode(), "dtype": encoded["dtype"],
            "shape": encoded["shape"], "vmin": encoded["vmin"], "vmax": encoded["vmax"]}


def state_of(labels: np.ndarray, **traits) -> dict:
    grid = np.indices(labels.shape).astype(np.float32)
    image = 0.2 + 0.01 * grid[-1] + 0.005 * grid[-2] + 0.3 * labels  # a grey ramp, brighter per class
    state = {
        "image": wire(encode_array(image.astype(np.float32))),
        "labels": wire(encode_array(labels.astype(np.float32), 0, 255)),
        "cam": wire(encode_array(np.zeros(labels.shape, np.float32), 0, 0)),
        "class_names": CLASS_NAMES, "layers": ["enc.conv1", "enc.conv2"], "layer": "enc.conv2",
        "methods": ["seg-gradcam", "seg-hirescam"], "method": "seg-gradcam", "target_class": -1,
        "tool": "point", "brush_radius": 3,
    }
    state.update(traits)
    return state


# ---------------------------------------------------------------------------------------- expected masks
# Pixel (row, col) has its centre at (x, y) = (col + 0.5, row + 0.5) in data pixels.


def centres(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return cols + 0.5, rows + 0.5


def brush_expected(points: list[tuple[float, float]], radius: float, shape) -> np.ndarray:
    """Centres within `radius` of the polyline (points are (x, y))."""
    cx, cy = centres(shape)
    best = np.full(shape, np.inf)
    pts = points if len(points) > 1 else points * 2
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
        dx, dy = x1 - x0, y1 - y0
        len2 = dx * dx + dy * dy
        t = np.clip(((cx - x0) * dx + (cy - y0) * dy) / len2, 0, 1) if len2 else np.zeros(shape)
        best = np.minimum(best, np.hypot(cx - (x0 + t * dx), cy - (y0 + t * dy)))
    return best <= radius


def polygon_expected(vertices: list[tuple[float, float]], shape) -> np.ndarray:
    """Centres inside the closed polygon, even-odd rule (a ray to +x, counting crossings)."""
    cx, cy = centres(shape)
    inside = np.zeros(shape, dtype=bool)
    n = len(vertices)
    for i in range(n):
        (xa, ya), (xb, yb) = vertices[i - 1], vertices[i]
        straddles = (ya > cy) != (yb > cy)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = xa + (cy - ya) / (yb - ya) * (xb - xa)
        inside ^= straddles & (cx < x_cross)
    return inside


def rect_expected(p0, p1, shape) -> np.ndarray:
    cx, cy = centres(shape)
    (xa, ya), (xb, yb) = p0, p1
    return (cx >= min(xa, xb)) & (cx <= max(xa, xb)) & (cy >= min(ya, yb)) & (cy <= max(ya, yb))


def component_expected(labels: np.ndarray, row: int, col: int) -> np.ndarray:
    comps, _ = ndimage.label(labels == labels[row, col])  # default structure: 4-connected in 2D
    return comps == comps[row, col]


def one_pixel(shape, row: int, col: int) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[row, col] = True
    return m


# ---------------------------------------------------------------------------------------- harness

SAVES_JS = """() => window.__model.saves.map((s) => {
  const o = { ...s };
  const mb = o.mask_bits;
  if (mb && mb.buffer) {
    const b = mb.buffer;
    const u = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    let str = '';
    for (const x of u) str += String.fromCharCode(x);
    o.mask_bits = { shape: mb.shape, encoding: mb.encoding, buffer: btoa(str) };
  }
  return o;
})"""

CANVAS_JS = """(id) => { const c = document.querySelector(`[data-testid="${id}"]`);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode(...d.subarray(i, i + 8192));
  return { w: c.width, h: c.height, b64: btoa(s) }; }"""


class Picker:
    """The harness page with the PixelSetPicker mounted: mouse in data pixels, decoded saves."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url
        self.shape: tuple[int, ...] = ()

    def mount(self, labels: np.ndarray, **traits) -> None:
        self.shape = labels.shape
        self.page.goto(f"{self.url}/js/test/harness.html")
        self.page.wait_for_function("() => typeof window.__mount === 'function'")
        self.page.evaluate("async (s) => { await window.__mount(s, 'pixel_set_picker'); }", state_of(labels, **traits))
        canvas = self.el("pick-canvas")
        canvas.scroll_into_view_if_needed()
        # record where the pointer events land (data pixels), to check the mapping itself
        self.page.evaluate("""() => { const c = document.querySelector('[data-testid="pick-canvas"]');
          window.__events = [];
          c.addEventListener('pointerdown', (e) => window.__events.push(['down', e.clientX, e.clientY]), true); }""")
        self.box = canvas.bounding_box()
        self.rows, self.cols = self.page.evaluate(
            "() => { const c = document.querySelector('[data-testid=\"pick-canvas\"]'); return [c.height, c.width]; }")
        assert (self.rows, self.cols) == tuple(self.shape[-2:])

    def el(self, testid: str):
        return self.page.locator(f'[data-testid="{testid}"]')

    # -- mouse, in data pixels (x along columns, y along rows) of the pick canvas, or of the canvas
    #    `on` (e.g. "pick-coronal"), whose box is read at each call (its size follows the view)
    def geometry(self, on: str | None = None) -> tuple[dict, int, int]:
        if on is None:
            return self.box, self.rows, self.cols
        canvas = self.el(on)
        canvas.scroll_into_view_if_needed()
        rows, cols = canvas.evaluate("(c) => [c.height, c.width]")
        return canvas.bounding_box(), rows, cols

    def xy(self, x: float, y: float, on: str | None = None) -> tuple[float, float]:
        box, rows, cols = self.geometry(on)
        return (box["x"] + x / cols * box["width"], box["y"] + y / rows * box["height"])

    def centre(self, row: int, col: int) -> tuple[float, float]:
        return col + 0.5, row + 0.5

    def click(self, row: int, col: int, on: str | None = None) -> None:
        self.page.mouse.click(*self.xy(*self.centre(row, col), on=on))

    def drag(self, points: list[tuple[float, float]], check_no_save: bool = True, steps: int = 3,
             on: str | None = None) -> None:
        """Press at points[0], move through the rest, release at the last one; nothing may be saved before
        the release."""
        mouse = self.page.mouse
        box, rows, cols = self.geometry(on)
        at = lambda x, y: (box["x"] + x / cols * box["width"], box["y"] + y / rows * box["height"])  # noqa: E731
        mouse.move(*at(*points[0]))
        before = self.n_saves()
        mouse.down()
        for p in points[1:]:
            mouse.move(*at(*p), steps=steps)
            if check_no_save:
                assert self.n_saves() == before, "the widget saved during the drag"
        mouse.up()

    def tool(self, name: str) -> None:
        self.el(f"tool-{name}").click()

    def set_input(self, testid: str, value) -> None:
        self.page.evaluate("""([id, value]) => { const el = document.querySelector(`[data-testid="${id}"]`);
                                el.value = String(value);
                                el.dispatchEvent(new Event('input', { bubbles: true }));
                                el.dispatchEvent(new Event('change', { bubbles: true })); }""", [testid, value])

    # -- model
    def update(self, key: str, value) -> None:
        self.page.evaluate("([k, v]) => window.__model.update(k, v)", [key, value])

    def set_mask(self, mask: np.ndarray) -> None:
        """mask_bits set by Python (pack_mask), delivered as anywidget does (buffer -> DataView)."""
        packed = pack_mask(mask)
        self.page.evaluate("(v) => window.__setArray('mask_bits', v)",
                           {"b64": base64.b64encode(packed["buffer"]).decode(), "shape": packed["shape"],
                            "encoding": packed["encoding"]})

    def saves(self) -> list[dict]:
        return self.page.evaluate(SAVES_JS)

    def n_saves(self) -> int:
        return self.page.evaluate("() => window.__model.saves.length")

    def mask_of(self, save: dict) -> np.ndarray:
        bits = save["mask_bits"]
        if bits:
            bits = {**bits, "buffer": base64.b64decode(bits["buffer"])}
        return unpack_mask(bits, self.shape)

    def last_mask(self) -> np.ndarray:
        with_mask = [s for s in self.saves() if "mask_bits" in s]
        assert with_mask, "no mask_bits saved"
        return self.mask_of(with_mask[-1])

    def canvas(self, testid: str = "pick-canvas") -> np.ndarray:
        got = self.page.evaluate(CANVAS_JS, testid)
        rgba = np.frombuffer(base64.b64decode(got["b64"]), dtype=np.uint8).reshape(got["h"], got["w"], 4)
        return rgba[..., :3].astype(int)


def assert_same(got: np.ndarray, want: np.ndarray, what: str = "mask") -> None:
    assert got.shape == want.shape
    if not np.array_equal(got, want):
        extra = np.argwhere(got & ~want)[:10].tolist()
        missing = np.argwhere(want & ~got)[:10].tolist()
        pytest.fail(f"{what}: {int(got.sum())} set, {int(want.sum())} expected; "
                    f"extra {extra}, missing {missing}")


@pytest.fixture()
def picker(shared_page, static_server):
    """The harness page on the module's shared page (conftest.py), page errors checked after the test."""
    shared_page.errors.clear()
    shared_page.set_viewport_size({"width": 1400, "height": 1000})
    yield Picker(shared_page, static_server)
    assert shared_page.errors == [], f"page errors: {shared_page.errors}"


# ---------------------------------------------------------------------------------------- tests


def test_point_click_is_that_pixel_and_sets_target_class(picker):
    picker.mount(LABELS_2D)
    assert picker.n_saves() == 0
    picker.click(5, 7)  # inside the rectangle: class 1
    saves = picker.saves()
    assert len(saves) == 1
    assert saves[0]["target_class"] == 1, "the first click must choose the class under it, in the same save"
    assert_same(picker.mask_of(saves[0]), one_pixel(SHAPE_2D, 5, 7))
    # where the events landed: the centre of (5, 7)
    (_, cx, cy), = picker.page.evaluate("() => window.__events")
    assert abs((cx - picker.box["x"]) / picker.box["width"] * picker.cols - 7.5) < 0.15
    assert abs((cy - picker.box["y"]) / picker.box["height"] * picker.rows - 5.5) < 0.15
    # a second plain click replaces M and takes the class under it, in the same save
    picker.click(20, 28)  # the disc (class 2)
    saves = picker.saves()
    assert len(saves) == 2 and saves[1]["target_class"] == 2
    assert_same(picker.mask_of(saves[1]), one_pixel(SHAPE_2D, 20, 28))
    # a third one on the same class: only mask_bits (target_class is already 2)
    picker.update("target_class", 2)  # Python's echo
    picker.click(18, 27)
    saves = picker.saves()
    assert len(saves) == 3 and set(saves[2]) == {"mask_bits"}, saves[2:]
    assert_same(picker.mask_of(saves[2]), one_pixel(SHAPE_2D, 18, 27))


@pytest.mark.parametrize("seed, label", [((5, 7), 1), ((20, 28), 2), ((0, 39), 0)])
def test_region_click_is_the_4_connected_component(picker, seed, label):
    picker.mount(LABELS_2D, tool="region")
    assert LABELS_2D[seed] == label
    picker.click(*seed)
    saves = picker.saves()
    assert len(saves) == 1 and saves[0]["target_class"] == label
    want = component_expected(LABELS_2D, *seed)
    if label == 1:  # neither the diagonal neighbour nor the other block of class 1
        assert not want[11, 15] and not want[25, 5]
    assert_same(picker.mask_of(saves[0]), want)


def test_the_radius_stays_in_place_dimmed_for_tools_it_does_not_apply_to(picker):
    """No hidden field: a narrow tool bar would wrap it onto a line of its own, an empty hole."""
    picker.mount(LABELS_2D, tool="region", target_class=1)
    field = picker.el("brush-radius").locator("xpath=..")
    style = "(e) => [getComputedStyle(e).visibility, Number(getComputedStyle(e).opacity), e.title]"
    visibility, opacity, title = field.evaluate(style)
    assert visibility == "visible" and opacity < 0.6 and "applies to the brush and erase" in title
    picker.tool("brush")
    visibility, opacity, title = field.evaluate(style)
    assert visibility == "visible" and opacity == 1 and title == "Brush radius (data pixels)"


def test_brush_stroke_radius_from_slider_one_save_on_release(picker):
    picker.mount(LABELS_2D, tool="brush", target_class=1)
    picker.set_input("brush-radius", 2.5)
    assert picker.saves() == [{"brush_radius": 2.5}]
    assert picker.el("brush-radius-value").text_content() == "2.5"
    path = [picker.centre(8, 6), picker.centre(8, 20), picker.centre(18, 30)]  # horizontal, then diagonal
    picker.drag(path)
    saves = picker.saves()
    assert len(saves) == 2, saves[1:]
    assert_same(picker.mask_of(saves[1]), brush_expected(path, 2.5, SHAPE_2D))


def test_rectangle_drag(picker):
    picker.mount(LABELS_2D, tool="rectangle", target_class=1)
    p0, p1 = (3.2, 4.3), (12.7, 9.6)  # (x, y): columns 3..12, rows 4..9
    picker.drag([p0, (8.0, 7.0), p1])
    saves = picker.saves()
    assert len(saves) == 1
    want = rect_expected(p0, p1, SHAPE_2D)
    assert want.sum() == 10 * 6
    assert_same(picker.mask_of(saves[0]), want)


def test_lasso_triangle_even_odd(picker):
    picker.mount(LABELS_2D, tool="lasso", target_class=1)
    # vertices on eighths of a data pixel (whole CSS pixels at 8 px per data pixel); no pixel centre
    # within 0.03 data px of an edge, so the comparison does not hinge on rounding
    triangle = [(4.5, 3.625), (33.5, 9.375), (12.25, 27.125)]
    cx, cy = centres(SHAPE_2D)
    for (x0, y0), (x1, y1) in zip(triangle, triangle[1:] + triangle[:1]):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((cx - x0) * dx + (cy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        assert np.hypot(cx - x0 - t * dx, cy - y0 - t * dy).min() > 0.03
    picker.drag(triangle, steps=1)  # one move per vertex: the path is exactly the triangle
    (_, ex, ey), = picker.page.evaluate("() => window.__events")
    assert abs((ex - picker.box["x"]) / picker.box["width"] * picker.cols - 4.5) < 0.01
    assert abs((ey - picker.box["y"]) / picker.box["height"] * picker.rows - 3.625) < 0.01
    saves = picker.saves()
    assert len(saves) == 1
    want = polygon_expected(triangle, SHAPE_2D)
    assert want.sum() > 100
    assert_same(picker.mask_of(saves[0]), want)


def test_modifiers_erase_and_buttons(picker):
    picker.mount(LABELS_2D, tool="rectangle")
    shape = SHAPE_2D
    page = picker.page
    a0, a1 = (2.1, 2.2), (10.8, 12.7)
    picker.drag([a0, a1])  # plain: M = A, and the class under the press (background 0... at (2, 2))
    saves = picker.saves()
    assert saves[-1]["target_class"] == int(LABELS_2D[2, 2])
    m = rect_expected(a0, a1, shape)
    assert_same(picker.last_mask(), m, "plain rectangle")

    b0, b1 = (20.3, 15.4), (30.6, 25.5)
    page.keyboard.down("Shift")
    picker.drag([b0, b1])
    page.keyboard.up("Shift")
    m = m | rect_expected(b0, b1, shape)
    assert_same(picker.last_mask(), m, "shift adds")

    c0, c1 = (6.4, 6.3), (25.2, 18.6)
    page.keyboard.down("Alt")
    picker.drag([c0, c1])
    page.keyboard.up("Alt")
    m = m & ~rect_expected(c0, c1, shape)
    assert_same(picker.last_mask(), m, "alt subtracts")

    picker.tool("erase")
    picker.set_input("brush-radius", 1.5)
    path = [picker.centre(1, 3), picker.centre(11, 3)]  # a vertical stroke through what is left of A
    picker.drag(path)
    m = m & ~brush_expected(path, 1.5, shape)
    assert_same(picker.last_mask(), m, "erase removes")

    # a plain stroke with the point tool replaces everything
    picker.tool("point")
    picker.click(30, 38)
    m = one_pixel(shape, 30, 38)
    assert_same(picker.last_mask(), m, "plain point replaces")

    for button in ("clear", "empty"):
        picker.el("all-pixels").click()
        assert_same(picker.last_mask(), np.ones(shape, dtype=bool), "all pixels")
        n = picker.n_saves()
        picker.el(button).click()
        saves = picker.saves()
        assert len(saves) == n + 1 and saves[-1] == {"mask_bits": {}}, f"{button} must send {{}}"

    # whole class: labels == target_class, after choosing class 2 in the select
    picker.set_input("class-select", 2)
    assert picker.saves()[-1] == {"target_class": 2}
    picker.el("whole-class").click()
    assert_same(picker.last_mask(), LABELS_2D == 2, "whole class")


def test_busy_holds_strokes_and_sends_only_the_latest(picker):
    picker.mount(LABELS_2D, tool="rectangle")
    picker.update("busy", True)
    first = [(2.2, 2.4), (9.6, 8.7)]
    second = [(14.3, 12.2), (30.6, 28.8)]
    picker.drag(first)
    picker.drag(second)
    assert picker.saves() == [], "nothing may be saved while busy"
    picker.update("busy", False)
    saves = picker.saves()
    assert len(saves) == 1, saves
    assert saves[0]["target_class"] == int(LABELS_2D[2, 2])  # held from the first stroke (its first press)
    assert_same(picker.mask_of(saves[0]), rect_expected(*second, SHAPE_2D), "latest mask after busy")


def test_3d_picks_on_the_current_slice_only(picker):
    # crosshair through slice 1, as Python sets it (the picker never writes back its initial crosshair)
    picker.mount(LABELS_3D, tool="point", slice_index=1, crosshair=[1, 8, 10])
    assert picker.saves() == [], "the initial crosshair / slice must not be written back"
    shape = SHAPE_3D
    picker.click(4, 5)  # class 1 on slice 1
    saves = picker.saves()
    # the pick, with its class, then the crosshair moved to the picked voxel (same slice: no slice_index)
    assert len(saves) == 2 and saves[0]["target_class"] == 1, saves
    assert saves[1] == {"crosshair": [1, 4, 5]}
    want = np.zeros(shape, dtype=bool)
    want[1, 4, 5] = True
    assert_same(picker.mask_of(saves[0]), want, "point on slice 1")

    picker.set_input("slice-slider", 3)
    assert picker.saves()[-1] == {"slice_index": 3, "crosshair": [3, 4, 5]}
    assert picker.el("slice-value").text_content() == "3/3"
    picker.tool("region")
    picker.page.keyboard.down("Shift")
    picker.click(3, 4)  # the class-1 block on slice 3, added
    picker.page.keyboard.up("Shift")
    want[3] = component_expected(LABELS_3D[3], 3, 4)
    assert_same(picker.last_mask(), want, "shift region on slice 3")
    assert "target_class" not in [s for s in picker.saves() if "mask_bits" in s][-1], "shift keeps the class"
    assert picker.saves()[-1] == {"crosshair": [3, 3, 4]}

    picker.set_input("slice-slider", 2)
    picker.tool("rectangle")
    p0, p1 = (11.2, 8.3), (18.6, 14.4)
    picker.drag([p0, p1])  # plain: replaces M on every slice with slice 2's rectangle
    want = np.zeros(shape, dtype=bool)
    want[2] = rect_expected(p0, p1, shape[1:])
    assert_same(picker.last_mask(), want, "plain rectangle on slice 2")
    assert picker.saves()[-1] == {"crosshair": [2, 8, 11]}, "the crosshair goes to the pressed voxel"


def test_python_set_mask_is_drawn_and_counted(picker):
    picker.mount(LABELS_2D, tool="brush")
    before = picker.canvas()
    m = np.zeros(SHAPE_2D, dtype=bool)
    m[14:22, 5:17] = True
    m[2, 30] = True
    m[LABELS_2D == 2] ^= True  # also a disc (set) with the cross of its centre row cleared
    m[20, 20:37] = False
    picker.set_mask(m)
    picker.update("n_selected", int(m.sum()))
    after = picker.canvas()
    changed = (after != before).any(axis=-1)
    assert_same(changed, m, "canvas pixels changed by the mask")
    assert picker.saves() == [], "a mask set by Python must not be echoed back"
    count = picker.el("selected-count")
    assert count.text_content() == f"{int(m.sum())} pixels in M"
    # a shift-click then adds to the mask Python set
    picker.tool("point")
    picker.page.keyboard.down("Shift")
    picker.click(0, 0)
    picker.page.keyboard.up("Shift")
    want = m.copy()
    want[0, 0] = True
    assert_same(picker.last_mask(), want, "shift point on top of Python's mask")


def test_3d_count_all_voxels_and_whole_class(picker):
    picker.mount(LABELS_3D, slice_index=2, target_class=1)
    m = LABELS_3D == 2
    picker.set_mask(m)
    picker.update("n_selected", int(m.sum()))
    assert picker.el("selected-count").text_content() == f"{int(m.sum())} voxels in M"
    picker.el("all-pixels").click()
    assert_same(picker.last_mask(), np.ones(SHAPE_3D, dtype=bool), "all voxels")
    picker.el("whole-class").click()  # every slice, not just the one shown
    assert_same(picker.last_mask(), LABELS_3D == 1, "whole class in 3D")
