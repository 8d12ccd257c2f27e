"""The CAMViewer a DatasetBrowser opens below its table, and the data set it shows: on the stored maps
(``stored.StoredViewer``, no forward pass) or, when the browser has a model, a live CAMViewer of the sample."""

from __future__ import annotations

import html

import numpy as np

from ..batch.samples import split_item


def make_viewer(browser, index: int):
    """Sample ``index`` of ``browser``'s run in a StoredViewer, or with ``browser.model`` a live CAMViewer."""
    if browser.data is None:
        raise ValueError("the viewer needs the sample's volume and the run records no data folder that "
                         "exists here: pass data= (the data set the run explained)")
    x = split_item(browser.data[index])[0].float()
    label = int(browser.run.label[index])
    options = {"class_names": browser.class_names, "method": browser.map_method or None,
               "layer": browser.map_layer or None}
    if browser.model is None:
        from .stored import StoredViewer

        return StoredViewer(browser.run, index, x, **options)
    from ..explainer import CAMExplainer
    from .cam_viewer import CAMViewer

    if browser._explainer is None:
        browser._explainer = CAMExplainer(browser.model, layers=browser.run.layers or None)
    return CAMViewer(browser._explainer, x, labels=[label] if label >= 0 else None, **options)


def viewer_title(browser, index: int) -> str:
    """The HTML line above the viewer: the sample, its file, label and prediction, and how its maps are made."""
    row, = browser.table.rows(np.array([index]), ["source", "label", "prediction"])
    names = browser.class_names
    what = "live (model=)" if browser.model is not None else "stored maps (no model)"
    label = names[row["label"]] if row["label"] >= 0 else "unknown"
    return (f"<b>sample {index}</b> · {html.escape(str(row['source']))} · label {html.escape(label)} · "
            f"predicted {html.escape(names[row['prediction']])} · {what}")


def data_of(run, data) -> tuple[object | None, str]:
    """The data set to show (``data``, else the store's recorded folder), checked against the run's samples
    (``Run.dataset``), and, without one, what that means."""
    if data is not None:
        return run.dataset(data), ""
    try:
        return run.dataset(), ""
    except Exception as problem:
        return None, f"no data set ({problem}): thumbnails show the maps alone, the viewer needs data="
