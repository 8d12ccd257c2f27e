"""Synthetic segmentation scenes: textured objects of several classes on a noisy background.

Every object is defined in its own frame by local coordinates ``p = R^T (g - c)`` (``g`` a pixel
centre, ``c`` the object's centre, ``R`` a random rotation), with the same formulas in 2D and 3D.
Per label: 2D / 3D name, where the object is, its texture:

1. disc / ball: ``|p| <= r``; a dome texture ``1 - 0.4 (|p| / r)^2``.
2. rectangle / box: ``|p_i| <= h_i`` on every axis; stripes of intensity 0.4 and 1.0.
3. triangle / cone: ``0 <= q <= H`` and ``|(p_1, ...)| <= r q / H`` with ``q = p_0 + H / 2``
   (an isosceles triangle in 2D, a cone in 3D); flat 0.7.
4. ring / shell: ``| |p| - r | <= w``; flat 1.0.
5. bar / rod: ``|p_0| <= L / 2`` and ``|(p_1, ...)| <= w``; flat 0.85.

Objects are painted in order, so a later object hides an earlier one where they overlap, and the
label of a pixel is the class of the object seen there (0 = background). Sizes are given for a
64-pixel image and scale with ``size / 64``; thin parts are at least one pixel wide.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

SCENE_CLASSES: tuple[str, ...] = ("background", "disc", "rectangle", "triangle", "ring", "bar")
"""Names of the 2D label values (index 0 is the background)."""

SCENE_CLASSES_3D: tuple[str, ...] = ("background", "ball", "box", "cone", "shell", "rod")
"""Names of the 3D label values; label ``i`` is the 3D counterpart of ``SCENE_CLASSES[i]``."""


_Painted = tuple[np.ndarray, np.ndarray]  # (inside mask, texture) over the grid


def _disc(p: np.ndarray, rng: np.random.Generator, scale: float) -> _Painted:
    r2 = np.sum(p**2, axis=-1) / (rng.uniform(4.0, 8.0) * scale) ** 2
    return r2 <= 1.0, 1.0 - 0.4 * r2


def _rectangle(p: np.ndarray, rng: np.random.Generator, scale: float) -> _Painted:
    half = rng.uniform(3.0, 7.0, p.shape[-1]) * scale
    period = max(4.0 * scale, 2.0)
    stripes = np.floor(p[..., 0] / (period / 2)) % 2
    return np.all(np.abs(p) <= half, axis=-1), 0.4 + 0.6 * stripes


def _triangle(p: np.ndarray, rng: np.random.Generator, scale: float) -> _Painted:
    height, radius = rng.uniform(10.0, 16.0) * scale, rng.uniform(5.0, 8.0) * scale
    h = p[..., 0] + height / 2
    inside = (h >= 0) & (h <= height) & (np.linalg.norm(p[..., 1:], axis=-1) <= radius * h / height)
    return inside, np.full(inside.shape, 0.7)


def _ring(p: np.ndarray, rng: np.random.Generator, scale: float) -> _Painted:
    radius, half_width = rng.uniform(6.0, 9.0) * scale, max(rng.uniform(1.0, 1.5) * scale, 1.0)
    inside = np.abs(np.linalg.norm(p, axis=-1) - radius) <= half_width
    return inside, np.full(inside.shape, 1.0)


def _bar(p: np.ndarray, rng: np.random.Generator, scale: float) -> _Painted:
    length, half_width = rng.uniform(18.0, 28.0) * scale, max(rng.uniform(1.0, 2.0) * scale, 1.0)
    inside = (np.abs(p[..., 0]) <= length / 2) & (np.linalg.norm(p[..., 1:], axis=-1) <= half_width)
    return inside, np.full(inside.shape, 0.85)


_SHAPES = (_disc, _rectangle, _triangle, _ring, _bar)  # label i + 1


def make_scenes(
    n: int,
    size: int = 64,
    n_objects: tuple[int, int] = (3, 6),
    noise: float = 0.2,
    seed: int = 0,
    ndim: int = 2,
    return_instances: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make ``n`` random scenes with per-pixel labels (and, if asked, per-pixel object ids).

    Each scene draws a number of objects uniformly from ``n_objects`` (inclusive), each with a
    uniformly random class, centre (within the middle 70% of each axis), rotation and size (see
    the module docstring for shapes and textures). The image is ``sum of painted textures + e``
    with ``e ~ N(0, noise^2)`` i.i.d. per pixel; the background's intensity is 0 before noise.

    Args:
        n: number of scenes.
        size: edge length in pixels (voxels for ``ndim=3``).
        n_objects: smallest and largest number of objects per scene (at least 1).
        noise: standard deviation of the additive Gaussian noise.
        seed: random seed; the same arguments give identical arrays.
        ndim: 2 for images (labels named by ``SCENE_CLASSES``), 3 for volumes
            (``SCENE_CLASSES_3D``).
        return_instances: also return the instance map of each scene: 0 for the background and
            ``k`` (1, 2, ...) where the ``k``-th object painted in that scene is seen. Painting
            order decides overlaps exactly as for the labels, so ``labels == class of instance``
            everywhere, and an object hidden entirely by later ones has no pixel. The images and
            labels are the same arrays, bit for bit, as without it.

    Returns:
        float32 ``images`` ``(n, 1, *spatial)`` and int64 ``labels`` ``(n, *spatial)`` with
        ``spatial = (size,) * ndim``; with ``return_instances``, also int64 ``instances``
        ``(n, *spatial)``.
    """
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3, got {ndim}")
    low, high = n_objects
    if not 1 <= low <= high:
        raise ValueError(f"n_objects must be (low, high) with 1 <= low <= high, got {n_objects}")
    rng = np.random.default_rng(seed)
    spatial = (size,) * ndim
    grid = np.stack(np.meshgrid(*[np.arange(size, dtype=float)] * ndim, indexing="ij"), axis=-1)
    images = np.zeros((n, *spatial), np.float32)
    labels = np.zeros((n, *spatial), np.int64)
    instances = np.zeros((n, *spatial), np.int64)
    for image, label, instance in zip(images, labels, instances):
        for k in range(1, 1 + rng.integers(low, high, endpoint=True)):
            cls = rng.integers(len(_SHAPES))
            centre = rng.uniform(0.15 * size, 0.85 * size, ndim)
            p = (grid - centre) @ _random_rotation(rng, ndim)
            inside, texture = _SHAPES[cls](p, rng, size / 64)
            image[inside] = texture[inside]
            label[inside] = cls + 1
            instance[inside] = k
    images += rng.normal(0.0, noise, images.shape).astype(np.float32)
    if return_instances:
        return images[:, None], labels, instances
    return images[:, None], labels


def _random_rotation(rng: np.random.Generator, ndim: int) -> np.ndarray:
    if ndim == 3:
        return Rotation.from_quat(rng.standard_normal(4)).as_matrix()
    angle = rng.uniform(0.0, 2 * np.pi)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


class SceneDataset(torch.utils.data.Dataset):
    """Synthetic scenes as a map-style dataset of ``(image (1, *spatial), labels (*spatial))``.

    Takes the arguments of :func:`make_scenes` and makes every scene once, at construction.
    ``images`` (float32 tensor) and ``labels`` (int64 tensor, ready for ``cross_entropy``) hold the
    whole set; ``class_names`` the names of the label values.
    """

    def __init__(
        self,
        n: int,
        size: int = 64,
        n_objects: tuple[int, int] = (3, 6),
        noise: float = 0.2,
        seed: int = 0,
        ndim: int = 2,
    ) -> None:
        images, labels = make_scenes(n, size, n_objects, noise, seed, ndim)
        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(labels)
        self.class_names = SCENE_CLASSES if ndim == 2 else SCENE_CLASSES_3D

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]
