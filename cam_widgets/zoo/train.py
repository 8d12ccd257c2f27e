"""Train the demo models on data generated on the fly, print their test accuracy, ship the weights.

    python -m cam_widgets.zoo.train all              # every demo model (CPU: tens of minutes)
    python -m cam_widgets.zoo.train cnn1_snr_inf     # one of them
    python -m cam_widgets.zoo.train faces_lfw --out /tmp/weights --epochs 2

Seeded: the same command gives the same weights on the same machine and torch build. The test
accuracy is measured on the float16 weights as shipped, and recorded in ``weights/manifest.json``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor, nn

from ..datasets import lfw_faces, make_scenes, make_subtomograms
from .demos import DEMOS, SCENE_SIZE, SUBTOMOGRAM_SIZE, WEIGHTS_DIR, DemoSpec, save_demo_weights

TRAIN_SEED, TEST_SEED = 1, 2
BATCH = 32


def demo_data(spec: DemoSpec, split: str, n: int | None = None) -> tuple[Tensor, Tensor]:
    """The deterministic train or test split of a demo model's data: ``(x, labels)``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    n = n or (spec.n_train if split == "train" else spec.n_test)
    seed = TRAIN_SEED if split == "train" else TEST_SEED
    if spec.task == "subtomograms":
        x, y = make_subtomograms(n, size=SUBTOMOGRAM_SIZE, snr=spec.snr, seed=seed)
    elif spec.task == "scenes":
        x, y = make_scenes(n, size=SCENE_SIZE, seed=seed)
    elif spec.task == "faces":
        x, y = lfw_faces(split)
    else:
        raise ValueError(f"unknown task {spec.task!r}")
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)


def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 64) -> float:
    """Fraction of correct argmax predictions (per sample, or per pixel for segmentation)."""
    with torch.no_grad():
        correct = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return correct / y.numel()


def fit(
    model: nn.Module, x: Tensor, y: Tensor, epochs: int, lr: float, seed: int, flip: bool = False, verbose: bool = True
) -> nn.Module:
    """Adam on cross-entropy, shuffled mini-batches; ``flip`` adds random left-right flips."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), BATCH):
            index = order[start:start + BATCH]
            xb, yb = x[index], y[index]
            if flip:
                flipped = torch.rand(len(xb), generator=generator) < 0.5
                xb = torch.where(flipped.view(-1, *(1,) * (xb.ndim - 1)), xb.flip(-1), xb)
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(index)
        if verbose:
            print(f"  epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}", flush=True)
    return model.eval()


def train_demo(spec: DemoSpec, out: Path = WEIGHTS_DIR) -> dict:
    """Train one demo model, save its float16 weights and return what was measured."""
    torch.manual_seed(0)
    started = time.perf_counter()
    x_train, y_train = demo_data(spec, "train")
    x_test, y_test = demo_data(spec, "test")
    model = fit(spec.build(), x_train, y_train, spec.epochs, spec.lr, seed=0, flip=spec.task == "faces")
    save_demo_weights(spec.name, model, {}, out)
    shipped = spec.build()
    state = torch.load(out / f"{spec.name}.pt", weights_only=True)
    shipped.load_state_dict({k: v.float() for k, v in state.items()})
    shipped.eval()
    metrics = {
        "test_accuracy": round(accuracy(shipped, x_test, y_test), 4),
        "train_accuracy": round(accuracy(shipped, x_train, y_train), 4),
        "n_train": len(x_train), "n_test": len(x_test), "epochs": spec.epochs,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    save_demo_weights(spec.name, model, metrics, out)
    print(f"{spec.name}: test accuracy {metrics['test_accuracy']:.4f} "
          f"(train {metrics['train_accuracy']:.4f}, {metrics['train_seconds']} s)", flush=True)
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help=f"'all' or any of: {', '.join(DEMOS)}")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="where to write the weights and manifest")
    parser.add_argument("--epochs", type=int, help="override the number of epochs (quick runs)")
    parser.add_argument("--n-train", type=int, help="override the training set size (quick runs)")
    args = parser.parse_args(argv)
    names = list(DEMOS) if args.names == ["all"] else args.names
    for name in names:
        if name not in DEMOS:
            parser.error(f"unknown demo model {name!r}; available: {', '.join(DEMOS)}")
        spec = DEMOS[name]
        overrides = {k: v for k, v in (("epochs", args.epochs), ("n_train", args.n_train)) if v}
        print(f"training {name} ({torch.get_num_threads()} threads)", flush=True)
        train_demo(replace(spec, **overrides), args.out)


if __name__ == "__main__":
    main()
