"""Shared machinery of the harness-page browser tests (js/test/harness.html: a built bundle mounted on a
fake anywidget model, no kernel): synthetic cases encoded with the real codec, Python's composition of a
slice (``render.compose``) to compare canvases with pixel for pixel, and ``Harness``, which mounts a state,
reads canvases, drives controls and the mouse, and reads what the widget saved or sent.

Used by test_cam_viewer.py, test_viewer_features.py (and free for the picker's tests)."""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pytest

from cam_widgets.widgets.codec import decode_array, encode_array
from cam_widgets.widgets.render import compose

VIEW_NAMES = ["axial", "coronal", "sagittal"]
LETTERS = "zyx"

# ---------------------------------------------------------------------------------------- data

SHAPE_3D = (12, 16, 20)  # (z, y, x): non-cubic, so that every axis gives a different canvas shape
SHAPE_2D = (18, 26)  # (y, x)
CUBE = (slice(3, 7), slice(4, 9), slice(6, 12))  # the bright cube of the volume
RECT = (slice(4, 9), slice(10, 17))  # the bright rectangle of the 2D image
LAYERS = ["features.conv1", "features.conv2", "features.conv3"]
METHODS = ["gradcam", "gradcampp", "layercam", "hirescam", "respondcam"]
CLASS_NAMES = ["ribosome", "proteasome", "TRiC", "membrane"]
CLASS_SCORES = [0.5, 2.0, -1.0, 1.0]  # predicted: 1


@dataclass
class Case:
    """One synthetic sample: the encoded image and map (what Python sends) and their real values."""

    name: str
    image_enc: dict
    cam_enc: dict
    signed: bool

    @property
    def ndim(self) -> int:
        return len(self.image_enc["shape"])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.image_enc["shape"])

    @property
    def image(self) -> np.ndarray:
        return decode_array(self.image_enc)

    @property
    def cam(self) -> np.ndarray:
        return decode_array(self.cam_enc)


def encode_map(values: np.ndarray, signed: bool) -> dict:
    """As CAMViewer encodes a map: signed maps get the symmetric range [-max|v|, max|v|]."""
    if signed:
        bound = float(np.abs(values).max())
        return encode_array(values, -bound, bound)
    return encode_array(values)


def make_case(ndim: int, signed: bool) -> Case:
    if ndim == 3:
        z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in SHAPE_3D), indexing="ij")
        bright = np.zeros(SHAPE_3D)
        bright[CUBE] = 1
        image = 0.04 * x + 0.03 * y - 0.02 * z + 2.0 * bright
        if signed:  # negative for small x, positive for large x, tilted along z and y
            cam = (x - 7.5) / 10 * (1 + 0.3 * z / 11) + 0.02 * (y - 8)
        else:  # a gradient along x, 0 for x <= 5, varying along z and y
            cam = np.clip(x - 5, 0, None) / 14 * (1 + 0.5 * z / 11) * (1 + 0.25 * y / 15)
    else:
        y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in SHAPE_2D), indexing="ij")
        bright = np.zeros(SHAPE_2D)
        bright[RECT] = 1
        image = 0.04 * x + 0.03 * y + 2.0 * bright
        cam = (x - 10.5) / 15 + 0.02 * (y - 9) if signed else np.clip(x - 7, 0, None) / 18 * (1 + 0.5 * y / 17)
    name = f"{ndim}d{'-signed' if signed else ''}"
    return Case(name, encode_array(image.astype(np.float32)), encode_map(cam.astype(np.float32), signed), signed)


CASES = {c.name: c for c in (make_case(n, s) for n in (2, 3) for s in (False, True))}


def compare_map(case: Case, signed: bool = False) -> dict:
    """A second map (another method) for the compare panel: a gradient the other way along x."""
    x = np.arange(case.shape[-1], dtype=np.float64)
    along_rows = np.arange(case.shape[-2], dtype=np.float64)[:, None]
    plane = (x - 9.5) / 10 + 0.01 * along_rows if signed else np.clip(12 - x, 0, None) / 12 * (1 + 0.02 * along_rows)
    values = np.broadcast_to(plane, case.shape).astype(np.float32)
    if case.ndim == 3:
        values = values * (1 + 0.05 * np.arange(case.shape[0], dtype=np.float32)[:, None, None])
    return encode_map(values, signed)


def wire(encoded: dict) -> dict:
    """The harness' form of an encoded array: the buffer as base64 (other keys, e.g. "rgb", kept)."""
    out = {k: v for k, v in encoded.items() if k != "buffer"}
    out["b64"] = base64.b64encode(encoded["buffer"]).decode()
    return out


