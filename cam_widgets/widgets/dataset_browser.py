"""``DatasetBrowser``: browse a data-set run's store (``cam_widgets.batch.explain_dataset``) in the notebook.

    browser = DatasetBrowser("run.zarr", data=dataset)    # or a Run; model= recomputes live
    browser                                               # table, thumbnails, histogram; a click opens a CAMViewer
    browser.sort_by, browser.sort_descending = "score", True; browser.filter_correct = "incorrect"
    browser.selected = 17; browser.viewer                 # the CAMViewer of sample 17 (stored maps, no forward pass)

Everything heavy stays in Python and lazy: opening reads the chunk flags only; a column is read when a sort,
filter, histogram or page needs it (a page reads only its rows), the ``disagreement`` column is computed
when asked (``disagreement_methods``), the thumbnails when a front end shows them. The table's numpy is in
``dataset_browser_table.py``, the pictures in ``dataset_browser_thumbs.py``, the stored-maps viewer in
``stored.py``; ``docs/widget_protocol.md`` ("DatasetBrowser") is the contract with the front end.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets as t
from torch import nn

from .dataset_browser_checks import check_control
from .dataset_browser_table import RunTable
from .dataset_browser_thumbs import page_thumbnails, static_html
from .dataset_browser_viewer import data_of, make_viewer, viewer_title
from .export import WIDGET_MIME
from .static_files import css, esm
from .validation import Boolean, Integer

STATIC_ROWS = 20
"""Rows of the static HTML table a notebook shows where no front end runs."""
_TABLE = ("sort_by", "sort_descending", "filter_prediction", "filter_label", "filter_correct", "filter_range",
          "histogram_column", "page", "page_size")
_MAPS = ("map_method", "map_layer", "map_target", "colormap")
_DISAGREEMENT = ("disagreement_methods", "disagreement_measure")
_CONTROLS = (*_TABLE, *_MAPS, *_DISAGREEMENT, "selected")


class DatasetBrowser(anywidget.AnyWidget):
    """A sortable, filterable table of a run's samples with thumbnails and a histogram; a click on a row
    opens the sample in a CAMViewer below (``viewer``): on the stored maps, or live when ``model`` is given.

    ``run``: a store path or a ``cam_widgets.batch.Run``; ``data``: the data set (``(x, label)`` or ``x`` per
    sample) instead of the one the store records; ``class_names`` instead of the store's; ``page_size`` rows
    per page. Every control is a trait: a value the browser sends that is invalid is refused and explained in
    ``error``; one set from Python raises ``ValueError`` too."""

    _esm = esm("dataset_browser.js")
    _css = css("dataset_browser.css")

    # status
    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    notice = t.Unicode("").tag(sync=True)
    # set by Python
    columns = t.List(t.Dict()).tag(sync=True)
    rows = t.List(t.Dict()).tag(sync=True)
    thumbnails = t.List(t.Bytes()).tag(sync=True)
    histogram = t.Dict().tag(sync=True)
    class_names = t.List(t.Unicode()).tag(sync=True)
    map_keys = t.List(t.Unicode()).tag(sync=True)
    has_data = t.Bool(False).tag(sync=True)
    live = t.Bool(False).tag(sync=True)
    n_samples = t.Int(0).tag(sync=True)
    n_available = t.Int(0).tag(sync=True)
    n_rows = t.Int(0).tag(sync=True)
    n_pages = t.Int(1).tag(sync=True)
    # controls
    sort_by = t.Unicode("index").tag(sync=True)
    sort_descending = Boolean(False).tag(sync=True)
    filter_prediction = t.List(Integer()).tag(sync=True)
    filter_label = t.List(Integer()).tag(sync=True)
    filter_correct = t.Unicode("all").tag(sync=True)
    filter_range = t.List(t.Float()).tag(sync=True)
    histogram_column = t.Unicode("score").tag(sync=True)
    page = Integer(0).tag(sync=True)
    page_size = Integer(25).tag(sync=True)
    map_method = t.Unicode("").tag(sync=True)
    map_layer = t.Unicode("").tag(sync=True)
    map_target = t.Unicode("").tag(sync=True)
    colormap = t.Unicode("inferno").tag(sync=True)
    disagreement_methods = t.List(t.Unicode()).tag(sync=True)
    disagreement_measure = t.Unicode("pearson").tag(sync=True)
    selected = Integer(-1).tag(sync=True)

    def __init__(self, run, model: nn.Module | None = None, data=None, class_names: Sequence[str] | None = None,
                 page_size: int = 25, **controls):
        from ..batch.run import Run, open_run

        self.run = run if isinstance(run, Run) else open_run(os.fspath(run))
        self.table = RunTable(self.run)
        self.model, self._explainer = model, None
        self.data, self._why = data_of(self.run, data)
        self.viewer = None
        """The CAMViewer of the selected sample (None until a row is selected)."""
        self.viewer_box = widgets.VBox([])
        """Where ``viewer`` shows, right below the table."""
        self._refused = ""
        self._constructed, self._thumbs_wanted, self._shown_key, self._shown = False, False, None, np.arange(0)
        names = list(class_names) if class_names is not None else self.run.class_names
        if len(names) != self.run.scores.shape[1]:
            raise ValueError(f"got {len(names)} class names for a run with {self.run.scores.shape[1]} classes")
        keys = self.run.map_keys()
        first = keys[0].split("/") if keys else ["", "", ""]
        unknown = sorted(set(controls) - set(_CONTROLS))
        if unknown:
            raise TypeError(f"DatasetBrowser() got an unexpected keyword argument {unknown[0]!r}")
        super().__init__(class_names=names, map_keys=keys, has_data=self.data is not None, live=model is not None,
                         n_samples=self.run.n, columns=self.table.spec(), page_size=page_size, **self._counts(),
                         map_method=first[0], map_layer=first[1], map_target=first[2])
        with self.hold_trait_notifications():
            for name, value in controls.items():
                setattr(self, name, value)
        self._kept = {name: getattr(self, name) for name in _CONTROLS}  # the values last applied
        self.observe(lambda change: self._kept.__setitem__(change["name"], change["new"]), names=list(_CONTROLS))
        self._constructed = True
        if self.disagreement_methods:
            self._on_disagreement(None)
        self._update()
        self.observe(self._on_table, names=list(_TABLE))
        self.observe(lambda change: self._send_thumbnails(), names=list(_MAPS))
        self.observe(self._on_disagreement, names=list(_DISAGREEMENT) + ["map_layer", "map_target"])
        self.observe(lambda change: self.open_viewer(change["new"]), names=["selected"])
        self.observe(lambda change: self._refresh_static_table(), names=["rows"])
        self.on_msg(self._on_message)
        if self.selected >= 0:
            self.open_viewer(self.selected)

    # --- the Python API ----------------------------------------------------------------------------

    @property
    def shown(self) -> np.ndarray:
        """The sample indices of every row that passes the filters, in table order."""
        return self._shown

    def refresh(self) -> None:
        """Read the store again (e.g. while its run is still being written: newly done chunks appear)."""
        methods = self.table.disagreement_key
        self.table = RunTable(self.run)
        for name, value in self._counts().items():
            setattr(self, name, value)
        if methods:
            self.table.set_disagreement(*methods)
        self._shown_key = None
        self._update()

    def page_thumbnails(self) -> list[bytes]:
        """The PNG thumbnails of the current page's rows (the stored map at ``map_*`` over the central slice)."""
        return page_thumbnails(self.run, self.rows, (self.map_method, self.map_layer, self.map_target), self.data,
                               self.colormap)

    def open_viewer(self, index: int):
        """Open sample ``index`` in a CAMViewer below the table (``viewer``), on the stored maps or, with
        ``model``, live; ``-1`` closes it. Returns the viewer (None when it cannot be opened: ``error`` says why)."""
        if index != self.selected:
            self.selected = index  # opens it through the observer
            return self.viewer
        if self.viewer is not None:
            self.viewer.close()
        self.viewer = None
        if index < 0:
            self.viewer_box.children = ()
            return None
        try:
            self.viewer = make_viewer(self, index)
        except Exception as problem:  # shown, not raised: the table keeps working
            self.error = f"opening sample {index} failed: {type(problem).__name__}: {problem}"
            self.viewer_box.children = ()
            return None
        self.error = ""
        self.viewer_box.children = (widgets.HTML(viewer_title(self, index)), self.viewer)
        return self.viewer

    # --- updating ----------------------------------------------------------------------------------

    def _counts(self) -> dict:
        missing = int(self.run.n - self.table.available.sum())
        notes = [f"{missing} of {self.run.n} samples are not computed yet (an unfinished run): not listed"] if missing else []
        return {"n_available": self.run.n - missing, "notice": "; ".join([*notes, *([self._why] if self._why else [])])}

    def _filters(self, with_range: bool = True) -> dict:
        return dict(prediction=self.filter_prediction, label=self.filter_label, correct=self.filter_correct,
                    range_column=self.histogram_column, value_range=self.filter_range if with_range else [])

    def _update(self) -> None:
        """Rows, counts, histogram and thumbnails of the current controls, in one message."""
        self.busy = True
        try:
            with self.hold_sync():
                key = (self.sort_by, self.sort_descending, repr(self._filters()), self.table.disagreement_key)
                if key != self._shown_key:
                    order = self.table.order(self.sort_by, self.sort_descending)
                    self._shown = order[self.table.mask(**self._filters())[order]]
                    self.histogram = self.table.histogram(self.histogram_column, self.table.mask(**self._filters(False)))
                    self._shown_key = key
                self.n_rows = len(self._shown)
                self.n_pages = max(1, -(-self.n_rows // self.page_size))
                if self.page >= self.n_pages:
                    self.page = self.n_pages - 1
                start = self.page * self.page_size
                indices = self._shown[start : start + self.page_size]
                self.rows = self.table.rows(indices, self.table.names())
                self._send_thumbnails()
        finally:
            self.busy = False

    def _send_thumbnails(self) -> None:
        if not self._thumbs_wanted:
            return
        try:
            self.thumbnails = self.page_thumbnails()
        except Exception as problem:  # the table stays usable without its pictures
            self.thumbnails = []
            self.error = f"thumbnails failed: {type(problem).__name__}: {problem}"

    def _on_table(self, change: dict) -> None:
        if change["name"] == "histogram_column" and self.filter_range:
            self.filter_range = []  # the range was on the previous column (updates through this observer)
            return
        if change["name"] == "page_size" and self.page:
            self.page = self.page * change["old"] // change["new"]  # the page's first row stays in view
            return
        if change["name"] not in ("page", "page_size") and self.page:
            self.page = 0
            return
        self._update()

    def _on_disagreement(self, change: dict | None) -> None:
        methods = self.disagreement_methods
        if methods:
            keys = [f"{m}/{self.map_layer}/{self.map_target}" for m in methods]
            self.busy = True
            try:
                self.table.set_disagreement(*keys, self.disagreement_measure,
                                            progress=lambda done, total: self.send(
                                                {"type": "progress", "done": done, "total": total}))
            except Exception as problem:
                self.error = f"disagreement failed: {type(problem).__name__}: {problem}"
                self.table.clear_disagreement()
            finally:
                self.busy = False
        else:
            self.table.clear_disagreement()
        with self.hold_sync():
            self.columns = self.table.spec()
            if self.table.disagreement_key is None and "disagreement" in (self.sort_by, self.histogram_column):
                with self.hold_trait_notifications():
                    self.sort_by = "index" if self.sort_by == "disagreement" else self.sort_by
                    self.histogram_column = "score" if self.histogram_column == "disagreement" else self.histogram_column
            if change is not None:
                self._shown_key = None
                self._update()

    def _on_message(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "thumbnails":
            self._thumbs_wanted = True
            self._send_thumbnails()

    # --- checking ----------------------------------------------------------------------------------

    @t.validate(*_CONTROLS)
    def _validate(self, proposal: dict) -> object:
        name, value = proposal["trait"].name, proposal["value"]
        try:
            value = check_control(self, name, value)
        except (ValueError, TypeError, KeyError) as problem:
            reason = problem.args[0] if isinstance(problem, KeyError) and problem.args else problem
            if not self._constructed:
                raise ValueError(f"{name}: {reason}") from None
            kept = self._kept[name]  # (not getattr: while notifications are held it is the value refused)
            self.error = f"{name} = {value!r} was not applied (kept {kept!r}): {reason}"
            self._refused = self.error
            if name in getattr(self, "_property_lock", {}):
                return kept  # sent by the browser: refused, the widget says why
            raise ValueError(self.error) from None
        if self._constructed and self.error and self.error == self._refused:
            self.error = self._refused = ""  # a valid value replaces the refusal's message
        return value

    # --- display -----------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs):
        """The widget's bundle with the static fallback: an HTML table of the first rows (``text/html``)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.static_html()
        return bundle

    def _static_bundle(self) -> dict:
        """The static table's own output: hidden by JupyterLab's widget renderer (an empty model id, as the
        other widgets' pictures, ``export.py``), the table everywhere else (nbconvert's HTML, GitHub)."""
        return {WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": ""},
                "text/plain": f"<{type(self).__name__} table>", "text/html": self.static_html()}

    def static_html(self, n_rows: int = STATIC_ROWS) -> str:
        """An HTML table of the first ``n_rows`` rows in the current order and filters."""
        shown = self._shown[:n_rows]
        rows = self.table.rows(shown, self.table.names())
        caption = (f"DatasetBrowser of {self.run.path}: {self.n_rows} of {self.run.n} samples, sorted by "
                   f"{self.sort_by}{' (descending)' if self.sort_descending else ''}; the first {len(rows)}:")
        return static_html(self.table.spec(), rows, self.class_names, caption)

    def _ipython_display_(self) -> None:
        """The browser, its static table (kept up to date with the order and filters), then ``viewer_box``."""
        from IPython.display import display

        bundle = super()._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display(data, metadata=metadata, raw=True)
        self._static_display_id = f"cam-widgets-table-{self.model_id}"
        display(self._static_bundle(), raw=True, display_id=self._static_display_id)
        display(self.viewer_box)

    def _refresh_static_table(self) -> None:
        """The displayed static table follows the rows shown (nothing before the widget is displayed)."""
        if getattr(self, "_static_display_id", None) is not None:
            from IPython.display import update_display

            update_display(self._static_bundle(), raw=True, display_id=self._static_display_id)
