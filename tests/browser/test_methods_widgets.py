"""Every method of Table 1 in the widgets' front ends, in headless Chromium.

The harness page (the built bundles on a fake model) with states made by real widgets in this process:
the method selects show the papers' names (the picker lists CAM disabled, with why); each method picked
in the browser is sent to Python, and the map Python answers with is drawn pixel for pixel as Python
composes it; the busy indicator shows a slow method's progress messages. And in a real JupyterLab 4: a
Score-CAM slow enough to watch shows its progress in the busy indicator, and slider moves during it end
with one explanation of the newest state (the running one finishes; nothing stale is queued)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cam_widgets import CAMExplainer, CAMViewer, PixelSetPicker
from cam_widgets.methods import METHODS
from cam_widgets.widgets.figure import map_titles
from cam_widgets.widgets.schema import trait_defaults

from .harness import Case, Harness, assert_pixels, expected, wire
from .test_jupyterlab import open_and_run, set_control, wait_for_received

NEW = ["cam", "scorecam", "ablationcam", "eigencam", "eigengradcam", "fullgrad", "liftcam", "xrescam"]
ARRAYS = ("image", "cam", "compare", "labels", "mask_bits")
PUSHED = ("method", "compare_method", "layer", "target_class", "cam", "cam_signed", "compare", "compare_signed",
          "error", "notice", "n_selected")


def gap_model(ndim: int = 2) -> nn.Module:
    """Conv-ReLU-Conv-ReLU, global average pooling, one linear layer: every method applies at "3", cam too."""
    torch.manual_seed(0)
    conv, pool = (nn.Conv2d, nn.AdaptiveAvgPool2d) if ndim == 2 else (nn.Conv3d, nn.AdaptiveAvgPool3d)
    return nn.Sequential(conv(1, 4, 3, padding=1), nn.ReLU(), conv(4, 6, 3, padding=1), nn.ReLU(), pool(1),
                         nn.Flatten(), nn.Linear(6, 3)).eval()


def seg_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(6, 3, 1)).eval()


def scene(shape=(18, 26)) -> torch.Tensor:
    torch.manual_seed(1)
    x = 0.3 * torch.randn(1, *shape)
    x[(0, *(slice(n // 4, n // 2 + 1) for n in shape))] += 2.0
    return x


def state_of(widget) -> dict:
    """The widget's synced state as the harness mounts it (arrays as base64)."""
    cls = type(widget)
    state = {k: v for k, v in widget.get_state().items() if k in trait_defaults(cls)}
    for name in ARRAYS:
        if name in state:
            state[name] = wire(getattr(widget, name)) if getattr(widget, name) else {}
    return state


def mount(h: Harness, widget, theme: str = "light") -> None:
    name = "pixel_set_picker" if isinstance(widget, PixelSetPicker) else "cam_viewer"
    h.page.goto(f"{h.url}/js/test/harness.html?theme={theme}")
    h.page.wait_for_function("() => typeof window.__mount === 'function'")
    h.js("async ([s, w]) => { await window.__mount(s, w); }", [state_of(widget), name])


def relay(h: Harness, widget, since: int) -> None:
    """As the kernel does with one message: the browser's saves (merged) set on the widget at once, then
    the traits Python set are sent back (busy around it, as the widget does)."""
    h.update("busy", True)
    widget.set_state(h.saved(since))
    for name in PUSHED:
        if not widget.has_trait(name):
            continue
        value = getattr(widget, name)
        if name in ARRAYS:
            h.set_array(name, value or None)
        else:
            h.update(name, value)
    h.update("busy", False)


def case_of(widget, which: str = "cam") -> Case:
    return Case(which, widget.image, getattr(widget, which), getattr(widget, f"{which}_signed"))


def option_texts(h: Harness, testid: str) -> list[dict]:
    return h.js("""(id) => [...document.querySelector(`[data-testid="${id}"]`).options].map(
                     (o) => ({ value: o.value, text: o.textContent, disabled: o.disabled, title: o.title }))""", testid)


