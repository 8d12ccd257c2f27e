"""The 3D view (``viewer.view_3d()``) in a real JupyterLab 4, drawn by Plotly with WebGL (SwiftShader):
the negative surface that an update creates is blue and in the legend, a turned camera survives an
update, the header's controls change the figure, the dark theme recolours it, and at 900 px nothing
overflows, and closing the panel removes it cleanly. The figure's own state is read where Plotly keeps it: the div's ``_fullData`` /
``_fullLayout`` and the legend's DOM."""

from __future__ import annotations

import pytest

from .test_jupyterlab import open_and_run, set_control
from .test_trait_validation import run_new_cell

BLUE, RED = "rgb(33, 102, 172)", "rgb(178, 24, 43)"

VIEW3D_CODE = """
import torch
from torch import nn
from cam_widgets import CAMExplainer, CAMViewer

torch.manual_seed(0)
model = nn.Sequential(nn.Conv3d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
                      nn.Conv3d(6, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8**3, 4)).eval()
x = 0.2 * torch.randn(1, 16, 16, 16)
x[0, 4:10, 5:11, 3:9] += 1.5
explainer = CAMExplainer(model, layers=["4"])
# a class whose Respond-CAM has a negative part below half its max |value|: the 3D view starts on
# Grad-CAM (>= 0, no negative surface) and the browser switches the method
signed = [explainer.explain(x[None], c, "respondcam", "4").map for c in range(4)]
target = next(c for c, m in enumerate(signed) if (m < -0.5 * m.abs().max()).any() and (m > 0.5 * m.abs().max()).any())
viewer = CAMViewer(explainer, x, class_names=["a", "b", "c", "d"], method="gradcam", target_class=target)
view = viewer.view_3d()
display(viewer, view)
"""

PLOT = "document.querySelector('.cam-view3d-panel .js-plotly-plot')"
FULL_DATA = ("() => " + PLOT + "._fullData.map((t) => ({name: t.name, color: t.color, visible: t.visible, "
             "showlegend: t.showlegend, n: t._input.x ? t._input.x.length : 0, opacity: t.opacity}))")


def wait_for_view(page, timeout_ms: int = 120_000) -> None:
    """Until the figure has drawn its three traces at the panel's width, and the header is idle."""
    page.wait_for_function(
        f"() => {{ const gd = {PLOT}; const p = document.querySelector('.cam-view3d-panel');"
        " return gd && gd._fullData && gd._fullData.length === 3 && gd._fullLayout"
        " && Math.abs(gd._fullLayout.width - p.getBoundingClientRect().width) < 2"
        " && !document.querySelector('[data-testid=\"view3d\"]').classList.contains('busy'); }",
        timeout=timeout_ms, polling=200)


def full_data(page) -> list[dict]:
    return page.evaluate(FULL_DATA)


def legend_names(page) -> list[str]:
    return page.evaluate(f"() => Array.from({PLOT}.querySelectorAll('.legend .traces .legendtext'), (t) => t.textContent)")


def wait_title(page, text: str) -> None:
    page.wait_for_function("(t) => document.querySelector('[data-testid=\"view3d-title\"]').textContent.includes(t)",
                           arg=text, timeout=30_000, polling=100)


def turn_scene(page) -> dict:
    """Drag over the scene as a person turns it; returns the camera's eye afterwards."""
    plot = page.locator(".cam-view3d-panel .js-plotly-plot")
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 40, steps=15)
    page.mouse.up()
    page.wait_for_timeout(300)
    return page.evaluate(f"() => {PLOT}._fullLayout.scene.camera.eye")


def test_an_update_creates_a_blue_negative_surface_in_the_legend_and_keeps_the_camera(jupyterlab, gl_page):
    page = gl_page
    open_and_run(page, jupyterlab, "view3d_update.ipynb", VIEW3D_CODE)
    page.wait_for_selector('[data-testid="view3d"]', timeout=120_000)
    wait_for_view(page)
    before = full_data(page)
    assert [t["name"] for t in before] == ["input", "CAM > 0", "CAM < 0"]
    assert before[2]["n"] == 0 and "CAM < 0" not in legend_names(page)  # Grad-CAM is >= 0
    initial = page.evaluate(f"() => {PLOT}._fullLayout.scene.camera.eye")
    eye = turn_scene(page)
    assert abs(eye["x"] - initial["x"]) + abs(eye["y"] - initial["y"]) > 0.1  # the scene turned

    set_control(page, "method-select", "respondcam")
    wait_title(page, "respondcam")
    page.wait_for_function(f"() => {PLOT}._fullData[2]._input.x.length > 0", timeout=30_000, polling=100)
    wait_for_view(page)
    after = full_data(page)
    assert after[2]["name"] == "CAM < 0" and after[2]["color"] == BLUE and after[2]["visible"] is True
    assert after[2]["showlegend"] is True and after[1]["color"] == RED
    assert legend_names(page) == ["input", "CAM > 0", "CAM < 0"]
    swatch = page.evaluate(f"() => Array.from({PLOT}.querySelectorAll('.legend .traces'))[2].innerHTML")
    assert "33, 102, 172" in swatch or "2166ac" in swatch.lower()  # the legend's patch is blue too
    camera = page.evaluate(f"() => {PLOT}._fullLayout.scene.camera.eye")
    assert camera == pytest.approx(eye, abs=1e-6)  # the update did not reset the turned scene
    assert not page.errors, page.errors


