"""The 3D view (``viewer.view_3d()``, ``widgets/view3d*.py``) and its meshing (``widgets/isosurfaces.py``):
levels, the default input level against simulated ground truth at SNR 0.1, the traces in every state,
what is meshed again, the deferred update, the title, the camera, the picture, the controls' checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from cam_widgets import CAMExplainer, CAMViewer
from cam_widgets.datasets import make_subtomograms
from cam_widgets.widgets import isosurfaces, view3d_schedule
from cam_widgets.widgets.view3d import View3D
from cam_widgets.widgets.view3d_figure import COLOURS, UIREVISION

from .models import classifier

BLUE, RED, GREY = COLOURS["negative"], COLOURS["positive"], COLOURS["input"]


def make_viewer(method: str = "gradcam", n: int = 3, side: int = 16, seed: int = 0) -> CAMViewer:
    torch.manual_seed(seed)
    x = 0.3 * torch.randn(n, 1, side, side, side)
    x[:, 0, 4:10, 5:11, 3:9] += 2.0
    explainer = CAMExplainer(classifier(3, side=side, seed=seed).float(), layers=["4", "1"])
    return CAMViewer(explainer, x, class_names=["a", "b", "c", "d", "e"], method=method)


def traces(view: View3D) -> list[dict]:
    return [{"name": d.name, "color": d.color, "showlegend": d.showlegend, "visible": d.visible, "n": len(d.x)}
            for d in view.figure.data]


def signed_with_negative(view: View3D) -> None:
    """Switch the viewer to Respond-CAM on a class whose map has a CAM < 0 surface at the view's level."""
    viewer = view.viewer
    for target in range(len(viewer.class_names)):
        viewer.method, viewer.target_class = "respondcam", target
        if not view.surfaces["negative"].empty:
            return
    pytest.fail("no class of the test model has a negative Respond-CAM surface")


# --- levels and meshing ------------------------------------------------------------------------------


def test_grid_coordinates_and_levels():
    z, y, x = np.meshgrid(*(np.arange(48.0),) * 3, indexing="ij")
    ball = np.sqrt((z - 20) ** 2 + (y - 24) ** 2 + (x - 28) ** 2)
    grid = isosurfaces.to_grid(-ball, max_voxels=16**3)  # pooled 48 -> 16 per axis
    assert grid.values.shape == (16, 16, 16) and grid.shape == (48, 48, 48)
    surface = isosurfaces.mesh(grid, -10.0)
    radius = np.linalg.norm(surface.vertices - np.array([20, 24, 28]), axis=1)
    assert np.abs(radius - 10).max() < 1.6  # input voxel coordinates, not grid ones
    values = np.concatenate([np.zeros(900), np.linspace(0, 10, 100)])
    assert isosurfaces.input_level(isosurfaces.Grid(values.reshape(10, 10, 10), (10, 10, 10))) == pytest.approx(
        0.0 + isosurfaces.INPUT_LEVEL_FRACTION * 10)
    cam = np.zeros((12, 12, 12))
    cam[2:5, 2:5, 2:5], cam[7:10, 7:10, 7:10] = 4.0, -2.0
    positive, negative = isosurfaces.cam_surfaces(isosurfaces.to_grid(cam), isosurfaces.cam_bound(cam), 0.25)
    assert (positive.level, negative.level) == (1.0, -1.0)
    assert positive.vertices.mean(0) == pytest.approx([3, 3, 3], abs=0.2)
    assert negative.vertices.mean(0) == pytest.approx([8, 8, 8], abs=0.2)
    assert isosurfaces.mesh(grid, 5.0).empty and isosurfaces.cam_surfaces(isosurfaces.to_grid(cam * 0), 0.0, 0.5)[0].empty


def test_vertex_count_is_bounded():
    noise = np.random.default_rng(0).standard_normal((64, 64, 64))
    grid = isosurfaces.to_grid(noise)
    assert len(isosurfaces.mesh(grid, 0.0, max_vertices=10**9).vertices) > 100_000
    bounded = isosurfaces.mesh(grid, 0.0, max_vertices=20_000)
    assert len(bounded.vertices) <= 20_000 and bounded.step > 1
    assert isosurfaces.grid_shape((128, 128, 128)) == (64, 64, 64) and isosurfaces.grid_shape((20, 40, 80)) == (20, 40, 80)