def selected_text(h: Harness, testid: str) -> str:
    return h.js("(id) => { const s = document.querySelector(`[data-testid=\"${id}\"]`);"
                " return s.options[s.selectedIndex].textContent; }", testid)


def test_each_method_picked_in_the_viewer_draws_pythons_map(harness):
    viewer = CAMViewer(CAMExplainer(gap_model(), layers=["3"]), scene(), class_names=["a", "b", "c"], target_class=1)
    mount(harness, viewer)
    options = option_texts(harness, "method-select")
    assert [o["value"] for o in options] == list(METHODS)
    assert [o["text"] for o in options] == [METHODS[n].label for n in METHODS]
    assert not any(o["disabled"] for o in options)
    assert "Wang et al. 2020" in next(o["title"] for o in options if o["value"] == "scorecam")
    for method in NEW:
        since = len(harness.saves())
        harness.set("method-select", method)
        assert harness.wait_saved("method", since)["method"] == method
        relay(harness, viewer, since)
        assert viewer.error == "" and viewer.result.method == method, viewer.error
        assert_pixels(harness.rgb("main-canvas"), expected(case_of(viewer)), method)
        assert harness.text("main-canvas-title") == map_titles(viewer)["main"]
        assert selected_text(harness, "method-select") == METHODS[method].label
    assert harness.text("main-canvas-title").startswith("xrescam · 3 · b")
    harness.set("method-select", "fullgrad")
    relay(harness, viewer, 0)
    assert harness.text("main-canvas-title") == "fullgrad · all biases · b"  # FullGrad uses every bias, no layer
    assert not harness.page.errors, harness.page.errors


def test_new_methods_as_the_compare_map_of_a_volume(harness):
    torch.manual_seed(2)
    x = 0.3 * torch.randn(1, 6, 8, 10)
    x[0, 2:4, 2:5, 3:7] += 2.0
    viewer = CAMViewer(CAMExplainer(gap_model(3), layers=["3"]), x, target_class=0, method="scorecam")
    mount(harness, viewer)
    assert_pixels(harness.rgb("main-canvas"), expected(case_of(viewer), 0, viewer.slice_index), "scorecam")
    for method in ("ablationcam", "liftcam", "eigengradcam"):
        since = len(harness.saves())
        harness.set("compare-select", method)
        harness.wait_saved("compare_method", since)
        relay(harness, viewer, since)
        assert viewer.compare_result.method == method
        assert_pixels(harness.rgb("compare-canvas"), expected(case_of(viewer, "compare"), 0, viewer.slice_index), method)
    assert selected_text(harness, "compare-select") == "Eigen-Grad-CAM"
    assert not harness.page.errors, harness.page.errors


