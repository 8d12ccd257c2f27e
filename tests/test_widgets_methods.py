"""Every method of Table 1 in the widgets: the selects offer them under the papers' names (the picker
leaves `cam` disabled, with why), each one's map is the explainer's, `cam` on a head that is not global
average pooling + linear shows the core's error and keeps the map on screen, and the slow methods send
their forward batches to the browser as throttled progress messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, CAMViewer, PixelSet, PixelSetPicker
from cam_widgets.methods import METHODS
from cam_widgets.targets import from_prediction
from cam_widgets.widgets.base import encode_map
from cam_widgets.widgets.figure import map_titles

from .models import classifier, segnet


def gap_classifier(channels: int = 6) -> nn.Sequential:
    """Conv-ReLU-Conv-ReLU, global average pooling, one linear layer: `cam` is defined at "3"."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, channels, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 3)).double().eval()


def image(seed: int = 0, side: int = 8) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(1, side, side, dtype=torch.float64)


class Sent(list):
    """The custom messages a widget sent (its ``send``, recorded)."""

    def progress(self) -> list[dict]:
        return [m for m in self if m.get("type") == "progress"]


def record_sent(widget) -> Sent:
    sent = Sent()
    widget.send = lambda content, buffers=None: sent.append(content)
    return sent


def test_the_viewer_offers_every_method_under_its_papers_name():
    viewer = CAMViewer(CAMExplainer(gap_classifier(), layers=["3"]), image())
    assert viewer.methods == list(METHODS)  # every method, in the registry's order
    info = viewer.method_info
    assert list(info) == list(METHODS)
    labels = {name: entry["label"] for name, entry in info.items()}
    assert labels["gradcam"] == "Grad-CAM" and labels["scorecam"] == "Score-CAM" and labels["xrescam"] == "Seg-XRes-CAM"
    assert labels["liftcam"] == "LIFT-CAM" and labels["eigengradcam"] == "Eigen-Grad-CAM" and labels["cam"] == "CAM"
    assert all(entry["unavailable"] == "" for entry in info.values())
    assert info["scorecam"]["kind"] == "perturbation" and info["scorecam"]["paper"] == METHODS["scorecam"].paper
    assert info["eigencam"]["class_agnostic"] and info["fullgrad"]["layer"] == "all biases"


def test_the_picker_names_seg_methods_and_leaves_cam_out_with_why():
    picker = PixelSetPicker(CAMExplainer(segnet(), layers=["bottleneck"]), image(1))
    assert "cam" not in picker.methods and picker.methods == [n for n in METHODS if n != "cam"]
    info = picker.method_info
    assert info["cam"]["unavailable"].startswith("n/a for pixel sets") and info["cam"]["label"] == "CAM"
    assert info["gradcam"]["label"] == "Seg-Grad-CAM" and info["hirescam"]["label"] == "Seg-HiRes-Grad-CAM"
    assert info["scorecam"]["label"] == "Seg-Score-CAM" and info["xrescam"]["label"] == "Seg-XRes-CAM"
    assert info["eigencam"]["label"] == "Eigen-CAM"  # class-agnostic: no pixel set changes it
    picker.method = "cam"  # refused as any invalid value: the widget keeps its method and says why
    assert picker.method == "hirescam" and "n/a for pixel sets" in picker.error
    picker.compare_method = "CAM"
    assert picker.compare_method == "" and "was not applied" in picker.error
    with pytest.raises(ValueError, match="n/a for pixel sets"):
        PixelSetPicker(CAMExplainer(segnet(), layers=["bottleneck"]), image(1), method="cam")
    # the viewer on a segmentation model explains pixel sets too: the same rule
    viewer = CAMViewer(CAMExplainer(segnet(), layers=["bottleneck"]), image(1))
    assert "cam" not in viewer.methods and viewer.method_info["scorecam"]["label"] == "Seg-Score-CAM"


@pytest.mark.parametrize("method", [n for n in METHODS if n not in ("gradcam", "gradcam++", "hirescam", "xgradcam",
                                                                     "layercam", "respondcam")])
def test_each_new_method_in_the_viewer_is_the_explainers_map(method):
    model = gap_classifier()
    explainer = CAMExplainer(model, layers=["3"])
    x = image()
    viewer = CAMViewer(explainer, x, target_class=2)
    viewer.method = method
    assert viewer.error == "" and viewer.method == method and viewer.result.method == method
    want = CAMExplainer(model, layers=["3"]).explain(x[None], 2, method, "3", progress=False)
    assert torch.allclose(viewer.result.map, want.map, rtol=1e-6, atol=1e-9)
    assert viewer.cam == encode_map(viewer.result.map[0].float(), want.signed)  # what the browser draws
    # and as the compare map
    viewer.compare_method = method
    assert viewer.compare_result.method == method and viewer.compare


def test_each_method_in_the_picker_explains_the_pixel_set():
    model = segnet()
    explainer = CAMExplainer(model, layers=["bottleneck"])
    x = image(1)
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:7] = True
    picker = PixelSetPicker(explainer, x, target_class=1, mask=mask)
    for method in picker.methods:
        picker.method = method
        assert picker.error == "" and picker.result.method == method, (method, picker.error)
        want = CAMExplainer(model, layers=["bottleneck"]).explain(x[None], PixelSet(1, torch.from_numpy(mask)), method,
                                                                  "bottleneck", progress=False)
        assert torch.allclose(picker.result.map, want.map, rtol=1e-6, atol=1e-9), method


