"""DatasetBrowser end to end in a real JupyterLab 4 server: render a synthetic run store, sort by a header
click, filter, brush the histogram, page, click a row, and check what is drawn and what the kernel received;
the stored-maps CAMViewer's canvas is compared with Python's picture of the stored map. Screenshots at 1400
and 900 px, light and dark, go to /tmp/h2_shots/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .servers import REPO
from .test_jupyterlab import canvas_pixels, open_and_run, set_control, wait_for_received

SHOTS = Path("/tmp/h2_shots")
CODE = f"""
import json, sys
import numpy as np
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
from tests.browser_store_fixtures import write_store
from cam_widgets import DatasetBrowser
import shutil; shutil.rmtree("run.zarr", ignore_errors=True)
s = write_store(Path("run.zarr"), n=60, chunk_size=8, spatial=(16, 16, 16), layer_shape=(4, 4, 4), seed=3)
browser = DatasetBrowser("run.zarr", data=s.data, page_size=10)
WATCHED = ["sort_by", "sort_descending", "filter_prediction", "filter_range", "page", "selected", "rows"]
def record(change):
    state = {{name: getattr(browser, name) for name in WATCHED if name != "rows"}}
    state["rows"] = [row["index"] for row in browser.rows]
    state["scores"] = [row["score"] for row in browser.rows]
    state["n_rows"], state["error"] = browser.n_rows, browser.error
    viewer = browser.viewer
    state["viewer"] = type(viewer).__name__ if viewer is not None else None
    if viewer is not None:
        np.save("main_panel.npy", viewer._main_panel())
        state["viewer_error"], state["stored_equal"] = viewer.error, bool(np.array_equal(
            viewer.result.raw[0].numpy(), s.maps[f"{{viewer.method}}/conv2/predicted"][browser.selected]))
    Path("received.json").write_text(json.dumps(state))