def test_cam_error_in_the_viewer_keeps_the_view(harness):
    """A head that is not GAP + linear: the core's error in the error line, the map and select as before."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 18 * 26, 3)).eval()
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), scene(), target_class=0)
    mount(harness, viewer)
    before = harness.rgb("main-canvas")
    since = len(harness.saves())
    harness.set("method-select", "cam")
    relay(harness, viewer, since)
    assert not harness.hidden("error")
    assert harness.text("error").startswith("method = 'cam' failed (kept 'gradcam'): ValueError: cam (Zhou et al. 2016)")
    assert harness.value("method-select") == "gradcam" and selected_text(harness, "method-select") == "Grad-CAM"
    assert np.array_equal(harness.rgb("main-canvas"), before)
    assert not harness.page.errors, harness.page.errors


def test_the_picker_lists_seg_methods_and_cam_disabled_and_draws_each(harness):
    mask = np.zeros((18, 26), bool)
    mask[5:9, 7:13] = True
    picker = PixelSetPicker(CAMExplainer(seg_model(), layers=["3"]), scene(), class_names=["bg", "x", "y"],
                            target_class=1, mask=mask)
    mount(harness, picker)
    options = option_texts(harness, "method-select")
    assert [o["value"] for o in options] == [n for n in METHODS if n != "cam"] + ["cam"]
    texts = {o["value"]: o["text"] for o in options}
    assert texts["gradcam"] == "Seg-Grad-CAM" and texts["hirescam"] == "Seg-HiRes-Grad-CAM"
    assert texts["scorecam"] == "Seg-Score-CAM" and texts["xrescam"] == "Seg-XRes-CAM" and texts["eigencam"] == "Eigen-CAM"
    cam = options[-1]
    assert cam["disabled"] and cam["text"] == "CAM (n/a for pixel sets)" and "global-average-pooling" in cam["title"]
    for method in [n for n in NEW if n != "cam"]:
        since = len(harness.saves())
        harness.set("method-select", method)
        harness.wait_saved("method", since)
        relay(harness, picker, since)
        assert picker.error == "" and picker.result.method == method, picker.error
        assert_pixels(harness.rgb("cam-canvas"), expected(case_of(picker)), method)
    assert not harness.page.errors, harness.page.errors


def test_the_busy_indicator_shows_a_slow_methods_progress_and_what_is_queued(harness):
    viewer = CAMViewer(CAMExplainer(gap_model(), layers=["3"]), torch.cat([scene(), scene()])[:, None],
                       target_class=0)
    mount(harness, viewer)
    busy = harness.el("busy")
    harness.update("busy", True)
    assert harness.text("busy-text") == "computing…" and harness.hidden("busy-bar")
    harness.js("() => window.__model.emit('msg:custom', { type: 'progress', which: 'cam', method: 'scorecam', "
               "label: 'Score-CAM', done: 37, total: 512 })")
    assert harness.text("busy-text") == "Score-CAM 37 / 512" and not harness.hidden("busy-bar")
    width = harness.js("() => document.querySelector('.cam-busy-bar-fill').style.width")
    assert width == f"{37 / 512 * 100:.1f}%"
    assert busy.get_attribute("data-done") == "37" and busy.get_attribute("data-total") == "512"
    # a request while busy is held, not sent, and counted
    since = len(harness.saves())
    harness.set("sample-slider", 1)
    assert harness.text("busy-text") == "Score-CAM 37 / 512 (1 queued)"
    assert not any("sample" in s for s in harness.saves()[since:])
    harness.js("() => window.__model.emit('msg:custom', { type: 'progress', which: 'compare', method: 'ablationcam', "
               "label: 'Ablation-CAM', done: 64, total: 64 })")
    assert harness.text("busy-text") == "compare: Ablation-CAM 64 / 64 (1 queued)"
    # idle: the held request goes, the indicator starts from "computing…" next time
    harness.update("busy", False)
    assert harness.wait_saved("sample", since)["sample"] == 1
    assert harness.hidden("busy-bar")
    harness.update("busy", True)
    assert harness.text("busy-text") == "computing…"
    # a stray progress message while idle is ignored
    harness.update("busy", False)
    harness.js("() => window.__model.emit('msg:custom', { type: 'progress', which: 'cam', label: 'Score-CAM', done: 1, total: 2 })")
    assert harness.hidden("busy-bar")
    assert not harness.page.errors, harness.page.errors


# ------------------------------------------------------------------------------------ JupyterLab

SLOW_CODE = """
import json, time, torch
from pathlib import Path
from torch import nn
from cam_widgets import CAMExplainer, CAMViewer
from cam_widgets.widgets.figure import widget_panels

class Pause(nn.Module):
    '''Sleeps in every forward pass: a Score-CAM of known length on any CPU (its passes are full forwards).'''
    def forward(self, x):
        time.sleep(PAUSE)
        return x

