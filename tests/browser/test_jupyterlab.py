"""End to end in a real JupyterLab 4 server: open a notebook, run all, drive the CAMViewer in the
browser, and check both what is drawn and what the Python kernel received."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat

from .servers import REPO

NOTEBOOK_CODE = """
import json, torch
from pathlib import Path
from torch import nn
from cam_widgets import CAMExplainer, CAMViewer

torch.manual_seed(0)
model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
                      nn.Conv3d(4, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8**3, 3)).eval()
x = 0.1 * torch.randn(1, 16, 16, 16)
x[0, 3:7, 3:7, 3:7] += 1.0
viewer = CAMViewer(CAMExplainer(model, layers=["4", "1"]), x, class_names=["a", "b", "c"])
WATCHED = ["method", "layer", "target_class", "slice_index", "axis", "opacity", "crosshair", "colormap"]
def record(change):
    state = {name: getattr(viewer, name) for name in WATCHED}
    state["result_method"] = viewer.result.method
    Path("received.json").write_text(json.dumps(state))
viewer.observe(record, names=WATCHED)
viewer
"""


def canvas_pixels(page, testid: str) -> list[int]:
    return page.evaluate(
        """(id) => { const c = document.querySelector(`[data-testid="${id}"]`);
                     return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""",
        testid,
    )


def wait_for_received(path, predicate, timeout=30.0) -> dict:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if path.exists():
            try:
                last = json.loads(path.read_text())
            except json.JSONDecodeError:
                last = None
            if last is not None and predicate(last):
                return last
        time.sleep(0.2)
    raise AssertionError(f"Python did not receive the change; last state: {last}")


def set_control(page, testid: str, value) -> None:
    """Set a range / select / input's value and fire the events a person's interaction fires."""
    page.evaluate(
        """([id, value]) => { const el = document.querySelector(`[data-testid="${id}"]`);
                             el.value = String(value);
                             el.dispatchEvent(new Event('input', {bubbles: true}));
                             el.dispatchEvent(new Event('change', {bubbles: true})); }""",
        [testid, value],
    )


def open_and_run(page, jupyterlab, name: str, code: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyterlab["notebooks"] / name)
    # a workspace of its own, so that no other test's notebook is restored beside this one
    page.goto(f"{jupyterlab['url']}/lab/workspaces/{Path(name).stem}/tree/{name}?token={jupyterlab['token']}")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=90_000, polling=200)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=90_000, polling=200,
    )
    page.evaluate("() => { window.jupyterapp.commands.execute('runmenu:run-all'); }")


def test_viewer_in_jupyterlab(jupyterlab, page):
    received = jupyterlab["notebooks"] / "received.json"
    open_and_run(page, jupyterlab, "viewer.ipynb", NOTEBOOK_CODE)
    page.wait_for_selector('[data-testid="main-canvas"]', timeout=120_000)
    page.wait_for_function(
        """() => { const c = document.querySelector('[data-testid="main-canvas"]');
                   return c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0); }""",
        timeout=30_000, polling=200,
    )

    # the slice is the browser's business: the overlay redraws at once, and Python observes the index
    before = canvas_pixels(page, "main-canvas")
    set_control(page, "slice-slider", 4)
    page.wait_for_function(
        "(before) => { const c = document.querySelector('[data-testid=\"main-canvas\"]');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " return d.some((v, i) => v !== before[i]); }",
        arg=before, timeout=10_000, polling=100,
    )
    assert wait_for_received(received, lambda s: s["slice_index"] == 4)["slice_index"] == 4

    # the method is Python's: the kernel recomputes and the new map is drawn
    before = canvas_pixels(page, "main-canvas")
    set_control(page, "method-select", "respondcam")
    state = wait_for_received(received, lambda s: s["method"] == "respondcam" and s["result_method"] == "respondcam")
    assert state["method"] == "respondcam"
    page.wait_for_function(
        "(before) => { const c = document.querySelector('[data-testid=\"main-canvas\"]');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " return d.some((v, i) => v !== before[i]); }",
        arg=before, timeout=30_000, polling=100,
    )

    # clicking the coronal view moves the crosshair; Python receives it and the read-out shows it
    coronal = page.locator('[data-testid="view-coronal"]')
    coronal.scroll_into_view_if_needed()
    box = coronal.bounding_box()
    coronal.click(position={"x": box["width"] * 0.25 + 1, "y": box["height"] * 0.75 + 1})
    state = wait_for_received(received, lambda s: s["crosshair"][0] == 12)
    assert state["crosshair"][0] == 12 and state["crosshair"][2] == 4
    assert "z=12" in page.locator('[data-testid="readout"]').inner_text()
    assert not page.errors, page.errors


PICKER_CODE = """
import json, numpy as np, torch
from pathlib import Path
from cam_widgets import CAMExplainer, PixelSet, PixelSetPicker
from cam_widgets.zoo import DEMOS, load_demo_unet
from cam_widgets.zoo.train import demo_data

