"""PFVGallery (anywidget): what it sends is PFVExplainer.explain's result composed independently here; the traits
are checked, a failed recompute keeps the PFV on screen; the picture and the JS twins draw the same pixels."""

from __future__ import annotations

import base64
import io
import json
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cam_widgets.explainer import CAMExplainer
from cam_widgets.pfv import PFVExplainer
from cam_widgets.widgets import pfv_gallery_viewer
from cam_widgets.widgets.cam_viewer import CAMViewer
from cam_widgets.widgets.pfv_gallery import PFVGallery
from cam_widgets.widgets.pfv_gallery_data import bar_ticks, blend, take_slice
from cam_widgets.widgets.pfv_gallery_viewer import module_feeding
from cam_widgets.widgets.pfv_picture import BAR_COLOURS
from cam_widgets.widgets.schema import trait_defaults
from tests.node_runner import run_js


def model_2d(inplace=False):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(inplace), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 4 * 4, 3),
    ).eval()


def model_3d():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(4, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool3d(2),   # any volume shape
        nn.Flatten(), nn.Linear(6 * 2 * 2 * 2, 2),
    ).eval()


@pytest.fixture(scope="module")
def batch_2d():
    torch.manual_seed(2)
    x = torch.rand(6, 1, 16, 16)
    x[::2, :, 3:8, 3:8] += 2.0
    return x


def levels(encoded: dict) -> np.ndarray:
    assert isinstance(encoded["buffer"], bytes) and encoded["dtype"] == "uint8"
    assert (encoded["vmin"], encoded["vmax"]) == (0.0, 1.0)
    return np.frombuffer(encoded["buffer"], np.uint8).reshape(encoded["shape"])


