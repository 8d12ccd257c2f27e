"""The Respond-CAM paper's 3D classifiers (Zhao et al. 2018, supplementary Fig. 1).

CNN-1 is the DSRF3D model of Xu et al. 2017: two blocks of two 3x3x3 'same' convolutions with ReLU,
each followed by a 2x2x2 max-pool, then two hidden dense layers with ReLU and a linear head. CNN-2
adds a 2x2x2 average pool at the input. The layers carry the paper's names, so the evaluation layer,
the second max-pool (after the last convolution and its ReLU, which the paper calls "the last
convolutional layer"), is ``"maxpool2"``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

PAPER_CONV_CHANNELS = (32, 32, 64, 64)
PAPER_DENSE = 512
EVALUATION_LAYER = "maxpool2"


def _layers(in_size: int, n_classes: int, conv_channels: Sequence[int], dense: int) -> list[tuple[str, nn.Module]]:
    c1, c2, c3, c4 = conv_channels
    flat = c4 * (in_size // 4) ** 3
    return [
        ("conv1", nn.Conv3d(1, c1, 3, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv3d(c1, c2, 3, padding=1)), ("relu2", nn.ReLU()),
        ("maxpool1", nn.MaxPool3d(2)),
        ("conv3", nn.Conv3d(c2, c3, 3, padding=1)), ("relu3", nn.ReLU()),
        ("conv4", nn.Conv3d(c3, c4, 3, padding=1)), ("relu4", nn.ReLU()),
        ("maxpool2", nn.MaxPool3d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(flat, dense)), ("relu5", nn.ReLU()),
        ("fc2", nn.Linear(dense, dense)), ("relu6", nn.ReLU()),
        ("fc3", nn.Linear(dense, n_classes)),
    ]


def cnn1(
    in_size: int = 40, n_classes: int = 23, conv_channels: Sequence[int] = PAPER_CONV_CHANNELS, dense: int = PAPER_DENSE
) -> nn.Sequential:
    """CNN-1 for ``(B, 1, in_size, in_size, in_size)`` subtomograms (``in_size`` divisible by 4)."""
    _check_size(in_size, 4)
    return nn.Sequential(OrderedDict(_layers(in_size, n_classes, conv_channels, dense)))


def cnn2(
    in_size: int = 40, n_classes: int = 23, conv_channels: Sequence[int] = PAPER_CONV_CHANNELS, dense: int = PAPER_DENSE
) -> nn.Sequential:
    """CNN-2: CNN-1 behind a 2x2x2 average pool at the input (``in_size`` divisible by 8)."""
    _check_size(in_size, 8)
    return nn.Sequential(OrderedDict([("avgpool0", nn.AvgPool3d(2))] + _layers(in_size // 2, n_classes, conv_channels, dense)))


def _check_size(in_size: int, multiple: int) -> None:
    if in_size % multiple:
        raise ValueError(f"in_size must be divisible by {multiple} (two or three 2x pools), got {in_size}")