unet = load_demo_unet()
images, _ = demo_data(DEMOS["unet_scenes"], "test", 2)
image = images[1]
explainer = CAMExplainer(unet, layers=["bottleneck", "dec1"])
picker = PixelSetPicker(explainer, image)
np.save("labels.npy", unet(image[None]).argmax(1)[0].numpy())
def record(change):
    if picker.result is None:
        return
    same = explainer.explain(image[None], PixelSet(picker.target_class, torch.from_numpy(picker.mask)),
                             picker.method, picker.layer)
    np.save("received_mask.npy", picker.mask)
    Path("picked.json").write_text(json.dumps({
        "target_class": picker.target_class, "n_selected": picker.n_selected, "error": picker.error,
        "same_cam": bool(torch.equal(same.raw, picker.result.raw))}))
picker.observe(record, names=["cam"])
picker
"""


def pixel_centre(box: dict, shape: tuple[int, int], row: float, col: float) -> tuple[float, float]:
    """The page position of a data pixel's centre on a canvas drawn at data resolution and scaled."""
    return box["x"] + (col + 0.5) * box["width"] / shape[1], box["y"] + (row + 0.5) * box["height"] / shape[0]


def inside_largest_object(folder: Path, timeout: float = 60.0):
    """The predicted labels PICKER_CODE saved (``labels.npy``, waited for) and a pixel deep inside the largest
    predicted object: ``(labels, row, col)``."""
    import numpy as np
    from scipy import ndimage

    deadline = time.time() + timeout
    while not (folder / "labels.npy").exists() and time.time() < deadline:
        time.sleep(0.2)
    labels = np.load(folder / "labels.npy")
    foreground, _ = ndimage.label(labels > 0)
    sizes = np.bincount(foreground.ravel())
    sizes[0] = 0
    obj = foreground == sizes.argmax()
    inner = ndimage.binary_erosion(obj, iterations=2)
    row, col = np.argwhere(inner if inner.any() else obj)[0]
    return labels, int(row), int(col)


def test_picker_in_jupyterlab_explains_what_was_clicked(jupyterlab, page):
    """Click a predicted region, then brush a stroke: Python receives exactly those pixels, and the CAM
    it draws is explain(x, PixelSet(c, mask)) for them."""
    import numpy as np
    from scipy import ndimage

    folder = jupyterlab["notebooks"]
    open_and_run(page, jupyterlab, "picker.ipynb", PICKER_CODE)
    canvas = page.locator('[data-testid="pick-canvas"]')
    canvas.wait_for(timeout=120_000)
    labels, row, col = inside_largest_object(folder)
    cls = int(labels[row, col])

    page.locator('[data-testid="tool-region"]').click()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(*pixel_centre(box, labels.shape, row, col))
    state = wait_for_received(folder / "picked.json", lambda s: s["n_selected"] > 0)
    components, _ = ndimage.label(labels == cls)  # 4-connectivity, as the region tool
    expected = components == components[row, col]
    received = np.load(folder / "received_mask.npy")
    assert state["target_class"] == cls and state["error"] == ""
    assert np.array_equal(received, expected) and state["same_cam"]

    # a brush stroke (radius 2) along a horizontal line replaces the set
    page.locator('[data-testid="tool-brush"]').click()
    page.locator('[data-testid="brush-radius"]').evaluate(
        "(el) => { el.value = '2'; el.dispatchEvent(new Event('input', {bubbles: true}));"
        " el.dispatchEvent(new Event('change', {bubbles: true})); }")
    box = canvas.bounding_box()
    r0, c0, c1 = 10, 8, 30
    page.mouse.move(*pixel_centre(box, labels.shape, r0, c0))
    page.mouse.down()
    for c in range(c0, c1 + 1, 2):
        page.mouse.move(*pixel_centre(box, labels.shape, r0, c))
    page.mouse.up()
    rows, cols = np.mgrid[: labels.shape[0], : labels.shape[1]]
    # pixels whose centre lies within 2 pixels of the segment from (r0, c0) to (r0, c1)
    nearest_col = np.clip(cols, c0, c1)
    stroke = (rows - r0) ** 2 + (cols - nearest_col) ** 2 <= 2**2
    state = wait_for_received(folder / "picked.json", lambda s: s["n_selected"] == int(stroke.sum()))
    assert np.array_equal(np.load(folder / "received_mask.npy"), stroke) and state["same_cam"]
    assert not page.errors, page.errors