def test_cam_on_a_head_that_is_not_gap_linear_shows_the_cores_error_and_keeps_the_map():
    explainer = CAMExplainer(classifier(2), layers=["7"])
    viewer = CAMViewer(explainer, image(), target_class=1)
    shown = (viewer.cam["buffer"], viewer.result)
    viewer.method = "cam"
    assert viewer.method == "gradcam" and (viewer.cam["buffer"], viewer.result) == shown
    assert viewer.error.startswith("method = 'cam' failed (kept 'gradcam'): ValueError: ")
    assert "gradcam" in viewer.error.split("ValueError: ", 1)[1]  # the core's error suggests Grad-CAM
    viewer.method = "scorecam"  # the next change works and clears the error
    assert viewer.error == "" and viewer.result.method == "scorecam"


def test_cam_on_a_gap_linear_head():
    explainer = CAMExplainer(gap_classifier(), layers=["3"])
    viewer = CAMViewer(explainer, image(), method="cam", target_class=0)
    assert viewer.error == "" and viewer.result.method == "cam"


def test_slow_methods_send_their_forward_batches_throttled(monkeypatch):
    model = gap_classifier(channels=40)
    viewer = CAMViewer(CAMExplainer(model, layers=["3"]), image(), target_class=0)
    sent = record_sent(viewer)
    viewer.method = "gradcam++"  # a gradient method: no extra passes, no progress
    assert sent.progress() == []

    # every batch when the interval is 0: 40 channels in batches of 8 rows -> 5 batches, counted in channels
    monkeypatch.setattr(CAMViewer, "PROGRESS_INTERVAL", 0.0)
    from cam_widgets.methods import ScoreCAM

    calls = []
    explain = viewer.explainer.explain

    def spy(x, target=None, method="gradcam", layer=None, **options):
        calls.append(options)
        return explain(x, target, ScoreCAM(batch_size=8) if method == "scorecam" else method, layer, **options)

    monkeypatch.setattr(viewer.explainer, "explain", spy)
    viewer.method = "scorecam"
    progress = sent.progress()
    assert callable(calls[-1]["progress"])
    assert [(p["done"], p["total"]) for p in progress] == [(8 * k, 40) for k in range(1, 6)]
    assert all(p["which"] == "cam" and p["method"] == "scorecam" and p["label"] == "Score-CAM" for p in progress)

    # throttled: with a long interval only the first and the last batch are sent
    monkeypatch.setattr(CAMViewer, "PROGRESS_INTERVAL", 60.0)
    sent.clear()
    viewer.target_class = 1
    assert [(p["done"], p["total"]) for p in sent.progress()] == [(8, 40), (40, 40)]

    # the compare map's progress says so
    sent.clear()
    viewer.method, viewer.compare_method = "gradcam", "scorecam"
    assert {p["which"] for p in sent.progress()} == {"compare"}
    assert viewer.error == ""


def test_progress_is_sent_while_the_traits_are_held():
    """The maps travel in one message after the explanation; the progress messages go before it (a
    custom message is not held by hold_sync)."""
    viewer = CAMViewer(CAMExplainer(gap_classifier(channels=40), layers=["3"]), image(), target_class=0)
    order = []
    viewer.send = lambda content, buffers=None: order.append(content.get("type"))
    viewer.observe(lambda change: order.append("cam"), names=["cam"])
    viewer.PROGRESS_INTERVAL = 0.0
    from cam_widgets.methods import ScoreCAM

    explain = viewer.explainer.explain
    viewer.explainer.explain = lambda x, target=None, method="gradcam", layer=None, **o: explain(
        x, target, ScoreCAM(batch_size=8) if method == "scorecam" else method, layer, **o)
    viewer.method = "scorecam"
    assert order[-1] == "cam" and order.count("progress") == 5


def test_fullgrad_titles_name_all_biases():
    viewer = CAMViewer(CAMExplainer(gap_classifier(), layers=["3"]), image(), method="fullgrad", target_class=0,
                       compare_method="gradcam")
    titles = map_titles(viewer)
    assert titles["main"].startswith("fullgrad · all biases · ") and titles["compare"].startswith("gradcam · 3 · ")
    assert viewer.result.layer == "all biases"


def test_segmentation_viewer_with_scorecam_explains_the_predicted_region():
    model = segnet()
    x = image(2)
    viewer = CAMViewer(CAMExplainer(model, layers=["bottleneck"]), x, method="scorecam")
    output = model(x[None])
    target = PixelSet(viewer.target_class, from_prediction(output, viewer.target_class))
    want = CAMExplainer(model, layers=["bottleneck"]).explain(x[None], target, "scorecam", "bottleneck", progress=False)
    assert torch.allclose(viewer.result.map, want.map, rtol=1e-6, atol=1e-9)


def test_an_interrupted_slow_method_keeps_the_map_on_screen(monkeypatch):
    """Interrupting the kernel during a Score-CAM (KeyboardInterrupt from inside explain): the interrupt
    reaches the caller, and the widget is left as after any failed explanation."""
    viewer = CAMViewer(CAMExplainer(gap_classifier(channels=40), layers=["3"]), image(), target_class=0)
    shown = (viewer.cam["buffer"], viewer.result)
    explain = viewer.explainer.explain

    def interrupted(x, target=None, method="gradcam", layer=None, **options):
        if method == "scorecam":
            def stop(done, total):
                raise KeyboardInterrupt
            return explain(x, target, method, layer, progress=stop)
        return explain(x, target, method, layer, **options)

    monkeypatch.setattr(viewer.explainer, "explain", interrupted)
    with pytest.raises(KeyboardInterrupt):
        viewer.method = "scorecam"
    assert viewer.method == "gradcam" and (viewer.cam["buffer"], viewer.result) == shown and not viewer.busy
    assert viewer.error == "method = 'scorecam' failed (kept 'gradcam'): KeyboardInterrupt"
    viewer.method = "layercam"
    assert viewer.error == "" and viewer.result.method == "layercam"
