"""The workload of ``bench/batch.py``: the demo CNN-1 architecture at 40^3 with seeded random weights, a folder of
simulated subtomograms, the same batches in memory, and the lower bound's passes with the maps they give.

``demo_cnn1_40`` is also the ``--model`` the bench hands to the command line (``batch_workloads:demo_cnn1_40``
with ``bench/`` on ``PYTHONPATH``), so the in-process runs and the CLI's run the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from cam_widgets.datasets import VolumeFolder
from cam_widgets.datasets.folder import save_subtomogram_folder
from cam_widgets.methods.gradient import RESPOND_CAM_EPS
from cam_widgets.zoo.cnn3d import cnn1

if __package__:
    from .core import forward_to_leaf
else:  # imported by bench/batch.py run as a script, or by the CLI with PYTHONPATH=bench
    from core import forward_to_leaf  # type: ignore[no-redef]

SIZE = 40
N_CLASSES = 10
LAYER = "maxpool2"
METHODS = ("respondcam", "gradcam")
TARGETS = ("predicted",)
MODEL_SEED = 0
MODEL_SPEC = "batch_workloads:demo_cnn1_40"
"""``--model`` for the command line, importable with ``bench/`` on ``PYTHONPATH``."""


def demo_cnn1_40() -> nn.Module:
    """The demo CNN-1 architecture (``zoo.demos``: conv channels 16, 16, 32, 32, dense 128, 10 classes) built at
    40^3 with ``torch.manual_seed(MODEL_SEED)``'s random init, eval mode (speed does not depend on the weights)."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(MODEL_SEED)
    try:
        model = cnn1(SIZE, N_CLASSES, conv_channels=(16, 16, 32, 32), dense=128)
    finally:
        torch.random.set_rng_state(generator_state)
    return model.eval()


@dataclass
class Workload:
    """A folder of ``n`` subtomograms and the same samples in memory as the runs' batches see them."""

    folder: Path
    batches: list[Tensor]  # (B, 1, 40, 40, 40), z-scored as VolumeFolder loads them, in the store's row order
    model: nn.Module


def make_workload(root: Path, n: int, batch_size: int, seed: int = 0) -> Workload:
    folder = save_subtomogram_folder(root, n, seed=seed, size=SIZE)
    dataset = VolumeFolder(folder)
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    return Workload(folder, list(torch.split(x, batch_size)), demo_cnn1_40())


def lower_bound_batch(model: nn.Module, x: Tensor, module: nn.Module) -> tuple[Tensor, Tensor, Tensor]:
    """What Grad-CAM and Respond-CAM of the predicted class need, and no more: one forward with the layer's
    activations ``A`` captured, one ``torch.autograd.grad`` of the predicted logits' sum to them. ``(logits, A, g)``."""
    logits, activation = forward_to_leaf(model, x, module)
    score = logits.gather(1, logits.argmax(1, keepdim=True)).sum()
    (gradient,) = torch.autograd.grad(score, activation)
    return logits.detach(), activation.detach(), gradient


def raw_maps(activation: Tensor, gradient: Tensor) -> dict[str, Tensor]:
    """The stored (pre-ReLU) maps from the papers' equations: Grad-CAM ``sum_k mean(g_k) A_k``, Respond-CAM
    ``sum_k (sum A_k g_k / (sum A_k + eps)) A_k``."""
    spatial = tuple(range(2, activation.ndim))
    gradcam_w = gradient.mean(spatial, keepdim=True)
    respond_w = ((activation * gradient).sum(spatial, keepdim=True)
                 / (activation.sum(spatial, keepdim=True) + RESPOND_CAM_EPS))
    return {"gradcam": (gradcam_w * activation).sum(1), "respondcam": (respond_w * activation).sum(1)}
