"""Respond-CAM paper, Table 1: does the sum of a CAM follow the class score?

For CNN-1 and CNN-2 trained on simulated subtomograms at SNR infinite and 0.1, over a held-out test
set: L1 error and Kendall's tau between per-class map sums and logits (``cam_widgets.metrics``),
for Grad-CAM and Respond-CAM at the paper's layer (the second max-pool, ``"maxpool2"``).

    python -m cam_widgets.experiments.table1             # shipped demo models, 500 test volumes each
    python -m cam_widgets.experiments.table1 --n-test 50 # a quick look (CI uses this size)
    torchrun --nproc-per-node 8 -m cam_widgets.experiments.table1 --n-test 23000 --out table1/   # the paper's size

Every column goes through the data-set path (``cam_widgets.batch.explain_dataset`` with the ``sum-to-score``
metric): under ``torchrun`` each process takes a shard of the test set, and with ``--out`` the four stores are
kept there, so a killed run resumes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from ..batch import explain_dataset
from ..metrics import SumToScore
from ..zoo.cnn3d import EVALUATION_LAYER
from ..zoo.demos import DEMOS, load_demo
from ..zoo.train import demo_data

COLUMNS = (("CNN-1", "cnn1", None), ("CNN-2", "cnn2", None), ("CNN-1", "cnn1", 0.1), ("CNN-2", "cnn2", 0.1))
"""The paper's column order: (model, architecture, SNR)."""

PAPER = {
    "L1, Grad": ((15.344, 7.789), (8.117, 3.854), (21.142, 8.511), (14.020, 5.232)),
    "L1, Respond": ((0.601, 0.187), (0.770, 0.366), (1.006, 0.721), (0.542, 0.194)),
    "KT, Grad": ((0.273, 0.350), (0.822, 0.097), (-0.116, 0.341), (0.458, 0.260)),
    "KT, Respond": ((0.981, 0.014), (0.976, 0.018), (0.975, 0.024), (0.984, 0.013)),
}
"""Table 1 of Zhao et al. 2018, mean ± std per column."""


@dataclass(frozen=True)
class Column:
    title: str
    grad: SumToScore
    respond: SumToScore
    test_accuracy: float


def evaluate_model(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, batch: int = 25,
                   progress: bool = True, out: str | Path | None = None) -> Column:
    """Grad-CAM and Respond-CAM sum-to-score at ``maxpool2`` over ``x``, as a data-set run into the store ``out``
    (resumed when it exists; default a temporary one): the metric only, no maps stored."""
    if out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("under torchrun the processes share one store: give out= (--out FOLDER)")
    with tempfile.TemporaryDirectory() as scratch:
        run = explain_dataset(model, TensorDataset(x, labels), methods=("gradcam", "respondcam"),
                              layers=[EVALUATION_LAYER], targets=(), metrics=["sum-to-score"],
                              out=out or Path(scratch) / "table1.zarr", chunk_size=batch, progress=progress)
        stored = {m: run.metric("sum-to-score", m, EVALUATION_LAYER) for m in ("gradcam", "respondcam")}
        grad, respond = (SumToScore(l1=np.asarray(stored[m]["l1"][:], np.float64),
                                    tau=np.asarray(stored[m]["tau"][:], np.float64)) for m in ("gradcam", "respondcam"))
        accuracy = float((run.prediction[:] == run.label[:]).mean())
    return Column("", grad, respond, accuracy)


def shipped_columns(n_test: int | None = None, progress: bool = True, out: str | Path | None = None) -> list[Column]:
    """The four columns from the demo models shipped in the package and their test sets (with ``out``, each
    column's store is kept there as ``<model name>.zarr``)."""
    columns = []
    for title, arch, snr in COLUMNS:
        name = f"{arch}_snr_{'inf' if snr is None else f'{snr:g}'}"
        x, labels = demo_data(DEMOS[name], "test", n_test)
        store = None if out is None else Path(out) / f"{name}{'' if n_test is None else f'_n{n_test}'}.zarr"
        column = evaluate_model(load_demo(name), x, labels, progress=progress, out=store)
        columns.append(replace(column, title=f"{title} SNR {'inf' if snr is None else snr}"))
    return columns


def format_table(columns: list[Column]) -> str:
    """Ours beside the paper's, one row per metric, as a Markdown table."""
    header = "| | " + " | ".join(c.title for c in columns) + " |"
    lines = [header, "|" + " --- |" * (len(columns) + 1)]
    ours = {
        "L1, Grad": [c.grad.l1_mean_std for c in columns],
        "L1, Respond": [c.respond.l1_mean_std for c in columns],
        "KT, Grad": [c.grad.tau_mean_std for c in columns],
        "KT, Respond": [c.respond.tau_mean_std for c in columns],
    }
    for row, values in ours.items():
        lines.append(f"| {row} (ours) | " + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in values) + " |")
        lines.append(f"| {row} (paper) | " + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in PAPER[row]) + " |")
    lines.append("| test accuracy (ours) | " + " | ".join(f"{c.test_accuracy:.3f}" for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-test", type=int, help="test volumes per model (default: the demo test set, 500)")
    parser.add_argument("--out", help="keep the four run stores in this folder (a rerun resumes them)")
    args = parser.parse_args(argv)
    table = format_table(shipped_columns(args.n_test, out=args.out))
    if int(os.environ.get("RANK", "0")) == 0:
        print(table)


if __name__ == "__main__":
    main()
