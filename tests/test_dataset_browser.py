"""DatasetBrowser on synthetic run stores (``tests/browser_store_fixtures.py``): every sort, filter, page,
histogram and disagreement value against numpy computed here, the lazy open, the stored-maps CAMViewer
(no forward pass), the live viewer, the error messages and the static HTML fallback."""

from __future__ import annotations

import html
import io
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import zarr
from PIL import Image
from scipy.stats import spearmanr
from torch import nn

from cam_widgets import CAMExplainer
from cam_widgets.batch.store import RunStoreError
from cam_widgets.widgets import CAMViewer, DatasetBrowser
from cam_widgets.widgets.codec import decode_array
from cam_widgets.widgets.colormaps import lut
from cam_widgets.widgets.stored import NOT_STORED, StoredViewer

from .browser_store_fixtures import CLASS_NAMES, write_store

DONE = [1, 1, 0, 1, 1]  # chunk 2 (samples 16..23) not computed


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("db") / "run.zarr", done=DONE)


@pytest.fixture(scope="module")
def all_store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("db_all") / "run.zarr", targets=("all",), seed=1, dtype="float16")


def columns_of(s) -> dict[str, np.ndarray]:
    """The table's columns, computed here from what the fixture wrote."""
    p = s.scores.astype(np.float64)
    e = np.exp(p - p.max(1, keepdims=True))
    probs = e / e.sum(1, keepdims=True)
    rows = np.arange(len(p))
    out = {"index": rows.astype(np.float64), "label": s.label.astype(np.float64),
           "prediction": s.prediction.astype(np.float64), "score": p[rows, s.prediction],
           "probability": probs[rows, s.prediction],
           "correct": np.where(s.label >= 0, (s.label == s.prediction).astype(np.float64), np.nan)}
    out.update({k: v.astype(np.float64) for k, v in s.metrics.items()})
    return out


def expected_order(values, keep, descending) -> list[int]:
    """Stable, NaN last both ways, ties by index."""
    idx = [i for i in range(len(values)) if keep[i]]
    nan = [i for i in idx if np.isnan(values[i])]
    fine = sorted((i for i in idx if not np.isnan(values[i])), key=lambda i: -values[i] if descending else values[i])
    return fine + nan


CASES = [
    ("score", True, {}),
    ("probability", False, {"filter_prediction": [1, 3]}),
    ("label", True, {"filter_correct": "incorrect"}),
    ("correct", False, {"filter_label": [-1, 2]}),
    ("sum-to-score/gradcam/conv2/tau", True, {"filter_correct": "correct"}),
    ("index", True, {"filter_range": [-0.5, 0.8]}),
]


