"""Whole data sets: explain and evaluate every sample into a resumable Zarr store, on one process or many
(``torchrun``, DESIGN.md section 11; the store's layout: ``docs/store.md``).

    from cam_widgets.batch import explain_dataset, evaluate_run, open_run
    run = explain_dataset(model, "subtomos/", methods=["respondcam"], layers=["maxpool2"], out="run.zarr")
    run.scores[:], run.cams("respondcam", "maxpool2")[123]
"""

from .compute import METRICS
from .engine import explain_dataset
from .evaluate import evaluate_run
from .run import Run, open_run
from .samples import MaskSource
from .store import FORMAT, RunStoreError

__all__ = ["FORMAT", "METRICS", "MaskSource", "Run", "RunStoreError", "evaluate_run", "explain_dataset", "open_run"]
