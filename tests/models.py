"""Small seeded models shared by the tests."""

import math

import torch
from torch import nn


def classifier(ndim: int = 2, inplace: bool = False, n_classes: int = 5, seed: int = 0, side: int = 8) -> nn.Sequential:
    """Conv-ReLU-Conv-ReLU-MaxPool-Conv-ReLU-MaxPool, then two hidden dense layers (gradients at
    the conv layers are not constant), in float64 and eval mode."""
    torch.manual_seed(seed)
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if ndim == 2 else (nn.Conv3d, nn.MaxPool3d)
    return nn.Sequential(
        conv(1, 4, 3, padding=1), nn.ReLU(inplace),
        conv(4, 6, 3, padding=1), nn.ReLU(inplace), pool(2),
        conv(6, 8, 3, padding=1), nn.ReLU(inplace), pool(2),
        nn.Flatten(), nn.Linear(8 * (side // 4) ** ndim, 16), nn.ReLU(inplace), nn.Linear(16, n_classes),
    ).double().eval()


class TinySegNet(nn.Module):
    """Encoder, bottleneck, decoder with a skip connection; output (B, C, H, W) logits."""

    def __init__(self, n_classes: int = 3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.down = nn.MaxPool2d(2)
        self.bottleneck = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())
        self.up = nn.Upsample(scale_factor=2)
        self.dec = nn.Sequential(nn.Conv2d(12, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(4, n_classes, 1)

    def forward(self, x):
        skip = self.enc(x)
        deep = self.up(self.bottleneck(self.down(skip)))
        return self.head(self.dec(torch.cat([deep, skip], 1)))


def segnet(n_classes: int = 3, seed: int = 0) -> TinySegNet:
    return TinySegNet(n_classes, seed).double().eval()


def sign_classifier(dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """Class 0 for a bright image, 1 for a dark one, 2 for a flat grey one (hand-set weights)."""
    conv, linear = nn.Conv2d(1, 2, 1), nn.Linear(2, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        conv.bias.zero_()
        linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        linear.bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear).to(dtype).eval()


def any_head_methods() -> list[str]:
    """Every method that explains any head: all but ``cam``, which needs global average pooling then one
    linear layer after the explained layer (tested on such heads in test_table1_properties.py)."""
    from cam_widgets.methods import METHODS

    return sorted(name for name in METHODS if name != "cam")


def gradient_methods() -> list:
    """The method objects that are pure functions of ``(A, g)`` (``.raw(A, g)``), but ``cam``."""
    from cam_widgets.methods import METHODS, GradientMethod

    return [m for m in METHODS.values() if isinstance(m, GradientMethod) and m.name != "cam"]


class ResidualBlock(nn.Module):
    """A ResNet basic block: in-place ReLUs and the in-place residual add ``out += identity``."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU(inplace=True)
        self.downsample = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += identity
        return self.relu2(out)


def resnet(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                          nn.Sequential(ResidualBlock(4, 4, 1), ResidualBlock(4, 6, 2)), ResidualBlock(6, 8, 2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    for m in model.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model.double().eval()


def gap_linear(ndim: int) -> nn.Sequential:
    torch.manual_seed(1)
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]
    pool = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}[ndim]
    return nn.Sequential(conv(1, 4, 3, padding=1), nn.ReLU(), conv(4, 6, 3, padding=1), nn.ReLU(),
                         pool(1), nn.Flatten(), nn.Linear(6, 4)).double().eval()


def replaced_forward(model: nn.Module, layer: nn.Module, activations: torch.Tensor, x: torch.Tensor):
    """The full forward with ``layer``'s output replaced (the reference for forwards from the layer up)."""
    handle = layer.register_forward_hook(lambda m, i, o: activations.clone())
    try:
        with torch.no_grad():
            return model(x)
    finally:
        handle.remove()


def sum_model(shape: tuple[int, ...], scale: float) -> nn.Sequential:
    """``logits = (scale * sum(x), 0)`` for one-channel inputs of spatial ``shape`` (1D, 2D or 3D), in float64: the
    class-0 probability is ``sigmoid(scale * sum(x))``, so metrics' scores can be computed by hand."""
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[len(shape)](1, 1, 1, bias=False).double()
    head = nn.Linear(math.prod(shape), 2).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
        head.weight.zero_()
        head.weight[0] = scale
        head.bias.zero_()
    return nn.Sequential(conv, nn.Flatten(), head).eval()


def slow_demo_cnn1(delay: float = 0.2) -> nn.Module:
    """The demo CNN-1, sleeping ``delay`` seconds before each forward pass: a data-set run long enough to be
    killed part-way (``--model tests.models:slow_demo_cnn1``)."""
    import time

    from cam_widgets.zoo import load_demo_cnn1

    model = load_demo_cnn1()
    model.register_forward_pre_hook(lambda module, inputs: time.sleep(delay))
    return model