PAUSE = 0.0
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 384, 3, padding=1), nn.ReLU(), Pause(), nn.Conv2d(384, 4, 3, padding=1), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
x = 0.3 * torch.randn(3, 1, 16, 16)
x[:, :, 4:10, 5:12] += 1.5
explainer = CAMExplainer(model, layers=["1"])
viewer = CAMViewer(explainer, x, class_names=["a", "b", "c"], target_class=0)
calls = []
explain = explainer.explain
def counted(x, target=None, method="gradcam", layer=None, **options):
    calls.append([method, int(viewer.sample)])
    return explain(x, target, method, layer, **options)
explainer.explain = counted
def record(change=None):
    Path("slow.json").write_text(json.dumps({"calls": calls, "method": viewer.method, "sample": viewer.sample,
                                             "busy": viewer.busy, "error": viewer.error}))
viewer.observe(record, names=["busy", "method", "sample"])
PAUSE = 0.2  # 384 channels in batches of 32: 12 masked forward passes, about 2.5 s per Score-CAM
viewer
"""


def test_score_cam_progress_and_the_newest_state_only_in_jupyterlab(jupyterlab, page):
    folder = jupyterlab["notebooks"]
    received = folder / "slow.json"
    open_and_run(page, jupyterlab, "slow.ipynb", SLOW_CODE)
    page.wait_for_selector('[data-testid="main-canvas"]', timeout=120_000)
    page.wait_for_function("() => document.querySelector('[data-testid=\"method-select\"]').options.length >= 14",
                           timeout=30_000)
    # the select names the methods as their papers do
    labels = page.evaluate("() => [...document.querySelector('[data-testid=\"method-select\"]').options].map(o => o.textContent)")
    assert labels == [METHODS[n].label for n in METHODS]

    # every text the busy indicator shows from now on
    page.evaluate("""() => { const t = document.querySelector('[data-testid="busy-text"]'); window.__busyTexts = [];
                             new MutationObserver(() => window.__busyTexts.push(t.textContent))
                               .observe(t, { childList: true, characterData: true, subtree: true }); }""")
    set_control(page, "method-select", "scorecam")
    # the busy indicator counts the channels of the forward batches done
    page.wait_for_function("() => /^Score-CAM \\d+ \\/ 384$/.test(document.querySelector('[data-testid=\"busy-text\"]').textContent)"
                           " && document.querySelector('[data-testid=\"busy\"]').dataset.done !== '384'",
                           timeout=30_000, polling=20)
    # two slider moves during it: held in the browser, only the newest goes
    set_control(page, "sample-slider", 1)
    set_control(page, "sample-slider", 2)
    assert page.evaluate("() => document.querySelector('[data-testid=\"busy-text\"]').textContent").endswith("(1 queued)")
    state = wait_for_received(received, lambda s: s["sample"] == 2 and not s["busy"], timeout=60)
    assert state["error"] == "" and state["method"] == "scorecam"
    # one Score-CAM of sample 0 (running when the slider moved), then one of sample 2: sample 1 never ran
    assert [c for c in state["calls"] if c[0] == "scorecam"] == [["scorecam", 0], ["scorecam", 2]], state["calls"]
    page.wait_for_function("() => !document.querySelector('[data-testid=\"cam-viewer\"]').classList.contains('busy')",
                           timeout=10_000)
    assert page.evaluate("() => document.querySelector('[data-testid=\"busy-text\"]').textContent") == "computing…"
    assert page.locator('[data-testid="sample-slider"]').input_value() == "2"
    assert page.locator('[data-testid="main-canvas-title"]').text_content() == "scorecam · 1 · a"
    texts = page.evaluate("() => window.__busyTexts")
    # (done, total) shown: batches of 32 rows; a run's total is its channels that are not constant in every sample
    # (those get no pass), so a run's last count may be its total rather than a multiple of 32
    shown = sorted({tuple(int(n) for n in t.split()[1:4:2]) for t in texts if t.startswith("Score-CAM ")})
    assert len(shown) >= 4 and (384, 384) in shown and all(d % 32 == 0 or d == n for d, n in shown), texts
    assert not page.errors, page.errors
