"""Tests of cam_widgets.datasets: simulated subtomograms, segmentation scenes and file loaders."""

import sys

import numpy as np
import pytest
import torch

from cam_widgets.datasets import (
    SCENE_CLASSES,
    SCENE_CLASSES_3D,
    SUBTOMOGRAM_CLASSES,
    SUPPORTED_EXTENSIONS,
    SceneDataset,
    SubtomogramDataset,
    load_volume,
    make_scenes,
    make_subtomograms,
    missing_wedge_mask,
)
from cam_widgets.datasets.subtomograms import MAX_SHIFT

N_CLASSES = len(SUBTOMOGRAM_CLASSES)


# ---------------------------------------------------------------- subtomograms


def test_subtomogram_class_names():
    assert 8 <= N_CLASSES <= 12
    assert len(set(SUBTOMOGRAM_CLASSES)) == N_CLASSES
    assert all(isinstance(name, str) and name for name in SUBTOMOGRAM_CLASSES)


@pytest.mark.parametrize("size", [24, 32, 40])
def test_subtomogram_shapes_dtypes_balance_and_normalisation(size):
    volumes, labels = make_subtomograms(25, size=size, snr=0.1)
    assert volumes.shape == (25, 1, size, size, size) and volumes.dtype == np.float32
    assert labels.shape == (25,) and labels.dtype == np.int64
    counts = np.bincount(labels, minlength=N_CLASSES)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 25
    np.testing.assert_allclose(volumes.mean(axis=(1, 2, 3, 4)), 0.0, atol=1e-4)
    np.testing.assert_allclose(volumes.std(axis=(1, 2, 3, 4)), 1.0, rtol=1e-4)


def test_subtomograms_float64():
    volumes, _ = make_subtomograms(3, size=24, dtype=np.float64)
    assert volumes.dtype == np.float64
    reference, _ = make_subtomograms(3, size=24)
    np.testing.assert_allclose(volumes, reference, rtol=1e-4, atol=1e-4)


