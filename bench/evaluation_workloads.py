"""``bench/evaluation.py``'s workloads: the 2D classifier, images and masks the peers are compared on, the 3D demo
CNN-1 and the 2D demo U-Net for the lower-bound sections, and the helpers that turn maps into the inputs the
metrics score (so that the lower bounds' forwards can be run, and checked, on their own)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cam_widgets import CAMExplainer
from cam_widgets.datasets import make_scenes, make_subtomograms
from cam_widgets.zoo import EVALUATION_LAYER, load_demo_cnn1, load_demo_unet

LAYER_2D = "relu3"


@dataclass
class Workload:
    """A model and a batch, with the maps every metric of the section gets (computed once by our explainer)."""

    name: str
    model: nn.Module
    explainer: CAMExplainer
    x: Tensor
    maps: Tensor            # (B, *spatial): Grad-CAM .map at input resolution
    tie_free: Tensor        # (B, *spatial): the same ranking, distinct values (P - rank) / P
    masks: Tensor | None = None      # (B, *spatial) bool ground truth (2D classifier) or pixel sets (U-Net)
    classes: Tensor | None = None    # (B,) the explained class per sample


def classifier_2d(size: int = 64, n_classes: int = 10, seed: int = 0) -> nn.Sequential:
    """Conv 3->8, 8->16, 16->32 (3x3, 'same', ReLU, 2x2 max-pool after each), dense 64, ``n_classes``; seeded,
    the last layer shifted and scaled so that on 64 other images each class's logit has mean 0 and std 2 (every
    class gets predicted, the softmax is not flat)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential()
        for i, (cin, cout) in enumerate([(3, 8), (8, 16), (16, 32)], 1):
            model.add_module(f"conv{i}", nn.Conv2d(cin, cout, 3, padding=1))
            model.add_module(f"relu{i}", nn.ReLU())
            model.add_module(f"pool{i}", nn.MaxPool2d(2))
        model.add_module("flatten", nn.Flatten())
        model.add_module("fc1", nn.LazyLinear(64))
        model.add_module("relu4", nn.ReLU())
        model.add_module("fc2", nn.Linear(64, n_classes))
        model.eval()
        with torch.no_grad():  # materialise the lazy layer, then centre and spread the logits on other images
            logits = model(images_2d(64, size, seed + 1)[0])
            scale = 2.0 / float(logits.std(0).mean())
            model.fc2.weight.mul_(scale)
            model.fc2.bias.copy_((model.fc2.bias - logits.mean(0)) * scale)
    return model


