"""The demo models that ship with the package: what they are and how to load them.

Weights are stored as float16 state dicts in ``weights/`` (loaded with ``weights_only=True`` and
cast to float32); ``weights/manifest.json`` records, for each, the test accuracy that
``python -m cam_widgets.zoo.train`` measured when it wrote them. Shipped variants are smaller than
the paper's CNNs so that everything stays under 20 MB and trains on a CPU in minutes: 24^3 input
instead of 40^3, dense layers of 128 instead of 512, and CNN-1's convolutions at half width
(16, 16, 32, 32); the layer structure is the paper's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..datasets import SCENE_CLASSES, SUBTOMOGRAM_CLASSES
from .cnn3d import cnn1, cnn2
from .faces import face_classifier
from .unet import UNet2D

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
SUBTOMOGRAM_SIZE = 24
N_SUBTOMOGRAM_CLASSES = len(SUBTOMOGRAM_CLASSES)
SCENE_SIZE = 64
N_SCENE_CLASSES = len(SCENE_CLASSES)


@dataclass(frozen=True)
class DemoSpec:
    """A demo model: its builder, the data it learns and how it is trained."""

    name: str
    build: Callable[[], nn.Module]
    task: str  # "subtomograms", "scenes" or "faces"
    snr: float | None = None
    n_train: int = 2000
    n_test: int = 500
    epochs: int = 8
    lr: float = 1e-3
    layer: str = "maxpool2"
    extra: dict = field(default_factory=dict)


def _subtomogram_cnn(arch: str, snr: float | None) -> DemoSpec:
    if arch == "cnn1":
        def build() -> nn.Module:
            return cnn1(SUBTOMOGRAM_SIZE, N_SUBTOMOGRAM_CLASSES, conv_channels=(16, 16, 32, 32), dense=128)
    else:
        def build() -> nn.Module:
            return cnn2(SUBTOMOGRAM_SIZE, N_SUBTOMOGRAM_CLASSES, dense=128)
    label = "inf" if snr is None else f"{snr:g}"
    return DemoSpec(f"{arch}_snr_{label}", build, "subtomograms", snr=snr)


DEMOS: dict[str, DemoSpec] = {
    spec.name: spec
    for spec in (
        _subtomogram_cnn("cnn1", None),
        _subtomogram_cnn("cnn1", 0.1),
        _subtomogram_cnn("cnn2", None),
        _subtomogram_cnn("cnn2", 0.1),
        DemoSpec("unet_scenes", lambda: UNet2D(1, N_SCENE_CLASSES, width=16), "scenes",
                 n_train=1200, n_test=200, epochs=10, lr=2e-3, layer="bottleneck"),
        DemoSpec("faces_lfw", face_classifier, "faces", n_train=150, n_test=50, epochs=60, lr=2e-3, layer="pool2"),
    )
}


def load_demo(name: str) -> nn.Module:
    """A trained demo model in eval mode (float32, CPU), from the weights shipped in the package."""
    if name not in DEMOS:
        raise KeyError(f"unknown demo model {name!r}; available: {', '.join(DEMOS)}")
    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no weights for {name!r} at {path}; train them with `python -m cam_widgets.zoo.train {name}`")
    model = DEMOS[name].build()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({key: value.float() for key, value in state.items()})
    return model.eval()


def save_demo_weights(name: str, model: nn.Module, metrics: dict, directory: Path = WEIGHTS_DIR) -> Path:
    """Store ``model``'s weights as float16 and record ``metrics`` in the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.pt"
    torch.save({key: value.detach().cpu().half() for key, value in model.state_dict().items()}, path)
    manifest_path = directory / MANIFEST.name
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[name] = metrics
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def demo_metrics(name: str) -> dict:
    """What the training script measured for a shipped demo model (test accuracy and set-up)."""
    return json.loads(MANIFEST.read_text())[name]


def load_demo_cnn1(snr: float | None = None) -> nn.Module:
    """The Respond-CAM paper's CNN-1 (demo size), trained on simulated subtomograms at ``snr`` (None = noise-free, or 0.1)."""
    return load_demo(_subtomogram_cnn("cnn1", snr).name)


def load_demo_cnn2(snr: float | None = None) -> nn.Module:
    """The Respond-CAM paper's CNN-2 (demo size), trained on simulated subtomograms at ``snr`` (None or 0.1)."""
    return load_demo(_subtomogram_cnn("cnn2", snr).name)


def load_demo_unet() -> nn.Module:
    """A small 2D U-Net trained on ``cam_widgets.datasets.make_scenes`` (64x64, 6 classes)."""
    return load_demo("unet_scenes")


def load_demo_faces() -> nn.Module:
    """A tiny face / non-face classifier trained on scikit-image's ``lfw_subset`` (25x25)."""
    return load_demo("faces_lfw")
