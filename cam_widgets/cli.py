"""The command line: ``python -m cam_widgets explain|evaluate|show``; ``torchrun ... -m cam_widgets explain``
runs the same job on several processes.

    python -m cam_widgets explain --model cam_widgets.zoo:load_demo_cnn1 --data subtomos/ \\
        --methods respondcam,gradcam --layers maxpool2 --targets predicted --out run.zarr
    torchrun --nproc-per-node 8 -m cam_widgets explain ...same arguments...
    python -m cam_widgets evaluate run.zarr --metrics sum-to-score,deletion
    python -m cam_widgets show run.zarr
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from torch.distributed.elastic.multiprocessing.errors import record

EXPECTED_ERRORS = (ValueError, KeyError, TypeError, OverflowError, FileNotFoundError, ImportError)
"""Bad arguments, data or stores: reported in one line (exit status 1) instead of a traceback."""


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _targets(text: str) -> list[str]:
    """``predicted,3,4`` -> ``["predicted", "class_3", "class_4"]`` (bare numbers are classes)."""
    return [f"class_{t}" if t.isdigit() else t for t in _list(text)]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m cam_widgets", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    explain = commands.add_parser("explain", help="explain every sample of a folder into a Zarr store")
    explain.add_argument("--model", required=True, help="module:callable returning the model, or a TorchScript file")
    explain.add_argument("--data", required=True, help="a folder of .npy/.npz/.mrc/.nii(.gz) volumes")
    explain.add_argument("--methods", type=_list, default=["gradcam"], help="comma-separated (default gradcam)")
    explain.add_argument("--layers", type=_list, default=None, help="comma-separated (default: the deepest spatial)")
    explain.add_argument("--targets", type=_targets, default=["predicted"],
                         help="predicted, label, all, class numbers, mask_<name> (comma-separated; default predicted)")
    explain.add_argument("--out", required=True, help="the Zarr store (made, or resumed when it exists)")
    explain.add_argument("--metrics", type=_list, default=[], help="metrics computed in the same pass")
    explain.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="of the stored maps")
    explain.add_argument("--input-maps", action="store_true", help="also store the maps at input resolution")
    explain.add_argument("--chunk-size", type=int, default=64, help="samples per chunk, the unit of resumption")
    explain.add_argument("--mask", action="append", default=[], metavar="NAME=CLASS:PATH",
                         help="a pixel set for the target mask_NAME: one mask file, or a folder of one per sample")
    explain.add_argument("--class-names", type=_list, default=None, help="comma-separated, one per class")
    explain.add_argument("--no-normalize", action="store_true", help="keep the volumes' values (no z-score)")
    explain.add_argument("--output", default=None, help="the key / index of the scores in a dict / tuple output")
    _speed_options(explain)
    explain.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                         help="unreadable files: skip (listed in the store, exit 0) or stop (exit 1)")
    evaluate = commands.add_parser("evaluate", help="metrics of a run's maps, per sample, into its store")
    evaluate.add_argument("store")
    evaluate.add_argument("--metrics", type=_list, required=True, help="sum-to-score, deletion, average-drop")
    evaluate.add_argument("--model", default=None, help="default: the model recorded in the store")
    evaluate.add_argument("--data", default=None, help="default: the folder recorded in the store")
    _speed_options(evaluate)
    show = commands.add_parser("show", help="what a store holds and how far it got")
    show.add_argument("store")
    return top


def _speed_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--batch-size", type=int, default=None, help="default: the chunk size")
    command.add_argument("--workers", type=int, default=2, help="DataLoader processes loading ahead (default 2)")
    command.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK under torchrun with GPUs, else cpu")
    command.add_argument("--no-progress", action="store_true")


def _explain(args: argparse.Namespace, argv: Sequence[str]) -> None:
    from .batch import explain_dataset
    from .batch.evaluate import format_summary
    from .batch.models import load_model
    from .batch.samples import parse_mask

    model = load_model(args.model)
    output = int(args.output) if args.output is not None and args.output.isdigit() else args.output
    start = time.perf_counter()
    run = explain_dataset(
        model, args.data, methods=args.methods, layers=args.layers, targets=args.targets, out=args.out,
        metrics=args.metrics, dtype=args.dtype, input_maps=args.input_maps, chunk_size=args.chunk_size,
        batch_size=args.batch_size, workers=args.workers, masks=[parse_mask(m) for m in args.mask],
        on_error=args.on_error, normalize=not args.no_normalize, class_names=args.class_names, output=output,
        device=args.device, model_spec=args.model, command=["python", "-m", "cam_widgets", *argv],
        progress=not args.no_progress)
    if _is_main():
        seconds = time.perf_counter() - start
        resumed = f", {run.n - run.computed} done before" if run.computed < run.n else ""
        print(f"{args.out}: {run.computed} of {run.n} samples explained in {seconds:.1f} s "
              f"({run.computed / seconds:.1f} samples/s{resumed}); skipped files: {len(run.attrs.get('skipped', []))}")
        if run.summary:
            print(format_summary(run.summary))


def _evaluate(args: argparse.Namespace) -> None:
    from .batch import evaluate_run
    from .batch.evaluate import format_summary
    from .batch.models import load_model

    model = load_model(args.model) if args.model else None
    summary = evaluate_run(args.store, args.metrics, model=model, data=args.data, batch_size=args.batch_size,
                           workers=args.workers, device=args.device, progress=not args.no_progress)
    if _is_main():
        print(format_summary(summary))


def _show(args: argparse.Namespace) -> None:
    from .batch import open_run

    run = open_run(args.store)
    print(repr(run))
    labels, predictions = run.label[:], run.prediction[:]
    known = (labels >= 0) & run.available
    if known.any():
        print(f"accuracy {float((labels[known] == predictions[known]).mean()):.3f} over {int(known.sum())} labelled")
    for name in run.metric_names:
        print(f"metric {name}: {int(run.metric_done(name).sum())}/{len(run.done)} chunks")
    for skipped in run.attrs.get("skipped", []):
        print(f"skipped {skipped['path']}: {skipped['error']}")


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@record
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        if args.command == "explain":
            _explain(args, argv)
        elif args.command == "evaluate":
            _evaluate(args)
        else:
            _show(args)
    except EXPECTED_ERRORS as error:
        if _is_main() or not getattr(error, "from_rank_0", False):  # a rank's own error is its to report
            rank = f" (rank {os.environ['RANK']})" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
            print(f"python -m cam_widgets {args.command}{rank}: error: {error}", file=sys.stderr)
        return 1
    return 0