def images_2d(batch: int, size: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Smooth random RGB images ``(B, 3, size, size)`` (Gaussian noise blurred by a 5x5 box, then standardised) and
    one non-empty disc mask per image ``(B, size, size)`` (centre in the middle half, radius size/8 to size/4)."""
    g = torch.Generator().manual_seed(seed)
    x = F.avg_pool2d(torch.randn(batch, 3, size + 4, size + 4, generator=g), 5, stride=1)
    x = (x - x.mean()) / x.std()
    centre = size / 4 + torch.rand(batch, 2, generator=g) * size / 2
    radius = size / 8 + torch.rand(batch, generator=g) * size / 8
    grid = torch.arange(size, dtype=torch.float32)
    d2 = (grid[None, :, None] - centre[:, 0, None, None]) ** 2 + (grid[None, None, :] - centre[:, 1, None, None]) ** 2
    return x, d2 <= radius[:, None, None] ** 2


def tie_free(maps: Tensor) -> Tensor:
    """``(B, *S)`` maps with our ranking (descending, ties in C order) and distinct values: ``(P - rank) / P``
    (dyadic for P a power of 2, so ``1 - m`` stays tie-free in float32 too)."""
    flat = maps.flatten(1)
    positions = flat.shape[1]
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(positions, device=maps.device).expand_as(order))
    return ((positions - ranks).to(torch.float32) / positions).reshape(maps.shape)


def workload_2d(batch: int, size: int, device: torch.device, seed: int = 0) -> Workload:
    model = classifier_2d(size, seed=seed).to(device)
    x, masks = images_2d(batch, size, seed)
    x, masks = x.to(device), masks.to(device)
    return _classification("2D classifier", model, x, LAYER_2D, masks)


def workload_cnn1(batch: int, size: int, device: torch.device, seed: int = 0) -> Workload:
    model = load_demo_cnn1().to(device)
    volumes, _ = make_subtomograms(batch, size=size, seed=seed)
    x = torch.from_numpy(volumes).to(device)
    return _classification("demo CNN-1 3D", model, x, EVALUATION_LAYER, None)


def _classification(name: str, model: torch.nn.Module, x: torch.Tensor, layer: str,
                    masks: torch.Tensor | None) -> Workload:
    """The workload with our Grad-CAM maps at ``layer`` and the predicted classes (the explainer's cache cleared)."""
    explainer = CAMExplainer(model, layers=[layer])
    maps = explainer.explain(x, method="gradcam", layer=layer, progress=False).map.detach().float()
    classes = explainer.predict(x).argmax(1)
    explainer.clear()
    return Workload(name, model, explainer, x, maps, tie_free(maps), masks, classes)


def workload_unet(batch: int, size: int, device: torch.device, seed: int = 0) -> Workload:
    """The demo U-Net on ``make_scenes`` images; per scene the pixel set is its first object's pixels (the label of
    the first non-background pixel in C order) and the class that label; Seg-Grad-CAM at the bottleneck."""
    from cam_widgets.targets import PixelSet

    model = load_demo_unet().to(device)
    images, labels = make_scenes(batch, size=size, seed=seed)
    x = torch.from_numpy(images).to(device)
    labels_t = torch.from_numpy(labels).to(device)
    first = torch.stack([row[row > 0][0] for row in labels_t.flatten(1)])
    masks = labels_t == first[:, None, None]
    explainer = CAMExplainer(model, layers=["bottleneck"])
    maps = explainer.explain(x, target=PixelSet(first.tolist(), masks), method="gradcam", layer="bottleneck",
                             progress=False).map.detach().float()
    explainer.clear()
    return Workload("demo U-Net 2D", model, explainer, x, maps, tie_free(maps), masks, first)


# --- the inputs the metrics score, written from DESIGN.md section 10 (for the lower bounds) ---------------------


def deletion_counts(positions: int, steps: int) -> list[int]:
    step = math.ceil(positions / steps)
    return [*range(0, positions, step), positions]


def deletion_inputs(x: Tensor, maps: Tensor, steps: int, baseline: float = 0.0) -> tuple[Tensor, list[int]]:
    """``(2K - 3, B, C, *S)``: the distinct perturbed inputs deletion / insertion score (deletion at counts
    ``s, ..., P``, insertion at ``s, ..., P - s``; insertion at 0 is deletion at P, both ends at the unmodified x),
    and the counts."""
    flat = maps.flatten(1)
    counts = deletion_counts(flat.shape[1], steps)
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(flat.shape[1], device=x.device).expand_as(order))
    shape = (x.shape[0], 1, *x.shape[2:])
    removed_del = [(ranks < c).reshape(shape) for c in counts[1:]]
    kept_ins = [(ranks < c).reshape(shape) for c in counts[1:-1]]
    base = torch.full_like(x, baseline)
    stack = [torch.where(r, base, x) for r in removed_del] + [torch.where(k, x, base) for k in kept_ins]
    return torch.stack(stack), counts


def deletion_bound(model: nn.Module, x: Tensor, maps: Tensor, steps: int, classes: Tensor, rows: int
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """The bound's perturbed inputs (``deletion_inputs``) and the curves ``(B, K)`` their probabilities give."""
    stack, counts = deletion_inputs(x, maps, steps)
    k = len(counts)
    with torch.no_grad():
        original = probabilities(model(x)[None], classes)[0].double().cpu()
    p = probabilities(forward_rows(model, stack, rows), classes).double().cpu()    # (2K - 3, B)
    deletion = torch.cat([original[None], p[:k - 1]]).T
    insertion = torch.cat([p[k - 2:k - 1], p[k - 1:], original[None]]).T
    return stack, deletion, insertion


def masked_inputs(x: Tensor, maps: Tensor) -> Tensor:
    """``(1, B, C, *S)``: ``m * x`` with m the map min-max normalised per sample (a constant map gives 0)."""
    flat = maps.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    span = high - low
    m = torch.where(span > 0, (flat - low) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(flat))
    return (m.reshape(x.shape[0], 1, *x.shape[2:]) * x)[None]


def topk_inputs(x: Tensor, maps: Tensor, fractions: tuple[float, ...], draws: int, seed: int) -> tuple[Tensor, Tensor]:
    """x with positions set to 0 in every channel: ``(F, B, C, *S)`` the top ``floor(k P + 0.5)`` positions of each
    map per fraction k; ``(draws * F, B, C, *S)`` the first as many positions of ``draws`` uniform random orders
    (``torch.rand(B, P).argsort(1)`` in turn from a CPU generator seeded by ``seed``, draw-major)."""
    flat = maps.flatten(1)
    batch, positions = flat.shape
    counts = [int(math.floor(k * positions + 0.5)) for k in fractions]
    g = torch.Generator().manual_seed(seed)
    orders = [torch.argsort(flat, dim=1, descending=True, stable=True)]
    orders += [torch.rand(batch, positions, generator=g).argsort(1).to(x.device) for _ in range(draws)]
    shape = (batch, 1, *x.shape[2:])
    stacks = []
    for order in orders:
        for count in counts:
            chosen = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, order[:, :count], True)
            stacks.append(torch.where(chosen.reshape(shape), torch.zeros_like(x), x))
    stack = torch.stack(stacks)
    return stack[:len(counts)], stack[len(counts):]


def forward_rows(model: nn.Module, stack: Tensor, rows_per_pass: int) -> Tensor:
    """The model's outputs for ``stack`` ``(m, B, ...)`` flattened to rows, ``rows_per_pass`` rows per forward, under
    ``torch.no_grad``: the forwards a metric cannot avoid."""
    rows = stack.flatten(0, 1)
    with torch.no_grad():
        outs = [model(rows[i:i + rows_per_pass]) for i in range(0, rows.shape[0], rows_per_pass)]
    return torch.cat(outs).unflatten(0, stack.shape[:2])


def lower_bound(model: nn.Module, x: Tensor, stack: Tensor, rows: int) -> Tensor:
    """The forwards a metric needs: the unmodified batch, then ``stack`` at ``rows`` rows per pass (no_grad)."""
    with torch.no_grad():
        model(x)
    return forward_rows(model, stack, rows)


def rows_per_pass(batch_size: int, batch: int) -> int:
    """Rows per forward of our ``Scorer``: whole groups of the batch, ``ceil(batch_size / B) * B``."""
    return max(1, math.ceil(batch_size / batch)) * batch


def probabilities(outputs: Tensor, classes: Tensor) -> Tensor:
    """``(m, B)`` class probabilities of outputs ``(m, B, C)``."""
    return outputs.softmax(-1).gather(-1, classes.expand(outputs.shape[0], -1)[..., None])[..., 0]


def as_numpy(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
