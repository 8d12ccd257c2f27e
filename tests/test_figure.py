"""The widget's picture (``widgets/figure.py``): panels equal to ``render.compose`` of the right slice (real
voxel indices on a downsampled volume), titles, colour bars, colour inputs, the zero-map message and the
picker's labels and M, as the browser draws them."""


import numpy as np
import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer
from cam_widgets.widgets import CAMViewer, PixelSetPicker
from cam_widgets.widgets.codec import decode_array, encode_array, pack_mask
from cam_widgets.widgets.figure import (GAP, MIN_SIDE, PAD, Panel, display_index, draw_figure, map_titles, panel_titles,
                                        widget_figure, widget_panels, zero_message)
from cam_widgets.widgets.render import (MASK_COLOR, colorbar_pixels, compose, format_value,
                                        paint_labels, paint_mask)
from tests.models import classifier, segnet
from tests.node_runner import run_js


class FakeWidget:
    """Just the traits the picture reads (what a CAMViewer holds), for tests independent of explaining."""

    def __init__(self, **traits):
        defaults = dict(image={}, cam={}, cam_signed=False, compare={}, compare_signed=False, class_names=list("abc"),
                        layer="conv", method="gradcam", target_class=1, compare_method="", slice_index=0, axis=0,
                        crosshair=[], opacity=0.5, colormap="inferno", input_shape=[], relu=False, window=[])
        self.__dict__.update(defaults | traits)

    def has_trait(self, name):
        return name in self.__dict__


def find(picture: np.ndarray, block: np.ndarray) -> tuple[int, int]:
    """Where ``block`` lies in ``picture`` (top-left corner); fails when it is not there."""
    h, w = block.shape[:2]
    for y in range(picture.shape[0] - h + 1):
        for x in np.flatnonzero((picture[y, : picture.shape[1] - w + 1] == block[0, 0]).all(-1)):
            if np.array_equal(picture[y : y + h, x : x + w], block):
                return y, x
    raise AssertionError("block not found in the picture")


def volume(shape, seed=0):
    return np.random.default_rng(seed).random(shape)


def test_real_indices_of_a_downsampled_volume_pick_the_shown_slice():
    image, cam = volume((128, 4, 5)), volume((128, 4, 5), 1)
    widget = FakeWidget(image=encode_array(image), cam=encode_array(cam), input_shape=[256, 8, 10], slice_index=201,
                        crosshair=[201, 5, 9])
    assert display_index(201, 256, 128) == 100
    main, *_ = widget_panels(widget)[0]
    img, over = decode_array(widget.image), decode_array(widget.cam)
    expected = compose(img[100], over[100], (widget.image["vmin"], widget.image["vmax"]),
                       (widget.cam["vmin"], widget.cam["vmax"]), False, "inferno", 0.5)
    assert np.array_equal(main.rgb, expected)
    assert not np.array_equal(main.rgb, compose(img[101], over[101], (0, 1), (widget.cam["vmin"], widget.cam["vmax"])))
    coronal, sagittal = widget_panels(widget)[1]  # y = 5 of 8 -> 2 of 4; x = 9 of 10 -> 4 of 5
    ranges = (widget.image["vmin"], widget.image["vmax"]), (widget.cam["vmin"], widget.cam["vmax"])
    assert np.array_equal(coronal.rgb, compose(img[:, 2], over[:, 2], *ranges))
    assert sagittal.rgb.shape[:2] == (128, 4)
    assert panel_titles(widget) == [["gradcam · conv · b · axial z=201"], ["coronal y=5", "sagittal x=9"]]