@pytest.mark.parametrize("sort_by, descending, filters", CASES)
def test_sort_filter_page_match_numpy(store, sort_by, descending, filters):
    cols = columns_of(store)
    keep = store.available.copy()
    if "filter_prediction" in filters:
        keep &= np.isin(store.prediction, filters["filter_prediction"])
    if "filter_label" in filters:
        keep &= np.isin(store.label, filters["filter_label"])
    if "filter_correct" in filters:
        keep &= cols["correct"] == (1.0 if filters["filter_correct"] == "correct" else 0.0)
    if "filter_range" in filters:
        low, high = filters["filter_range"]
        keep &= (cols["score"] >= low) & (cols["score"] <= high)
    want = expected_order(cols[sort_by], keep, descending)
    browser = DatasetBrowser(store.path, data=store.data, page_size=5, sort_by=sort_by, sort_descending=descending,
                             **filters)
    assert browser.shown.tolist() == want
    assert browser.n_rows == len(want) and browser.n_pages == max(1, -(-len(want) // 5))
    browser.page = browser.n_pages - 1
    page = want[(browser.n_pages - 1) * 5:]
    assert [row["index"] for row in browser.rows] == page
    for row in browser.rows:
        i = row["index"]
        assert row["source"] == store.source[i] and row["label"] == store.label[i]
        assert row["score"] == pytest.approx(cols["score"][i]) and row["probability"] == pytest.approx(cols["probability"][i])
        assert row["sum-to-score/gradcam/conv2/l1"] == pytest.approx(store.metrics["sum-to-score/gradcam/conv2/l1"][i])


def test_filters_reset_the_page_and_page_size_keeps_the_first_row(store):
    browser = DatasetBrowser(store.path, page_size=4)
    browser.page = 3
    first = browser.rows[0]["index"]
    browser.page_size = 8
    assert browser.page == 1 and first in [row["index"] for row in browser.rows]
    browser.filter_correct = "correct"
    assert browser.page == 0


def test_histogram_counts_the_other_filters(store):
    cols = columns_of(store)
    browser = DatasetBrowser(store.path, filter_prediction=[0, 1, 2], histogram_column="probability")
    keep = store.available & np.isin(store.prediction, [0, 1, 2])
    counts, edges = np.histogram(cols["probability"][keep], bins=30)
    assert browser.histogram["counts"] == counts.tolist()
    assert np.allclose(browser.histogram["edges"], edges)
    browser.filter_range = [float(edges[3]), float(edges[20])]
    assert browser.histogram["counts"] == counts.tolist()  # its own range does not filter the histogram
    assert all(edges[3] <= cols["probability"][i] <= edges[20] for i in browser.shown)
    browser.histogram_column = "score"
    assert browser.filter_range == []  # the range belonged to the previous column


@pytest.mark.parametrize("measure", ["pearson", "spearman"])
def test_disagreement_matches_numpy(store, measure):
    browser = DatasetBrowser(store.path, sort_by="score")
    assert "disagreement" not in [c["name"] for c in browser.columns]
    browser.disagreement_measure = measure
    browser.disagreement_methods = ["gradcam", "respondcam"]
    a = store.maps["gradcam/conv2/predicted"].reshape(len(store.label), -1)
    b = store.maps["respondcam/conv2/predicted"].reshape(len(store.label), -1)
    r = [np.corrcoef(x, y)[0, 1] if measure == "pearson" else spearmanr(x, y)[0] for x, y in zip(a, b)]
    want = np.where(store.available, 1 - np.array(r), np.nan)
    got = browser.table.column("disagreement")
    assert np.allclose(got[store.available], want[store.available]) and np.isnan(got[~store.available]).all()
    browser.sort_by, browser.sort_descending = "disagreement", True
    assert browser.shown.tolist() == expected_order(want, store.available, True)
    assert browser.rows[0]["disagreement"] == pytest.approx(np.nanmax(want))
    browser.disagreement_methods = []
    assert browser.sort_by == "index" and "disagreement" not in [c["name"] for c in browser.columns]


def test_disagreement_of_all_targets_uses_the_predicted_class(all_store):
    browser = DatasetBrowser(all_store.path, disagreement_methods=["gradcam", "respondcam"])
    rows = np.arange(len(all_store.label))
    a = all_store.maps["gradcam/conv2/all"][rows, all_store.prediction].reshape(len(rows), -1).astype(np.float64)
    b = all_store.maps["respondcam/conv2/all"][rows, all_store.prediction].reshape(len(rows), -1).astype(np.float64)
    want = [1 - np.corrcoef(x, y)[0, 1] for x, y in zip(a, b)]
    assert np.allclose(browser.table.column("disagreement"), want)


def test_open_reads_no_map(store, monkeypatch):
    read = []
    original = zarr.Group.__getitem__

    def recording(self, key):
        read.append(key)
        return original(self, key)

    monkeypatch.setattr(zarr.Group, "__getitem__", recording)
    browser = DatasetBrowser(store.path, data=store.data)
    assert browser.rows and not [k for k in read if "maps" in k]
    assert store.data.reads == 0  # no sample read either
    browser._on_message(browser, {"type": "thumbnails"}, [])  # a front end asks for the pictures
    assert len(browser.thumbnails) == len(browser.rows) and [k for k in read if k.startswith("maps/")]


def test_thumbnail_without_data_is_the_map_in_its_colormap(store):
    browser = DatasetBrowser(store.path, map_method="gradcam")
    assert "thumbnails show the maps alone" in browser.notice
    png = browser.page_thumbnails()[0]
    got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    raw = torch.from_numpy(store.maps["gradcam/conv2/predicted"][browser.rows[0]["index"]])
    up = F.interpolate(torch.relu(raw)[None, None], size=(12, 12, 12), mode="trilinear", align_corners=False)[0, 0]
    central = up[6].double().numpy()
    index = np.round((central - central.min()) / (central.max() - central.min()) * 255).astype(int)
    want = np.where((central == 0)[..., None], 0, lut("inferno")[index])
    assert got.shape == (12, 12, 3) and np.abs(got.astype(int) - want).max() <= 1


def test_stored_viewer_shows_the_stored_map_without_a_forward_pass(store, monkeypatch):
    def forbidden(self, *args, **kwargs):
        raise AssertionError("a forward pass ran")

    monkeypatch.setattr(nn.Module, "__call__", forbidden)
    browser = DatasetBrowser(store.path, data=store.data, map_method="respondcam")
    browser.selected = 5
    viewer = browser.viewer
    assert isinstance(viewer, StoredViewer) and viewer in browser.viewer_box.children and not viewer.error
    assert viewer.method == "respondcam" and viewer.target_class == store.prediction[5]
    raw = store.maps["respondcam/conv2/predicted"][5]
    assert np.array_equal(viewer.result.raw[0].numpy(), raw)
    up = F.interpolate(torch.from_numpy(raw)[None, None], size=(12, 12, 12), mode="trilinear", align_corners=False)[0, 0]
    cam = decode_array(viewer.cam)
    assert viewer.cam_signed and np.abs(cam - up.numpy()).max() <= np.abs(up.numpy()).max() / 255 + 1e-6
    viewer.method = "gradcam"
    cam = decode_array(viewer.cam)
    up = F.interpolate(torch.relu(torch.from_numpy(store.maps["gradcam/conv2/predicted"][5]))[None, None],
                       size=(12, 12, 12), mode="trilinear", align_corners=False)[0, 0].numpy()
    assert not viewer.cam_signed and np.abs(cam - up).max() <= up.max() / 255 + 1e-6
    assert viewer.methods == ["gradcam", "respondcam"]
    assert viewer.method_info["scorecam"]["unavailable"] == NOT_STORED
    assert viewer.available_classes == [int(store.prediction[5])]  # the select disables the other classes
    assert viewer.class_unavailable.startswith(NOT_STORED) and "(predicted)" in viewer.class_unavailable
    other = (store.prediction[5] + 1) % 5
    viewer.target_class = int(other)
    assert viewer.target_class == store.prediction[5] and "is not stored for this sample" in viewer.error
    viewer.method = "scorecam"
    assert viewer.method == "gradcam" and "not stored in this run" in viewer.error
    assert viewer.stored.reads == 2


def test_stored_viewer_with_all_targets_offers_every_class(all_store):
    browser = DatasetBrowser(all_store.path, data=all_store.data)
    viewer = browser.open_viewer(7)
    assert viewer.available_classes == [0, 1, 2, 3, 4]
    for c in range(5):
        viewer.target_class = c
        assert not viewer.error and viewer.result.raw[0].numpy().tolist() == \
            all_store.maps["gradcam/conv2/all"][7, c].astype(np.float32).tolist()


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv3d(1, 4, 3, padding=1), relu1=nn.ReLU(), conv2=nn.Conv3d(4, 6, 3, stride=4, padding=1),
        relu2=nn.ReLU(), pool=nn.AdaptiveAvgPool3d(1), flatten=nn.Flatten(), fc=nn.Linear(6, 5))).eval()


