"""What it costs to never reuse a stale forward pass: the weights' fingerprint and the input's
snapshot (``cam_widgets.fingerprint``), against a plain forward pass of the same batch, one run.

    .venv/bin/python bench/fingerprint.py               # demo CNN-1 (24^3), CNN-1 40^3, ResNet-18-like 224^2; B = 1, 8
    .venv/bin/python bench/fingerprint.py --quick       # tiny sizes, a smoke run

Rows (medians, interleaved round robin): ``forward`` is ``model(x)`` under ``no_grad``;
``weights`` one ``WeightsFingerprint`` of every parameter and buffer; ``input`` one snapshot and one
comparison of ``x``; ``cached call`` is the extra time of an ``explain`` for a new class on the
cached forward with ``check_weights=True`` over ``check_weights=False`` (what a user pays per call).
``sum`` is the floor of any check that reads every value: a plain sum of each parameter and buffer.
Targets (CPU): weights + input at most 4% of a forward pass at batch 8 on every workload, and at most 5%
at batch 1 on the demo CNN-1. A batch-1 forward of the 11 M-parameter ResNet-18-like net or the 33 M-parameter
CNN-1 is so short that one read of their weights is ~10% of it; the table reports it with the floor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import make_workload  # noqa: E402

from cam_widgets import CAMExplainer  # noqa: E402
from cam_widgets.fingerprint import InputSnapshot, WeightsFingerprint, model_tensors  # noqa: E402
from cam_widgets.zoo import load_demo_cnn1  # noqa: E402

TARGET_BATCH_8 = 0.04
TARGET_DEMO_BATCH_1 = 0.05


def median_time(work, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(model: torch.nn.Module, x: torch.Tensor, layer: str, repeats: int) -> dict[str, float]:
    device = x.device
    checked = CAMExplainer(model, layers=[layer])
    trusting = CAMExplainer(model, layers=[layer], check_weights=False)
    classes = iter(range(10**9))
    n_classes = checked.predict(x).shape[1]
    trusting.predict(x)

    def forward():
        with torch.no_grad():
            model(x)

    def weights():
        WeightsFingerprint(model_tensors(model))

    def floor():  # the least any check that reads every value costs: a plain sum of each tensor
        with torch.no_grad():
            [t.sum() for t in model_tensors(model)]

    def snapshot():
        InputSnapshot(x).matches(x)

    def cached(explainer):
        return lambda: explainer.explain(x, next(classes) % n_classes, "gradcam", layer)

    cases = {"forward": forward, "weights": weights, "floor": floor, "input": snapshot,
             "checked": cached(checked), "trusting": cached(trusting)}
    for work in cases.values():
        work()
    times = {k: [] for k in cases}
    for _ in range(repeats):  # interleaved: each round runs every case once
        for key, work in cases.items():
            times[key].append(median_time(work, 1, device))
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    repeats = 3 if args.quick else args.repeats
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, medians of {repeats}")
    print("| workload | B | parameters | forward | weights (sum: floor) | input | weights + input / forward | "
          "cached call: extra / forward |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for batch in args.batches:
        demo = load_demo_cnn1(snr=0.1).to(device)
        side = 24  # the demo model's input size
        workloads = [("demo CNN-1 %d^3" % side, demo, torch.randn(batch, 1, side, side, side, device=device), "maxpool2")]
        for name in ("cnn1", "resnet"):
            size = {"cnn1": 16, "resnet": 64}[name] if args.quick else {"cnn1": 40, "resnet": 224}[name]
            w = make_workload(name, size, batch, device)
            workloads.append((f"{'CNN-1' if name == 'cnn1' else 'ResNet-18-like'} {size}^{w.x.ndim - 2}", w.model, w.x, w.layer))
        for title, model, x, layer in workloads:
            t = measure(model, x, layer, repeats)
            share = (t["weights"] + t["input"]) / t["forward"]
            extra = (t["checked"] - t["trusting"]) / t["forward"]
            n = sum(p.numel() for p in model_tensors(model))
            print(f"| {title} | {batch} | {n / 1e6:.2f} M | {t['forward'] * 1e3:.2f} ms | {t['weights'] * 1e3:.2f} ({t['floor'] * 1e3:.2f}) ms | "
                  f"{t['input'] * 1e3:.3f} ms | {100 * share:.2f}% | {100 * extra:.2f}% |")
            target = TARGET_BATCH_8 if batch >= 8 else TARGET_DEMO_BATCH_1 if title.startswith("demo") else None
            if target is not None and not args.quick and share > target:
                ok = False
                print(f"TARGET MISSED: {title} B={batch}: {100 * share:.2f}% > {100 * target:.0f}%")
    print("targets met" if ok else "some targets missed (above)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
