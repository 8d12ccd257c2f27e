"""Real photographs that ship with scikit-image: ``lfw_subset``, 100 faces and 100 non-faces (25x25)."""

from __future__ import annotations

import numpy as np

FACE_CLASSES = ("non-face", "face")


def lfw_faces(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """``(images (n, 1, 25, 25) float32, labels (n,) int64)``, label 1 = face, each image z-scored;
    a fixed split: 150 images for ``"train"``, the other 50 for ``"test"``."""
    from skimage.data import lfw_subset

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images = lfw_subset().astype(np.float32)
    labels = np.r_[np.ones(100), np.zeros(100)].astype(np.int64)
    images = (images - images.mean((1, 2), keepdims=True)) / images.std((1, 2), keepdims=True)
    order = np.random.default_rng(0).permutation(len(images))
    chosen = order[:150] if split == "train" else order[150:]
    return images[chosen, None], labels[chosen]
