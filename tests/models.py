"""Small seeded models shared by the tests."""

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