def _inside(surface, mask: np.ndarray) -> float:
    index = np.clip(np.round(surface.vertices).astype(int), 0, np.array(mask.shape) - 1)
    return float(mask[index[:, 0], index[:, 1], index[:, 2]].mean())


def test_default_input_level_finds_the_particle_at_snr_0_1():
    """Ground truth: the same molecules without noise or missing wedge (same seed). The default level's
    surface lies on the particle (within 2 voxels of where its density exceeds 30% of its peak); the
    old level, mean + 0.5 std of the raw volume, cuts the noise."""
    n = 20
    noisy, _ = make_subtomograms(n, size=24, snr=0.1, seed=2)
    clean, _ = make_subtomograms(n, size=24, snr=None, missing_wedge=False, seed=2)
    new, old, covered = [], [], []
    for volume, truth in zip(noisy[:, 0], clean[:, 0]):
        particle = truth > 0.3 * truth.max()
        near = ndimage.binary_dilation(particle, iterations=2)
        smooth = isosurfaces.smoothed(isosurfaces.to_grid(volume))
        level = isosurfaces.input_level(smooth)
        new.append(_inside(isosurfaces.mesh(smooth, level), near))
        covered.append((particle & (smooth.values > level)).sum() / particle.sum())
        old.append(_inside(isosurfaces.mesh(isosurfaces.to_grid(volume), float(volume.mean() + 0.5 * volume.std())), near))
    assert np.median(new) > 0.95 and np.mean(np.array(new) >= 0.8) >= 0.9, new
    assert np.median(covered) > 0.6, covered  # and it is the particle, not a speck of it
    assert np.median(old) < 0.2 and max(old) < 0.5, old


# --- the traces ----------------------------------------------------------------------------------------


def test_traces_have_names_colours_and_legend_in_every_state():
    view = make_viewer("gradcam").view_3d()
    assert [t["name"] for t in traces(view)] == ["input", "CAM > 0", "CAM < 0"]
    assert [t["color"] for t in traces(view)] == [GREY, RED, BLUE]
    first = traces(view)
    assert first[2]["n"] == 0 and first[2]["showlegend"] is False  # Grad-CAM is >= 0: no negative surface
    assert first[0]["showlegend"] and first[1]["showlegend"]
    assert "≥ 0" in view.controls.notes
    signed_with_negative(view)  # the negative surface is created from empty by an update
    after = traces(view)
    assert after[2] == {"name": "CAM < 0", "color": BLUE, "showlegend": True, "visible": True, "n": after[2]["n"]}
    assert after[2]["n"] > 0 and [t["color"] for t in after] == [GREY, RED, BLUE]
    view.show_negative = False
    assert traces(view)[2]["visible"] is False and traces(view)[2]["color"] == BLUE
    view.show_negative, view.cam_level = True, 0.99
    empty = [t for t in traces(view) if t["n"] == 0]
    assert all(not t["showlegend"] for t in empty) and [t["color"] for t in traces(view)] == [GREY, RED, BLUE]


def test_traces_are_complete_from_the_start_and_an_update_never_sends_the_camera():
    """Every trace is built with all its properties, also an empty one (the browser's copy starts
    complete; Plotly then sends what changed); an update never removes a property nor moves the camera."""
    view = make_viewer("gradcam").view_3d()
    state = view.figure._widget_data
    assert [(d["name"], d["color"], "lighting" in d, "opacity" in d) for d in state] == [
        ("input", GREY, True, True), ("CAM > 0", RED, True, True), ("CAM < 0", BLUE, True, True)]
    sent = []
    view.figure.observe(lambda change: change["new"] and sent.append((change["name"], change["new"])),
                        names=["_py2js_update", "_py2js_restyle", "_py2js_relayout", "_py2js_removeTraceProps"])
    view.figure._js2py_relayout = {"relayout_data": {"scene.camera": {"eye": {"x": 2.0, "y": 0.2, "z": 0.4}}},
                                   "source_view_id": "a-view"}  # the user turns the scene in the browser
    sent.clear()  # (Plotly passes that on to the figure's other views)
    signed_with_negative(view)
    assert view.figure.layout.scene.camera.eye.x == 2.0 and view.figure.layout.uirevision == UIREVISION
    assert sent and all(name == "_py2js_update" for name, _ in sent)  # no property removed
    assert not any("camera" in str(message["layout_data"]) for _, message in sent)
    created = [message["style_data"] for _, message in sent if 2 in message["style_traces"]]
    assert created and {"x", "i", "showlegend"} <= set(created[0])  # the negative surface: geometry + legend


