"""The checks of DatasetBrowser's controls: each returns the value (normalised) or raises ``ValueError``
saying what is accepted. The widget turns a refusal into its ``error`` line (and raises when the value was
set from Python)."""

from __future__ import annotations

import math

from ..methods import get_method
from .colormaps import SEQUENTIAL
from .dataset_browser_table import CORRECT, MEASURES
from .validation import index_in, one_of

MAX_PAGE_SIZE = 500


def _classes(value, n: int, what: str, unknown: bool) -> list[int]:
    low = -1 if unknown else 0
    values = [int(v) for v in value]
    bad = [v for v in values if not low <= v < n]
    if bad:
        extra = " or -1 (unknown)" if unknown else ""
        raise ValueError(f"{what} takes class indices 0..{n - 1}{extra}, got {bad[0]}")
    return sorted(set(values))


def _stored(browser, part: int) -> list[str]:
    return list(dict.fromkeys(key.split("/")[part] for key in browser.map_keys))


def _map_key(browser, name: str, value: str) -> str:
    parts = {"map_method": browser.map_method, "map_layer": browser.map_layer, "map_target": browser.map_target}
    if name == "map_method" and value:
        value = get_method(value).name
    parts[name] = value
    key = "/".join(parts.values())
    if not browser.map_keys:
        if value:
            raise ValueError("the run stores no maps")
        return value
    if key not in browser.map_keys:
        part = list(parts).index(name)
        choices = ", ".join(_stored(browser, part))
        raise ValueError(f"the run stores no map {key} (stored {name[4:]}s: {choices}; maps: "
                         f"{', '.join(browser.map_keys)})")
    return value


def check_control(browser, name: str, value: object) -> object:
    table = browser.table
    n_classes = len(browser.class_names)
    if name == "sort_by":
        return table.check(value, "sort column")
    if name == "histogram_column":
        return table.check(value, "histogram column (a numeric column)", numeric=True)
    if name == "sort_descending":
        return value
    if name == "filter_prediction":
        return _classes(value, n_classes, "filter_prediction", unknown=False)
    if name == "filter_label":
        return _classes(value, n_classes, "filter_label", unknown=True)
    if name == "filter_correct":
        return one_of(value, CORRECT, "filter_correct")
    if name == "filter_range":
        value = [float(v) for v in value]
        if value and not (len(value) == 2 and all(math.isfinite(v) for v in value) and value[0] <= value[1]):
            raise ValueError(f"filter_range must be [] (off) or [low, high] with finite low <= high, got {value}")
        return value
    if name == "page":
        pages = max(1, -(-browser.n_rows // browser.page_size)) if browser._constructed else 1 << 62
        return index_in(value, pages, f"page ({browser.n_rows} rows in pages of {browser.page_size})")
    if name == "page_size":
        if not 1 <= value <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {value}")
        return value
    if name in ("map_method", "map_layer", "map_target"):
        return _map_key(browser, name, value)
    if name == "colormap":
        return one_of(value, SEQUENTIAL, "colormap")
    if name == "disagreement_methods":
        value = [get_method(v).name for v in value]
        stored = [m for m in _stored(browser, 0) if f"{m}/{browser.map_layer}/{browser.map_target}" in browser.map_keys]
        if value and (len(value) != 2 or value[0] == value[1] or any(v not in stored for v in value)):
            raise ValueError(f"disagreement_methods must be [] (off) or two different methods stored at "
                             f"{browser.map_layer}/{browser.map_target}: {', '.join(stored)}; got {value}")
        return value
    if name == "disagreement_measure":
        return one_of(value, MEASURES, "disagreement_measure")
    if name == "selected":
        if value == -1:
            return value
        index_in(value, browser.run.n, "selected (a sample index, or -1 for none)")
        if not table.available[value]:
            raise ValueError(f"sample {value} is not computed yet (its chunk of the run is not done)")
        return value
    raise NotImplementedError(f"no check for the control {name!r}")