def test_live_viewer_equals_cam_explainer(store):
    model = small_model()
    browser = DatasetBrowser(store.path, model=model, data=store.data)
    viewer = browser.open_viewer(9)
    assert isinstance(viewer, CAMViewer) and not isinstance(viewer, StoredViewer) and browser.live
    x = torch.from_numpy(store.volumes[9])[None, None]
    want = CAMExplainer(model, layers=["conv2"]).explain(x, target=viewer.target_class, method="gradcam", layer="conv2")
    assert torch.allclose(viewer.result.raw, want.raw)
    assert viewer.target_class == int(model(x).argmax())


def test_errors_are_clear(store, tmp_path):
    with pytest.raises(ValueError, match="unknown sort column 'nope'; valid: index, source"):
        DatasetBrowser(store.path, sort_by="nope")
    with pytest.raises(TypeError, match="unexpected keyword argument 'sortby'"):
        DatasetBrowser(store.path, sortby="score")
    with pytest.raises(RunStoreError, match="no run store"):
        DatasetBrowser(tmp_path / "missing.zarr")
    with pytest.raises(ValueError, match="the data set has 3 samples, the run 40"):
        DatasetBrowser(store.path, data=[torch.zeros(1, 12, 12, 12)] * 3)
    browser = DatasetBrowser(store.path)
    with pytest.raises(ValueError, match="histogram column .* 'source'"):
        browser.histogram_column = "source"
    assert browser.histogram_column == "score" and "histogram_column = 'source' was not applied" in browser.error
    with pytest.raises(ValueError, match="sample 17 is not computed yet"):
        browser.selected = 17
    with pytest.raises(ValueError, match="disagreement_methods must be"):
        browser.disagreement_methods = ["gradcam"]
    with pytest.raises(ValueError, match="the run stores no map scorecam/conv2/predicted"):
        browser.map_method = "scorecam"
    with pytest.raises(ValueError, match="page"):
        browser.page = 99
    browser.set_state({"sort_by": "nope"})  # from the browser: refused and explained, nothing raised
    assert browser.sort_by == "index" and "sort_by = 'nope' was not applied" in browser.error
    browser.selected = 3  # no data here, none recorded: the viewer says what to pass
    assert browser.viewer is None and "pass data=" in browser.error