def state_of(case: Case, **traits) -> dict:
    probs = np.exp(CLASS_SCORES) / np.exp(CLASS_SCORES).sum()
    state = {
        "image": wire(case.image_enc), "cam": wire(case.cam_enc), "cam_signed": case.signed,
        "layers": LAYERS, "layer": LAYERS[-1], "methods": METHODS, "method": "respondcam" if case.signed else "gradcam",
        "class_names": CLASS_NAMES, "class_scores": CLASS_SCORES, "class_probs": probs.tolist(), "target_class": 0,
        "predicted_class": int(np.argmax(CLASS_SCORES)), "follow_prediction": False,  # class 0 was chosen
        "n_samples": 1,
    }
    if case.ndim == 3:
        state.update(axis=0, slice_index=4, crosshair=[4, 5, 7])
    else:
        state.update(crosshair=[5, 7])
    state.update(traits)
    return state


def take(values: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The slice the browser shows along `axis` (rows/cols as js/src/slicing.js); 2D is its own slice."""
    return values if values.ndim == 2 else np.take(values, index, axis=axis)


def expected(case: Case, axis: int = 0, index: int = 0, *, overlay: dict | None = None, signed: bool | None = None,
             opacity: float = 0.5, colormap: str = "inferno", window=None, relu: bool = False) -> np.ndarray:
    """Python's composition of one slice: what the canvas must hold, pixel for pixel."""
    overlay = case.cam_enc if overlay is None else overlay
    signed = case.signed if signed is None else signed
    return compose(take(case.image, axis, index), take(decode_array(overlay), axis, index),
                   (case.image_enc["vmin"], case.image_enc["vmax"]), (overlay["vmin"], overlay["vmax"]),
                   signed, colormap, opacity, tuple(window) if window else None, relu)


def grey_of(case: Case, axis: int = 0, index: int = 0, window=None) -> np.ndarray:
    """The windowed grey image alone (independent of compose): round(clip((v - lo) / (hi - lo)) * 255)."""
    lo, hi = window or (case.image_enc["vmin"], case.image_enc["vmax"])
    v = take(case.image, axis, index)
    return np.round(np.clip((v - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def js_value(encoded: dict, voxel) -> float:
    """The real value at a voxel, computed as js/src/codec.js valueAt does."""
    q = np.frombuffer(encoded["buffer"], dtype=np.uint8).reshape(encoded["shape"])[tuple(voxel)]
    return encoded["vmin"] + (float(q) / 255) * (encoded["vmax"] - encoded["vmin"])


def three_digits(v: float) -> float:
    """The value the read-out shows (3 significant digits), as a number."""
    return float(f"{v:.3g}")


# ---------------------------------------------------------------------------------------- harness


class Harness:
    """The harness page: mount a state, read canvases, drive controls and the mouse, read what the
    widget saved (``saves``: one dict per save_changes) and sent (``sent``: custom messages)."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url

    def mount(self, state: dict, widget: str = "cam_viewer") -> None:
        self.page.goto(f"{self.url}/js/test/harness.html")
        self.page.wait_for_function("() => typeof window.__mount === 'function'")
        self.page.evaluate("async ([state, widget]) => { await window.__mount(state, widget); }", [state, widget])

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def el(self, testid: str):
        return self.page.locator(f'[data-testid="{testid}"]')

    def rgb(self, testid: str) -> np.ndarray:
        """A canvas' pixels at its data resolution, (rows, cols, 3); every pixel must be opaque."""
        got = self.js("""(id) => { const c = document.querySelector(`[data-testid="${id}"]`);
                                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                                   let s = '';
                                   for (let i = 0; i < d.length; i += 8192) {
                                     s += String.fromCharCode(...d.subarray(i, i + 8192));
                                   }
                                   return { w: c.width, h: c.height, b64: btoa(s) }; }""", testid)
        rgba = np.frombuffer(base64.b64decode(got["b64"]), dtype=np.uint8).reshape(got["h"], got["w"], 4)
        assert (rgba[..., 3] == 255).all(), f"{testid} has transparent pixels"
        return rgba[..., :3]

    def set(self, testid: str, value) -> None:
        """Set a range / select / number input and fire the events a person's interaction fires."""
        self.js("""([id, value]) => { const el = document.querySelector(`[data-testid="${id}"]`);
                                      el.value = String(value);
                                      el.dispatchEvent(new Event('input', { bubbles: true }));
                                      el.dispatchEvent(new Event('change', { bubbles: true })); }""", [testid, value])

    def check(self, testid: str, checked: bool) -> None:
        self.js("""([id, checked]) => { const el = document.querySelector(`[data-testid="${id}"]`);
                                        el.checked = checked;
                                        el.dispatchEvent(new Event('input', { bubbles: true }));
                                        el.dispatchEvent(new Event('change', { bubbles: true })); }""", [testid, checked])

    def canvas_size(self, testid: str) -> tuple[int, int]:
        """(rows, cols): the canvas' data resolution."""
        return tuple(self.js("(id) => { const c = document.querySelector(`[data-testid=\"${id}\"]`);"
                             " return [c.height, c.width]; }", testid))

    def pixel_position(self, testid: str, row: float, col: float) -> tuple[float, float]:
        """The page position of the centre of data pixel (row, col) of a canvas, under its current zoom
        (getBoundingClientRect includes the CSS transform)."""
        self.el(testid).scroll_into_view_if_needed()
        return tuple(self.js("""([id, row, col]) => { const c = document.querySelector(`[data-testid="${id}"]`);
                                   const r = c.getBoundingClientRect();
                                   return [r.left + (col + 0.5) / c.width * r.width,
                                           r.top + (row + 0.5) / c.height * r.height]; }""", [testid, row, col]))

    def click_pixel(self, testid: str, row: int, col: int) -> None:
        """A real mouse click on the centre of data pixel (row, col) of a canvas."""
        canvas = self.el(testid)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        rows, cols = self.canvas_size(testid)
        canvas.click(position={"x": (col + 0.5) / cols * box["width"], "y": (row + 0.5) / rows * box["height"]})

    def hover_pixel(self, testid: str, row: float, col: float) -> None:
        """Move the mouse (no button) over the centre of data pixel (row, col)."""
        self.page.mouse.move(*self.pixel_position(testid, row, col))

    def stage_box(self, testid: str) -> dict:
        """The visible box (the stage clips the zoomed canvas) of a canvas' panel, page coordinates."""
        return self.js("""(id) => { const r = document.querySelector(`[data-testid="${id}"]`).parentElement
                                      .getBoundingClientRect();
                                    return { x: r.left, y: r.top, width: r.width, height: r.height }; }""", testid)

    def update(self, key: str, value) -> None:
        """A trait set by Python (not a save)."""
        self.js("([k, v]) => window.__model.update(k, v)", [key, value])

    def set_array(self, name: str, encoded: dict | None) -> None:
        if encoded is None:
            self.update(name, {})
        else:
            self.js("([name, value]) => window.__setArray(name, value)", [name, wire(encoded)])

    def saves(self) -> list[dict]:
        return self.js("() => window.__model.saves")

    def saved(self, since: int = 0) -> dict:
        """Every save from index `since` on, merged (later saves win)."""
        return {k: v for s in self.saves()[since:] for k, v in s.items()}

    def wait_saved(self, key: str, since: int = 0, timeout: float = 2000) -> dict:
        """Wait (ms) until a save from `since` on holds `key`; the merged saves."""
        self.page.wait_for_function("([key, n]) => window.__model.saves.slice(n).some(s => key in s)",
                                    arg=[key, since], timeout=timeout)
        return self.saved(since)

    def sent(self) -> list[dict]:
        """The custom messages the widget sent (model.send): their contents."""
        return self.js("() => window.__model.sent.map(m => m.content)")

    def model(self, key: str):
        return self.js("(k) => window.__model.get(k)", key)

    def text(self, testid: str) -> str:
        return self.el(testid).text_content()

    def hidden(self, testid: str) -> bool:
        return self.js("(id) => document.querySelector(`[data-testid=\"${id}\"]`).hidden", testid)

    def value(self, testid: str) -> str:
        return self.js("(id) => document.querySelector(`[data-testid=\"${id}\"]`).value", testid)

    def zoom_scale(self, testid: str) -> float:
        """The zoom factor of a canvas' CSS transform (1 without a transform)."""
        css = self.js("(id) => document.querySelector(`[data-testid=\"${id}\"]`).style.transform", testid)
        match = re.search(r"scale\(([-\d.e]+)\)", css or "")
        return float(match.group(1)) if match else 1.0

    def answer_png(self, data: bytes, filename: str = "cam.png") -> None:
        """Python's answer to a PNG request: the custom message {type: "png", filename} + one buffer."""
        self.js("""([b64, filename]) => { const bin = atob(b64); const bytes = new Uint8Array(bin.length);
                     for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
                     window.__model.emit('msg:custom', { type: 'png', filename }, [new DataView(bytes.buffer)]); }""",
                [base64.b64encode(data).decode(), filename])


def only(*names: str):
    return pytest.mark.parametrize("case", names, indirect=True)


def assert_pixels(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    assert got.shape == want.shape, f"{what}: canvas {got.shape[:2]}, expected {want.shape[:2]}"
    bad = np.argwhere((got != want).any(axis=-1))
    assert bad.size == 0, (f"{what}: {len(bad)} of {got.shape[0] * got.shape[1]} pixels differ; first at (row, col) "
                           f"{tuple(bad[0])}: canvas {got[tuple(bad[0])]}, compose {want[tuple(bad[0])]}")


def other_axes(axis: int) -> list[int]:
    """The axes of the two orthogonal views beside a main view along `axis`."""
    return [a for a in range(3) if a != axis]


def assert_views(h: Harness, case: Case, crosshair, axis: int = 0, **options) -> None:
    """The two orthogonal views (the axes other than the main `axis`) show the slices through the
    crosshair, titled "<view> <letter>=<index>"; the main view's own orientation is not repeated."""
    for k, a in enumerate(other_axes(axis)):
        name = VIEW_NAMES[a]
        assert_pixels(h.rgb(f"view-{name}"), expected(case, a, crosshair[a], **options), name)
        assert h.text(f"ortho-{k}-title") == f"{name} {LETTERS[a]}={crosshair[a]}"
    assert h.el(f"view-{VIEW_NAMES[axis]}").count() == 0, "the main view's orientation is repeated below"


def parse_readout(text: str) -> dict:
    """'z=4 y=5 x=7  input=2.35  gradcam=0.184' -> {"z": 4, ..., "input": 2.35, "gradcam": 0.184}."""
    out = {}
    for part in text.split():
        name, _, value = part.partition("=")
        assert value, f"read-out part {part!r} of {text!r} is not name=value"
        out[name] = int(value) if name in LETTERS else float(value)
    return out


def readout_values(text: str, ndim: int, method: str = "gradcam") -> tuple[list[int], float, float]:
    """The voxel, the input value and the map's value (named by its method) of a read-out."""
    letters = LETTERS[3 - ndim:]
    pattern = r"\s+".join(rf"{a}=(\d+)" for a in letters) + rf"\s+input=(\S+)\s+{re.escape(method)}=(\S+)(\s+\S+=\S+)?"
    match = re.fullmatch(pattern, text.strip())
    assert match, f"read-out {text!r} does not read '{' '.join(a + '=N' for a in letters)}  input=V  {method}=V'"
    groups = match.groups()
    return [int(g) for g in groups[:ndim]], float(groups[ndim]), float(groups[ndim + 1])


def method_of(case: Case) -> str:
    return "respondcam" if case.signed else "gradcam"


def assert_readout(h: Harness, case: Case, voxel, source: str | None = None) -> None:
    coords, value, cam = readout_values(h.text("readout"), case.ndim, method_of(case))
    assert coords == list(voxel)
    assert value == three_digits(js_value(case.image_enc, voxel))
    assert cam == three_digits(js_value(case.cam_enc, voxel))
    # and those are the decoded arrays' values (to the 3 digits shown)
    assert math.isclose(value, case.image[tuple(voxel)], rel_tol=5e-3, abs_tol=1e-9)
    assert math.isclose(cam, case.cam[tuple(voxel)], rel_tol=5e-3, abs_tol=1e-9)
    assert json.loads(h.el("readout").get_attribute("data-voxel")) == list(voxel)
    if source is not None:
        assert h.el("readout").get_attribute("data-source") == source


def assert_main_crosshair(h: Harness, row: int, col: int, rows: int, cols: int) -> None:
    """The crosshair lines of the main panel (stage CSS px at zoom 1) pass through pixel (row, col)."""
    left, top, width, height = h.js("""() => { const c = document.querySelector('[data-testid="main-canvas"]');
                                               const s = c.parentElement;
                                               return [s.querySelector('.cam-cross-v').style.left,
                                                       s.querySelector('.cam-cross-h').style.top,
                                                       parseFloat(c.style.width), parseFloat(c.style.height)]; }""")
    assert float(left.rstrip("px")) == pytest.approx((col + 0.5) / cols * width)
    assert float(top.rstrip("px")) == pytest.approx((row + 0.5) / rows * height)


def wait_text(page, testid: str, text: str, contains: bool = False, timeout: float = 30_000) -> None:
    """Wait until an element's text is (or contains) `text`."""
    page.wait_for_function(
        """([id, text, contains]) => { const e = document.querySelector(`[data-testid="${id}"]`);
                                       return e && (contains ? e.textContent.includes(text) : e.textContent === text); }""",
        arg=[testid, text, contains], timeout=timeout, polling=100)