def test_the_viewer_on_a_downsampled_volume_through_the_public_api():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                          nn.Linear(4, 3)).double().eval()
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), torch.randn(1, 256, 16, 16, dtype=torch.float64),
                       max_display_voxels=128 * 8 * 8, class_names=["x", "y", "z"])
    assert viewer.image["shape"] == [128, 8, 8] and list(viewer.input_shape) == [256, 16, 16]
    viewer.slice_index = 201
    main = widget_panels(viewer)[0][0]
    img, over = decode_array(viewer.image), decode_array(viewer.cam)
    expected = compose(img[100], over[100], (viewer.image["vmin"], viewer.image["vmax"]),
                       (viewer.cam["vmin"], viewer.cam["vmax"]), viewer.cam_signed, viewer.colormap, viewer.opacity)
    assert np.array_equal(main.rgb, expected)
    assert map_titles(viewer)["main"] == f"gradcam · 1 · {viewer.class_names[viewer.target_class]} · axial z=201"


def test_the_picture_holds_every_panel_enlarged_with_its_colour_bar():
    image, cam = volume((8, 8)), volume((8, 8), 1) - 0.5
    widget = FakeWidget(image=encode_array(image), cam=encode_array(cam, -0.5, 0.5), cam_signed=True,
                        compare=encode_array(cam + 0.5), compare_method="hirescam")
    (main, compare), = widget_panels(widget)
    assert [main.title, compare.title] == ["gradcam · conv · b", "hirescam · conv · b"]
    assert main.colorbar == ("RdBu", [(0.0, "-0.5"), (0.5, "0"), (1.0, "0.5")])
    assert compare.colorbar[0] == "inferno" and [label for _, label in compare.colorbar[1]] == [
        format_value(widget.compare["vmin"]), format_value(widget.compare["vmax"])]
    for scale in (1, 2):
        picture = widget_figure(widget, scale)
        k = MIN_SIDE // 8 * scale
        assert picture.shape[1] >= 2 * MIN_SIDE * scale
        y, x = find(picture, main.rgb.repeat(k, 0).repeat(k, 1))
        assert x == PAD * scale
        bar_x = x + 8 * k + GAP * scale + 7 * scale  # the middle column of the bar
        bar = picture[y + 2 : y + 8 * k - 2, bar_x]
        assert np.array_equal(bar, colorbar_pixels("RdBu", 8 * k)[2:-2])
        labels = picture[y : y + 8 * k, bar_x + 12 * scale : bar_x + 60 * scale]
        assert (labels.max(-1) < 100).sum() > 20 * scale  # dark text of the tick labels
        find(picture, compare.rgb.repeat(k, 0).repeat(k, 1))


def test_a_pure_red_channel_shows_red_where_the_map_is_hidden():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2)).double().eval()
    x = torch.zeros(3, 8, 8, dtype=torch.float64)
    x[0] = 1.0
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), x)
    assert viewer.channel == "rgb" and viewer.image["rgb"] and viewer.image["shape"] == [3, 8, 8]
    viewer.opacity = 0.0
    main = widget_panels(viewer)[0][0]
    assert (main.rgb == [255, 0, 0]).all()
    viewer.opacity = 1.0
    widget = FakeWidget(image=viewer.image, cam=encode_array(np.where(np.arange(64).reshape(8, 8) % 2, 1.0, 0.0)),
                        opacity=1.0)
    rgb = widget_panels(widget)[0][0].rgb
    assert (rgb[0, 0] == [255, 0, 0]).all() and not (rgb[0, 1] == [255, 0, 0]).all()  # 0 hidden, 1 drawn


def test_rgb_compose_blends_each_channel_with_the_grey_rule():
    base = volume((4, 5, 3))
    overlay = volume((4, 5), 2)
    ours = compose(base, overlay, (0, 1), (0, 1), False, "viridis", 0.3, (0.2, 0.8), rgb=True)
    for c in range(3):  # each channel is a grey composition of that channel
        assert np.array_equal(ours[..., c], compose(base[..., c], overlay, (0, 1), (0, 1), False, "viridis", 0.3,
                                                    (0.2, 0.8))[..., c])


