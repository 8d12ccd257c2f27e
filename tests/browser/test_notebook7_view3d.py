"""The 3D view in Jupyter Notebook 7 (the ``notebook`` package), as a user runs it: Run All draws the header
and the figure at the panel's width; the browser switches the viewer's method and the negative surface
appears, blue and in the legend."""

from __future__ import annotations

from .notebook7 import open_and_run_nb7
from .test_jupyterlab import set_control
from .test_view3d import BLUE, PLOT, VIEW3D_CODE, full_data, legend_names, wait_for_view, wait_title

def test_view3d_in_notebook7(notebook7, gl_page):
    page = gl_page
    open_and_run_nb7(page, notebook7, "view3d.ipynb", VIEW3D_CODE)
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    page.wait_for_selector('[data-testid="view3d"]', timeout=120_000)
    wait_for_view(page)
    assert [t["name"] for t in full_data(page)] == ["input", "CAM > 0", "CAM < 0"]
    assert full_data(page)[2]["n"] == 0 and legend_names(page) == ["input", "CAM > 0"]
    set_control(page, "method-select", "respondcam")
    wait_title(page, "respondcam")
    page.wait_for_function(f"() => {PLOT}._fullData[2]._input.x.length > 0", timeout=30_000, polling=100)
    wait_for_view(page)
    negative = full_data(page)[2]
    assert negative["color"] == BLUE and negative["showlegend"] is True and negative["visible"] is True
    assert legend_names(page) == ["input", "CAM > 0", "CAM < 0"]
    assert not page.errors, page.errors