FOLLOW_CODE = """
import json, sys, torch
from pathlib import Path
sys.path.insert(0, REPO)  # the tests' models
from cam_widgets import CAMExplainer, CAMViewer
from tests.models import sign_classifier

torch.manual_seed(0)
x = 0.3 * torch.randn(3, 1, 16, 16) + torch.tensor([1.0, -1.0, 0.0]).view(3, 1, 1, 1)
x[:, :, 4:9, 5:11] *= 2
model = sign_classifier(torch.float32)
assert model(x).argmax(1).tolist() == [0, 1, 2]
# layer "4" is the linear head: offered, but it cannot be explained (the error must not change what is shown)
viewer = CAMViewer(CAMExplainer(model, layers=["1", "4"]), x, class_names=["bright", "dark", "grey"], labels=[0, 1, 0])
WATCHED = ["sample", "target_class", "follow_prediction", "predicted_class", "error", "layer", "zoom", "zoom_center"]
def record(change=None):
    state = {name: getattr(viewer, name) for name in WATCHED}
    state["explained"] = [int(viewer.sample), int(viewer.target_class)]
    Path("follow.json").write_text(json.dumps(state))
viewer.observe(record, names=WATCHED)
record()
viewer
"""
DUMP_PNG = """
Path("expected_static.png").write_bytes(viewer.static_png(viewer.STATIC_SCALE))
Path("expected_button.png").write_bytes(viewer.static_png(2))
Path("dumped.json").write_text(json.dumps({"sample": viewer.sample, "target_class": viewer.target_class}))
"""


def save_notebook(page, path: Path, timeout: float = 30.0) -> dict:
    """Save the open notebook (docmanager:save) and read it back from disk once it changed."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.stat().st_mtime_ns != before:
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass
        time.sleep(0.2)
    raise AssertionError("the notebook was not saved")


def static_pngs(notebook: dict) -> list[bytes]:
    """The image/png of every output of the notebook's first cell."""
    import base64

    outputs = notebook["cells"][0].get("outputs", [])
    return [base64.b64decode("".join(o["data"]["image/png"])) for o in outputs if "image/png" in o.get("data", {})]