def test_a_zero_map_carries_its_message():
    image = volume((8, 8))
    zero = FakeWidget(image=encode_array(image), cam=encode_array(np.zeros((8, 8))), opacity=0.0)
    hidden = FakeWidget(image=encode_array(image), cam=encode_array(volume((8, 8), 1)), opacity=0.0)
    message = zero_message("gradcam", "b", "conv")
    assert "zero" in message and message == ("the gradcam map of b at conv is zero everywhere: try another layer, "
                                             "method or class")
    assert widget_panels(zero)[0][0].message == message and widget_panels(hidden)[0][0].message == ""
    assert np.array_equal(widget_panels(zero)[0][0].rgb, widget_panels(hidden)[0][0].rgb)  # opacity 0: same pixels
    a, b = widget_figure(zero), widget_figure(hidden)
    k = MIN_SIDE // 8
    y, x = find(b, widget_panels(hidden)[0][0].rgb.repeat(k, 0).repeat(k, 1))
    panel_zero, panel_hidden = a[y : y + 8 * k, x : x + 8 * k], b[y : y + 8 * k, x : x + 8 * k]
    assert (panel_zero != panel_hidden).any(-1).sum() > 1000  # the message box and its text


NODE_OVERLAY = """
import { paintLabels, paintMask } from "./src/label_overlay.js";
const input = JSON.parse(process.argv[2]);
const rgba = new Uint8ClampedArray(input.rows * input.cols * 4);
input.rgb.forEach((v, i) => { rgba[4 * Math.floor(i / 3) + (i % 3)] = v; });
paintLabels(rgba, Uint8Array.from(input.classes), 0.4);
paintMask(rgba, Uint8Array.from(input.mask), input.rows, input.cols);
console.log(JSON.stringify(Array.from(rgba)));
"""


def test_label_and_mask_painting_match_the_browser_pixel_for_pixel(tmp_path):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (9, 11, 3)).astype(np.uint8)
    classes = rng.integers(0, 15, (9, 11))
    mask = np.zeros((9, 11), bool)
    mask[1:8, 2:10] = True
    mask[0, 0] = mask[4, 5] = False
    ours = paint_mask(paint_labels(rgb, classes), mask)
    payload = {"rows": 9, "cols": 11, "rgb": rgb.ravel().tolist(), "classes": classes.ravel().tolist(),
               "mask": mask.ravel().astype(int).tolist()}
    browser = np.array(run_js(NODE_OVERLAY, payload)).reshape(9, 11, 4)[..., :3]
    assert np.array_equal(browser, ours)
    # the rule itself: outline solid, interior light, pixels outside M untouched
    assert (ours[1, 2] == MASK_COLOR).all() and (ours[0, 0] == paint_labels(rgb, classes)[0, 0]).all()
    inside = paint_labels(rgb, classes)[3, 4].astype(float)
    assert np.array_equal(ours[3, 4], np.round(0.8 * inside + 0.2 * MASK_COLOR).astype(np.uint8))  # (3 + 4) % 6 != 0


def test_the_picker_picture_before_and_after_a_pick():
    picker = PixelSetPicker(CAMExplainer(segnet(), layers=["dec"]), torch.randn(1, 16, 16, dtype=torch.float64),
                            class_names=["bg", "cat", "dog"])
    assert panel_titles(picker) == [["input · predicted labels · M", "hirescam · dec · no class yet"]]
    pick, cam = widget_panels(picker)[0]
    assert pick.colorbar is None and cam.colorbar is None and pick.rgb.shape == (16, 16, 3)
    assert widget_figure(picker).shape[1] >= MIN_SIDE
    image = decode_array(picker.image)
    classes = np.frombuffer(picker.labels["buffer"], np.uint8).reshape(16, 16)
    base = compose(image, None, (picker.image["vmin"], picker.image["vmax"]))
    assert np.array_equal(pick.rgb, paint_mask(paint_labels(base, classes), np.zeros((16, 16), bool)))

    mask = np.zeros((16, 16), bool)
    mask[2:9, 3:12] = True
    picker.target_class, picker.mask = 1, mask
    pick, cam = widget_panels(picker)[0]
    assert cam.title == "hirescam · dec · cat" and cam.colorbar is not None
    assert np.array_equal(pick.rgb, paint_mask(paint_labels(base, classes), mask))
    picker.show_labels = False
    assert np.array_equal(widget_panels(picker)[0][0].rgb, paint_mask(paint_labels(base, np.zeros_like(classes)), mask))
    picker.mask = np.zeros((16, 16), bool)  # an empty M explains to the zero map
    assert widget_panels(picker)[0][1].message == zero_message("hirescam", "cat", "dec")


