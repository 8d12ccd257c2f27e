"""Peer libraries for the oracle tests, loaded without touching the rest of the test session.

``load_pytorch_grad_cam()`` imports pytorch-grad-cam (grad-cam 1.5.5, installed with ``--no-deps``).
It imports ``torchvision`` at import time (for image and detection utilities only), and PyPI's
torchvision does not load beside our torch, so when no working torchvision is importable the
stand-in package ``tests/peers/torchvision`` is used *only while pytorch-grad-cam is imported*: the
peers folder is put first on ``sys.path``, and afterwards taken off again and the stand-in's
``torchvision*`` entries removed from ``sys.modules`` (pytorch-grad-cam keeps its own references).
Nothing else in the session sees the stand-in, and a real torchvision, when it loads, is always
preferred (``TORCHVISION`` says which one pytorch-grad-cam got).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

PEERS = str(Path(__file__).resolve().parent)
TORCHVISION = None  # "real" or "stand-in", once load_pytorch_grad_cam() has run


def _forget_torchvision() -> None:
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def load_pytorch_grad_cam():
    """``import pytorch_grad_cam``, with the real torchvision when it loads, else with the stand-in."""
    global TORCHVISION
    if "pytorch_grad_cam" in sys.modules:
        return sys.modules["pytorch_grad_cam"]
    try:
        importlib.import_module("torchvision")
        TORCHVISION = "real"
        return importlib.import_module("pytorch_grad_cam")
    except Exception:  # not installed (ImportError), or a build that fails to load beside this torch
        _forget_torchvision()
    sys.path.insert(0, PEERS)
    try:
        standin = importlib.import_module("torchvision")
        assert Path(standin.__file__).resolve().parent.parent == Path(PEERS), standin.__file__
        module = importlib.import_module("pytorch_grad_cam")
    finally:
        sys.path.remove(PEERS)
        _forget_torchvision()
    TORCHVISION = "stand-in"
    return module
