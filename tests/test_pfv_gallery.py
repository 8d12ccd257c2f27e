"""PFVGallery (ipywidgets + Plotly): what it shows is PFVExplainer.explain's result, composed independently."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cam_widgets.explainer import CAMExplainer
from cam_widgets.pfv import PFVExplainer
from cam_widgets.widgets.cam_viewer import CAMViewer
from cam_widgets.widgets.pfv_gallery import PFVGallery


def model_2d():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 4 * 4, 3),
    ).eval()


def model_3d():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Flatten(), nn.Linear(6 * 2 * 2 * 2, 2),
    ).eval()


@pytest.fixture(scope="module")
def batch_2d():
    torch.manual_seed(2)
    x = torch.rand(6, 1, 16, 16)
    x[::2, :, 3:8, 3:8] += 2.0
    return x


def expected_images(rgb: torch.Tensor, x: torch.Tensor, opacity: float) -> np.ndarray:
    """Independent composition: per-sample min-max grey of the input, blended with the rgb."""
    out = []
    for k in range(len(rgb)):
        g = x[k].double().mean(0)
        g = (g - g.min()) / (g.max() - g.min())
        out.append(((1 - opacity) * g[None] + opacity * rgb[k].double()).permute(1, 2, 0).numpy())
    return np.stack(out)


def shown(trace) -> np.ndarray:
    """What the browser draws for an image trace: its PNG data URI, decoded."""
    header, data = trace.source.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_images_are_the_pfv_blended_over_grey(batch_2d):
    pfv = PFVExplainer(model_2d())
    gallery = PFVGallery(pfv, batch_2d, class_names=["a", "b", "c"], labels=[0, 1, 2, 0, 1, 2])
    expected = pfv.explain(batch_2d)
    assert torch.equal(gallery.result.rgb, expected.rgb)
    np.testing.assert_allclose(gallery.images, expected_images(expected.rgb, batch_2d, 0.7), atol=1e-12)
    traces = gallery.image_traces
    assert len(traces) == 6
    np.testing.assert_allclose(shown(traces[3]), gallery.images[3] * 255, atol=0.5 + 1e-9)
    gallery.opacity_control.value = 0.25
    np.testing.assert_allclose(gallery.images, expected_images(expected.rgb, batch_2d, 0.25), atol=1e-12)
    np.testing.assert_allclose(shown(gallery.image_traces[0]), gallery.images[0] * 255, atol=0.5 + 1e-9)
    assert "true a" in gallery.figure.layout.annotations[0].text


def test_controls_recompute_like_explain_on_the_selection(batch_2d):
    pfv = PFVExplainer(model_2d())
    gallery = PFVGallery(pfv, batch_2d)
    gallery.layer_control.value = pfv.layers[0]
    assert torch.equal(gallery.result.rgb, pfv.explain(batch_2d, layer=pfv.layers[0]).rgb)
    gallery.component_controls[0].value = 4
    assert gallery.result.component_numbers == (4, 2, 3)
    assert torch.equal(gallery.result.rgb, pfv.explain(batch_2d, layer=pfv.layers[0], components=(4, 2, 3)).rgb)
    gallery.set_options(layer=pfv.layers[1], components=(2, 3, 1), hierarchical=True)
    assert torch.equal(gallery.result.rgb, pfv.explain(batch_2d, components=(2, 3, 1), hierarchical=True).rgb)
    # the selection takes effect on the button: batch composition changes the decomposition
    gallery.selection_control.value = (1, 4, 5)
    assert gallery.selection == tuple(range(6))
    gallery.recompute_button.click()
    assert gallery.selection == (1, 4, 5) and len(gallery.image_traces) == 3
    sub = pfv.explain(batch_2d[[1, 4, 5]], components=(2, 3, 1), hierarchical=True)
    assert torch.equal(gallery.result.rgb, sub.rgb)
    np.testing.assert_allclose(gallery.images, expected_images(sub.rgb, batch_2d[[1, 4, 5]], 0.7), atol=1e-12)


def test_bars_are_foreground_means(batch_2d):
    gallery = PFVGallery(PFVExplainer(model_2d()), batch_2d)
    a, rgb = gallery.result.activation.double(), gallery.result.rgb.double()
    threshold = a.median()
    for k in range(len(batch_2d)):
        mask = a[k] > threshold
        expected = [float(rgb[k, c][mask].mean()) if mask.any() else 0.0 for c in range(3)]
        np.testing.assert_allclose(gallery.bars[k], expected, atol=1e-12)
        bars = [t for t in gallery.figure.data if t.type == "bar"][k]
        np.testing.assert_allclose(bars.y, expected, atol=1e-12)


def test_3d_slice_slider_picks_z():
    torch.manual_seed(3)
    x = torch.rand(3, 1, 8, 8, 8)
    pfv = PFVExplainer(model_3d())
    gallery = PFVGallery(pfv, x)
    assert gallery.slice_control.value == 4
    gallery.slice_control.value = 2
    rgb = pfv.explain(x).rgb[:, :, 2].double()
    expected = []
    for k in range(3):   # the grey is scaled over the whole volume, not the slice
        g = x[k, 0].double()
        grey = ((g - g.min()) / (g.max() - g.min()))[2]
        expected.append((0.3 * grey[None] + 0.7 * rgb[k]).permute(1, 2, 0).numpy())
    np.testing.assert_allclose(gallery.images, np.stack(expected), atol=1e-12)
    assert gallery.images.shape == (3, 8, 8, 3)


def test_click_opens_a_cam_viewer_of_that_sample(batch_2d):
    model = model_2d()
    gallery = PFVGallery(PFVExplainer(model), batch_2d, class_names=["a", "b", "c"])
    gallery.set_options(selection=[0, 3, 5])
    # what the browser sends for a click on the second image (trace 2: images and bar charts alternate)
    gallery.figure._handler_js2py_pointsCallback({"new": {
        "event_type": "plotly_click", "points": {"xs": [7], "ys": [5], "point_indexes": [[5, 7]], "trace_indexes": [2]},
    }})
    assert isinstance(gallery.viewer, CAMViewer) and gallery.viewer_index == 3
    assert torch.equal(gallery.viewer._samples[0][0], batch_2d[3])
    explainer = CAMExplainer(model)
    gallery2 = PFVGallery(PFVExplainer(model), batch_2d, explainer_for_viewer=explainer)
    viewer = gallery2.open_viewer(5)
    assert viewer.explainer is explainer and gallery2.viewer_index == 5


def test_bad_components_show_an_error_and_keep_working(batch_2d):
    pfv = PFVExplainer(model_2d())
    gallery = PFVGallery(pfv, batch_2d)
    before = gallery.result
    gallery.component_controls[2].value = 99
    assert "component 99 does not exist" in gallery.error.value and gallery.result is before
    gallery.component_controls[2].value = 1     # not distinct
    assert "distinct" in gallery.error.value
    gallery.selection_control.value = ()
    gallery.recompute()
    assert "select at least one" in gallery.error.value
    gallery.set_options(components=(1, 2, 3), selection=[0, 1])
    assert gallery.error.value == "" and torch.equal(gallery.result.rgb, pfv.explain(batch_2d[[0, 1]]).rgb)


def test_one_figure_widget_for_the_gallery_life(batch_2d):
    """Recomputing restyles the same FigureWidget (its JavaScript reaches the browser once); a
    smaller selection removes the subplots it no longer uses."""
    pfv = PFVExplainer(model_2d())
    gallery = PFVGallery(pfv, batch_2d)
    figure = gallery.figure
    gallery.component_controls[0].value = 4
    assert gallery.figure is figure and len(gallery.image_traces) == 6
    np.testing.assert_allclose(shown(figure.data[0]), gallery.images[0] * 255, atol=0.5 + 1e-9)
    gallery.set_options(selection=[2, 3])
    assert gallery.figure is figure and [t.type for t in figure.data] == ["image", "bar", "image", "bar"]
    layout = figure.layout.to_plotly_json()
    axes = {key for key in layout if key.startswith(("xaxis", "yaxis"))}
    assert axes == {f"{a}{k}" for a in ("xaxis", "yaxis") for k in ("", 2, 3, 4)}   # 2 images over 2 bar charts
    assert [a["text"].split()[0] for a in layout["annotations"] if a["text"]] == ["#2", "#3"]
    np.testing.assert_allclose(shown(figure.data[2]), gallery.images[1] * 255, atol=0.5 + 1e-9)
    gallery.set_options(selection=[0, 1, 2, 3, 4, 5])
    assert gallery.figure is figure and len(gallery.image_traces) == 6
    assert figure.layout["xaxis16"].anchor == "y16"
    assert [t.name for t in gallery.image_traces] == [f"#{i}" for i in range(6)]


def test_static_png_is_the_image_grid(batch_2d):
    gallery = PFVGallery(PFVExplainer(model_2d()), batch_2d[:5])
    bundle = gallery._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image/png"]))).convert("RGB"))
    assert png.shape == (2 * (2 * 16 + 2), 2 * (4 * 16 + 3 * 2), 3)      # 2 rows x 4 columns, 2-pixel gaps, x2
    np.testing.assert_allclose(png[::2, ::2][18:34, :16], gallery.images[4] * 255, atol=0.5 + 1e-9)  # row 2, col 1
    assert (png[::2, ::2][16:18] == 255).all()
    assert "application/vnd.jupyter.widget-view+json" in data


def test_too_many_samples_is_an_error_that_says_the_limit():
    x = torch.rand(40, 1, 16, 16)
    gallery = PFVGallery(PFVExplainer(model_2d()), x)
    assert len(gallery.selection) == 16
    gallery.set_options(selection=range(40))
    assert "at most 32" in gallery.error.value and len(gallery.selection) == 16


def test_bad_construction_says_what_is_accepted(batch_2d):
    pfv = PFVExplainer(model_2d())
    with pytest.raises(TypeError, match="needs a PFVExplainer, got CAMExplainer"):
        PFVGallery(CAMExplainer(model_2d()), batch_2d)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) or \(B, C, D, H, W\), got shape \(1, 16, 16\)"):
        PFVGallery(pfv, batch_2d[0])
    with pytest.raises(ValueError, match="one class per sample, 6 for this batch, got 4"):
        PFVGallery(pfv, batch_2d, labels=[0, 1, 2, 0])


def test_titles_give_index_label_and_prediction(batch_2d):
    model = model_2d()
    gallery = PFVGallery(PFVExplainer(model), batch_2d, class_names=["a", "b", "c"], labels=[0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        predicted = model(batch_2d).argmax(1).tolist()
    titles = [a.text for a in gallery.figure.layout.annotations if a.text]
    assert titles == [f"#{i} true {'abc'[i % 3]} pred {'abc'[predicted[i]]}" for i in range(6)]
    assert gallery.recompute_button.description == "recompute on selection" and not gallery.recompute_button.disabled
