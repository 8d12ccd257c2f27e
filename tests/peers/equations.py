"""Hand-written oracles of the Table 1 methods' equations (DESIGN.md section 9), 1D, 2D and 3D.

Each oracle is a direct transcription, written without any package code: explicit loops over
channels with full forward passes (Score-CAM, Ablation-CAM), NumPy's SVD (Eigen-CAM), an explicit
loop over the pooling windows (XRes-CAM), the official FullGrad code's formulas (with switches for
the peers' deviations), and the DeepLIFT Rescale rule as a linearised network (LIFT-CAM). ``A`` and
``g = dy/dA`` come from a plain forward hook and one ``autograd.grad``. A target here is a function
``outputs -> (B,)``: ``class_target`` (logits) or ``pixel_set_target`` (sum over a mask).
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

N_CLASSES = 5
CLASSES = [1, 4, 2]  # one class per sample of a batch of 3
SEG_CLASSES = [0, 2, 1]
INPUT = {1: (2, 14), 2: (2, 8, 10), 3: (1, 6, 8, 4)}  # (C, *spatial): XRes windows of 2 and 3 leave edges
CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
INTERPOLATION = {1: "linear", 2: "bilinear", 3: "trilinear"}
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh)  # the Rescale rule's nonlinearities
BIAS_MODULES = tuple(CONV.values()) + tuple(BN.values())


# --- models and inputs ------------------------------------------------------------------------------


def randomise_batchnorm(model: nn.Module, seed: int) -> nn.Module:
    """Non-trivial running statistics and affine parameters, so the effective bias is not b."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, BIAS_MODULES[3:]):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(n, generator=generator))
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.5)
    return model


def classifier(ndim: int, seed: int = 1, pool: bool = False) -> nn.Sequential:
    """features: Conv-ReLU-Conv(no bias)-BN-LeakyReLU-[MaxPool | Conv stride 2]-ReLU; head: two dense
    layers. Without ``pool`` every module above a layer is linear or elementwise (hand DeepLIFT
    applies); the strided conv's bias term is at half resolution (FullGrad's upsampling counts)."""
    torch.manual_seed(seed)
    channels, *spatial = INPUT[ndim]
    down = POOL[ndim](2) if pool else CONV[ndim](6, 6, 3, stride=2, padding=1)
    half = math.prod(s // 2 if pool else (s + 1) // 2 for s in spatial)
    features = nn.Sequential(
        CONV[ndim](channels, 4, 3, padding=1), nn.ReLU(),
        CONV[ndim](4, 6, 3, padding=1, bias=False), BN[ndim](6), nn.LeakyReLU(0.2),
        down, nn.ReLU(),
    )
    head = nn.Sequential(nn.Flatten(), nn.Linear(6 * half, 16), nn.ReLU(), nn.Linear(16, N_CLASSES))
    with torch.no_grad():
        head[-1].weight.mul_(20)  # logits of a few units: masked or ablated inputs change the probabilities
    model = nn.Sequential(OrderedDict(features=features, head=head))
    return randomise_batchnorm(model, seed).double().eval()


def gap_classifier(ndim: int, seed: int = 2) -> nn.Sequential:
    """Conv-ReLU-Conv-LeakyReLU, global average pooling, one linear layer: the form CAM needs."""
    torch.manual_seed(seed)
    pool = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}[ndim]
    return nn.Sequential(
        CONV[ndim](INPUT[ndim][0], 4, 3, padding=1), nn.ReLU(), CONV[ndim](4, 6, 3, padding=1), nn.LeakyReLU(0.2),
        pool(1), nn.Flatten(), nn.Linear(6, N_CLASSES),
    ).double().eval()


