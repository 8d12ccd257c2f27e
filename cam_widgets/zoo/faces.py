"""A tiny 2D classifier for scikit-image's bundled ``lfw_subset`` (25x25 grey faces vs non-faces)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..datasets.faces import FACE_CLASSES


def face_classifier(width: int = 8) -> nn.Sequential:
    """conv-relu-conv-relu-pool-conv-relu-pool, two dense layers; ``(B, 1, 25, 25) -> (B, 2)``.
    The last convolutional block's output is ``"pool2"`` (6x6)."""
    w = width
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, w, 3, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(w, 2 * w, 3, padding=1)), ("relu2", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv3", nn.Conv2d(2 * w, 4 * w, 3, padding=1)), ("relu3", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(4 * w * 6 * 6, 32)), ("relu4", nn.ReLU()),
        ("fc2", nn.Linear(32, len(FACE_CLASSES))),
    ]))