def test_draw_figure_wraps_long_titles_and_keeps_the_minimum_width():
    panel = Panel("a very long title · " * 8, np.zeros((2, 3, 3), np.uint8))
    picture = draw_figure([[panel]])
    assert picture.shape[1] >= MIN_SIDE and picture.shape[1] < 2 * MIN_SIDE + 4 * PAD
    y, x = find(picture, np.zeros((2 * 86, 3 * 86, 3), np.uint8))  # enlarged 256 / 3 -> 86 times
    assert y > 3 * 13  # several title lines above the image


@pytest.mark.parametrize("value, text", [(0, "0"), (0.5, "0.5"), (1234.5, "1230"), (99950, "100000"), (1e5, "1.00e5"),
                                         (1.234e-4, "1.23e-4"), (-0.00123, "-0.00123"), (float("nan"), "–")])
def test_format_value_writes_numbers_as_the_browser(value, text):
    assert format_value(value) == text


def test_a_2d_viewer_picture_is_wide_enough():
    viewer = CAMViewer(CAMExplainer(classifier(2), layers=["4"]), torch.randn(1, 8, 8, dtype=torch.float64))
    assert widget_figure(viewer).shape[1] >= MIN_SIDE
    assert panel_titles(viewer) == [[f"gradcam · 4 · {viewer.class_names[viewer.target_class]}"]]


def test_a_volume_picker_cuts_labels_and_a_full_size_m_along_its_axis():
    image = volume((4, 6, 8))
    labels = np.random.default_rng(5).integers(0, 4, (4, 6, 8)).astype(np.float32)
    mask = np.zeros((8, 12, 16), bool)
    mask[1:7, 5:9, 2:14] = True
    mask[3, 7, 5] = False
    widget = FakeWidget(image=encode_array(image), labels=encode_array(labels, 0, 255), mask_bits=pack_mask(mask),
                        show_labels=True, target_class=-1, method="hirescam", input_shape=[8, 12, 16], axis=1,
                        slice_index=7)
    pick, cam = widget_panels(widget)[0]  # y = 7 of 12 -> 3 of 6; M's pixel p of 4 (8 real) -> 2p + 1
    assert cam.title == "hirescam · conv · no class yet · coronal y=7"
    # below: the pick views of the other two axes through the crosshair (the centre: z=4, x=8), as in the browser
    assert [p.title for p in widget_panels(widget)[1]] == ["axial z=4", "sagittal x=8"]
    base = compose(decode_array(widget.image)[:, 3], None, (widget.image["vmin"], widget.image["vmax"]))
    expected = paint_mask(paint_labels(base, labels[:, 3].astype(int)), mask[:, 7][1::2, 1::2])
    assert np.array_equal(pick.rgb, expected)