def png_pixels(data: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_viewer_follows_each_samples_prediction_in_jupyterlab(jupyterlab, page):
    """A batch whose samples have different predictions: stepping the sample slider in the browser
    explains each sample's predicted class in Python; a click on a score bar fixes the class; "predicted"
    goes back. The saved notebook's picture (image/png) follows the state, and the PNG button downloads
    Python's picture."""
    import numpy as np

    from .harness import wait_text
    from .test_trait_validation import run_new_cell

    folder = jupyterlab["notebooks"]
    received = folder / "follow.json"
    open_and_run(page, jupyterlab, "follow.ipynb", f"REPO = {str(REPO)!r}\n" + FOLLOW_CODE)
    page.wait_for_selector('[data-testid="main-canvas"]', timeout=120_000)
    state = wait_for_received(received, lambda s: True, timeout=60)
    assert state["explained"] == [0, 0] and state["follow_prediction"] and state["predicted_class"] == 0
    select = page.locator('[data-testid="class-select"]')
    caption = page.locator('[data-testid="sample-caption"]')
    wait_text(page, "sample-caption", "sample 0/2 · true: bright · predicted: bright · ✓")
    assert select.input_value() == "predicted"
    notebook_path = folder / "follow.ipynb"
    time.sleep(1.5)
    first = static_pngs(save_notebook(page, notebook_path))
    assert len(first) == 1, "the saved notebook has no picture of the viewer"
    assert png_pixels(first[0]).shape[1] >= 256

    # the sample slider: Python explains each sample's prediction
    for sample, name in [(1, "dark"), (2, "grey"), (0, "bright"), (1, "dark")]:
        set_control(page, "sample-slider", sample)
        state = wait_for_received(received, lambda s, k=sample: s["explained"] == [k, k] and s["predicted_class"] == k)
        assert state["follow_prediction"] and state["error"] == ""
        wait_text(page, "main-canvas-title", f"gradcam · 1 · {name}", contains=True)
        assert select.input_value() == "predicted"
        # the grey class' score is a constant (bias only): its map is zero everywhere, and says so
        page.wait_for_function("(zero) => { const m = document.querySelector('[data-testid=\"main-canvas-message\"]');"
                               " return zero ? !m.hidden && m.textContent.includes('zero') : m.hidden; }",
                               arg=name == "grey", timeout=30_000, polling=100)
    assert caption.text_content() == "sample 1/2 · true: dark · predicted: dark · ✓"

    # a score bar fixes the class: follow_prediction turns False in Python and stays off
    page.locator('[data-testid="score-bar-0"]').click()
    state = wait_for_received(received, lambda s: s["target_class"] == 0 and not s["follow_prediction"])
    assert state["explained"] == [1, 0]
    set_control(page, "sample-slider", 2)
    state = wait_for_received(received, lambda s: s["sample"] == 2)
    assert state["target_class"] == 0 and not state["follow_prediction"]
    wait_text(page, "main-canvas-title", "gradcam · 1 · bright", contains=True)
    assert select.input_value() == "0"
    # "predicted" goes back to the prediction of the current sample
    set_control(page, "class-select", "predicted")
    state = wait_for_received(received, lambda s: s["follow_prediction"] and s["target_class"] == 2)
    wait_text(page, "main-canvas-title", "gradcam · 1 · grey", contains=True)
    set_control(page, "sample-slider", 1)
    state = wait_for_received(received, lambda s: s["explained"] == [1, 1])

    # the PNG button downloads the picture Python composes (the same as save_png)
    run_new_cell(page, DUMP_PNG)
    wait_for_received(folder / "dumped.json", lambda s: s == {"sample": 1, "target_class": 1}, timeout=60)
    with page.expect_download(timeout=30_000) as info:
        page.locator('[data-testid="png-button"]').click()
    assert open(info.value.path(), "rb").read() == (folder / "expected_button.png").read_bytes()

    # keys and the wheel inside JupyterLab: "]" / "[" step the sample (and do not reach JupyterLab's shortcuts;
    # keys the widget does not use, such as the arrows on a 2D image, still do), the wheel zooms (synced to
    # Python) and the notebook does not scroll
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:insert-cell-below')")
    canvas = page.locator('[data-testid="main-canvas"]')
    canvas.click(position={"x": 5, "y": 5})
    active = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"
    cell = page.evaluate(active)
    page.keyboard.press("]")
    state = wait_for_received(received, lambda s: s["sample"] == 2)
    page.keyboard.press("[")
    state = wait_for_received(received, lambda s: s["sample"] == 1)
    assert page.evaluate(active) == cell  # the keys the widget takes do not reach JupyterLab's shortcuts
    scroller = "() => [...document.querySelectorAll('.jp-WindowedPanel-outer')].map((e) => e.scrollTop).join()"
    scrolled = page.evaluate(scroller)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.wheel(0, -300)
    state = wait_for_received(received, lambda s: s["zoom"] > 1.9, timeout=10)
    assert len(state["zoom_center"]) == 2 and state["zoom_center"][0] < 7.5 and state["zoom_center"][1] < 7.5
    assert page.evaluate(scroller) == scrolled
    page.locator('[data-testid="zoom-reset"]').click()
    wait_for_received(received, lambda s: s["zoom"] == 1 and s["zoom_center"] == [], timeout=10)
    assert state["sample"] == 1

    # a layer that fails to explain: Python keeps the map's state, and the browser shows that state and why
    before = canvas_pixels(page, "main-canvas")
    title = page.locator('[data-testid="main-canvas-title"]').text_content()
    set_control(page, "layer-select", "4")
    state = wait_for_received(received, lambda s: "failed (kept" in s["error"])
    assert state["explained"] == [1, 1] and "layer = '4' failed (kept '1')" in state["error"]
    page.wait_for_function("() => !document.querySelector('[data-testid=\"error\"]').hidden", timeout=10_000)
    assert "Linear" in page.locator('[data-testid="error"]').text_content()
    page.wait_for_function("() => document.querySelector('[data-testid=\"layer-select\"]').value === '1'", timeout=10_000)
    assert page.locator('[data-testid="main-canvas-title"]').text_content() == title
    assert page.locator('[data-testid="sample-slider"]').input_value() == "1"
    assert canvas_pixels(page, "main-canvas") == before
    assert not page.errors, page.errors

    # the saved notebook's picture is the current state's, not the first one
    time.sleep(2.0)
    later = static_pngs(save_notebook(page, notebook_path))
    assert len(later) == 1
    want = png_pixels((folder / "expected_static.png").read_bytes())
    got = png_pixels(later[0])
    assert not np.array_equal(png_pixels(first[0]), want), "the state changes did not change the picture"
    assert got.shape == want.shape and np.array_equal(got, want), "the saved picture is not the current state's"
    assert not page.errors, page.errors
