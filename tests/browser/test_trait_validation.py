"""End to end in a real JupyterLab 4 server: control values set from Python after the widget has
rendered are validated. Cells added to the open notebook and run through the UI set invalid values
(``viewer.axis = 7``, ``viewer.opacity = 5.0``, ``viewer.slice_index = 999``; ``picker.tool = "spray"``).
This proves that the kernel keeps the last valid values, that the browser shows the refusal in the
widget's error element, and that the main canvas stays equal pixel for pixel to Python's composition
(``viewer._main_panel()``). A later valid change clears the error in the browser, and the canvas then
shows the grey image. For the picker, the pressed tool button stays the last valid tool."""

from __future__ import annotations

import time

import numpy as np

from .test_jupyterlab import NOTEBOOK_CODE, canvas_pixels, open_and_run, wait_for_received

VIEWER_ERROR = '[data-testid="cam-viewer"] [data-testid="error"]'
PICKER_ERROR = '[data-testid="pixel-set-picker"] [data-testid="error"]'

DUMP = """
import numpy as np
def dump(name, widget, names, panel=True):
    if panel:
        np.save(f"{name}.npy", widget._main_panel())  # written before the json that announces it
    Path(f"{name}.json").write_text(json.dumps({n: getattr(widget, n) for n in [*names, "error"]}))
dump("initial", viewer, ["axis", "opacity", "slice_index"])
"""
REFUSED = """
viewer.opacity = 0.8; viewer.slice_index = 5  # valid: these are the values to keep
viewer.axis = 7; viewer.opacity = 5.0; viewer.slice_index = 999
dump("refused", viewer, ["axis", "opacity", "slice_index"])
"""
VALID = """
viewer.opacity = 0.0
dump("valid", viewer, ["axis", "opacity", "slice_index"])
"""
PICKER = """
from cam_widgets import PixelSetPicker
seg = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 1)).eval()
picker = PixelSetPicker(CAMExplainer(seg, layers=["0"]), torch.rand(1, 24, 24))
picker
"""
PICKER_REFUSED = """
picker.tool = "lasso"; picker.tool = "spray"
dump("picker", picker, ["tool"], panel=False)
"""


def run_new_cell(page, code: str) -> None:
    """Append a code cell to the open notebook and run it as a person would (select it, Run Cell)."""
    page.evaluate(
        """async (code) => { const panel = window.jupyterapp.shell.currentWidget;
                             const nb = panel.content;
                             nb.model.sharedModel.insertCell(nb.model.cells.length, {cell_type: 'code', source: code});
                             nb.activeCellIndex = nb.model.cells.length - 1;
                             await window.jupyterapp.commands.execute('notebook:run-cell'); }""",
        code,
    )


def main_canvas(page) -> np.ndarray:
    """The main canvas at its data resolution as RGB (it is drawn at the slice's size, scaled by CSS)."""
    width, height = page.evaluate("() => { const c = document.querySelector('[data-testid=\"main-canvas\"]');"
                                  " return [c.width, c.height]; }")
    rgba = np.asarray(canvas_pixels(page, "main-canvas"), dtype=np.uint8).reshape(height, width, 4)
    assert (rgba[..., 3] == 255).all(), "the main canvas has transparent pixels"
    return rgba[..., :3]


def assert_canvas_becomes(page, want: np.ndarray, what: str, timeout: float = 15.0) -> np.ndarray:
    """Poll (the browser applies the kernel's messages asynchronously) until the canvas equals `want`."""
    deadline = time.time() + timeout
    while True:
        got = main_canvas(page)
        if got.shape == want.shape and (got == want).all():
            return got
        if time.time() > deadline:
            assert got.shape == want.shape, f"{what}: canvas {got.shape[:2]}, Python {want.shape[:2]}"
            bad = np.argwhere((got != want).any(axis=-1))
            raise AssertionError(f"{what}: {len(bad)} of {got.shape[0] * got.shape[1]} pixels differ; first at "
                                 f"{tuple(bad[0])}: canvas {got[tuple(bad[0])]}, Python {want[tuple(bad[0])]}")
        time.sleep(0.2)


