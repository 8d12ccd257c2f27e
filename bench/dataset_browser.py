"""DatasetBrowser on a big run store: how long opening a 10^5-sample store takes (target: under 2 s; only the
chunk flags, the scores and the predictions are read, never a map), and the first sort, a filter, a page, a
page of thumbnails and (``--disagreement``) the disagreement column, which reads every map.

    python bench/dataset_browser.py                 # 100 000 samples, chunks of 64, 10^3 float16 maps
    python bench/dataset_browser.py --n 20000 --disagreement

The store is written once with the writer API (``tests/browser_store_fixtures.write_big_store``: numpy, no
model) under ``--store`` and reused while its size matches. Timings are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cam_widgets.batch.run import open_run  # noqa: E402
from cam_widgets.widgets import DatasetBrowser  # noqa: E402
from tests.browser_store_fixtures import write_big_store  # noqa: E402

OPEN_TARGET = 2.0


def timed(what: str, f, target: float | None = None):
    start = time.perf_counter()
    value = f()
    seconds = time.perf_counter() - start
    verdict = "" if target is None else f"  (target < {target:g} s: {'PASS' if seconds < target else 'MISS'})"
    print(f"{what:<52} {seconds:8.3f} s{verdict}")
    return value


def store_of(path: Path, n: int, chunk_size: int) -> Path:
    if path.exists():
        try:
            run = open_run(path)
            if run.n == n and run.chunk_size == chunk_size and run.complete:
                return path
        except ValueError:
            pass
        shutil.rmtree(path)
    start = time.perf_counter()
    write_big_store(path, n=n, chunk_size=chunk_size)
    print(f"wrote {path} ({n} samples, chunks of {chunk_size}) in {time.perf_counter() - start:.1f} s")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--store", type=Path, default=Path("/tmp/cam_widgets_bench_browser.zarr"))
    parser.add_argument("--disagreement", action="store_true", help="also time the disagreement column (reads every map)")
    args = parser.parse_args()
    path = store_of(args.store, args.n, args.chunk_size)
    print(f"DatasetBrowser on {args.n} samples ({-(-args.n // args.chunk_size)} chunks):")
    browser = timed("open (DatasetBrowser(path): table, page, histogram)", lambda: DatasetBrowser(path), OPEN_TARGET)
    read = sorted(c for c in browser.table._columns if not c.startswith("_"))
    print(f"{'':<52} {browser.n_rows} rows, {browser.n_pages} pages, columns read: {read}")

    def set_(**changes):
        return lambda: [setattr(browser, k, v) for k, v in changes.items()]

    timed("sort by score, descending", set_(sort_by="score", sort_descending=True))
    timed("sort by a metric column (reads it)", set_(sort_by="sum-to-score/gradcam/maxpool2/l1"))
    timed("sort by source (reads every path)", set_(sort_by="source"))
    timed("filter incorrect (reads the labels)", set_(filter_correct="incorrect"))
    timed("filter predicted class 2", set_(filter_prediction=[2]))
    timed("histogram of probability", set_(histogram_column="probability"))
    timed("range filter on it", set_(filter_range=[0.3, 0.6]))
    timed("last page", set_(page=browser.n_pages - 1))
    timed("page 0", set_(page=0))
    timed("a page of 25 thumbnails (maps alone, no data)", browser.page_thumbnails)
    if args.disagreement:
        timed("disagreement column gradcam vs respondcam (all maps)",
              set_(disagreement_methods=["gradcam", "respondcam"]))
        timed("sort by it", set_(sort_by="disagreement"))


if __name__ == "__main__":
    main()