def segmenter(ndim: int, seed: int = 3) -> nn.Sequential:
    """Conv-ReLU-Conv(stride 2)-BN-ReLU-Conv 1x1 (3 classes)-Upsample x2: output (B, 3, *input spatial)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        CONV[ndim](INPUT[ndim][0], 4, 3, padding=1), nn.ReLU(),
        CONV[ndim](4, 6, 3, stride=2, padding=1), BN[ndim](6), nn.ReLU(),
        CONV[ndim](6, 3, 1), nn.Upsample(scale_factor=2, mode=INTERPOLATION[ndim], align_corners=False),
    )
    return randomise_batchnorm(model, seed).double().eval()


def batch(ndim: int, seed: int = 100, size: int = len(CLASSES)) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(size, *INPUT[ndim], generator=generator, dtype=torch.float64)


def seg_mask(ndim: int, seed: int = 7) -> Tensor:
    """One bool mask per sample, about 30 % of the output's pixels."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(len(SEG_CLASSES), *INPUT[ndim][1:], generator=generator) < 0.3


def tiled(values: Tensor, n: int) -> Tensor:
    """Row r of a batch of n = m * len(values) rows belongs to sample r % len(values) (Captum's DeepLift
    stacks the input and its reference, scoring 2B rows)."""
    return values.repeat((n // values.shape[0],) + (1,) * (values.ndim - 1))


def class_target(classes):
    return lambda output: output[torch.arange(output.shape[0]), tiled(torch.as_tensor(classes), output.shape[0])]


def pixel_set_target(classes, mask: Tensor):
    """y_b = sum over the mask of the class-c_b output channel (one bool mask per sample)."""
    def target(output: Tensor) -> Tensor:
        index = tiled(torch.as_tensor(classes), output.shape[0])
        picked = output[torch.arange(output.shape[0]), index]
        return (picked * tiled(mask, output.shape[0]).to(output.dtype)).flatten(1).sum(1)

    return target


def submodule(model: nn.Module, name: str) -> nn.Module:
    return dict(model.named_modules())[name]


def activation_and_gradient(model: nn.Module, layer: str, x: Tensor, target) -> tuple[Tensor, Tensor]:
    """``A`` and ``g = dy/dA`` computed independently of the package: a plain forward hook and one
    ``autograd.grad`` of ``sum_b y_b`` (the samples do not interact in eval mode)."""
    store = []
    handle = submodule(model, layer).register_forward_hook(lambda module, inputs, output: store.append(output))
    try:
        output = model(x)
    finally:
        handle.remove()
    (gradient,) = torch.autograd.grad(target(output).sum(), store[0])
    return store[0].detach(), gradient


def weighted_sum(weights: Tensor, A: Tensor) -> Tensor:
    return (weights[(...,) + (None,) * (A.ndim - 2)] * A).sum(1)


def up(t: Tensor, size, align_corners: bool = False) -> Tensor:
    return F.interpolate(t, size=tuple(size), mode=INTERPOLATION[t.ndim - 2], align_corners=align_corners)


def minmax(t: Tensor, eps: float = 1e-8) -> Tensor:
    """Per sample and channel over the positions: (t - min) / (max - min + eps)."""
    low = t.flatten(2).amin(-1)[(...,) + (None,) * (t.ndim - 2)]
    high = t.flatten(2).amax(-1)[(...,) + (None,) * (t.ndim - 2)]
    return (t - low) / (high - low + eps)


# --- Score-CAM, Ablation-CAM ----------------------------------------------------------------------------


def score_cam_masks(A: Tensor, size, order: str = "upsample-normalise", align_corners: bool = False) -> Tensor:
    """H_k (B, K, *input): the authors' upsample-then-normalise, or torchcam's normalise-then-upsample."""
    if order == "upsample-normalise":
        return minmax(up(A, size, align_corners))
    return up(minmax(A), size, align_corners)


def score_cam_oracle(model, x, A, target, masks=None, probabilities=True, skip_constant=True) -> Tensor:
    """Wang et al. 2020 as the authors' code: alpha_k = target(softmax(model(x * H_k))), one masked forward
    per channel, 0 for a constant channel (max == min). Returns alpha (B, K). The peers' variants:
    other ``masks``, logits (``probabilities=False``), constant channels scored (``skip_constant=False``)."""
    masks = score_cam_masks(A, x.shape[2:]) if masks is None else masks
    alpha = torch.zeros(A.shape[:2], dtype=A.dtype)
    with torch.no_grad():
        for k in range(A.shape[1]):
            output = model(x * masks[:, k: k + 1])
            alpha[:, k] = target(torch.softmax(output, dim=1) if probabilities else output)
    constant = (A.flatten(2).amax(-1) == A.flatten(2).amin(-1)) & skip_constant
    return torch.where(constant, torch.zeros_like(alpha), alpha)


def ablated_scores(model, layer: str, x, target, channels: int, value=lambda a, k: 0.0) -> tuple[Tensor, Tensor]:
    """y (B,) and y_k (B, K): channel k of each sample's layer output ``a`` set to ``value(a, k)`` by a
    forward hook that replaces the output, one full forward per channel (nothing cached)."""
    module = submodule(model, layer)
    with torch.no_grad():
        y = target(model(x))
        y_k = torch.zeros(x.shape[0], channels, dtype=y.dtype)
        for k in range(channels):
            def ablate(m, i, output, k=k):
                output = output.clone()
                for b in range(output.shape[0]):
                    output[b, k] = value(output[b], k)
                return output

            handle = module.register_forward_hook(ablate)
            try:
                y_k[:, k] = target(model(x))
            finally:
                handle.remove()
    return y, y_k


def ablation_weights(y: Tensor, y_k: Tensor) -> Tensor:
    """Desai and Ramaswamy 2020 with DESIGN's denominator: (y - y_k) / max(|y|, 1e-7)."""
    return (y[:, None] - y_k) / y.abs().clamp_min(1e-7)[:, None]


# --- Eigen-CAM, XRes-CAM --------------------------------------------------------------------------------


def eigen_cam_oracle(A: Tensor, sign_rule: bool = True) -> Tensor:
    """Per sample: M = positions x channels centred over positions, v = first right singular vector
    (NumPy's SVD), sum_k v_k >= 0 when ``sign_rule``, projection M v reshaped to the layer."""
    maps = []
    for a in A.detach().double().numpy():
        M = a.reshape(a.shape[0], -1).T
        M = M - M.mean(axis=0)
        v = np.linalg.svd(M, full_matrices=False)[2][0]
        if sign_rule and v.sum() < 0:
            v = -v
        maps.append((M @ v).reshape(a.shape[1:]))
    return torch.from_numpy(np.stack(maps))


def xres_cam_oracle(A: Tensor, g: Tensor, pool: int, mode: str) -> Tensor:
    """Hasany et al. 2023: g reduced (max or mean) over each window of ``pool`` positions per axis,
    stride ``pool``, the edge windows over what they contain; every position takes its window's value."""
    spatial = A.shape[2:]
    pooled = torch.empty_like(g)
    for window in itertools.product(*(range(math.ceil(n / pool)) for n in spatial)):
        box = (slice(None), slice(None)) + tuple(
            slice(w * pool, min((w + 1) * pool, n)) for w, n in zip(window, spatial))
        block = g[box].flatten(2)
        value = block.amax(-1) if mode == "max" else block.mean(-1)
        pooled[box] = value[(...,) + (None,) * len(spatial)]
    return (pooled * A).sum(1)


# --- FullGrad ---------------------------------------------------------------------------------------


def effective_bias(module: nn.Module) -> Tensor:
    if isinstance(module, BIAS_MODULES[3:]):
        return module.bias - module.running_mean * module.weight / torch.sqrt(module.running_var + module.eps)
    return module.bias


def fullgrad_terms(model: nn.Module, x: Tensor, target) -> tuple[Tensor, list[Tensor]]:
    """x * dy/dx (B, C, *S) and b * dy/dz (B, K, *S_z) for every Conv with a bias and every affine
    BatchNorm with running stats whose output has spatial dims (gradients from forward hooks)."""
    modules = [m for m in model.modules() if isinstance(m, BIAS_MODULES) and m.bias is not None
               and (not isinstance(m, BIAS_MODULES[3:]) or m.track_running_stats)]
    outputs, handles = {}, [m.register_forward_hook(lambda m, i, o: outputs.setdefault(m, o)) for m in modules]
    x = x.clone().requires_grad_(True)
    try:
        y = target(model(x)).sum()
    finally:
        for handle in handles:
            handle.remove()
    kept = [m for m in modules if m in outputs and outputs[m].ndim > 2]
    grads = torch.autograd.grad(y, [x] + [outputs[m] for m in kept], allow_unused=True)
    expand = (None, slice(None)) + (None,) * (x.ndim - 2)
    bias_terms = [effective_bias(m).detach()[expand] * g for m, g in zip(kept, grads[1:]) if g is not None]
    return (x * grads[0]).detach(), bias_terms


def psi(t: Tensor, per: str = "sample", eps: float = 1e-6) -> Tensor:
    """(|t| - min|t|) / (max(|t| - min|t|) + eps); min and max per sample over all channels and positions
    (the official code) or per sample and channel (pytorch-grad-cam)."""
    t = t.abs()
    flat = t.flatten(1) if per == "sample" else t.flatten(2)
    shape = (...,) + (None,) * (t.ndim - flat.ndim + 1)
    t = t - flat.amin(-1)[shape]
    return t / (t.flatten(1 if per == "sample" else 2).amax(-1)[shape] + eps)


def fullgrad_oracle(model, x, target, per: str = "sample", eps: float = 1e-6, align_corners: bool = False) -> Tensor:
    """Srinivas and Fleuret 2019, the official code's saliency: psi(x dy/dx) summed over input channels
    plus up(psi(b dy/dz)) summed over channels for each bias module; (B, *input spatial)."""
    input_term, bias_terms = fullgrad_terms(model, x, target)
    saliency = psi(input_term, per, eps).sum(1)
    for term in bias_terms:
        saliency = saliency + up(psi(term, per, eps), x.shape[2:], align_corners).sum(1)
    return saliency


# --- LIFT-CAM: DeepLIFT Rescale as a linearised network ------------------------------------------------


def above(model: nn.Sequential, layer: str) -> nn.Sequential:
    """The modules after ``layer`` in a (nested) Sequential, as one flat Sequential (shared, not copied)."""
    leaves = [(name, m) for name, m in model.named_modules() if not isinstance(m, nn.Sequential)]
    index = [name for name, _ in leaves].index(layer)
    return nn.Sequential(*[m for _, m in leaves[index + 1:]])


def deeplift_rescale(modules: nn.Sequential, A: Tensor, target) -> Tensor:
    """DeepLIFT Rescale contributions of A (reference 0) to ``target``: A * d(lin)/dA, where ``lin``
    is the network with each elementwise nonlinearity f replaced by the secant through its values at
    the actual and the reference input (the gradient where they are within 1e-10). ``lin`` equals the
    network at A and at the reference, so the contributions sum to y(A) - y(0)."""
    if any(isinstance(m, tuple(POOL.values())) for m in modules):
        raise ValueError("max-pooling has its own DeepLIFT rule: use Captum's DeepLift for it")
    A = A.detach().clone().requires_grad_(True)
    t, reference = A, torch.zeros_like(A)
    for module in modules:
        if isinstance(module, ELEMENTWISE):
            z = t.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                f = module(z)
                (slope_at_z,) = torch.autograd.grad(f.sum(), z)
            f, f0, delta = f.detach(), module(reference), z.detach() - reference
            secant = torch.where(delta.abs() < 1e-10, slope_at_z, (f - f0) / torch.where(delta == 0, 1, delta))
            t, reference = f0 + secant * (t - reference), f0
        else:
            t, reference = module(t), module(reference).detach()
    (multiplier,) = torch.autograd.grad(target(t).sum(), A)
    return (A * multiplier).detach()