def wait_for_file(path, timeout: float = 60.0) -> dict:
    return wait_for_received(path, lambda state: True, timeout=timeout)


def test_values_set_from_python_are_refused_in_the_browser(jupyterlab, page):
    """Refused values: Python keeps the last valid ones, the browser shows why and draws Python's panel;
    a valid change clears the error and the grey image is drawn. The picker keeps its last valid tool."""
    folder = jupyterlab["notebooks"]
    open_and_run(page, jupyterlab, "trait_validation.ipynb", NOTEBOOK_CODE)
    page.wait_for_selector('[data-testid="main-canvas"]', timeout=120_000)
    page.wait_for_function(
        """() => { const c = document.querySelector('[data-testid="main-canvas"]');
                   return c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0); }""",
        timeout=30_000, polling=200,
    )
    run_new_cell(page, DUMP)
    initial = wait_for_file(folder / "initial.json")
    assert initial == {"axis": 0, "opacity": 0.5, "slice_index": 8, "error": ""}
    initial_panel = np.load(folder / "initial.npy")
    assert_canvas_becomes(page, initial_panel, "the rendered viewer")
    assert page.locator(VIEWER_ERROR).is_hidden()

    # invalid values after rendering: refused, the last valid ones kept, the reason shown in the browser
    run_new_cell(page, REFUSED)
    refused = wait_for_file(folder / "refused.json")
    assert {k: refused[k] for k in ("axis", "opacity", "slice_index")} == {"axis": 0, "opacity": 0.8, "slice_index": 5}
    assert refused["error"].startswith("slice_index = 999 was not applied (kept 5)"), refused["error"]
    error = page.locator(VIEWER_ERROR)
    page.wait_for_function("(sel) => { const e = document.querySelector(sel);"
                           " return !e.hidden && e.textContent.includes('was not applied'); }",
                           arg=VIEWER_ERROR, timeout=15_000, polling=100)
    assert error.is_visible() and error.text_content() == refused["error"]
    panel = np.load(folder / "refused.npy")
    assert panel.shape == (16, 16, 3) and panel.dtype == np.uint8
    assert not np.array_equal(panel, initial_panel), "the valid changes must show in the panel"
    assert_canvas_becomes(page, panel, "after the refused values (slice 5, opacity 0.8)")
    assert page.locator('[data-testid="axis-select"]').input_value() == "0"
    assert page.locator('[data-testid="slice-slider"]').input_value() == "5"

    # the next valid change clears the error; opacity 0 is the grey image alone
    run_new_cell(page, VALID)
    valid = wait_for_file(folder / "valid.json")
    assert valid == {"axis": 0, "opacity": 0.0, "slice_index": 5, "error": ""}
    page.wait_for_function("(sel) => document.querySelector(sel).hidden", arg=VIEWER_ERROR, timeout=15_000, polling=100)
    assert not error.is_visible()
    grey = assert_canvas_becomes(page, np.load(folder / "valid.npy"), "opacity 0")
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all(), "opacity 0 is not grey"

    # the picker: "spray" is refused after "lasso"; the browser keeps lasso pressed and shows why
    run_new_cell(page, PICKER)
    page.wait_for_selector('[data-testid="pixel-set-picker"] [data-testid="tool-region"][aria-pressed="true"]',
                           timeout=60_000)
    run_new_cell(page, PICKER_REFUSED)
    state = wait_for_file(folder / "picker.json")
    assert state["tool"] == "lasso" and state["error"].startswith("tool = 'spray' was not applied (kept 'lasso')")
    page.wait_for_function("(sel) => { const e = document.querySelector(sel);"
                           " return !e.hidden && e.textContent.includes('was not applied'); }",
                           arg=PICKER_ERROR, timeout=15_000, polling=100)
    assert page.locator(PICKER_ERROR).text_content() == state["error"]
    pressed = page.locator('[data-testid="pixel-set-picker"] [data-testid^="tool-"][aria-pressed="true"]')
    assert pressed.count() == 1 and pressed.get_attribute("data-testid") == "tool-lasso"
    assert page.locator(VIEWER_ERROR).is_hidden(), "the picker's error must not show in the viewer"
    assert not page.errors, page.errors
