"""End to end in a real JupyterLab 4 server: open a notebook, run all, drive the CAMViewer in the
browser, and check both what is drawn and what the Python kernel received."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat

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


def test_picker_in_jupyterlab_explains_what_was_clicked(jupyterlab, page):
    """Click a predicted region, then brush a stroke: Python receives exactly those pixels, and the CAM
    it draws is explain(x, PixelSet(c, mask)) for them."""
    import numpy as np
    from scipy import ndimage

    folder = jupyterlab["notebooks"]
    open_and_run(page, jupyterlab, "picker.ipynb", PICKER_CODE)
    canvas = page.locator('[data-testid="pick-canvas"]')
    canvas.wait_for(timeout=120_000)
    deadline = time.time() + 60
    while not (folder / "labels.npy").exists() and time.time() < deadline:
        time.sleep(0.2)
    labels = np.load(folder / "labels.npy")
    # a pixel deep inside the largest predicted object
    foreground, _ = ndimage.label(labels > 0)
    sizes = np.bincount(foreground.ravel())
    sizes[0] = 0
    obj = foreground == sizes.argmax()
    inner = ndimage.binary_erosion(obj, iterations=2)
    row, col = np.argwhere(inner if inner.any() else obj)[0]
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
