"""``torchvision.ops.box_iou``: pairwise intersection over union of boxes in (x1, y1, x2, y2) form."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["box_area", "box_iou"]


def box_area(boxes: Tensor) -> Tensor:
    """Areas of ``boxes`` (N, 4) given as (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """The (N, M) matrix of IoU between every box of ``boxes1`` (N, 4) and of ``boxes2`` (M, 4)."""
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    intersection = wh[..., 0] * wh[..., 1]
    return intersection / (area1[:, None] + area2[None, :] - intersection)