def test_subtomograms_are_deterministic():
    a, labels_a = make_subtomograms(12, size=24, snr=0.1, seed=7)
    b, labels_b = make_subtomograms(12, size=24, snr=0.1, seed=7)
    c, labels_c = make_subtomograms(12, size=24, snr=0.1, seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(labels_a, labels_b)
    assert not np.array_equal(labels_a, labels_c)
    assert np.abs(a - c).mean() > 0.5


def test_explicit_classes_are_the_labels():
    wanted = [3, 3, 0, 9, 5]
    _, labels = make_subtomograms(5, size=24, classes=wanted)
    np.testing.assert_array_equal(labels, wanted)
    with pytest.raises(ValueError, match="one class index per volume"):
        make_subtomograms(4, size=24, classes=wanted)
    with pytest.raises(ValueError, match="must be in"):
        make_subtomograms(1, size=24, classes=[N_CLASSES])


def test_classes_have_different_shapes_in_the_same_pose():
    # With `classes` given, the poses depend only on the seed: volume i has the same rotation
    # and shift in every class, so any similarity left is the shapes' own.
    n = 10
    volumes = np.stack(
        [make_subtomograms(n, size=24, classes=[c] * n, seed=3)[0].reshape(n, -1) for c in range(N_CLASSES)]
    )
    correlation = np.einsum("cnv,dnv->cdn", volumes, volumes).mean(-1) / volumes.shape[-1]
    off_diagonal = correlation[~np.eye(N_CLASSES, dtype=bool)]
    assert off_diagonal.max() < 0.85


def test_poses_are_uniform_rotations_and_small_shifts():
    n, size = 200, 24
    rods, _ = make_subtomograms(n, size=size, classes=[SUBTOMOGRAM_CLASSES.index("rod")] * n, missing_wedge=False)
    weights = np.clip(rods[:, 0], 0, None).reshape(n, -1)
    grid = np.stack(np.meshgrid(*[np.arange(size) - (size - 1) / 2] * 3, indexing="ij"), -1).reshape(-1, 3)
    centres = weights @ grid / weights.sum(1, keepdims=True)
    assert np.abs(centres).max() < MAX_SHIFT * size / 2 + 0.5 and centres.std(0).min() > 0.3
    offsets = grid[None] - centres[:, None]
    inertia = np.einsum("nv,nvi,nvj->nij", weights, offsets, offsets)
    axes = np.linalg.eigh(inertia)[1][:, :, -1]  # each rod's long axis
    np.testing.assert_allclose(np.einsum("ni,nj->ij", axes, axes) / n, np.eye(3) / 3, atol=0.07)


def test_nearest_class_mean_classifier_separates_noise_free_classes():
    train, train_labels = make_subtomograms(600, size=24, seed=1)
    test, test_labels = make_subtomograms(300, size=24, seed=2)
    train, test = train.reshape(len(train), -1), test.reshape(len(test), -1)
    means = np.stack([train[train_labels == c].mean(0) for c in range(N_CLASSES)])
    distances = (test**2).sum(1)[:, None] - 2 * test @ means.T + (means**2).sum(1)[None]
    accuracy = (distances.argmin(1) == test_labels).mean()
    assert accuracy > 0.7  # chance: 0.1; rotations make the class means nearly radial


@pytest.mark.parametrize("tilt_axis", [1, 2])
def test_missing_wedge_mask_is_the_wedge_around_the_beam(tilt_axis):
    size = 16
    mask = missing_wedge_mask(size, 60.0, tilt_axis)
    assert mask.shape == (size,) * 3 and mask.dtype == bool
    k = np.fft.fftfreq(size) * size
    kz, ky, kx = np.meshgrid(k, k, k, indexing="ij")
    k_perp = kx if tilt_axis == 1 else ky
    angle_to_beam = np.degrees(np.arctan2(np.abs(k_perp), np.abs(kz)))
    in_wedge = (angle_to_beam < 30.0) & (kz != 0)
    np.testing.assert_array_equal(mask, ~in_wedge)
    def at(kz, k_tilt, k_perp):  # index the mask by (beam, tilt axis, third axis) frequencies
        return mask[(kz, k_tilt, k_perp) if tilt_axis == 1 else (kz, k_perp, k_tilt)]

    assert not at(1, 0, 0) and not at(3, 5, 0) and not at(3, 5, 1)  # within 30 deg of the beam
    assert at(0, 0, 0) and at(0, 3, 0) and at(0, 0, 3) and at(3, 0, 2) and at(3, 5, -2)
    assert 0.2 < (~mask).mean() < 0.4


def test_missing_wedge_mask_limits():
    assert missing_wedge_mask(8, 90.0).all()
    assert (~missing_wedge_mask(8, 30.0)).sum() > (~missing_wedge_mask(8, 60.0)).sum()
    with pytest.raises(ValueError, match="beam"):
        missing_wedge_mask(8, tilt_axis=0)
    with pytest.raises(ValueError, match="tilt_range_deg"):
        missing_wedge_mask(8, 0.0)


def test_subtomograms_have_no_fourier_coefficients_in_the_wedge():
    size = 24
    mask = missing_wedge_mask(size)
    volumes, _ = make_subtomograms(6, size=size)
    spectra = np.abs(np.fft.fftn(volumes[:, 0], axes=(1, 2, 3)))
    assert spectra[:, ~mask].max() < 1e-4 * spectra[:, mask].max()
    refiltered = np.fft.irfftn(
        np.fft.rfftn(volumes[:, 0], axes=(1, 2, 3)) * mask[..., : size // 2 + 1], s=(size,) * 3, axes=(1, 2, 3)
    )
    np.testing.assert_allclose(refiltered, volumes[:, 0], atol=1e-4)

    full, _ = make_subtomograms(6, size=size, missing_wedge=False)
    full_spectra = np.abs(np.fft.fftn(full[:, 0], axes=(1, 2, 3))) ** 2
    assert full_spectra[:, ~mask].sum() > 0.01 * full_spectra.sum()


@pytest.mark.parametrize("snr", [0.1, 1.0])
def test_noise_has_the_requested_snr(snr):
    # Same seed: same molecules and poses, so the noise-free volume is the signal's shape.
    signal, _ = make_subtomograms(40, size=32, seed=5)
    noisy, _ = make_subtomograms(40, size=32, snr=snr, seed=5)
    signal, noisy = signal.reshape(40, -1).astype(np.float64), noisy.reshape(40, -1).astype(np.float64)
    scale = (signal * noisy).mean(1, keepdims=True)  # least squares fit noisy ~ scale * signal
    residual = noisy - scale * signal
    measured = (scale[:, 0] ** 2).mean() / residual.var(1).mean()
    assert measured == pytest.approx(snr, rel=0.1)


def test_infinite_snr_means_no_noise():
    clean, _ = make_subtomograms(4, size=24, seed=2)
    np.testing.assert_array_equal(make_subtomograms(4, size=24, snr=float("inf"), seed=2)[0], clean)
    with pytest.raises(ValueError, match="snr"):
        make_subtomograms(4, size=24, snr=0.0)


def test_subtomogram_dataset():
    dataset = SubtomogramDataset(12, size=24, snr=0.5, seed=4)
    volumes, labels = make_subtomograms(12, size=24, snr=0.5, seed=4)
    assert len(dataset) == 12 and dataset.class_names == SUBTOMOGRAM_CLASSES
    volume, label = dataset[3]
    assert isinstance(volume, torch.Tensor) and volume.shape == (1, 24, 24, 24)
    assert volume.dtype == torch.float32 and isinstance(label, int)
    np.testing.assert_array_equal(volume.numpy(), volumes[3])
    assert label == labels[3]
    batch, batch_labels = next(iter(torch.utils.data.DataLoader(dataset, batch_size=5)))
    assert batch.shape == (5, 1, 24, 24, 24) and batch_labels.dtype == torch.int64


# ---------------------------------------------------------------- subtomogram masks


def test_subtomogram_values_are_pinned():
    # Values of the implementation before masks existed: asking for masks (or adding them) moved nothing.
    volumes, labels = make_subtomograms(3, size=24, snr=0.1, seed=2)
    np.testing.assert_array_equal(labels, [0, 1, 2])
    np.testing.assert_allclose(volumes[:, 0, 12, 12, 10:14], [[2.470357, 3.627915, 2.43378, 1.769793],
                                                            [-0.715643, -2.508384, 1.235356, 0.850873],
                                                            [-0.761595, 0.671458, -0.092707, 0.268831]], atol=2e-5)
    clean, _ = make_subtomograms(3, size=24, seed=2)
    np.testing.assert_allclose(clean[:, 0, 12, 12, 10:14], [[6.546608, 8.807982, 9.161022, 7.429796],
                                                          [0.211589, -0.066329, -1.027373, -2.278683],
                                                          [-1.634964, -1.885192, 0.280247, 7.136167]], atol=2e-5)


@pytest.mark.parametrize("kwargs", [dict(snr=0.1), dict(), dict(missing_wedge=False, size=32), dict(dtype=np.float64)])
def test_subtomogram_masks_leave_volumes_and_labels_bit_identical(kwargs):
    kwargs = dict(size=24, seed=6) | kwargs
    volumes, labels = make_subtomograms(70, **kwargs)  # more than one chunk of 64
    with_masks, with_labels, masks = make_subtomograms(70, **kwargs, return_masks=True)
    np.testing.assert_array_equal(with_masks, volumes)
    np.testing.assert_array_equal(with_labels, labels)
    size = kwargs["size"]
    assert masks.shape == (70, size, size, size) and masks.dtype == bool
    assert (masks.reshape(70, -1).mean(1) > 0.003).all() and (masks.reshape(70, -1).mean(1) < 0.15).all()


@pytest.mark.parametrize("name", ["globule", "rod", "ring", "shell"])
def test_subtomogram_mask_is_two_sigma_of_its_primitive(name):
    # One primitive: the noise-free, wedge-free density is a decreasing function of d alone, so the mask
    # {d <= 2 sigma} is exactly the brightest voxels, and its edge lies where the density is exp(-2) of its peak
    # (standardisation keeps the order and scales the density: s = a x + b with a > 0).
    n, size = 12, 24
    c = SUBTOMOGRAM_CLASSES.index(name)
    volumes, _, masks = make_subtomograms(n, size=size, classes=[c] * n, seed=4, missing_wedge=False,
                                          dtype=np.float64, return_masks=True)
    for volume, mask in zip(volumes[:, 0], masks):
        assert volume[mask].min() >= volume[~mask].max() - 1e-9
        lowest_outside = volume.min()   # density ~0 far away; the peak ~1 (a point on the primitive)
        edge = (volume[mask].min() + volume[~mask].max()) / 2
        relative = (edge - lowest_outside) / (volume.max() - lowest_outside)
        assert relative == pytest.approx(np.exp(-2), abs=0.05)


def test_subtomogram_masks_follow_the_pose_not_the_noise_or_wedge():
    n = 20
    _, _, masks = make_subtomograms(n, size=24, seed=9, return_masks=True)
    _, _, noisy_masks = make_subtomograms(n, size=24, snr=0.1, seed=9, return_masks=True)
    _, _, full_masks = make_subtomograms(n, size=24, seed=9, missing_wedge=False, return_masks=True)
    np.testing.assert_array_equal(noisy_masks, masks)
    np.testing.assert_array_equal(full_masks, masks)
    _, _, other = make_subtomograms(n, size=24, seed=10, return_masks=True)
    assert (masks != other).mean() > 0.01


@pytest.mark.parametrize("snr", [None, 0.1])
def test_subtomogram_masks_are_where_the_particle_is(snr):
    n = 40
    clean, labels, masks = make_subtomograms(n, size=24, seed=11, return_masks=True)   # with the missing wedge
    noisy, _ = make_subtomograms(n, size=24, snr=snr, seed=11)
    for volume, mask in zip(clean[:, 0], masks):
        assert volume[mask].mean() > volume[~mask].mean() + 2.0   # standardised volumes: in units of their std
    inside = np.mean([v[m].mean() for v, m in zip(noisy[:, 0], masks)])
    outside = np.mean([v[~m].mean() for v, m in zip(noisy[:, 0], masks)])
    assert inside > outside + (2.0 if snr is None else 0.3)


def test_subtomogram_masks_scale_with_the_box():
    small = make_subtomograms(30, size=24, seed=1, return_masks=True)[2].reshape(30, -1).mean(1)
    large = make_subtomograms(30, size=40, seed=1, return_masks=True)[2].reshape(30, -1).mean(1)
    np.testing.assert_allclose(large, small, rtol=0.35)   # the same molecules, as a share of the box


# ---------------------------------------------------------------- scenes


@pytest.mark.parametrize("ndim", [2, 3])
def test_scene_shapes_dtypes_and_determinism(ndim):
    size = 64 if ndim == 2 else 32
    images, labels = make_scenes(6, size=size, seed=1, ndim=ndim)
    assert images.shape == (6, 1) + (size,) * ndim and images.dtype == np.float32
    assert labels.shape == (6,) + (size,) * ndim and labels.dtype == np.int64
    again, again_labels = make_scenes(6, size=size, seed=1, ndim=ndim)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, again_labels)
    other, other_labels = make_scenes(6, size=size, seed=2, ndim=ndim)
    assert not np.array_equal(labels, other_labels) and not np.array_equal(images, other)


@pytest.mark.parametrize("ndim", [2, 3])
def test_scene_labels_are_valid_with_background_majority(ndim):
    size = 64 if ndim == 2 else 32
    _, labels = make_scenes(40, size=size, ndim=ndim)
    assert labels.min() >= 0 and labels.max() < len(SCENE_CLASSES)
    per_scene = labels.reshape(40, -1)
    assert ((per_scene == 0).mean(1) > 0.5).all()
    assert ((per_scene > 0).sum(1) > 0).all()
    assert set(np.unique(labels)) == set(range(len(SCENE_CLASSES)))


@pytest.mark.parametrize("ndim", [2, 3])
def test_scene_images_show_each_class_with_its_texture(ndim):
    size = 64 if ndim == 2 else 32
    images, labels = make_scenes(30, size=size, noise=0.0, ndim=ndim)
    images = images[:, 0]
    assert (images[labels == 0] == 0).all() and (images[labels > 0] >= 0.4).all()
    disc = images[labels == 1]
    assert disc.min() >= 0.6 - 1e-6 and disc.max() <= 1.0 and disc.std() > 0.05
    np.testing.assert_allclose(np.unique(images[labels == 2]), [0.4, 1.0])  # stripes
    for label, level in [(3, 0.7), (4, 1.0), (5, 0.85)]:
        np.testing.assert_allclose(images[labels == label], level)


def test_scene_noise_is_added_to_the_same_scene():
    clean, labels = make_scenes(20, noise=0.0, seed=3)
    noisy, noisy_labels = make_scenes(20, noise=0.2, seed=3)
    np.testing.assert_array_equal(labels, noisy_labels)
    assert (noisy - clean).std() == pytest.approx(0.2, rel=0.02)
    assert noisy[:, 0][labels > 0].mean() > noisy[:, 0][labels == 0].mean() + 0.5


def test_scene_object_counts_and_errors():
    _, labels = make_scenes(20, n_objects=(1, 1))
    assert ((labels > 0).sum((1, 2)) > 0).all()
    with pytest.raises(ValueError, match="n_objects"):
        make_scenes(2, n_objects=(0, 3))
    with pytest.raises(ValueError, match="ndim"):
        make_scenes(2, ndim=4)


@pytest.mark.parametrize("ndim, names", [(2, SCENE_CLASSES), (3, SCENE_CLASSES_3D)])
def test_scene_dataset(ndim, names):
    dataset = SceneDataset(4, size=32, seed=5, ndim=ndim)
    images, labels = make_scenes(4, size=32, seed=5, ndim=ndim)
    image, label = dataset[2]
    assert len(dataset) == 4 and dataset.class_names == names and names[0] == "background"
    assert image.shape == (1,) + (32,) * ndim and image.dtype == torch.float32
    assert label.shape == (32,) * ndim and label.dtype == torch.int64
    np.testing.assert_array_equal(image.numpy(), images[2])
    np.testing.assert_array_equal(label.numpy(), labels[2])


# ---------------------------------------------------------------- scene instances


def test_scene_values_are_pinned():
    # Values of the implementation before instances existed.
    images, labels = make_scenes(2, seed=2)
    assert [np.bincount(x.ravel(), minlength=6).tolist() for x in labels] == [
        [3566, 134, 98, 108, 0, 190], [3634, 64, 0, 171, 155, 72]]
    np.testing.assert_allclose(images[:, 0, 32, 30:34], [[0.248359, -0.268061, -0.387057, -0.314648],
                                                       [0.727915, 0.816159, 0.50487, 0.724014]], atol=1e-6)


@pytest.mark.parametrize("ndim", [2, 3])
def test_scene_instances_leave_images_and_labels_bit_identical(ndim):
    size = 64 if ndim == 2 else 24
    images, labels = make_scenes(12, size=size, seed=4, ndim=ndim)
    with_instances, with_labels, instances = make_scenes(12, size=size, seed=4, ndim=ndim, return_instances=True)
    np.testing.assert_array_equal(with_instances, images)
    np.testing.assert_array_equal(with_labels, labels)
    assert instances.shape == labels.shape and instances.dtype == np.int64


@pytest.mark.parametrize("ndim", [2, 3])
def test_scene_instances_are_consistent_with_labels(ndim):
    size = 64 if ndim == 2 else 24
    low, high = 2, 5
    _, labels, instances = make_scenes(40, size=size, n_objects=(low, high), seed=5, ndim=ndim, return_instances=True)
    np.testing.assert_array_equal(instances == 0, labels == 0)
    counts = []
    for label, instance in zip(labels, instances):
        ids = np.unique(instance[instance > 0])
        assert set(ids) <= set(range(1, high + 1))
        for k in ids:   # one object, one class
            assert len(np.unique(label[instance == k])) == 1
        counts.append(instance.max())   # the last object painted is never hidden: its id is the scene's count
    assert min(counts) >= low and max(counts) <= high and len(set(counts)) == high - low + 1


def test_scene_instances_of_one_object_scenes_and_the_painting_order():
    _, labels, instances = make_scenes(15, n_objects=(1, 1), seed=6, return_instances=True)
    np.testing.assert_array_equal(instances, (labels > 0).astype(np.int64))
    # two objects of the same class that touch are one region of the labels but two instances
    _, labels, instances = make_scenes(200, n_objects=(6, 6), noise=0.0, seed=7, return_instances=True)
    touching = 0
    for label, instance in zip(labels, instances):
        for k in range(1, 6):
            a, b = instance == k, instance == k + 1
            grown = a | np.roll(a, 1, 0) | np.roll(a, -1, 0) | np.roll(a, 1, 1) | np.roll(a, -1, 1)
            if a.any() and b.any() and (grown & b).any() and label[a][0] == label[b][0]:
                touching += 1
    assert touching > 0


# ---------------------------------------------------------------- loaders


@pytest.fixture
def volume():
    return np.random.default_rng(0).normal(3.0, 2.0, (5, 6, 7)).astype(np.float32)


@pytest.mark.parametrize(
    "shape, expected",
    [((6, 7), (1, 6, 7)), ((5, 6, 7), (1, 5, 6, 7)), ((1, 5, 6, 7), (1, 5, 6, 7)), ((5, 6, 7, 1), (1, 5, 6, 7))],
)
def test_load_volume_shapes(shape, expected):
    data = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    x = load_volume(data, normalize=False)
    assert x.shape == expected and x.dtype == torch.float32
    np.testing.assert_array_equal(x.numpy().ravel(), data.ravel())


def test_load_volume_normalises_and_copies(volume):
    x = load_volume(volume)
    assert float(x.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(x.std(unbiased=False)) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(x[0].numpy(), (volume - volume.mean()) / volume.std(), rtol=1e-4, atol=1e-5)
    raw = load_volume(volume, normalize=False)
    raw += 1
    assert raw[0, 0, 0, 0] == volume[0, 0, 0] + 1  # the caller's array is untouched
    assert torch.equal(load_volume(torch.from_numpy(volume)), x)
    assert torch.equal(load_volume(np.full((4, 4), 5.0)), torch.zeros(1, 4, 4))


@pytest.mark.parametrize("shape", [(7,), (3, 5, 6, 7), (5, 6, 7, 2), (1, 1, 5, 6, 7)])
def test_load_volume_rejects_unsupported_shapes(shape):
    with pytest.raises(ValueError) as info:
        load_volume(np.zeros(shape))
    message = str(info.value)
    assert str(shape) in message and "(H, W)" in message and "(D, H, W)" in message


def test_load_npy_and_npz(tmp_path, volume):
    np.save(tmp_path / "v.npy", volume)
    np.savez(tmp_path / "v.npz", anything=volume)
    for name in ("v.npy", "v.npz"):
        np.testing.assert_array_equal(load_volume(tmp_path / name, normalize=False)[0].numpy(), volume)
    np.testing.assert_array_equal(load_volume(str(tmp_path / "v.npy")).numpy(), load_volume(volume).numpy())
    np.savez(tmp_path / "two.npz", a=volume, b=volume)
    with pytest.raises(ValueError, match=r"2 arrays \(a, b\)"):
        load_volume(tmp_path / "two.npz")


@pytest.mark.parametrize("name", ["v.mrc", "v.map", "v.rec", "V.MRC"])
def test_load_mrc(tmp_path, volume, name):
    mrcfile = pytest.importorskip("mrcfile")
    with mrcfile.new(tmp_path / name) as mrc:
        mrc.set_data(volume)
    np.testing.assert_array_equal(load_volume(tmp_path / name, normalize=False)[0].numpy(), volume)


def test_load_mrc_integer_image(tmp_path):
    mrcfile = pytest.importorskip("mrcfile")
    image = np.arange(30, dtype=np.int16).reshape(5, 6)
    with mrcfile.new(tmp_path / "image.mrc") as mrc:
        mrc.set_data(image)
    x = load_volume(tmp_path / "image.mrc", normalize=False)
    assert x.shape == (1, 5, 6) and x.dtype == torch.float32
    np.testing.assert_array_equal(x[0].numpy(), image)


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_load_nifti(tmp_path, volume, name):
    nibabel = pytest.importorskip("nibabel")
    nibabel.Nifti1Image(volume, np.eye(4)).to_filename(tmp_path / name)
    np.testing.assert_array_equal(load_volume(tmp_path / name, normalize=False)[0].numpy(), volume)
    nibabel.Nifti1Image(volume[..., None], np.eye(4)).to_filename(tmp_path / ("c" + name))
    assert load_volume(tmp_path / ("c" + name)).shape == (1, 5, 6, 7)


@pytest.mark.parametrize("name", ["v.tif", "v.nii.bz2", "volume"])
def test_load_volume_rejects_unknown_extensions(tmp_path, name):
    with pytest.raises(ValueError) as info:
        load_volume(tmp_path / name)
    message = str(info.value)
    assert "Unsupported file extension" in message
    assert all(extension in message for extension in SUPPORTED_EXTENSIONS)


@pytest.mark.parametrize("package, name", [("mrcfile", "v.mrc"), ("nibabel", "v.nii.gz")])
def test_missing_io_package_says_what_to_install(monkeypatch, tmp_path, package, name):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    with pytest.raises(ImportError, match=rf"pip install {package} \(or pip install cam_widgets\[io\]\)"):
        load_volume(tmp_path / name)
