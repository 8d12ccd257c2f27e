"""PFVGallery's front end in headless Chromium: the harness page (the built bundle on a fake model, states made
by a real gallery in this process) and a real JupyterLab 4. Canvases are compared pixel for pixel with Python's
blend of the levels the gallery sent; what the widget sends back is read from the fake model (or the kernel)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

from cam_widgets import PFVExplainer
from cam_widgets.widgets.pfv_gallery import PFVGallery
from cam_widgets.widgets.pfv_gallery_data import blend, take_slice
from cam_widgets.widgets.pfv_picture import levels_of
from cam_widgets.widgets.render import format_value
from cam_widgets.widgets.schema import trait_defaults

from .harness import Harness, wire
from .test_jupyterlab import open_and_run, wait_for_received

GALLERY = '[data-testid="pfv-gallery"]'


def model(ndim: int) -> nn.Module:
    torch.manual_seed(0)
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if ndim == 2 else (nn.Conv3d, nn.MaxPool3d)
    return nn.Sequential(conv(1, 6, 3, padding=1), nn.ReLU(), pool(2), conv(6, 8, 3, padding=1), nn.ReLU(), pool(2),
                         nn.Flatten(), nn.LazyLinear(3)).eval()


def gallery_of(ndim: int = 2, n: int = 6, **options) -> PFVGallery:
    torch.manual_seed(1)
    x = torch.rand(n, 1, *((16, 20) if ndim == 2 else (8, 12, 16)))
    x[::2, :, 2:6] += 2.0
    net = model(ndim)
    net(x[:1])  # sizes the lazy head
    return PFVGallery(PFVExplainer(net), x, class_names=["ring", "a-very-long-class-name-that-wraps", "disc"],
                      labels=[i % 3 for i in range(n)], indices=[1000 + 7 * i for i in range(n)], **options)


def state_of(gallery: PFVGallery) -> dict:
    state = {k: v for k, v in gallery.get_state().items() if k in trait_defaults(PFVGallery)}
    state.update(rgb=wire(gallery.rgb), grey=wire(gallery.grey))
    return state


def expected_pixels(gallery: PFVGallery, k: int, opacity: float, axis: int = 0, index: int = 0) -> np.ndarray:
    """Python's blend of card k's levels (independent of the browser's code path)."""
    nd = gallery.spatial_ndim
    grey, rgb = levels_of(gallery.grey)[k], levels_of(gallery.rgb)[k]
    return blend(take_slice(grey, nd, axis, index), take_slice(rgb, nd, axis, index), opacity)


def mount(h: Harness, gallery: PFVGallery, theme: str = "light") -> None:
    h.page.goto(f"{h.url}/js/test/harness.html?theme={theme}")
    h.page.wait_for_function("() => typeof window.__mount === 'function'")
    h.js("async (s) => { await window.__mount(s, 'pfv_gallery'); }", state_of(gallery))


def test_component_inputs_are_wide_enough_and_show_their_values(harness):
    gallery = gallery_of()
    gallery.components = [2, 7, 3]
    mount(harness, gallery)
    for channel, value in zip("rgb", [2, 7, 3]):
        box = harness.js(f"""() => {{ const i = document.querySelector('[data-testid="component-{channel}"]');
                                       const r = i.getBoundingClientRect();
                                       return {{ w: r.width, value: i.value, max: i.max, fits: i.scrollWidth <= i.clientWidth }}; }}""")
        assert box["w"] >= 36 and box["value"] == str(value) and box["max"] == "8" and box["fits"], box
    harness.set("component-b", 5)
    assert harness.wait_saved("components")["components"] == [2, 7, 5]
    harness.set("component-r", 7)                                   # not distinct: marked, not sent
    assert harness.js("() => document.querySelector('[data-testid=\"component-r\"]').classList.contains('invalid')")
    assert len([s for s in harness.saves() if "components" in s]) == 1
    assert not harness.page.errors, harness.page.errors


def test_bars_have_an_axis_with_tick_labels_and_the_values(harness):
    gallery = gallery_of()
    mount(harness, gallery)
    for k, card in enumerate(gallery.cards):
        chart = harness.js(f"""() => {{ const c = document.querySelector('[data-testid="bars-{k}"]');
            const plot = c.querySelector('.pfv-plot').getBoundingClientRect();
            return {{ ticks: [...c.querySelectorAll('.pfv-tick')].map(t => t.textContent),
                     values: [...c.querySelectorAll('.pfv-bar-value')].map(t => t.textContent),
                     heights: [...c.querySelectorAll('.pfv-bar')].map(b => b.getBoundingClientRect().height / plot.height),
                     labels: [...c.querySelectorAll('.pfv-xlabels span')].map(t => t.textContent) }}; }}""")
        assert chart["ticks"] == ["0", "0.5", "1"] and chart["labels"] == ["R", "G", "B"]
        assert chart["values"] == [format_value(v) for v in card["bars"]]
        np.testing.assert_allclose(chart["heights"], card["bars"], atol=0.02)
        assert harness.text(f"card-title-{k}") == card["title"] and harness.el(f"no-foreground-{k}").count() == 0
    assert not harness.page.errors, harness.page.errors


def test_the_first_layer_says_why_there_are_no_bars_and_no_hierarchical(harness):
    gallery = gallery_of()
    gallery.layer = gallery.layers[0]
    mount(harness, gallery)
    for k in range(len(gallery.cards)):
        assert harness.el(f"bars-{k}").count() == 0
        assert "is the first layer" in harness.text(f"no-foreground-{k}")
        assert harness.el(f"no-foreground-{k}").bounding_box()["height"] > 40
    assert harness.js("() => document.querySelector('[data-testid=\"hierarchical-checkbox\"]').disabled")
    assert harness.el("hierarchical-reason").is_visible()
    assert harness.text("hierarchical-reason").startswith("hierarchical needs an earlier layer")


def test_opacity_redraws_in_the_browser_without_python(harness):
    gallery = gallery_of()
    mount(harness, gallery)
    for k in range(len(gallery.cards)):
        np.testing.assert_array_equal(harness.rgb(f"pfv-canvas-{k}"), expected_pixels(gallery, k, 0.7))
    # one task: the input event, then the pixels; no message went out and nothing came back from "Python"
    moved = harness.js("""() => { const s = document.querySelector('[data-testid="opacity-slider"]');
        const before = window.__model.saves.length;
        s.value = '0.35'; const t0 = performance.now();
        s.dispatchEvent(new Event('input', { bubbles: true }));
        return { ms: performance.now() - t0, saves: window.__model.saves.length - before, sent: window.__model.sent.length }; }""")
    assert moved["saves"] == 0 and moved["sent"] == 0, moved
    for k in range(len(gallery.cards)):
        np.testing.assert_array_equal(harness.rgb(f"pfv-canvas-{k}"), expected_pixels(gallery, k, 0.35))
    assert harness.wait_saved("opacity", timeout=2000)["opacity"] == 0.35   # synced to Python afterwards
    print(f"opacity redraw of {len(gallery.cards)} cards: {moved['ms']:.2f} ms")


REDRAW = """(n) => { const s = document.querySelector('[data-testid="opacity-slider"]'); const times = [];
    for (let i = 0; i < n; i++) { s.value = String((i % 20) / 20); const t0 = performance.now();
      s.dispatchEvent(new Event('input', { bubbles: true })); times.push(performance.now() - t0); }
    times.sort((a, b) => a - b); return { median: times[n >> 1], max: times[n - 1] }; }"""


@pytest.mark.parametrize("demo", ["faces_lfw", "cnn2_snr_inf"])
def test_opacity_redraw_time_on_the_demo_data(harness, demo):
    """The figure the docs quote: an opacity step redraws every card in the input event (16 faces of 25 x 25;
    8 subtomograms of 24^3, one slice each), measured over 100 steps."""
    from cam_widgets.zoo import DEMOS, load_demo
    from cam_widgets.zoo.train import demo_data

    x, _ = demo_data(DEMOS[demo], "test", 60)
    gallery = PFVGallery(PFVExplainer(load_demo(demo)), x[:16 if demo == "faces_lfw" else 8])
    mount(harness, gallery)
    times = harness.js(REDRAW, 100)
    print(f"{demo}: opacity redraw of {len(gallery.cards)} cards, median {times['median']:.2f} ms, "
          f"max {times['max']:.2f} ms")
    assert times["median"] < 20, times


def test_3d_slice_and_axis_redraw_every_card(harness):
    gallery = gallery_of(ndim=3, n=4)
    mount(harness, gallery)
    assert harness.text("slice-value") == "4/7"
    harness.set("slice-slider", 2)
    for k in range(4):
        np.testing.assert_array_equal(harness.rgb(f"pfv-canvas-{k}"), expected_pixels(gallery, k, 0.7, 0, 2))
    harness.set("axis-select", 2)
    for k in range(4):
        np.testing.assert_array_equal(harness.rgb(f"pfv-canvas-{k}"), expected_pixels(gallery, k, 0.7, 2, 2))
    assert harness.saved()["axis"] == 2 and harness.saved()["slice_index"] == 2
    assert harness.model("slice_index") == 2 and harness.sent() == []


def test_click_asks_python_for_a_viewer_and_the_selection_for_a_recompute(harness):
    gallery = gallery_of()
    mount(harness, gallery)
    harness.el("open-3").click()
    assert harness.sent() == [{"type": "open_viewer", "position": 3}]
    harness.js("() => { const s = document.querySelector('[data-testid=\"selection-select\"]');"
               " [...s.options].forEach((o, i) => { o.selected = i < 2; });"
               " s.dispatchEvent(new Event('change', { bubbles: true })); }")
    assert harness.saved()["selection"] == [0, 1] and harness.text("selection-count") == "2 selected · 6 shown"
    harness.el("recompute-button").click()
    assert harness.sent()[-1] == {"type": "recompute"}
    harness.el("png-button").click()                                 # Python draws the picture (ExportMixin)
    assert harness.sent()[-1] == {"type": "png", "scale": 2}
    harness.update("opened", gallery.shown[3])                      # Python opened it: the card is marked
    assert harness.js("() => document.querySelector('[data-testid=\"card-3\"]').classList.contains('opened')")
    assert harness.js("() => window.__unmount()") == 0


@pytest.mark.parametrize("width", [900, 1400])
def test_layout_fits_the_width(harness, width):
    harness.page.set_viewport_size({"width": width, "height": 1000})
    gallery = gallery_of(n=12)
    mount(harness, gallery)
    box = harness.js("""() => { const root = document.querySelector('[data-testid="pfv-gallery"]');
        const r = root.getBoundingClientRect();
        const inside = (e) => { const b = e.getBoundingClientRect(); return b.left >= r.left - 0.5 && b.right <= r.right + 0.5; };
        const cards = [...root.querySelectorAll('.pfv-card')];
        const button = root.querySelector('[data-testid="recompute-button"]');
        return { overflow: root.scrollWidth - root.clientWidth, page: document.documentElement.scrollWidth,
                 cards: cards.every(inside), columns: new Set(cards.map(c => Math.round(c.getBoundingClientRect().left))).size,
                 select: inside(root.querySelector('[data-testid="selection-select"]')), button: inside(button),
                 buttonClipped: button.scrollWidth > button.clientWidth,
                 titles: [...root.querySelectorAll('.pfv-card-title')].every(t => t.title === t.textContent) }; }""")
    assert box["overflow"] <= 0 and box["page"] <= width, box
    assert box["cards"] and box["select"] and box["button"] and not box["buttonClipped"] and box["titles"], box
    assert box["columns"] == (4 if width == 900 else 7), box        # auto-fill: the columns follow the width


def test_dark_theme_colours(harness):
    mount(harness, gallery_of(), theme="dark")
    colours = harness.js("""() => { const root = document.querySelector('[data-testid="pfv-gallery"]');
        const cs = (e) => getComputedStyle(e);
        return { bg: cs(root).backgroundColor, fg: cs(root).color, tick: cs(root.querySelector('.pfv-bar-value')).color,
                 input: cs(root.querySelector('[data-testid="component-r"]')).backgroundColor, theme: root.dataset.theme }; }""")
    lum = lambda text: np.mean([int(v) for v in text[text.index("(") + 1:text.index(")")].split(",")[:3]]) / 255
    assert lum(colours["bg"]) < 0.2 and lum(colours["fg"]) > 0.7 and lum(colours["tick"]) > 0.7, colours
    assert lum(colours["input"]) < 0.2 and colours["theme"] == "dark", colours


# ---------------------------------------------------------------------------------------- real JupyterLab

LAB_CODE = """
import json, time, numpy as np
from pathlib import Path
from cam_widgets import PFVExplainer, PFVGallery
from cam_widgets.datasets import FACE_CLASSES
from cam_widgets.zoo import DEMOS, load_demo_faces
from cam_widgets.zoo.train import demo_data

x, y = demo_data(DEMOS["faces_lfw"], "test")
gallery = PFVGallery(PFVExplainer(load_demo_faces()), x[:8], class_names=FACE_CLASSES, labels=y[:8],
                     indices=list(range(200, 208)))
def levels(e):
    return np.frombuffer(e["buffer"], np.uint8).reshape(e["shape"]).tolist()
def record(change=None):
    Path("pfv_received.json").write_text(json.dumps({
        "opacity": gallery.opacity, "layer": gallery.layer, "shown": gallery.shown, "viewer_index": gallery.viewer_index,
        "viewer_layer": getattr(gallery.viewer, "layer", None), "title": gallery.viewer_title.value,
        "error": gallery.error, "t": time.time(), "grey0": levels(gallery.grey)[0], "rgb0": levels(gallery.rgb)[0]}))
gallery.observe(record, names=["opacity", "layer", "shown", "opened", "error"])
record()
gallery
"""


def canvas_rgb(page, selector: str) -> np.ndarray:
    got = page.evaluate("""(s) => { const c = document.querySelector(s);
        return { w: c.width, h: c.height, d: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) }; }""",
                        selector)
    return np.array(got["d"], dtype=np.uint8).reshape(got["h"], got["w"], 4)[..., :3]


def test_gallery_in_jupyterlab(jupyterlab, page):
    received = jupyterlab["notebooks"] / "pfv_received.json"
    open_and_run(page, jupyterlab, "pfv_gallery.ipynb", LAB_CODE)
    canvas = f'{GALLERY} [data-testid="pfv-canvas-0"]'
    page.wait_for_function(f"() => {{ const c = document.querySelector('{canvas}'); return c && c.width === 25; }}",
                           timeout=120_000, polling=200)
    state = wait_for_received(received, lambda s: s["shown"] == list(range(8)))
    grey, rgb = np.array(state["grey0"], dtype=np.uint8), np.array(state["rgb0"], dtype=np.uint8)
    np.testing.assert_array_equal(canvas_rgb(page, canvas), blend(grey, rgb, 0.7))
    widths = page.evaluate(f"""() => [...document.querySelectorAll('{GALLERY} .pfv-component')]
                                      .map(i => [i.getBoundingClientRect().width, i.value])""")
    assert [v for _, v in widths] == ["1", "2", "3"] and all(w >= 36 for w, _ in widths), widths
    assert page.locator(f'{GALLERY} [data-testid="bars-0"] .pfv-tick').all_text_contents() == ["0", "0.5", "1"]

    # opacity: the pixels change inside the input event's task (no kernel round trip); Python hears of it later
    t0 = time.time()
    page.evaluate(f"""() => {{ const s = document.querySelector('{GALLERY} [data-testid="opacity-slider"]');
                              s.value = '0.2'; s.dispatchEvent(new Event('input', {{ bubbles: true }}));
                              s.dispatchEvent(new Event('change', {{ bubbles: true }})); }}""")
    np.testing.assert_array_equal(canvas_rgb(page, canvas), blend(grey, rgb, 0.2))
    heard = wait_for_received(received, lambda s: s["opacity"] == 0.2)
    print(f"opacity: pixels redrawn in the input's task; the kernel heard of it {1000 * (heard['t'] - t0):.0f} ms later")

    # the first layer: messages instead of bars, hierarchical disabled with the reason
    page.select_option(f'{GALLERY} [data-testid="layer-select"]', "pool1")
    wait_for_received(received, lambda s: s["layer"] == "pool1")
    page.wait_for_selector(f'{GALLERY} [data-testid="no-foreground-0"]', timeout=30_000)
    assert "pool1 is the first layer" in page.inner_text(f'{GALLERY} [data-testid="no-foreground-0"]')
    assert page.is_disabled(f'{GALLERY} [data-testid="hierarchical-checkbox"]')
    page.select_option(f'{GALLERY} [data-testid="layer-select"]', "pool2")
    wait_for_received(received, lambda s: s["layer"] == "pool2")

    # a click opens a CAMViewer of that sample below, at the gallery's layer, titled with the data set's index
    page.click(f'{GALLERY} [data-testid="open-2"]')
    state = wait_for_received(received, lambda s: s["viewer_index"] == 2)
    assert state["viewer_layer"] == "relu3" and "#202" in state["title"], state
    page.wait_for_function("""() => { const c = document.querySelector('[data-testid="cam-viewer"] [data-testid="main-canvas"]');
        return c && c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0); }""",
                           timeout=60_000, polling=200)
    assert "CAMViewer of #202" in page.inner_text(".jp-OutputArea-output:has(.widget-html)")

    # 900 px: nothing sticks out; the dark theme: a dark background with light text
    page.set_viewport_size({"width": 900, "height": 1000})
    page.wait_for_timeout(500)
    fit = page.evaluate(f"""() => {{ const root = document.querySelector('{GALLERY}'); const r = root.getBoundingClientRect();
        return {{ overflow: root.scrollWidth - root.clientWidth,
                  cards: [...root.querySelectorAll('.pfv-card')].every(c => c.getBoundingClientRect().right <= r.right + 0.5) }}; }}""")
    assert fit["overflow"] <= 0 and fit["cards"], fit
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Dark' })")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)
    colours = page.evaluate(f"""() => {{ const root = document.querySelector('{GALLERY}');
        return [getComputedStyle(root).backgroundColor, getComputedStyle(root.querySelector('.pfv-card-title')).color]; }}""")
    lum = lambda text: np.mean([int(v) for v in text[text.index("(") + 1:text.index(")")].split(",")[:3]]) / 255
    assert lum(colours[0]) < 0.25 and lum(colours[1]) > 0.6, colours
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Light' })")
    assert not page.errors, page.errors
