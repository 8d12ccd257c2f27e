"""Benchmark models, defined here so the bench needs nothing but torch (no torchvision).

* CNN-1: the Respond-CAM paper's 3D classifier at the paper's size (``cam_widgets.zoo.cnn1``:
  Conv3d 32, 32 / 64, 64 with ReLUs and a max-pool after each block, dense 512, 512, linear head),
  He-initialised. The explained layer is the second max-pool's output (``maxpool2``), the layer the
  authors' evaluation code uses.
* ``ResNetLike``: a ResNet-18-shaped 2D net (stem conv7/2 + max-pool, four stages of two
  BasicBlocks with 64/128/256/512 channels, global average pool, linear head), written like
  torchvision's (BatchNorm, shared in-place ReLU per block).  The explained layer is the last
  stage's output (``layer4``).

Weights are random (seeded): the bench measures time, not accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cam_widgets.zoo import cnn1


def he_init(model: nn.Module) -> nn.Module:
    """He-normal weights, small biases: activations keep their scale through the net (PyTorch's
    default init shrinks them layer by layer, towards float32 denormals that slow CPUs down)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.uniform_(module.bias, -0.01, 0.01)
    return model


class BasicBlock(nn.Module):
    """ResNet's basic block (two 3x3 convs with BatchNorm, identity or 1x1 projection shortcut)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetLike(nn.Module):
    """A ResNet-18-shaped classifier for ``(B, 3, H, W)`` images."""

    def __init__(self, n_classes: int = 20, widths: tuple[int, ...] = (64, 128, 256, 512), blocks: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages = []
        in_channels = widths[0]
        for index, width in enumerate(widths):
            stride = 1 if index == 0 else 2
            stages.append(nn.Sequential(*[
                BasicBlock(in_channels if b == 0 else width, width, stride if b == 0 else 1) for b in range(blocks)
            ]))
            in_channels = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomize_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Give BatchNorm non-trivial (seeded) statistics and affine parameters, as a trained net has."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                module.weight.copy_(0.5 + 0.5 * torch.rand(n, generator=generator))
                module.bias.copy_(0.1 * torch.randn(n, generator=generator))


@dataclass
class Workload:
    """A model, an input batch, the explained layer and a description, ready to time."""

    name: str
    title: str
    model: nn.Module
    x: torch.Tensor
    layer: str
    n_classes: int

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(self.x.shape[2:])


DEFAULTS = {"cnn1": {"size": 40, "batch": 8}, "resnet": {"size": 224, "batch": 8}}
QUICK = {"cnn1": {"size": 16, "batch": 2}, "resnet": {"size": 64, "batch": 2}}


def make_workload(name: str, size: int, batch: int, device: torch.device, seed: int = 0) -> Workload:
    """Build a seeded model (eval mode, float32, on ``device``) and a seeded input batch."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    if name == "cnn1":
        n_classes = 23
        model = he_init(cnn1(size, n_classes))
        x = torch.rand(batch, 1, size, size, size, generator=generator)
        title = f"CNN-1 (Respond-CAM), 3D input {size}^3, {n_classes} classes, layer maxpool2"
        layer = "maxpool2"
    elif name == "resnet":
        n_classes = 20
        model = ResNetLike(n_classes=n_classes)
        _randomize_batchnorm(model, generator)
        x = torch.randn(batch, 3, size, size, generator=generator)
        title = f"ResNet-18-like, 2D input {size}x{size}, {n_classes} classes, layer layer4"
        layer = "layer4"
    else:
        raise ValueError(f"unknown workload {name!r}: choose cnn1 or resnet")
    model = model.to(device=device, dtype=torch.float32).eval()
    return Workload(name, title, model, x.to(device), layer, n_classes)
