"""End to end in a real JupyterLab 4 server: open a notebook, run all, drive the CAMViewer in the
browser, and check both what is drawn and what the Python kernel received."""

from __future__ import annotations

import json
import time

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


def test_viewer_in_jupyterlab(jupyterlab, page):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CODE)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyterlab["notebooks"] / "viewer.ipynb")
    received = jupyterlab["notebooks"] / "received.json"

    page.goto(f"{jupyterlab['url']}/lab/tree/viewer.ipynb?token={jupyterlab['token']}")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=90_000, polling=200)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(  # the notebook's kernel is up before anything runs
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=90_000, polling=200,
    )
    page.evaluate("() => { window.jupyterapp.commands.execute('runmenu:run-all'); }")
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