# --- what is meshed, and when --------------------------------------------------------------------------


def test_a_class_change_meshes_only_the_cam(monkeypatch):
    calls = []
    original = isosurfaces.mesh
    monkeypatch.setattr(isosurfaces, "mesh", lambda grid, level, *a: calls.append(level) or original(grid, level, *a))
    view = make_viewer("respondcam").view_3d()
    cache = view._cache
    cam_meshes = lambda: sum(latest.computed for latest in cache.cam_meshes.values())
    input_meshes, before = cache.input_surfaces.computed, cam_meshes()
    calls.clear()
    view.viewer.target_class = (view.viewer.target_class + 1) % 5
    assert cache.input_surfaces.computed == input_meshes and cam_meshes() == before + 2
    assert len(calls) == 2 and view.controls.input_level not in calls  # CAM > 0 and CAM < 0 only
    calls.clear()
    view.input_opacity = 0.3  # a restyle
    assert calls == [] and view.figure.data[0].opacity == 0.3
    view.input_level = view.controls.input_range[0] + 0.3 * np.ptp(view.controls.input_range)
    assert calls == [view.input_level] and not view.input_auto  # the input's surface only
    view.input_auto = True  # back to the data's level
    calls.clear()
    view.viewer.sample = 1  # a new image: its input surface (at its own default level) and the CAM's
    grid = view._input_grid()
    assert len(calls) == 3 and view.input_level in calls and view.input_level == isosurfaces.input_level(grid)


class FakeLoop:
    """An event loop as the 3D view uses it: callbacks soon (``call_soon``) or later (``call_later``)."""

    def __init__(self):
        self.soon, self.later = [], []

    def call_soon(self, f):
        self.soon.append(f)

    def call_later(self, delay, f):
        self.later.append((delay, f))

    def turn(self) -> bool:
        """One turn: the callbacks due now, else the first timer; False when nothing is left."""
        if self.soon:
            ready, self.soon = self.soon, []
            for f in ready:
                f()
        elif self.later:
            self.later.pop(0)[1]()
        else:
            return False
        return True

    def run(self):
        while self.turn():
            pass


def test_the_update_waits_for_the_viewers_send_and_the_browser_and_is_coalesced(monkeypatch):
    viewer = make_viewer("respondcam")
    view = viewer.view_3d()
    loop, events, asked = FakeLoop(), [], []
    monkeypatch.setattr(view3d_schedule, "kernel_loop", lambda: loop)
    monkeypatch.setattr(view, "_ask_idle", lambda token: events.append("asked") or asked.append(token))
    sent = viewer.send_state
    monkeypatch.setattr(viewer, "send_state", lambda *a, **k: events.append("viewer sent") or sent(*a, **k))
    original = isosurfaces.mesh
    monkeypatch.setattr(isosurfaces, "mesh", lambda *a: events.append("mesh") or original(*a))
    before, updates = view.figure.data[1].x, view.updates
    for target in (1, 2, 3):
        viewer.target_class = target
    assert "mesh" not in events and view.figure.data[1].x is before and view.title.endswith("· respondcam · 4")
    assert len(loop.soon) == 1 and asked == []  # one update for the three changes, after their handlers
    loop.turn()
    assert events.index("asked") > max(i for i, e in enumerate(events) if e == "viewer sent")
    assert [delay for delay, _ in loop.later] == [view3d_schedule.FALLBACK] and "mesh" not in events
    view._on_message(view.controls, {"type": "idle", "token": asked[0] + 1}, [])  # not the question asked
    assert "mesh" not in events
    view._on_message(view.controls, {"type": "idle", "token": asked[0]}, [])  # the browser has drawn
    assert events.count("mesh") == 1 and view.controls.busy  # one step now, the next in the next turn
    loop.run()  # (the fallback timer finds nothing to do)
    assert view.updates == updates + 1 and events.count("mesh") == 2
    assert "class d" in view.title  # the last class asked for
    assert view.controls.busy is False
    viewer.target_class = 0  # no answer (the view is not on screen): the fallback timer runs it
    loop.run()
    assert view.updates == updates + 2 and "class a" in view.title
    viewer.target_class = 1  # set by a cell: done when the cell has run (post_run_cell), pictures too
    assert view in view3d_schedule._waiting
    view3d_schedule._finish_waiting()
    assert view.updates == updates + 3 and "class b" in view.title and view not in view3d_schedule._waiting


