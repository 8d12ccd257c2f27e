"""PNG export (``widgets/export.py``): one picture for ``save_png``, the browser's PNG button and the
notebook's static fallback, which follows state changes through its output's display id."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

import cam_widgets.widgets.export as export
from cam_widgets import CAMExplainer
from cam_widgets.widgets import CAMViewer, PixelSetPicker
from cam_widgets.widgets.export import WIDGET_MIME
from cam_widgets.widgets.figure import MIN_SIDE, widget_figure
from tests.models import classifier, segnet


def png_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture
def viewer():
    return CAMViewer(CAMExplainer(classifier(2), layers=["4"]), torch.randn(1, 8, 8, dtype=torch.float64),
                     class_names=list("abcde"))


@pytest.fixture
def picker():
    return PixelSetPicker(CAMExplainer(segnet(), layers=["dec"]), torch.randn(1, 16, 16, dtype=torch.float64))


@pytest.mark.parametrize("name", ["viewer", "picker"])
def test_the_mime_bundle_carries_the_picture(name, request):
    widget = request.getfixturevalue(name)  # the picker before anything was picked
    data, _ = widget._repr_mimebundle_()
    assert WIDGET_MIME in data and data[WIDGET_MIME]["model_id"] == widget.model_id
    png = base64.b64decode(data["image/png"])
    assert png_size(png)[0] >= MIN_SIDE and np.array_equal(pixels(png), widget_figure(widget, 1))


def test_save_png_and_the_png_button_give_the_same_file(viewer, tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr(viewer, "send", lambda content, buffers=None: sent.append((content, buffers)))
    viewer.opacity, viewer.colormap = 0.8, "viridis"
    for scale in (1, 3):
        viewer._handle_export_message(viewer, {"type": "png", "scale": scale}, [])
        content, (png,) = sent.pop()
        assert content == {"type": "png", "filename": f"cam_gradcam_4_class{viewer.target_class}.png"}
        assert bytes(png) == viewer.save_png(tmp_path / "p.png", scale=scale).read_bytes() == viewer.static_png(scale)
    assert png_size(viewer.static_png(2))[0] >= 2 * MIN_SIDE


@pytest.mark.parametrize("scale", [0, 9, 2.5, "2", True, None])
def test_the_png_button_refuses_a_bad_scale(viewer, monkeypatch, scale):
    sent = []
    monkeypatch.setattr(viewer, "send", lambda content, buffers=None: sent.append((content, buffers)))
    viewer._handle_export_message(viewer, {"type": "png", "scale": scale}, [])
    (content, buffers), = sent
    assert content["type"] == "error" and "scale must be an integer 1..8" in content["message"] and not buffers
    viewer._handle_export_message(viewer, {"type": "something else"}, [])
    assert len(sent) == 1
    with pytest.raises(ValueError, match="scale"):
        viewer.save_png("never.png", scale=scale)


def test_the_picker_file_name_says_when_no_class_was_chosen(picker):
    assert picker.png_filename() == "cam_hirescam_dec_noclass.png"


class FakeLoop:
    def __init__(self):
        self.later = []

    def add_callback(self, callback):
        callback()

    def call_later(self, delay, callback):
        self.later.append((delay, callback))


class FakeShell:
    def __init__(self):
        self.kernel = type("Kernel", (), {"io_loop": FakeLoop()})()
        self.hooks = []
        self.events = type("Events", (), {"register": lambda _, name, f: self.hooks.append((name, f))})()


@pytest.fixture
def notebook(monkeypatch):
    """A fake kernel: what is displayed and updated, the timers of the event loop of the thread handling a
    message (``kernel_loop``), the post_run_cell hooks."""
    import IPython.display

    shell, shown = FakeShell(), []
    monkeypatch.setattr(export, "_shell", lambda: shell)
    monkeypatch.setattr(export, "_hooked", set())
    monkeypatch.setattr(export, "kernel_loop", lambda: shell.kernel.io_loop)
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: shown.append(("display", data, kw)))
    monkeypatch.setattr(IPython.display, "update_display", lambda data, **kw: shown.append(("update", data, kw)))
    return shell, shown


def test_the_notebook_picture_follows_the_state(viewer, notebook):
    shell, shown = notebook
    viewer._ipython_display_()
    (_, live, live_kw), (_, static, static_kw) = shown
    assert live[WIDGET_MIME]["model_id"] == viewer.model_id and "image/png" not in live and "display_id" not in live_kw
    assert static[WIDGET_MIME]["model_id"] == ""  # JupyterLab hides this output; static viewers show the PNG
    display_id = static_kw["display_id"]
    assert base64.b64decode(static["image/png"]) == viewer.static_png(1)
    # after each cell only: post_execute also fires after every comm message, where the debounce must hold
    assert [name for name, _ in shell.hooks] == ["post_run_cell"]

    shown.clear()
    viewer.opacity = 0.9  # a display trait: one debounced refresh
    viewer.colormap = "jet"
    (delay, fire), = shell.kernel.io_loop.later
    assert 0 < delay <= viewer.STATIC_INTERVAL and shown == []
    fire()
    (kind, data, kw), = shown
    assert kind == "update" and kw["display_id"] == display_id and data[WIDGET_MIME]["model_id"] == ""
    assert base64.b64decode(data["image/png"]) == viewer.static_png(1)

    shown.clear()
    viewer.method = "layercam"  # a change in a cell is published at the end of that cell
    shell.hooks[0][1]()
    assert [kind for kind, *_ in shown] == ["update"]
    shown.clear()
    viewer.opacity = 0.9  # no change of the picture: nothing is sent
    viewer._refresh_static_png()
    shell.hooks[0][1]()
    for _, callback in shell.kernel.io_loop.later:
        callback()
    assert shown == []


def test_a_change_made_by_a_cell_waits_for_the_end_of_the_cell(viewer, notebook, monkeypatch):
    """Cell code runs outside an event loop: no timer, the picture is published once, after the cell."""
    shell, shown = notebook
    viewer._ipython_display_()
    shown.clear()
    monkeypatch.setattr(export, "kernel_loop", lambda: None)
    viewer.opacity, viewer.colormap = 0.8, "jet"
    assert shell.kernel.io_loop.later == [] and shown == []
    shell.hooks[0][1](None)  # IPython's post_run_cell passes the cell's result
    (kind, data, _), = shown
    assert kind == "update" and base64.b64decode(data["image/png"]) == viewer.static_png(1)


def test_the_same_output_mode_updates_the_widget_output(viewer, notebook, monkeypatch):
    shell, shown = notebook
    monkeypatch.setattr(viewer, "STATIC_OUTPUT", "same")
    viewer._ipython_display_()
    (_, data, kw), = shown
    assert data[WIDGET_MIME]["model_id"] == viewer.model_id and "image/png" in data and kw["display_id"]
    viewer.opacity = 0.1
    shell.hooks[0][1]()
    (_, update, update_kw) = shown[-1]
    assert update[WIDGET_MIME]["model_id"] == viewer.model_id and update_kw["display_id"] == kw["display_id"]
    assert base64.b64decode(update["image/png"]) == viewer.static_png(1)


def test_nothing_happens_outside_a_kernel(viewer, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: shown.append((data, kw)))
    monkeypatch.setattr(export, "_shell", lambda: None)
    viewer._refresh_static_png()  # before display, no kernel: nothing to do
    viewer._ipython_display_()
    (data, kw), = shown
    assert "image/png" in data and WIDGET_MIME in data and "display_id" not in kw
    viewer.opacity = 0.2
    viewer._refresh_static_png()
    assert len(shown) == 1


def test_a_closed_widget_displays_as_text(viewer, notebook):
    shell, shown = notebook
    viewer.close()
    viewer._ipython_display_()
    (_, data, kw), = shown
    assert list(data) == ["text/plain"] and "display_id" not in kw
    viewer._refresh_static_png()
    assert shell.kernel.io_loop.later == []


def test_the_notebooks_picture_of_a_large_image_is_subsampled_but_save_png_is_not():
    from cam_widgets.widgets.figure import widget_figure

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(2, 2)).eval()
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), torch.rand(1, 1200, 1000))
    rows = viewer.image["shape"][0]  # shown downsampled to at most 1024^2 voxels: more than 1000 rows
    full = widget_figure(viewer, 1)
    small = widget_figure(viewer, 1, viewer.STATIC_MAX_SIDE)
    assert rows > 1000 and full.shape[0] > rows and small.shape[0] < rows // 2 + 100  # every 3rd row of the panel
    bundle = viewer._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert Image.open(io.BytesIO(base64.b64decode(data["image/png"]))).size == (small.shape[1], small.shape[0])
    assert Image.open(io.BytesIO(viewer.static_png(1))).size == (full.shape[1], full.shape[0])  # save_png: all pixels
