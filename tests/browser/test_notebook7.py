"""CAMViewer and PixelSetPicker in Jupyter Notebook 7 (the ``notebook`` package), as a user runs them:
open the notebook at /notebooks/<name>, Run All; the widget draws, a control changed in the browser
reaches Python, and a change made in Python is drawn."""

from __future__ import annotations


import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from scipy import ndimage

from .notebook7 import open_and_run_nb7
from .test_jupyterlab import (
    NOTEBOOK_CODE, PICKER_CODE, canvas_pixels, inside_largest_object, pixel_centre, set_control, wait_for_received,
)
from .test_trait_validation import run_new_cell

# true once the canvas [id, pixels before] holds other pixels
CHANGED = (
    "([id, before]) => { const c = document.querySelector(`[data-testid=\"${id}\"]`);"
    " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
    " return d.length !== before.length || d.some((v, i) => v !== before[i]); }"
)


def wait_drawn(page, testid: str, timeout_ms: int = 120_000) -> list[int]:
    """Wait until the canvas has a size and coloured (non-black, opaque) pixels; return its RGBA. On a
    timeout the error shows what the cell's output area holds instead."""
    try:
        page.wait_for_function(
            "(id) => { const c = document.querySelector(`[data-testid=\"${id}\"]`); if (!c || !c.width) return false;"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " for (let i = 0; i < d.length; i += 4) if (d[i + 3] === 255 && d[i] + d[i + 1] + d[i + 2]) return true;"
            " return false; }",
            arg=testid, timeout=timeout_ms, polling=200,
        )
    except PlaywrightTimeout:
        shown = page.evaluate("() => document.querySelector('.jp-OutputArea')?.innerText.slice(0, 2000)")
        raise AssertionError(f"{testid} was not drawn; the output area shows: {shown!r}") from None
    return canvas_pixels(page, testid)


def visible_outputs(page) -> list[str]:
    """The start of the HTML of every cell output that takes up room: the widget's, and not its static
    picture's (a second output that only nbconvert and other front ends without widgets show)."""
    return page.evaluate("() => Array.from(document.querySelectorAll('.jp-OutputArea-child'))"
                         ".filter((c) => c.offsetHeight > 0).map((c) => c.innerHTML.slice(0, 200))")


def distinct_colours(rgba: list[int]) -> int:
    return len(np.unique(np.asarray(rgba, np.uint8).reshape(-1, 4)[:, :3], axis=0))


def test_viewer_in_notebook7(notebook7, page):
    received = notebook7["notebooks"] / "received.json"
    open_and_run_nb7(page, notebook7, "viewer.ipynb", NOTEBOOK_CODE)
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    first = wait_drawn(page, "main-canvas")
    # an image under a colour map, not a flat fill
    assert distinct_colours(first) > 20

    # a control in the browser reaches Python (the slice is drawn in the browser at once)
    set_control(page, "slice-slider", 4)
    page.wait_for_function(CHANGED, arg=["main-canvas", first], timeout=10_000, polling=100)
    assert wait_for_received(received, lambda s: s["slice_index"] == 4)["slice_index"] == 4

    # a change made in Python is drawn: the kernel recomputes with another method
    before = canvas_pixels(page, "main-canvas")
    run_new_cell(page, 'viewer.method = "respondcam"')
    state = wait_for_received(received, lambda s: s["result_method"] == "respondcam")
    assert state["method"] == "respondcam" and state["slice_index"] == 4
    page.wait_for_function(CHANGED, arg=["main-canvas", before], timeout=30_000, polling=100)
    page.wait_for_function("() => document.querySelector('[data-testid=\"method-select\"]').value === 'respondcam'",
                           timeout=10_000)
    shown = visible_outputs(page)
    assert len(shown) == 1 and "cam-viewer" in shown[0], shown
    assert not page.errors, page.errors


def test_picker_in_notebook7(notebook7, page):
    folder = notebook7["notebooks"]
    open_and_run_nb7(page, notebook7, "picker.ipynb", PICKER_CODE)
    pick = wait_drawn(page, "pick-canvas")
    assert distinct_colours(pick) > 20
    labels, row, col = inside_largest_object(folder)
    cls = int(labels[row, col])

    # a click with the region tool in the browser: Python receives that connected region of the class
    cam_before = canvas_pixels(page, "cam-canvas")
    page.locator('[data-testid="tool-region"]').click()
    canvas = page.locator('[data-testid="pick-canvas"]')
    canvas.scroll_into_view_if_needed()
    page.mouse.click(*pixel_centre(canvas.bounding_box(), labels.shape, row, col))
    state = wait_for_received(folder / "picked.json", lambda s: s["n_selected"] > 0)
    components, _ = ndimage.label(labels == cls)
    assert state["target_class"] == cls and state["error"] == "" and state["same_cam"]
    assert np.array_equal(np.load(folder / "received_mask.npy"), components == components[row, col])
    page.wait_for_function(CHANGED, arg=["cam-canvas", cam_before], timeout=30_000, polling=100)

    # a mask set in Python is drawn: the CAM panel redraws and the count shows Python's number
    cam_before = canvas_pixels(page, "cam-canvas")
    run_new_cell(page, "m = np.zeros_like(picker.mask); m[4:12, 20:40] = True; picker.mask = m")
    state = wait_for_received(folder / "picked.json", lambda s: s["n_selected"] == 8 * 20)
    assert state["same_cam"] and state["error"] == ""
    page.wait_for_function(CHANGED, arg=["cam-canvas", cam_before], timeout=30_000, polling=100)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"selected-count\"]').textContent.includes('160')", timeout=10_000)
    shown = visible_outputs(page)
    assert len(shown) == 1 and "cam-picker" in shown[0], shown
    assert not page.errors, page.errors
