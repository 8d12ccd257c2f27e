"""PFVGallery in a real JupyterLab 4: the Plotly grid renders, the ipywidgets controls reach Python,
a new selection is recomputed in the same figure, and clicking an image opens a CAMViewer."""

from __future__ import annotations

from .test_jupyterlab import open_and_run, wait_for_received

GALLERY_CODE = """
import json
from pathlib import Path
from cam_widgets import PFVExplainer, PFVGallery
from cam_widgets.zoo import DEMOS, load_demo_faces
from cam_widgets.datasets import FACE_CLASSES
from cam_widgets.zoo.train import demo_data

x, y = demo_data(DEMOS["faces_lfw"], "test")
gallery = PFVGallery(PFVExplainer(load_demo_faces()), x[:8], class_names=FACE_CLASSES, labels=y[:8])
def record(change=None):
    Path("pfv_received.json").write_text(json.dumps({
        "opacity": gallery.opacity_control.value, "layer": gallery.result.layer,
        "selection": list(gallery.selection), "source0": gallery.image_traces[0].source[-64:],
        "viewer_index": gallery.viewer_index, "error": gallery.error.value}))
for control in (gallery.opacity_control, gallery.layer_control):
    control.observe(record, names="value")
gallery.recompute_button.on_click(record)
gallery.viewer_output.observe(record, names="outputs")
record()
gallery
"""

IMAGES = ".js-plotly-plot .imagelayer image"


def count(page, selector: str) -> int:
    return page.locator(selector).count()


def wait_for_count(page, selector: str, n: int) -> None:
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length === n", arg=[selector, n],
                           timeout=30_000, polling=200)


def test_gallery_in_jupyterlab(jupyterlab, page):
    received = jupyterlab["notebooks"] / "pfv_received.json"
    open_and_run(page, jupyterlab, "pfv_gallery.ipynb", GALLERY_CODE)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    # 8 image subplots (Plotly draws each go.Image as an <image> in its subplot) and 8 bar charts
    wait_for_count(page, IMAGES, 8)
    assert count(page, ".js-plotly-plot .barlayer .trace.bars") == 8
    initial = wait_for_received(received, lambda s: s["selection"] == list(range(8)))
    assert initial["opacity"] == 0.7
    href = page.locator(IMAGES).first.get_attribute("href")
    assert href.startswith("data:image/png;base64,") and href.endswith(initial["source0"])

    # the opacity slider: keyboard on its noUiSlider handle, one step (0.05) up; the image is redrawn
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    wait_for_received(received, lambda s: abs(s["opacity"] - 0.75) < 1e-9)
    page.wait_for_function("([s, h]) => document.querySelector(s).getAttribute('href') !== h",
                           arg=[IMAGES, href], timeout=30_000, polling=200)

    # the layer dropdown: Python recomputes the PFV of the other layer
    page.locator(".widget-dropdown select").first.select_option("pool1")
    assert wait_for_received(received, lambda s: s["layer"] == "pool1")["layer"] == "pool1"

    # a sub-batch: select three samples, press the button; the same figure now shows three images
    page.locator(".widget-select-multiple select").select_option(index=[1, 4, 5])
    page.get_by_role("button", name="recompute on selection").click()
    state = wait_for_received(received, lambda s: s["selection"] == [1, 4, 5])
    wait_for_count(page, IMAGES, 3)
    assert count(page, ".js-plotly-plot .barlayer .trace.bars") == 3
    assert count(page, ".js-plotly-plot") == 1 and state["error"] == ""
    # the subplots of the larger grid are gone (each subplot has one drag layer that takes clicks)
    assert count(page, ".js-plotly-plot .draglayer .nsewdrag") == 6

    # clicking the second image opens a CAMViewer of sample 4 below the grid
    box = page.locator(IMAGES).nth(1).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert wait_for_received(received, lambda s: s["viewer_index"] == 4)["viewer_index"] == 4
    page.wait_for_function(
        """() => { const c = document.querySelector('[data-testid="main-canvas"]');
                   return c && c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0); }""",
        timeout=60_000, polling=200,
    )
    assert "CAMViewer of sample 4" in page.locator(".jp-OutputArea").last.inner_text()
    assert not page.errors, page.errors


GALLERY_3D_CODE = """
import json, torch
from pathlib import Path
from torch import nn
from cam_widgets import PFVExplainer, PFVGallery

torch.manual_seed(0)
model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
                      nn.Conv3d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
                      nn.Flatten(), nn.Linear(6 * 4 ** 3, 2)).eval()
x = torch.rand(3, 1, 16, 16, 16)
gallery3d = PFVGallery(PFVExplainer(model), x)
def record(change=None):
    Path("pfv3d_received.json").write_text(json.dumps({
        "slice": gallery3d.slice_control.value, "sources": [t.source[-64:] for t in gallery3d.image_traces]}))
gallery3d.slice_control.observe(record, names="value")
record()
gallery3d
"""


def test_3d_gallery_slice_slider_redraws_every_image(jupyterlab, page):
    received = jupyterlab["notebooks"] / "pfv3d_received.json"
    open_and_run(page, jupyterlab, "pfv_gallery_3d.ipynb", GALLERY_3D_CODE)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    wait_for_count(page, IMAGES, 3)
    initial = wait_for_received(received, lambda s: s["slice"] == 8)
    hrefs = [page.locator(IMAGES).nth(k).get_attribute("href") for k in range(3)]
    assert [h[-64:] for h in hrefs] == initial["sources"]
    # the second slider is the slice (the first is the opacity); two steps down
    handle = page.locator(".widget-slider .noUi-handle").nth(1)
    handle.focus()
    handle.press("ArrowLeft")
    handle.press("ArrowLeft")
    state = wait_for_received(received, lambda s: s["slice"] == 6)
    page.wait_for_function(
        "([s, sources]) => Array.from(document.querySelectorAll(s)).every((e, k) => e.getAttribute('href').endsWith(sources[k]))",
        arg=[IMAGES, state["sources"]], timeout=30_000, polling=200)
    assert all(a != b for a, b in zip(state["sources"], initial["sources"]))
    assert not page.errors, page.errors
