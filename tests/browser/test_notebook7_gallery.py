"""PFVGallery in Jupyter Notebook 7 (the ``notebook`` package), as a user runs it: open /notebooks/<name>, Run
All; the cards draw the levels Python sent, the opacity redraws in the browser, a click opens a CAMViewer
below (Python received it), and only the live widget takes room (its static picture stays hidden)."""

from __future__ import annotations

import numpy as np

from cam_widgets.widgets.pfv_gallery_data import blend

from .notebook7 import open_and_run_nb7
from .test_jupyterlab import wait_for_received
from .test_pfv_gallery import GALLERY, LAB_CODE, canvas_rgb


def test_gallery_in_notebook7(notebook7, page):
    received = notebook7["notebooks"] / "pfv_received.json"
    open_and_run_nb7(page, notebook7, "pfv_gallery.ipynb", LAB_CODE)
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    canvas = f'{GALLERY} [data-testid="pfv-canvas-1"]'
    page.wait_for_function(f"() => {{ const c = document.querySelector('{canvas}'); return c && c.width === 25; }}",
                           timeout=120_000, polling=200)
    assert page.locator(f"{GALLERY} .pfv-card").count() == 8
    state = wait_for_received(received, lambda s: s["shown"] == list(range(8)))
    grey, rgb = np.array(state["grey0"], dtype=np.uint8), np.array(state["rgb0"], dtype=np.uint8)
    first = f'{GALLERY} [data-testid="pfv-canvas-0"]'
    np.testing.assert_array_equal(canvas_rgb(page, first), blend(grey, rgb, 0.7))

    # the opacity is the browser's: redrawn in the event's own task, then synced to Python
    page.evaluate(f"""() => {{ const s = document.querySelector('{GALLERY} [data-testid="opacity-slider"]');
                              s.value = '0.45'; s.dispatchEvent(new Event('input', {{ bubbles: true }}));
                              s.dispatchEvent(new Event('change', {{ bubbles: true }})); }}""")
    np.testing.assert_array_equal(canvas_rgb(page, first), blend(grey, rgb, 0.45))
    assert wait_for_received(received, lambda s: s["opacity"] == 0.45)["opacity"] == 0.45

    # the bars read as in JupyterLab, and a click opens the viewer of that sample
    assert page.locator(f'{GALLERY} [data-testid="bars-0"] .pfv-tick').all_text_contents() == ["0", "0.5", "1"]
    page.click(f'{GALLERY} [data-testid="open-5"]')
    state = wait_for_received(received, lambda s: s["viewer_index"] == 5)
    assert "CAMViewer of #205" in state["title"] and state["viewer_layer"] == "relu3", state
    page.wait_for_selector('[data-testid="cam-viewer"] [data-testid="main-canvas"]', timeout=60_000)
    page.wait_for_function("() => document.querySelector('[data-testid=\"card-5\"]').classList.contains('opened')",
                           timeout=30_000)
    outputs = page.evaluate("() => Array.from(document.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child'))"
                            ".map((c) => c.offsetHeight > 0)")
    # the gallery, its hidden picture, the viewer's output below, and that output's hidden picture
    assert outputs == [True, False, True, False], outputs
    assert not page.errors, page.errors