def test_static_html_fallback_lists_the_first_rows(store):
    browser = DatasetBrowser(store.path, sort_by="score", sort_descending=True, filter_correct="incorrect")
    data = browser._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in data
    page = data["text/html"]
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>")[1])
    assert len(rows) == min(20, browser.n_rows)
    cols = columns_of(store)
    for row, i in zip(rows, browser.shown):
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
        assert cells[0] == str(i) and cells[1] == store.source[i]
        assert cells[3] == f"{store.prediction[i]}: {CLASS_NAMES[store.prediction[i]]}"
        assert cells[4] == "✗" and float(cells[5]) == pytest.approx(cols["score"][i], rel=5e-3)
    assert f"{browser.n_rows} of 40 samples" in page


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A store made by explain_dataset: the demo CNN-1 on a folder of simulated subtomograms."""
    from cam_widgets.batch import explain_dataset
    from cam_widgets.datasets.folder import save_subtomogram_folder
    from cam_widgets.zoo import load_demo_cnn1

    root = tmp_path_factory.mktemp("real")
    save_subtomogram_folder(root / "data", 8, size=24)
    return explain_dataset(load_demo_cnn1(), root / "data", methods=["gradcam", "respondcam"], out=root / "run.zarr",
                           chunk_size=4, metrics=["sum-to-score"], progress=False)


def test_real_run_stored_maps_equal_the_live_ones(real_run):
    from cam_widgets.zoo import load_demo_cnn1

    browser = DatasetBrowser(real_run)  # the data: the folder the run recorded
    assert browser.has_data and browser.n_rows == 8 and "sum-to-score/respondcam/maxpool2/l1" in browser.table.names()
    stored = browser.open_viewer(5)
    live = DatasetBrowser(real_run, model=load_demo_cnn1()).open_viewer(5)
    assert isinstance(stored, StoredViewer) and not isinstance(live, StoredViewer)
    for method in ("gradcam", "respondcam"):
        stored.method = live.method = method
        want = live.result.raw
        assert stored.target_class == live.target_class and not stored.error
        assert torch.allclose(stored.result.raw, want, rtol=2e-3, atol=2e-3 * float(want.abs().max()))


def test_refresh_lists_chunks_done_since_the_browser_opened(tmp_path):
    from cam_widgets.batch.store import mark_done

    s = write_store(tmp_path / "run.zarr", done=DONE)
    browser = DatasetBrowser(s.path)
    assert not set(range(16, 24)) & set(browser.shown.tolist())
    group = zarr.open_group(str(s.path), mode="r+")
    group["scores"][16:24], group["prediction"][16:24] = s.scores[16:24], s.prediction[16:24]
    mark_done(group["done"], 2)
    assert browser.n_rows == 32 and "8 of 40 samples are not computed yet" in browser.notice
    browser.refresh()
    assert browser.n_rows == 40 and browser.n_available == 40 and "not computed" not in browser.notice