browser.observe(record, names=WATCHED)
browser
"""


def dom_rows(page) -> list[int]:
    return page.evaluate("() => [...document.querySelectorAll('[data-testid=\"db-row\"]')].map(r => Number(r.dataset.index))")


def wait_rows(page, want: list[int]) -> None:
    page.wait_for_function(
        "(want) => JSON.stringify([...document.querySelectorAll('[data-testid=\"db-row\"]')]"
        ".map(r => Number(r.dataset.index))) === JSON.stringify(want)", arg=want, timeout=20_000, polling=100)


def shoot(page, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 1300})
    page.wait_for_timeout(600)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=False)


def test_dataset_browser_in_jupyterlab(jupyterlab, page):
    folder = jupyterlab["notebooks"]
    received = folder / "received.json"
    open_and_run(page, jupyterlab, "browser.ipynb", CODE)
    page.wait_for_selector('[data-testid="dataset-browser"] [data-testid="db-row"]', timeout=120_000)
    wait_rows(page, list(range(10)))
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"db-thumb\"]').length === 10", timeout=20_000)
    assert page.evaluate("() => document.querySelector('[data-testid=\"db-thumb\"]').naturalWidth") == 16
    from cam_widgets.batch.run import open_run

    run = open_run(folder / "run.zarr")
    scores, prediction = np.asarray(run.scores[:]), np.asarray(run.prediction[:])
    score = scores[np.arange(len(scores)), prediction]
    shoot(page, "db_1400_light_table.png", 1400)

    # a header click sorts (Python's trait, the rows drawn); a second click reverses
    page.locator('[data-testid="db-header-score"]').click()
    state = wait_for_received(received, lambda s: s["sort_by"] == "score" and not s["sort_descending"])
    want = [int(i) for i in np.argsort(score, kind="stable")[:10]]
    assert state["rows"] == want
    wait_rows(page, want)
    page.locator('[data-testid="db-header-score"]').click()
    state = wait_for_received(received, lambda s: s["sort_descending"])
    want = np.argsort(-score, kind="stable")[:10].tolist()
    wait_rows(page, want)
    assert page.get_attribute('[data-testid="db-header-score"]', "aria-sort") == "descending"

    # a filter: only predicted class 1
    set_control(page, "db-filter-prediction", 1)
    state = wait_for_received(received, lambda s: s["filter_prediction"] == [1])
    want = [int(i) for i in np.argsort(-score, kind="stable") if prediction[i] == 1]
    assert state["n_rows"] == len(want) and state["rows"] == want[:10]
    wait_rows(page, want[:10])
    set_control(page, "db-filter-prediction", "")
    wait_for_received(received, lambda s: s["filter_prediction"] == [])

    # brushing the histogram sets the range filter
    svg = page.locator('[data-testid="db-histogram"]')
    box = svg.bounding_box()
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=4)
    page.mouse.up()
    state = wait_for_received(received, lambda s: len(s["filter_range"]) == 2)
    low, high = state["filter_range"]
    assert score.min() < low < high < score.max()
    want = [int(i) for i in np.argsort(-score, kind="stable") if low <= score[i] <= high]
    assert state["n_rows"] == len(want) and state["rows"] == want[:10]
    wait_rows(page, want[:10])
    assert page.locator('[data-testid="db-brush"]').count() == 1
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")  # a wider notebook
    page.wait_for_function("() => document.querySelector('.cam-dataset-browser:not(.narrow)')", timeout=10_000)
    shoot(page, "db_1400_light_wide_brushed.png", 1400)
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.locator('[data-testid="db-clear-range"]').click()
    wait_for_received(received, lambda s: s["filter_range"] == [] and s["n_rows"] == 60)

    # paging
    page.locator('[data-testid="db-next"]').click()
    state = wait_for_received(received, lambda s: s["page"] == 1)
    want = np.argsort(-score, kind="stable")[10:20].tolist()
    assert state["rows"] == want
    wait_rows(page, want)
    assert "rows 11–20 of 60" in page.inner_text('[data-testid="db-summary"]')

    # a row click selects the sample; the stored-maps viewer opens below with the stored map
    target = want[3]
    page.locator(f'[data-testid="db-row"][data-index="{target}"]').click()
    state = wait_for_received(received, lambda s: s["selected"] == target and s["viewer"] == "StoredViewer")
    assert state["stored_equal"] and not state["viewer_error"]
    page.wait_for_selector('[data-testid="main-canvas"]', timeout=30_000)
    page.wait_for_function(
        """() => { const c = document.querySelector('[data-testid="main-canvas"]');
                   return c.width === 16 && c.getContext('2d').getImageData(0, 0, 16, 16).data.some(v => v > 0); }""",
        timeout=30_000, polling=200)
    drawn = np.array(canvas_pixels(page, "main-canvas"), dtype=np.uint8).reshape(16, 16, 4)[..., :3]
    want_panel = np.load(folder / "main_panel.npy")
    assert np.abs(drawn.astype(int) - want_panel.astype(int)).max() <= 1
    assert page.locator('tr.selected[data-testid="db-row"]').count() == 1
    # only the stored class (the predicted one) can be chosen: the other classes are disabled, with the reason
    options = page.locator('[data-testid="class-select"] option')
    disabled = options.evaluate_all("os => os.map(o => o.disabled)")
    assert disabled.count(False) == 2 and len(disabled) == 6  # "predicted (…)" and that class; 5 classes
    assert "not stored in this run" in options.nth(disabled.index(True)).get_attribute("title")
    page.locator('[data-testid="main-canvas"]').scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, 0)")
    shoot(page, "db_1400_light_viewer.png", 1400)
    shoot(page, "db_900_light.png", 900)
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Dark' })")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    shoot(page, "db_900_dark_viewer.png", 900)
    page.evaluate("() => document.querySelector('[data-testid=\"dataset-browser\"]').scrollIntoView()")
    shoot(page, "db_900_dark_table.png", 900)
    shoot(page, "db_1400_dark.png", 1400)
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Light' })")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=20_000)
    assert json.loads(received.read_text())["error"] == ""
    assert not page.errors, page.errors
