"""Simulated cellular electron cryo-tomography (CECT) subtomograms.

Each volume holds one macromolecule-like structure built from smooth analytic primitives
(Gaussian blobs, rods, rings and shells), placed at a uniformly random 3D rotation and a small
random shift, then degraded as in a tilt-series reconstruction: the Fourier coefficients inside
the missing wedge are zeroed and white Gaussian noise is added at a chosen SNR.

Conventions: a volume is indexed ``(z, y, x)`` (array axes 0, 1, 2 = D, H, W). The electron beam
runs along z (axis 0) at zero tilt; the specimen is tilted about y (axis 1) by default. Shapes are
defined in coordinates normalised to the half box width, so the box spans ``[-1, 1]`` on every
axis whatever its size in voxels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch
from numpy.typing import DTypeLike
from scipy.spatial.transform import Rotation

MAX_SHIFT = 0.1
"""Largest random shift per axis, in units of the half box width (1.6 voxels at size 32)."""

_CHUNK = 64  # volumes processed at once; bounds the temporary memory


# Coordinates ``p`` have shape (3, volumes, voxels); points and directions are 3-tuples of floats.


def _dot(u: np.ndarray | tuple[float, ...], v: np.ndarray | tuple[float, ...]) -> np.ndarray:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _minus(p: np.ndarray, point: tuple[float, float, float]) -> np.ndarray:
    return p - np.asarray(point, p.dtype)[:, None, None]


@dataclass(frozen=True)
class _Blob:
    center: tuple[float, float, float]
    sigma: float

    def sqdist(self, p: np.ndarray) -> np.ndarray:
        v = _minus(p, self.center)
        return _dot(v, v)


@dataclass(frozen=True)
class _Rod:
    start: tuple[float, float, float]
    end: tuple[float, float, float]
    sigma: float

    def sqdist(self, p: np.ndarray) -> np.ndarray:
        v = _minus(p, self.start)
        d = tuple(e - s for s, e in zip(self.start, self.end))
        vd, dd = _dot(v, d), _dot(d, d)
        t = np.clip(vd / dd, 0.0, 1.0)  # closest point on the segment: start + t d
        return _dot(v, v) - 2 * t * vd + t**2 * dd


@dataclass(frozen=True)
class _Ring:
    center: tuple[float, float, float]
    normal: tuple[float, float, float]
    radius: float
    sigma: float

    def sqdist(self, p: np.ndarray) -> np.ndarray:
        v = _minus(p, self.center)
        h = _dot(v, self.normal)
        rho = np.sqrt(np.maximum(_dot(v, v) - h**2, 0.0))
        return (rho - self.radius) ** 2 + h**2


@dataclass(frozen=True)
class _Shell:
    center: tuple[float, float, float]
    radius: float
    sigma: float

    def sqdist(self, p: np.ndarray) -> np.ndarray:
        v = _minus(p, self.center)
        return (np.sqrt(_dot(v, v)) - self.radius) ** 2


_Z = (0.0, 0.0, 1.0)  # a unit normal; which axis does not matter under random rotation
_TETRAHEDRON = tuple(
    tuple(float(0.4 * c / np.sqrt(3.0)) for c in v)
    for v in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1))
)
_TRIANGLE = tuple(
    (0.0, float(0.25 * np.cos(a)), float(0.25 * np.sin(a)))
    for a in np.radians((90.0, 210.0, 330.0))
)

_CLASSES: dict[str, tuple[_Blob | _Rod | _Ring | _Shell, ...]] = {
    "globule": (_Blob((0.0, 0.0, 0.0), 0.2),),
    "dumbbell": (
        _Blob((-0.55, 0.0, 0.0), 0.13),
        _Blob((0.55, 0.0, 0.0), 0.13),
        _Rod((-0.55, 0.0, 0.0), (0.55, 0.0, 0.0), 0.04),
    ),
    "trimer": tuple(_Blob(c, 0.11) for c in _TRIANGLE),
    "tetramer": tuple(_Blob(c, 0.11) for c in _TETRAHEDRON),
    "rod": (_Rod((-0.7, 0.0, 0.0), (0.7, 0.0, 0.0), 0.05),),
    "elbow": (
        _Rod((-0.25, -0.25, 0.0), (0.45, -0.25, 0.0), 0.07),
        _Rod((-0.25, -0.25, 0.0), (-0.25, 0.45, 0.0), 0.07),
    ),
    "ring": (_Ring((0.0, 0.0, 0.0), _Z, 0.5, 0.06),),
    "double_ring": (
        _Ring((0.0, 0.0, -0.25), _Z, 0.25, 0.06),
        _Ring((0.0, 0.0, 0.25), _Z, 0.25, 0.06),
    ),
    "wheel": (_Ring((0.0, 0.0, 0.0), _Z, 0.62, 0.05), _Blob((0.0, 0.0, 0.0), 0.1)),
    "shell": (_Shell((0.0, 0.0, 0.0), 0.5, 0.06),),
}

SUBTOMOGRAM_CLASSES: tuple[str, ...] = tuple(_CLASSES)
"""Names of the structural classes; a label ``i`` means ``SUBTOMOGRAM_CLASSES[i]``."""


def missing_wedge_mask(
    size: int, tilt_range_deg: float = 60.0, tilt_axis: int = 1
) -> np.ndarray:
    """Boolean mask of the Fourier coefficients a single-axis tilt series measures.

    The mask has the full ``numpy.fft.fftn`` layout: shape ``(size, size, size)``, frequencies in
    ``numpy.fft.fftfreq`` order (not shifted). It depends only on the absolute values of the
    frequencies, so it is symmetric and ``mask[..., : size // 2 + 1]`` is the mask for an
    ``rfftn`` output.

    The beam runs along axis 0 (z); ``tilt_axis`` is 1 (y) or 2 (x). With ``k_z`` the frequency
    along the beam and ``k_p`` the frequency along the third axis (perpendicular to beam and tilt
    axis), a tilt series over ``+-tilt_range_deg`` (theta) measures, by the central-slice theorem,
    exactly the coefficients with

        |k_p| >= |k_z| * tan(90 deg - theta),

    i.e. those whose direction in the (k_z, k_p) plane lies at least ``90 - theta`` degrees from
    the beam axis, at any frequency along the tilt axis. The wedge inside ``90 - theta`` degrees
    of the beam axis (30 degrees for +-60 degrees of tilt) is ``False``. The zero frequency and the
    whole tilt axis are kept; ``tilt_range_deg=90`` keeps everything.
    """
    if tilt_axis not in (1, 2):
        raise ValueError(f"tilt_axis must be 1 (y) or 2 (x), got {tilt_axis}; axis 0 is the beam")
    if not 0.0 < tilt_range_deg <= 90.0:
        raise ValueError(f"tilt_range_deg must be in (0, 90], got {tilt_range_deg}")
    k = np.abs(np.fft.fftfreq(size))
    plane = k[None, :] >= k[:, None] * np.tan(np.radians(90.0 - tilt_range_deg))  # (k_z, k_p)
    plane_3d = plane[:, None, :] if tilt_axis == 1 else plane[:, :, None]
    return np.broadcast_to(plane_3d, (size, size, size)).copy()


def make_subtomograms(
    n: int,
    size: int = 32,
    snr: float | None = None,
    classes: Sequence[int] | None = None,
    seed: int = 0,
    missing_wedge: bool = True,
    dtype: DTypeLike = np.float32,
    return_masks: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate ``n`` subtomograms and their class labels (and, if asked, the particles' masks).

    Steps, per volume with label ``c``, rotation ``R`` (uniform on SO(3)) and shift ``t``
    (uniform in ``[-MAX_SHIFT, MAX_SHIFT]`` per axis):

    1. density ``s(g) = sum_j exp(-d_j(p)^2 / (2 sigma_j^2))`` over the primitives ``j`` of class
       ``c``, where ``p = R^T (g - t)`` is the voxel centre ``g`` in the structure's frame and
       ``d_j`` the distance from ``p`` to the primitive (a point, segment, circle or sphere);
    2. if ``missing_wedge``: ``s <- irfftn(rfftn(s) * M)`` with ``M`` the ``missing_wedge_mask``
       for +-60 degrees of tilt about y;
    3. if ``snr`` is finite: ``x = s + e`` with ``e ~ N(0, var(s) / snr)`` i.i.d. per voxel, so
       that ``snr = var(signal) / var(noise)`` per volume;
    4. ``x <- (x - mean(x)) / std(x)`` per volume.

    Args:
        n: number of volumes.
        size: edge length of the cube in voxels.
        snr: signal-to-noise ratio (variance ratio); ``None`` or ``inf`` for no noise.
        classes: one class index per volume (length ``n``); by default the labels are balanced
            (counts differ by at most one) and shuffled.
        seed: random seed. The same arguments give identical arrays. Labels and poses depend
            only on ``n``, ``classes`` and ``seed`` (the shift scales with ``size``), so calls
            that differ only in ``size``, ``snr`` or ``missing_wedge`` show the same molecules.
        missing_wedge: apply the missing wedge.
        dtype: ``np.float32`` or ``np.float64``; the computation runs in this precision.
        return_masks: also return the ground-truth mask of each particle (below). The volumes and
            labels are the same arrays, bit for bit, as without it.

    The mask of a volume is the noise-free particle before the missing wedge, in the volume's
    pose: the voxels within two standard deviations of one of its primitives,

        mask(g) = max_j exp(-d_j(p)^2 / (2 sigma_j^2)) >= exp(-2),  i.e.  d_j(p) <= 2 sigma_j for some j,

    with ``p`` and ``d_j`` of step 1 (same rotation and shift): inside, some primitive's term is at
    least ``exp(-2)`` (13.5% of its peak of 1); outside, every term is below it. The mask does not
    follow the missing wedge's smearing along the beam, nor the noise: it is where the molecule is.

    Returns:
        ``volumes`` of shape ``(n, 1, size, size, size)`` and int64 ``labels`` of shape ``(n,)``;
        with ``return_masks``, also bool ``masks`` of shape ``(n, size, size, size)``.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if snr is not None and not snr > 0:
        raise ValueError(f"snr must be positive (or None / inf for no noise), got {snr}")
    geometry_seed, noise_seed = np.random.SeedSequence(seed).spawn(2)
    geometry_rng = np.random.default_rng(geometry_seed)
    noise_rng = np.random.default_rng(noise_seed)
    labels = _labels(n, classes, geometry_rng)
    rotations = Rotation.from_quat(geometry_rng.standard_normal((n, 4))).as_matrix().astype(dtype)
    shifts = geometry_rng.uniform(-MAX_SHIFT, MAX_SHIFT, (n, 3)).astype(dtype)

    axis = (np.arange(size, dtype=dtype) - (size - 1) / 2) / (size / 2)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    volumes = np.empty((n, size**3), dtype)
    masks = np.zeros((n, size**3), bool) if return_masks else None
    for c, primitives in enumerate(_CLASSES.values()):
        members = np.flatnonzero(labels == c)
        for start in range(0, len(members), _CHUNK):
            idx = members[start : start + _CHUNK]
            rotations_t = rotations[idx].transpose(0, 2, 1)
            p = (rotations_t @ grid.T - rotations_t @ shifts[idx, :, None]).transpose(1, 0, 2)
            sqdists = [q.sqdist(p) for q in primitives]
            volumes[idx] = sum(np.exp(-d2 / (2 * q.sigma**2)) for d2, q in zip(sqdists, primitives))
            if masks is not None:  # d_j <= 2 sigma_j for some primitive j
                masks[idx] = np.any([d2 <= 4 * q.sigma**2 for d2, q in zip(sqdists, primitives)], axis=0)
    volumes = volumes.reshape(n, size, size, size)

    keep = missing_wedge_mask(size)[..., : size // 2 + 1] if missing_wedge else None
    add_noise = snr is not None and np.isfinite(snr)
    axes = (1, 2, 3)
    for start in range(0, n, _CHUNK):
        x = volumes[start : start + _CHUNK]
        if keep is not None:
            x[:] = scipy.fft.irfftn(scipy.fft.rfftn(x, axes=axes) * keep, s=x.shape[1:], axes=axes)
        if add_noise:
            noise_std = np.sqrt(x.var(axis=axes, keepdims=True) / snr)
            x += noise_rng.standard_normal(x.shape, dtype=dtype) * noise_std
        x -= x.mean(axis=axes, keepdims=True)
        x /= x.std(axis=axes, keepdims=True)
    if masks is not None:
        return volumes[:, None], labels, masks.reshape(n, size, size, size)
    return volumes[:, None], labels


def _labels(n: int, classes: Sequence[int] | None, rng: np.random.Generator) -> np.ndarray:
    n_classes = len(SUBTOMOGRAM_CLASSES)
    if classes is None:
        return rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    labels = np.asarray(classes, dtype=np.int64)
    if labels.shape != (n,):
        raise ValueError(
            f"classes must hold one class index per volume (length {n}), got shape {labels.shape}"
        )
    if labels.size and not (0 <= labels.min() and labels.max() < n_classes):
        raise ValueError(
            f"class indices must be in [0, {n_classes}), got {labels.min()}..{labels.max()}"
        )
    return labels


class SubtomogramDataset(torch.utils.data.Dataset):
    """Simulated subtomograms as a map-style dataset of ``(volume (1, D, H, W), label)`` pairs.

    Takes the arguments of :func:`make_subtomograms` and simulates every volume once, at
    construction. ``volumes`` (float tensor ``(n, 1, D, H, W)``) and ``labels`` (int64 tensor
    ``(n,)``) hold the whole set; ``class_names`` the names of the labels.
    """

    class_names: tuple[str, ...] = SUBTOMOGRAM_CLASSES

    def __init__(
        self,
        n: int,
        size: int = 32,
        snr: float | None = None,
        classes: Sequence[int] | None = None,
        seed: int = 0,
        missing_wedge: bool = True,
        dtype: DTypeLike = np.float32,
    ) -> None:
        volumes, labels = make_subtomograms(n, size, snr, classes, seed, missing_wedge, dtype)
        self.volumes = torch.from_numpy(volumes)
        self.labels = torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.volumes[index], int(self.labels[index])