def test_controls_change_the_figure_and_dark_theme_recolours_it(jupyterlab, gl_page):
    page = gl_page
    open_and_run(page, jupyterlab, "view3d_controls.ipynb", VIEW3D_CODE)
    page.wait_for_selector('[data-testid="view3d"]', timeout=120_000)
    wait_for_view(page)

    set_control(page, "input-opacity", 0.2)
    page.wait_for_function(f"() => {PLOT}._fullData[0].opacity === 0.2", timeout=30_000, polling=100)
    page.evaluate("() => document.querySelector('[data-testid=\"show-input\"]').click()")
    page.wait_for_function(f"() => {PLOT}._fullData[0].visible === false", timeout=30_000, polling=100)
    vertices = full_data(page)[1]["n"]
    set_control(page, "cam-level", 0.2)  # a lower level: a larger CAM > 0 surface
    page.wait_for_function(f"(n) => {PLOT}._fullData[1]._input.x.length > n", arg=vertices, timeout=30_000, polling=100)
    assert "0.2 × max|CAM|" in page.locator('[data-testid="cam-level-value"]').inner_text()

    light = page.evaluate(f"() => {{ const l = {PLOT}._fullLayout; return [l.font.color, l.paper_bgcolor, l.scene.xaxis.gridcolor]; }}")
    header = lambda: page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=\"view3d\"]')).backgroundColor")
    assert light[1] == header()
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_function(
        f"(bg) => {{ const l = {PLOT}._fullLayout; return l.paper_bgcolor === bg && l.scene.xaxis.gridcolor === 'rgb(70, 70, 70)'; }}",
        arg=page.evaluate("() => new Promise((r) => setTimeout(() => r(getComputedStyle(document.querySelector("
                          "'[data-testid=\"view3d\"]')).backgroundColor), 2000))"),
        timeout=30_000, polling=200)
    dark = page.evaluate(f"() => {{ const l = {PLOT}._fullLayout; return [l.font.color, l.paper_bgcolor, l.scene.xaxis.gridcolor]; }}")
    assert dark[0] != light[0] and dark[1] != light[1] and dark[1] == header()
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=30_000)
    assert not page.errors, page.errors


def test_the_panel_fits_900_px(jupyterlab, gl_page):
    page = gl_page
    page.set_viewport_size({"width": 900, "height": 1000})
    open_and_run(page, jupyterlab, "view3d_narrow.ipynb", VIEW3D_CODE)
    page.wait_for_selector('[data-testid="view3d"]', timeout=120_000)
    wait_for_view(page)
    sizes = page.evaluate(
        f"""() => {{ const p = document.querySelector('.cam-view3d-panel'), h = document.querySelector('[data-testid="view3d"]');
                     const out = p.closest('.jp-OutputArea-output');
                     return {{panel: p.getBoundingClientRect().width, panelScroll: p.scrollWidth, header: h.clientWidth,
                              headerScroll: h.scrollWidth, figure: {PLOT}._fullLayout.width, output: out.clientWidth,
                              outputScroll: out.scrollWidth,
                              controls: Array.from(h.querySelectorAll('input, label, span')).map((e) => e.getBoundingClientRect().right)}}; }}""")
    assert sizes["headerScroll"] <= sizes["header"] and sizes["panelScroll"] <= sizes["panel"] + 1
    assert sizes["outputScroll"] <= sizes["output"] and sizes["figure"] <= sizes["output"] + 1
    left = page.evaluate("() => document.querySelector('[data-testid=\"view3d\"]').getBoundingClientRect().left")
    assert max(sizes["controls"]) <= left + sizes["header"] + 1
    run_new_cell(page, "view.close()")  # closing the panel removes it without an error in the page
    page.wait_for_function("() => !document.querySelector('.cam-view3d-panel')", timeout=30_000, polling=100)
    page.wait_for_timeout(1000)
    assert not page.errors, page.errors