def test_a_zoomed_widget_is_drawn_zoomed_as_the_browser_shows_it():
    """zoom 2 about the centre of the top-left quarter shows that quarter, each pixel twice as large; the zoom
    centre is clamped so the view stays filled (a centre in the corner shows the same quarter)."""
    image = volume((8, 12))
    plain = widget_panels(FakeWidget(image=encode_array(image)))[0][0].rgb
    for center in ([1.5, 2.5], [0, 0]):
        zoomed = widget_panels(FakeWidget(image=encode_array(image), zoom=2.0, zoom_center=center))[0][0].rgb
        assert zoomed.shape == plain.shape
        assert np.array_equal(zoomed, plain[:4, :6].repeat(2, 0).repeat(2, 1))
    # zoom 4 about voxel (5, 7): rows 5 - 1 + (0.5 .. 7.5) / 4 -> 4, 4, 5, 5, ...; the map panel follows too
    cam = encode_array(volume((8, 12), 1))
    zoomed = widget_panels(FakeWidget(image=encode_array(image), cam=cam, zoom=4.0, zoom_center=[5, 7]))[0][0].rgb
    unzoomed = widget_panels(FakeWidget(image=encode_array(image), cam=cam))[0][0].rgb
    rows = np.floor(5.5 + (np.arange(8) + 0.5 - 4) / 4).astype(int)
    cols = np.floor(7.5 + (np.arange(12) + 0.5 - 6) / 4).astype(int)
    assert np.array_equal(zoomed, unzoomed[np.ix_(rows, cols)])


NODE_RGB = """
import { composeRGBA } from "./src/compose.js";
const input = JSON.parse(process.argv[2]);
const channels = input.base.q.map((q) => Uint8Array.from(q));
const base = { data: channels[0], channels, dtype: "uint8", vmin: input.base.vmin, vmax: input.base.vmax };
const overlay = { data: Uint8Array.from(input.overlay.q), dtype: "uint8", vmin: input.overlay.vmin, vmax: input.overlay.vmax };
console.log(JSON.stringify(Array.from(composeRGBA(base, overlay, { ...input.options, fade: input.options.signed }))));
"""


@pytest.mark.parametrize("signed, window", [(False, None), (True, (0.1, 1.5))])
def test_rgb_composition_matches_the_browser_pixel_for_pixel(signed, window, tmp_path):
    rng = np.random.default_rng(4)
    base_q, overlay_q = rng.integers(0, 256, (3, 300)), rng.integers(0, 256, 300)
    overlay_q[:30] = 128 if signed else 0
    base_range, overlay_range = (-0.5, 2.0), ((-1.3, 1.3) if signed else (0.0, 2.5))
    decode = lambda q, r: r[0] + (r[1] - r[0]) / 255 * q.astype(np.float64)
    ours = compose(decode(base_q, base_range).T[None], decode(overlay_q, overlay_range)[None], base_range,
                   overlay_range, signed, "viridis", 0.7, window, False, rgb=True)[0]
    payload = {"base": {"q": base_q.tolist(), "vmin": base_range[0], "vmax": base_range[1]},
               "overlay": {"q": overlay_q.tolist(), "vmin": overlay_range[0], "vmax": overlay_range[1]},
               "options": {"signed": signed, "window": list(window) if window else [], "colormap": "viridis",
                           "opacity": 0.7}}
    browser = np.array(run_js(NODE_RGB, payload)).reshape(-1, 4)
    assert np.array_equal(browser[:, :3], ours)


def test_the_orthogonal_views_show_the_map_the_browser_puts_on_them():
    image, cam, other = volume((6, 8, 10)), volume((6, 8, 10), 1), volume((6, 8, 10), 2)
    traits = dict(image=encode_array(image), cam=encode_array(cam), compare=encode_array(other), compare_method="layercam")
    on_cam = widget_panels(FakeWidget(**traits))[1]
    on_compare = widget_panels(FakeWidget(**traits, ortho_map="compare"))[1]
    only_cam = widget_panels(FakeWidget(**traits | {"compare": {}}, ortho_map="compare"))[1]  # compare off: the map
    compare_alone = widget_panels(FakeWidget(image=encode_array(image), cam=encode_array(other)))[1]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(on_compare, compare_alone))
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(only_cam, on_cam))
    assert not np.array_equal(on_cam[0].rgb, on_compare[0].rgb)