def test_a_change_during_an_update_is_handled_first(monkeypatch):
    """The update runs one step per turn of the loop; a change between two steps starts it again with
    that change (the surfaces already meshed are not meshed again)."""
    viewer = make_viewer("respondcam")
    view = viewer.view_3d()
    loop = FakeLoop()
    monkeypatch.setattr(view3d_schedule, "kernel_loop", lambda: loop)
    viewer.sample = 1  # the image and the map: input, CAM > 0 and CAM < 0
    loop.turn(), loop.turn()  # asked the browser; no answer: the fallback timer, the first step
    assert view.controls.busy and view._steps is not None and view.surfaces["input"] is not None
    inputs = view._cache.input_surfaces.computed
    loop.turn()  # the input's surface
    assert view._cache.input_surfaces.computed == inputs + 1
    viewer.target_class = (viewer.target_class + 1) % 5  # arrives between two steps
    loop.run()
    assert view._cache.input_surfaces.computed == inputs + 1  # not meshed twice
    assert view.updates == 1 and not view.controls.busy and view.title.startswith("sample 1 ·")
    cam = view._cam_surface("positive")
    assert view.surfaces["positive"] is cam and view.figure.data[1].x.shape == (len(cam.vertices),)
    view.cam_level = 0.3
    view.refresh()  # at once, without the loop
    assert view.surfaces["positive"].level == pytest.approx(0.3 * view._cam_grid()[1]) and view.updates == 2
    loop.run()  # the update scheduled for cam_level finds nothing left to do
    assert view.updates == 2


def test_title_names_sample_class_method_layer():
    view = make_viewer("gradcam").view_3d()
    viewer = view.viewer
    viewer.sample, viewer.method, viewer.layer = 2, "respondcam", "1"
    viewer.target_class = 4
    assert view.title == "sample 2 · class e · respondcam · 1" == view.controls.title


def test_a_failed_update_says_so_and_the_viewer_keeps_working(monkeypatch):
    view = make_viewer("gradcam").view_3d()
    monkeypatch.setattr(isosurfaces, "mesh", lambda *a: (_ for _ in ()).throw(RuntimeError("no memory")))
    view.viewer.target_class = 2
    assert view.viewer.target_class == 2 and view.viewer.error == ""
    assert "could not update" in view.controls.error and "no memory" in view.controls.error
    monkeypatch.undo()
    view.viewer.target_class = 3
    assert view.controls.error == ""


# --- theme, width, picture, text -----------------------------------------------------------------------


def test_theme_and_width_come_from_the_browser():
    view = make_viewer().view_3d()
    light = view.figure.layout.font.color
    view.controls.set_state({"theme": "dark", "background": "rgb(33, 33, 33)", "foreground": "rgb(230, 230, 230)"})
    layout = view.figure.layout
    assert layout.paper_bgcolor == "rgb(33, 33, 33)" and layout.font.color == "rgb(230, 230, 230)" != light
    assert layout.scene.xaxis.gridcolor == "rgb(70, 70, 70)" and layout.template.layout.paper_bgcolor == "rgb(17,17,17)"
    view.controls.width = 812
    assert view.figure.layout.width == 812


def test_picture_is_three_projections_with_cam_outlines():
    view = make_viewer("gradcam").view_3d()
    red, blue = (np.array(eval(c[3:])) for c in (RED, BLUE))
    count = lambda image, colour: int((image == colour).all(-1).sum())
    picture = view.picture()
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[1] > 3 * 256
    assert count(picture, red) > 50 and count(picture, blue) == 0  # Grad-CAM: no negative outline
    signed_with_negative(view)
    assert count(view.picture(), blue) > 50
    view.show_positive = False
    assert count(view.picture(), red) == 0
    assert view.static_png(1)[:8] == b"\x89PNG\r\n\x1a\n" and view.png_filename().endswith(".png")


def test_text_fallback_is_short_and_the_picture_is_png():
    view = make_viewer().view_3d()
    data = view._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "image/png" in data and len(data["text/plain"]) < 200 and "mesh3d" not in data["text/plain"].lower()
    assert repr(view).startswith("<View3D sample 0 · class") and len(repr(view)) < 200