def expected_levels(rgb: torch.Tensor, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Independently: the rgb channel-last and the per-sample min-max grey of the channel mean, as uint8 levels."""
    g = x.double().mean(1)
    low, high = g.flatten(1).min(1).values, g.flatten(1).max(1).values
    g = (g - low.view(-1, *[1] * (g.ndim - 1))) / (high - low).view(-1, *[1] * (g.ndim - 1))
    q = lambda v: np.round(v.float().numpy() * 255).astype(np.uint8)
    return q(rgb.movedim(1, -1)), q(g)


def independent_bars(result) -> list[list[float] | None]:
    a, rgb = result.activation.double(), result.rgb.double()
    mask = a > a.median()
    return [[float(rgb[k, c][mask[k]].mean()) for c in range(3)] if mask[k].any() else None for k in range(len(a))]


def test_images_go_once_as_binary_uint8_and_blend_as_the_browser_does(batch_2d):
    pfv = PFVExplainer(model_2d())
    gallery = PFVGallery(pfv, batch_2d, class_names=["a", "b", "c"], labels=[0, 1, 2, 0, 1, 2])
    expected = pfv.explain(batch_2d)
    assert torch.equal(gallery.result.rgb, expected.rgb)
    rgb, grey = expected_levels(expected.rgb, batch_2d)
    np.testing.assert_array_equal(levels(gallery.rgb), rgb)            # (n, H, W, 3)
    np.testing.assert_array_equal(levels(gallery.grey), grey)          # (n, H, W)
    want = np.round((1 - 0.7) * grey[..., None].astype(float) + 0.7 * rgb.astype(float)).astype(np.uint8)
    np.testing.assert_array_equal(gallery.images, want)
    sent = []
    gallery.observe(lambda change: sent.append(change["name"]), names=["rgb", "grey"])
    gallery.opacity = 0.25                                             # the browser's: nothing is sent again
    assert sent == []
    np.testing.assert_array_equal(gallery.images, blend(grey, rgb, 0.25))
    state = json.dumps(gallery.get_state(), default=lambda b: f"<{len(b)} bytes>")
    assert "data:image" not in state and "base64" not in state


def test_layer_components_hierarchical_recompute_at_once_the_selection_on_the_button(batch_2d):
    pfv = PFVExplainer(model_2d())
    gallery = PFVGallery(pfv, batch_2d)
    assert gallery.layers == ["2", "5"] and gallery.layer == "5" and gallery.components == [1, 2, 3]
    gallery.layer = "2"
    assert torch.equal(gallery.result.rgb, pfv.explain(batch_2d, layer="2").rgb)
    gallery.components = [4, 2, 3]
    assert gallery.result.component_numbers == (4, 2, 3) and gallery.n_channels == 6
    gallery.set_options(layer="5", components=(2, 3, 1), hierarchical=True)
    assert torch.equal(gallery.result.rgb, pfv.explain(batch_2d, components=(2, 3, 1), hierarchical=True).rgb)
    assert gallery.header.startswith("PFV of 5 · R = component 2 (") and "weighted by 2, hierarchical" in gallery.header
    gallery.selection = [5, 1, 4, 1]                                  # sorted, duplicates dropped; not applied yet
    assert gallery.selection == [1, 4, 5] and gallery.shown == list(range(6))
    gallery.components = [1, 2, 3]                                   # recomputes the shown samples, keeps the choice
    assert gallery.shown == list(range(6)) and gallery.selection == [1, 4, 5]
    gallery._on_message(gallery, {"type": "recompute"}, [])          # what the button sends
    assert gallery.shown == [1, 4, 5] and [c["index"] for c in gallery.cards] == [1, 4, 5]
    sub = pfv.explain(batch_2d[[1, 4, 5]], hierarchical=True)
    assert torch.equal(gallery.result.rgb, sub.rgb)
    np.testing.assert_array_equal(levels(gallery.rgb), expected_levels(sub.rgb, batch_2d[[1, 4, 5]])[0])


def test_bars_are_the_foreground_means_and_an_image_without_foreground_says_why(batch_2d):
    gallery = PFVGallery(PFVExplainer(model_2d()), batch_2d)
    want = independent_bars(gallery.result)
    assert all(w is not None for w in want)
    for card, w in zip(gallery.cards, want):
        np.testing.assert_allclose(card["bars"], w, atol=1e-12)
        assert card["message"] == ""
    np.testing.assert_allclose(gallery.bars, want, atol=1e-12)
    gallery.layer = "2"                                               # the first layer: A^b = 1, nothing above the median
    assert all(card["bars"] == [] for card in gallery.cards)
    assert all("2 is the first layer" in card["message"] for card in gallery.cards)
    np.testing.assert_array_equal(gallery.bars, np.zeros((6, 3)))
    flat = model_2d()                                                 # a constant A^b on a later layer
    with torch.no_grad():
        flat[0].weight.zero_()
        flat[0].bias.fill_(1.0)
    constant = PFVGallery(PFVExplainer(flat), batch_2d)
    assert constant.result.weight_layers == ("2",)
    assert all(c["bars"] == [] and "nowhere above the batch median" in c["message"] for c in constant.cards)


def test_hierarchical_needs_an_earlier_layer(batch_2d):
    gallery = PFVGallery(PFVExplainer(model_2d()), batch_2d)
    assert gallery.hierarchical_available and gallery.hierarchical_reason == ""
    gallery.hierarchical = True
    gallery.layer = "2"                                               # turned off: it cannot do anything there
    assert not gallery.hierarchical and not gallery.hierarchical_available
    assert gallery.hierarchical_reason.startswith("hierarchical needs an earlier layer: 2 is the first layer")
    gallery.hierarchical = True                                       # refused, says why
    assert not gallery.hierarchical and "hierarchical = True was not applied" in gallery.error
    gallery.set_options(layer="5", hierarchical=True)
    assert gallery.hierarchical and gallery.result.hierarchical and gallery.error == ""


def test_a_failed_recompute_keeps_the_pfv_on_screen_and_puts_its_traits_back(batch_2d):
    pfv = PFVExplainer(model_2d())
    gallery = PFVGallery(pfv, batch_2d)
    before, rgb = gallery.result, gallery.rgb
    gallery.components = [1, 2, 99]
    assert "component 99 does not exist" in gallery.error and "kept components = [1, 2, 3]" in gallery.error
    assert gallery.result is before and gallery.rgb is rgb and gallery.components == [1, 2, 3]
    gallery.set_options(selection=[])
    assert "select at least one sample" in gallery.error and gallery.selection == list(range(6))
    gallery.set_options(components=(1, 2, 3), selection=[0, 1])
    assert gallery.error == "" and torch.equal(gallery.result.rgb, pfv.explain(batch_2d[[0, 1]]).rgb)
    many = PFVGallery(pfv, torch.rand(40, 1, 16, 16))
    assert many.selection == list(range(16))
    many.set_options(selection=range(40))
    assert "at most 32" in many.error and many.selection == many.shown == list(range(16))


def test_values_set_from_python_are_checked(batch_2d):
    gallery = PFVGallery(PFVExplainer(model_2d()), batch_2d)
    for name, value, reason in [("components", [1, 1, 2], "distinct"), ("components", [1, 2], "three component"),
                                ("components", [0, 1, 2], "counted from 1"), ("layer", "fc", "unknown layer"),
                                ("opacity", 1.5, "between 0 and 1"), ("selection", [0, 6], "index into the batch"),
                                ("axis", 1, "axis of a 2D image"), ("slice_index", 1, "slice_index must be 0..0")]:
        kept = getattr(gallery, name)
        setattr(gallery, name, value)
        assert getattr(gallery, name) == kept and reason in gallery.error and f"{name} = " in gallery.error
    gallery.opacity = np.float32(0.5)
    gallery.components = [np.int64(3), 1, 2]
    assert gallery.opacity == 0.5 and gallery.components == [3, 1, 2] and gallery.error == ""
    pfv = PFVExplainer(model_2d())
    with pytest.raises(TypeError, match="needs a PFVExplainer, got CAMExplainer"):
        PFVGallery(CAMExplainer(model_2d()), batch_2d)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) or \(B, C, D, H, W\), got shape \(1, 16, 16\)"):
        PFVGallery(pfv, batch_2d[0])
    with pytest.raises(ValueError, match="labels: one class per sample, 6 integers for this batch, got 4"):
        PFVGallery(pfv, batch_2d, labels=[0, 1, 2, 0])
    with pytest.raises(ValueError, match="indices: each sample's index in its data set, 6 integers"):
        PFVGallery(pfv, batch_2d, indices=[1.5] * 6)


def test_3d_slices_in_the_browser_along_any_axis():
    torch.manual_seed(3)
    x = torch.rand(3, 1, 8, 6, 4)
    pfv = PFVExplainer(model_3d())
    gallery = PFVGallery(pfv, x)
    assert gallery.slice_index == 4 and levels(gallery.rgb).shape == (3, 8, 6, 4, 3)
    rgb, grey = expected_levels(pfv.explain(x).rgb, x)
    gallery.slice_index = 2
    np.testing.assert_array_equal(gallery.images, blend(grey[:, 2], rgb[:, 2], 0.7))
    gallery.axis = 2                                                  # slice 2 is inside x's 4: kept
    np.testing.assert_array_equal(gallery.images, blend(grey[:, :, :, 2], rgb[:, :, :, 2], 0.7))
    gallery.set_options(axis=1, slice_index=5)
    assert gallery.images.shape == (3, 8, 4, 3)
    gallery.slice_index = 6
    assert gallery.slice_index == 5 and "slice_index must be 0..5" in gallery.error


def test_open_viewer_at_the_gallery_layer_titled_with_the_dataset_index(batch_2d):
    model = model_2d()
    gallery = PFVGallery(PFVExplainer(model), batch_2d, class_names=["a", "b", "c"], labels=[0, 1, 2, 0, 1, 2],
                         indices=[100, 101, 102, 103, 104, 105])
    gallery.set_options(selection=[0, 3, 5])
    gallery._on_message(gallery, {"type": "open_viewer", "position": 1}, [])   # a click on the second image
    viewer = gallery.viewer
    assert isinstance(viewer, CAMViewer) and gallery.viewer_index == 3 and gallery.opened == 3
    assert torch.equal(viewer._samples[0][0], batch_2d[3]) and viewer.true_labels == [0]
    assert viewer.layer == "4"                                        # the ReLU whose output is the input of pool "5"
    outputs = gallery.viewer_output.outputs
    assert [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for o in outputs] == [
        gallery.viewer_title.model_id, viewer.model_id]
    title = gallery.viewer_title.value
    assert "CAMViewer of #103 · true a · pred" in title and "at 4 (the input of 5, which PFV decomposed)" in title
    explainer = CAMExplainer(model)
    explicit = PFVGallery(PFVExplainer(model, layers=["1", "4"]), batch_2d, explainer_for_viewer=explainer)
    assert explicit.open_viewer(2).explainer is explainer and explicit.viewer.layer == "4"
    with mock.patch.object(pfv_gallery_viewer, "viewer_layer", return_value=("no_such_layer", "")):
        fallback = gallery.open_viewer(0)
    assert fallback.layer == fallback.explainer.layers[0]
    assert "at its default layer" in gallery.viewer_title.value and "no_such_layer did not work" in gallery.viewer_title.value
    with pytest.raises(ValueError, match="position must be 0..2"):
        gallery.open_viewer(3)


def test_the_viewer_output_has_the_opened_viewers_picture_and_follows_it(batch_2d):
    """nbconvert does not draw an Output widget's content: the Output has its own picture, the viewer's."""
    gallery = PFVGallery(PFVExplainer(model_2d()), batch_2d, indices=[10, 11, 12, 13, 14, 15])
    output = gallery.viewer_output
    assert output.picture() is None                                   # nothing opened: no picture
    with pytest.raises(ValueError, match="nothing yet"):
        output.static_png()
    viewer = gallery.open_viewer(2)
    picture = output.picture()
    own = viewer.picture()
    assert picture.shape[0] > own.shape[0] and picture.shape[1] == own.shape[1]
    np.testing.assert_array_equal(picture[-own.shape[0]:], own)       # the viewer's picture under its title
    assert (picture[: picture.shape[0] - own.shape[0]] < 128).all(-1).sum() > 50   # the title's ink
    with mock.patch.object(output, "_refresh_static_png") as refresh:
        viewer.opacity = 0.9                                          # the viewer changes: the picture follows
    assert refresh.called
    viewer.opacity = 0.2
    assert not np.array_equal(output.picture()[-own.shape[0]:], own)


def test_3d_viewer_opens_at_the_gallery_slice():
    torch.manual_seed(3)
    gallery = PFVGallery(PFVExplainer(model_3d()), torch.rand(3, 1, 8, 8, 8))
    gallery.set_options(axis=1, slice_index=3)
    viewer = gallery.open_viewer(2)
    assert (viewer.axis, viewer.slice_index, viewer.layer) == (1, 3, "4")


def test_the_module_feeding_a_pool_is_the_last_to_return_its_input(batch_2d):
    assert module_feeding(model_2d(), "5", batch_2d[:1]) == "4"
    assert module_feeding(model_2d(inplace=True), "5", batch_2d[:1]) == "4"   # not the conv it overwrote


def test_titles_the_picture_and_the_static_fallback(batch_2d):
    model = model_2d()
    with torch.no_grad():
        predicted = model(batch_2d).argmax(1).tolist()
    gallery = PFVGallery(PFVExplainer(model), batch_2d[:5], class_names=["a", "b", "c"], labels=[0, 1, 2, 0, 1],
                         indices=[7, 8, 9, 10, 11])
    assert [c["title"] for c in gallery.cards] == [f"#{7 + i} · true {'abc'[i % 3]} · pred {'abc'[predicted[i]]}"
                                                   for i in range(5)]
    assert [c["wrong"] for c in gallery.cards] == [predicted[i] != [0, 1, 2, 0, 1][i] for i in range(5)]
    assert gallery.samples[0] == gallery.cards[0]["title"] and gallery.png_filename() == "pfv_5_components_1-2-3.png"
    gallery.set_options(selection=[0, 1, 2])                          # one row of cards
    picture = gallery.picture()
    bars = [np.argwhere((picture == colour).all(-1)) for colour in BAR_COLOURS]   # the bar pixels of each channel
    assert all(len(b) > 0 for b in bars)
    heights = np.array([[np.ptp(b[:, 0]) + 1 for b in [b[(b[:, 1] >= x0) & (b[:, 1] < x0 + 150)] for b in bars]]
                        for x0 in (12, 12 + 164, 12 + 2 * 164)])       # per card (150 px wide, 14 px apart)
    values = np.array([c["bars"] for c in gallery.cards[:3]])
    scale = (heights * values).sum() / (values**2).sum()              # the plot's height in pixels
    assert scale > 40 and np.abs(heights - values * scale).max() <= 2  # heights follow the values
    images = gallery.images.repeat(9, 1).repeat(9, 2)                 # 16 px enlarged 9x to >= 144 px
    assert any((picture[y:y + 144, 12:156] == images[0]).all() for y in range(30, 200))
    bundle = gallery._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image/png"]))).convert("RGB"))
    np.testing.assert_array_equal(png, gallery.picture(gallery.STATIC_SCALE, gallery.STATIC_MAX_SIDE))
    gallery.layer = "2"                                               # no foreground: the message box, no bars
    empty = gallery.picture()
    assert not any((empty == colour).all(-1).any() for colour in BAR_COLOURS)
    assert (empty == (246, 246, 246)).all(-1).sum() > 1000


def test_the_viewer_output_is_displayed_right_below(batch_2d):
    gallery = PFVGallery(PFVExplainer(model_2d()), batch_2d)
    with mock.patch("IPython.display.display") as display:
        gallery._ipython_display_()
    assert display.call_args_list[-1].args == (gallery.viewer_output,)
    assert set(trait_defaults(PFVGallery)) >= {"layer", "components", "hierarchical", "hierarchical_available",
                                               "hierarchical_reason", "opacity", "slice_index", "selection", "busy",
                                               "error", "rgb", "grey", "cards"}


TWINS = """
import { blendRGBA, sampleSlice } from "./src/pfv_gallery/pixels.js";
import { barTicks } from "./src/pfv_gallery/bars.js";
const p = JSON.parse(process.argv[2]);
const rgb = Uint8Array.from(p.rgb), grey = Uint8Array.from(p.grey);
const out = [];
for (const [axis, index] of p.cuts) {
  const g = sampleSlice(grey, p.greyShape, 1, 1, axis, index), c = sampleSlice(rgb, p.rgbShape, 3, 1, axis, index);
  out.push(Array.from(blendRGBA(g.data, c.data, p.opacity, new Uint8ClampedArray(g.rows * g.cols * 4))));
}
console.log(JSON.stringify({ pixels: out, ticks: p.ticks.map(([lo, hi, n]) => barTicks(lo, hi, n)) }));
"""


def test_the_browser_twins_draw_the_same_pixels_and_ticks():
    rng = np.random.default_rng(0)
    rgb, grey = rng.integers(0, 256, (2, 5, 4, 3, 3), dtype=np.uint8), rng.integers(0, 256, (2, 5, 4, 3), dtype=np.uint8)
    cuts, ticks = [(0, 3), (1, 2), (2, 1)], [(0, 1, 3), (0, 1, 5), (0, 1, 6), (0, 0.3, 4), (0, 1, 2)]
    got = run_js(TWINS, {"rgb": rgb.ravel().tolist(), "grey": grey.ravel().tolist(), "rgbShape": list(rgb.shape),
                         "greyShape": list(grey.shape), "opacity": 0.35, "cuts": cuts, "ticks": ticks})
    for pixels, (axis, index) in zip(got["pixels"], cuts):
        want = blend(take_slice(grey[1], 3, axis, index), take_slice(rgb[1], 3, axis, index), 0.35)
        np.testing.assert_array_equal(np.array(pixels).reshape(*want.shape[:2], 4)[..., :3], want)
    assert got["ticks"] == [bar_ticks(*t) for t in ticks]
    assert bar_ticks(0, 1, 3) == [0, 0.5, 1] and bar_ticks(0, 1, 6) == [0, 0.2, 0.4, 0.6, 0.8, 1]
    assert bar_ticks(0, 0.3, 4) == [0, 0.1, 0.2, 0.3] and bar_ticks(0, 1, 1) == [0]
