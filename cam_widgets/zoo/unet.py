"""A small 2D U-Net (Ronneberger et al. 2015) for the generated segmentation scenes.

Two down-sampling levels, a bottleneck and two up-sampling levels with skip connections; every
module runs once per forward, so any of them can be explained. The usual layer for segmentation
CAMs is the bottleneck (Vinogradova et al. 2020), the default of ``CAMExplainer``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.ReLU(),
    )


class UNet2D(nn.Module):
    """``(B, in_channels, H, W) -> (B, n_classes, H, W)`` logits; ``H`` and ``W`` divisible by 4."""

    def __init__(self, in_channels: int = 1, n_classes: int = 5, width: int = 16):
        super().__init__()
        w = width
        self.enc1 = _double_conv(in_channels, w)
        self.pool1 = nn.MaxPool2d(2)
        self.enc2 = _double_conv(w, 2 * w)
        self.pool2 = nn.MaxPool2d(2)
        self.bottleneck = _double_conv(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = _double_conv(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = _double_conv(2 * w, w)
        self.head = nn.Conv2d(w, n_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        skip1 = self.enc1(x)
        skip2 = self.enc2(self.pool1(skip1))
        deep = self.bottleneck(self.pool2(skip2))
        up2 = self.dec2(torch.cat([self.up2(deep), skip2], 1))
        up1 = self.dec1(torch.cat([self.up1(up2), skip1], 1))
        return self.head(up1)
