"""``bench/methods.py``'s workloads and lower bounds: the seeded models and inputs of each section, the part of
a network above a layer (written by hand for the two bench models), and the passes Score-CAM and Ablation-CAM
cannot avoid, with the papers' equations that turn their scores into weights and maps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if __package__:
    from .core import forward_to_leaf
    from .models import ResNetLike, Workload, _randomize_batchnorm, make_workload
else:  # imported by bench/methods.py run as a script: bench/ is on sys.path
    from core import forward_to_leaf  # type: ignore[no-redef]
    from models import ResNetLike, Workload, _randomize_batchnorm, make_workload  # type: ignore[no-redef]

MODES = {2: "bilinear", 3: "trilinear"}
BATCH_SIZE = 32  # rows per forward pass, ours (the default) and every peer's and lower bound's alike

# per workload: size, the explained layers, and the batch of each section (quick: tiny sizes)
SETUP = {
    "resnet": {"size": 224, "perturbation_layer": "layer3", "eigen_layer": "layer4", "score_batch": 1,
               "ablation_batch": 2, "eigen_batch": 32},
    "cnn1": {"size": 40, "perturbation_layer": "maxpool2", "eigen_layer": "maxpool2", "score_batch": 1,
             "ablation_batch": 2, "eigen_batch": 32},
}
QUICK = {"resnet": {"size": 64, "eigen_batch": 8}, "cnn1": {"size": 8, "eigen_batch": 8}}
QUICK_RESNET_WIDTHS = (8, 16, 32, 64)


# --- workloads -----------------------------------------------------------------------------------------


def workload(name: str, size: int, batch: int, device: torch.device, seed: int, quick: bool) -> Workload:
    """``models.make_workload``; in quick mode the ResNet is a narrow one (same shape of network)."""
    if name == "resnet" and quick:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed + 1)
        model = ResNetLike(n_classes=20, widths=QUICK_RESNET_WIDTHS)
        _randomize_batchnorm(model, generator)
        x = torch.randn(batch, 3, size, size, generator=generator)
        model = model.to(device=device, dtype=torch.float32).eval()
        return Workload(name, f"ResNet-like (widths {QUICK_RESNET_WIDTHS}), 2D input {size}x{size}, 20 classes",
                        model, x.to(device), "layer4", 20)
    return make_workload(name, size, batch, device, seed)


@dataclass
class Prepared:
    """A section's workload, its explained layer, one forward's logits and layer output ``a``, and the targets
    (each sample's predicted class, as a list and as an index tensor)."""

    w: Workload
    layer: str
    logits: Tensor
    a: Tensor
    targets: list[int]
    index: Tensor


def prepare(name: str, section: str, device: torch.device, seed: int, quick: bool) -> Prepared:
    """The workload of ``section`` (``"score"``, ``"ablation"`` or ``"eigen"``: its batch and layer in ``SETUP``)."""
    setup = {**SETUP[name], **(QUICK[name] if quick else {})}
    w = workload(name, setup["size"], setup[f"{section}_batch"], device, seed, quick)
    layer = setup["eigen_layer" if section == "eigen" else "perturbation_layer"]
    logits, a = activations_of(w.model, w.x, layer)
    targets = logits.argmax(1).tolist()
    return Prepared(w, layer, logits, a, targets, torch.tensor(targets, device=device))


def above_part(model: nn.Module, layer: str) -> nn.Module:
    """The network above ``layer``, written by hand for the two bench models: ``A -> logits``."""
    if isinstance(model, ResNetLike):
        stages = ["layer1", "layer2", "layer3", "layer4"]
        rest = [getattr(model, s) for s in stages[stages.index(layer) + 1:]]
        return nn.Sequential(*rest, model.avgpool, nn.Flatten(1), model.fc).eval()
    names = [n for n, _ in model.named_children()]
    return nn.Sequential(*list(model.children())[names.index(layer) + 1:]).eval()


def activations_of(model: nn.Module, x: Tensor, layer: str) -> tuple[Tensor, Tensor]:
    """One forward (``core.forward_to_leaf``: no autograd below the layer): the logits and the layer's output,
    detached (the output was a leaf of its own: nothing above the layer wrote into it)."""
    logits, a = forward_to_leaf(model, x, dict(model.named_modules())[layer])
    return logits.detach(), a.detach()


def no_grad(model: nn.Module, x: Tensor) -> Tensor:
    with torch.no_grad():
        return model(x)


def rows_per_pass(batch: int) -> int:
    """Ours: ``batch_size`` rows per forward, rounded up to whole groups of the batch's samples."""
    return math.ceil(BATCH_SIZE / batch) * batch


# --- the lower bounds, written directly --------------------------------------------------------------


def minmax_masks(t: Tensor) -> Tensor:
    """Score-CAM's mask normalisation over the spatial dims of ``(R, K, *S)``: ``(t - min) / (max - min + 1e-8)``."""
    dims = tuple(range(2, t.ndim))
    low, high = t.amin(dims, keepdim=True), t.amax(dims, keepdim=True)
    return (t - low) / (high - low + 1e-8)


def score_cam_inputs(x: Tensor, a: Tensor) -> tuple[list[Tensor], Tensor]:
    """The ``K * B`` masked inputs ``x * H_k`` (channel-major rows, in chunks of ``rows_per_pass``), and
    which ``(B, K)`` channels are constant (their ``alpha`` is 0 by definition)."""
    up = F.interpolate(a, size=x.shape[2:], mode=MODES[x.ndim - 2], align_corners=False)
    dims = tuple(range(2, up.ndim))
    masks = minmax_masks(up)
    rows = (x[:, None] * masks[:, :, None]).transpose(0, 1).flatten(0, 1)  # row k * B + b
    return list(rows.split(rows_per_pass(x.shape[0]))), up.amax(dims) == up.amin(dims)


def ablated_activations(a: Tensor) -> list[Tensor]:
    """The ``K * B`` activations with one channel set to 0 (row ``k * B + b``), in chunks of ``rows_per_pass``."""
    batch, channels = a.shape[:2]
    rows = a[None].repeat(channels, *(1,) * a.ndim)
    k = torch.arange(channels, device=a.device)
    rows[k, :, k] = 0
    return list(rows.flatten(0, 1).split(rows_per_pass(batch)))


def forwards(module: nn.Module, chunks: list[Tensor], index: Tensor, softmax: bool) -> Tensor:
    """The lower bound's work: one ``torch.no_grad`` forward per chunk, the target's score of each row
    (``(K, B)``; the class probability when ``softmax``)."""
    with torch.no_grad():
        out = torch.cat([module(chunk) for chunk in chunks])
    if softmax:
        out = out.softmax(1)
    batch = index.shape[0]
    return out.gather(1, index.repeat(out.shape[0] // batch)[:, None]).view(-1, batch)


def weighted(weights: Tensor, a: Tensor) -> Tensor:
    """``sum_k w_bk A_bk`` for ``(B, K)`` weights."""
    return (weights[(...,) + (None,) * (a.ndim - 2)] * a).sum(1)


def minmax(maps: Tensor) -> Tensor:
    """Per-sample ``[min, max] -> [0, 1]`` (the peers' display normalisation)."""
    flat = maps.flatten(1)
    low, high = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    return ((flat - low) / (high - low).clamp_min(1e-30)).view_as(maps)
