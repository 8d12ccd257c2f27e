"""Pixel-set builders and display resampling."""

import pytest
import torch

from cam_widgets.resample import normalize, to_uint8, upsample
from cam_widgets.targets import all_pixels, ball, box, empty, point


def test_builders():
    assert point((4, 5), (1, 2)).nonzero().tolist() == [[1, 2]]
    assert box((4, 5), (1, 1), (3, 9)).sum() == 2 * 4
    assert all_pixels((2, 3, 4)).all() and not empty((2, 3, 4)).any()
    disc = ball((7, 7), (3, 3), 1.0)
    assert disc.sum() == 5 and disc[3, 3] and disc[2, 3] and not disc[2, 2]
    assert ball((5, 5, 5), (2, 2, 2), 1.0).sum() == 7
    with pytest.raises(IndexError, match=r"position \(4, 0\) is outside the output's spatial shape \(4, 5\)"):
        point((4, 5), (4, 0))


def test_upsample_is_linear_interpolation_with_centred_pixels():
    maps = torch.tensor([[[0.0, 1.0]]])
    up = upsample(maps, (1, 4))
    # align_corners=False: output centres at 0.25, 0.75, 1.25, 1.75 input pixels -> 0, 0.25, 0.75, 1
    torch.testing.assert_close(up, torch.tensor([[[0.0, 0.25, 0.75, 1.0]]]))
    vol = torch.rand(3, 2, 2, 2)
    assert upsample(vol, (4, 6, 8)).shape == (3, 4, 6, 8)
    assert upsample(torch.rand(5, 2, 3, 2, 2), (4, 4, 4)).shape == (5, 2, 3, 4, 4, 4)[:2] + (4, 4, 4)


def test_normalize_and_quantise():
    maps = torch.tensor([[-2.0, 0.0, 1.0], [3.0, 3.0, 3.0]])
    torch.testing.assert_close(normalize(maps), torch.tensor([[0.0, 2 / 3, 1.0], [0.0, 0.0, 0.0]]))
    torch.testing.assert_close(normalize(maps, signed=True), torch.tensor([[-1.0, 0.0, 0.5], [1.0, 1.0, 1.0]]))
    assert to_uint8(torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0]), 0.0, 1.0).tolist() == [0, 0, 128, 255, 255]
    assert to_uint8(torch.tensor([1.0]), 1.0, 1.0).tolist() == [0]