# --- controls ------------------------------------------------------------------------------------------


def test_controls_are_checked():
    viewer = make_viewer()
    with pytest.raises(ValueError, match="cam_level"):
        viewer.view_3d(cam_level=1.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'levle'"):
        viewer.view_3d(levle=1)
    view = viewer.view_3d(cam_level=0.3, input_opacity=0.2, show_input=False)
    assert (view.cam_level, view.figure.data[0].opacity, view.figure.data[0].visible) == (0.3, 0.2, False)
    for name, bad in [("cam_level", 0.0), ("cam_level", float("nan")), ("input_opacity", 1.5), ("cam_opacity", -0.1),
                      ("input_level", view.controls.input_range[1] + 1.0)]:
        kept = getattr(view, name)
        setattr(view, name, bad)
        assert getattr(view, name) == kept and name in view.controls.error and "was not applied" in view.controls.error
    view.cam_level = 0.4  # a valid value clears the refusal
    assert view.controls.error == "" and view.cam_level == 0.4
    view.controls.theme = "blue"
    assert view.controls.theme == "light" and "theme" in view.controls.error


def test_input_level_follows_the_data_until_set():
    view = make_viewer().view_3d()
    default = view.input_level
    assert view.input_auto and view.controls.input_range[0] < default < view.controls.input_range[1]
    level = default * 0.9
    view.input_level = level
    assert not view.input_auto
    view.viewer.sample = 1
    assert view.input_level == level and not view.input_auto  # the user's level stays
    view.input_auto = True
    assert view.input_level != level and view.input_auto


def test_a_2d_viewer_has_no_3d_view_and_close_stops_following():
    explainer = CAMExplainer(classifier(2).float(), layers=["4"])
    with pytest.raises(ValueError, match="needs a volume"):
        CAMViewer(explainer, torch.randn(1, 8, 8)).view_3d()
    view = make_viewer().view_3d()
    updates = view.updates
    view.close()
    view.viewer.target_class = 2
    assert view.updates == updates


def test_figure3_uses_the_same_meshing(monkeypatch):
    from cam_widgets.experiments import figure3

    levels = []
    original = isosurfaces.mesh
    monkeypatch.setattr(isosurfaces, "mesh", lambda grid, level, *a: levels.append(level) or original(grid, level, *a))
    viewer = make_viewer("respondcam", n=1)
    volume = viewer._samples[0][0]
    figure = figure3.isosurfaces(viewer.explainer, volume)
    expected = isosurfaces.input_level(isosurfaces.smoothed(isosurfaces.to_grid(volume[0].numpy())))
    assert len(levels) == 3 and any(level == pytest.approx(expected) for level in levels)
    assert [(d.name, d.color, d.type) for d in figure.data] == [("input", GREY, "mesh3d"), ("CAM > 0", RED, "mesh3d"),
                                                               ("CAM < 0", BLUE, "mesh3d")]


EXECUTED_CODE = """
import torch
from cam_widgets import CAMExplainer, CAMViewer
from tests.models import classifier
torch.manual_seed(0)
x = 0.3 * torch.randn(1, 1, 16, 16, 16)
x[:, 0, 4:10, 5:11, 3:9] += 2.0
viewer = CAMViewer(CAMExplainer(classifier(3, side=16).float(), layers=["4"]), x, class_names=list("abcde"))
view = viewer.view_3d()
view
"""


def test_an_executed_notebook_keeps_the_final_picture():
    """A cell's change reaches the 3D view and its saved picture when the cell has run (no browser)."""
    import base64
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(EXECUTED_CODE),
                      nbformat.v4.new_code_cell("viewer.method, viewer.target_class = 'respondcam', 2")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(__file__).parents[1])}}).execute()
    saved = [base64.b64decode(out["data"]["image/png"]) for out in notebook.cells[0].outputs
             if "image/png" in out.get("data", {})]
    namespace: dict = {}
    exec(EXECUTED_CODE.replace("\nview\n", "\n"), namespace)
    first = namespace["view"]._static_png_or_none()
    namespace["viewer"].method, namespace["viewer"].target_class = "respondcam", 2
    assert saved == [namespace["view"]._static_png_or_none()] and saved[0] != first
