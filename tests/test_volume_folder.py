"""Tests of VolumeFolder (a folder of volume files as a data set) and save_subtomogram_folder."""

import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cam_widgets.datasets import (
    SUBTOMOGRAM_CLASSES,
    VolumeFolder,
    load_volume,
    make_subtomograms,
    save_subtomogram_folder,
)
from cam_widgets.datasets import folder as folder_module
from cam_widgets.datasets import loaders

SHAPE = (8, 8, 8)
FORMATS = ["npy", "npz", "mrc", "nii", "nii.gz"]
PACKAGE = {"mrc": "mrcfile", "nii": "nibabel", "nii.gz": "nibabel"}


def rng_volume(seed, shape=SHAPE):
    return np.random.default_rng(seed).normal(2.0, 3.0, shape).astype(np.float32)


def write(path: Path, data: np.ndarray) -> Path:
    """Write ``data`` to ``path`` in the format its extension names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith(".npy"):
        with open(path, "wb") as f:  # np.save(path) would add ".npy" to a ".NPY" name
            np.save(f, data)
    elif name.endswith(".npz"):
        with open(path, "wb") as f:
            np.savez(f, volume=data)
    elif name.endswith((".mrc", ".map", ".rec")):
        mrcfile = pytest.importorskip("mrcfile")
        with mrcfile.new(path) as mrc:
            mrc.set_data(data)
    else:
        nibabel = pytest.importorskip("nibabel")
        nibabel.Nifti1Image(data, np.eye(4)).to_filename(path)
    return path


def files(root: Path, names, shape=SHAPE) -> None:
    for seed, name in enumerate(names):
        write(root / name, rng_volume(seed, shape))


def quiet(root, **kwargs) -> VolumeFolder:
    """A VolumeFolder that must not warn."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return VolumeFolder(root, **kwargs)


# ---------------------------------------------------------------- formats and save_subtomogram_folder


@pytest.mark.parametrize("fmt", FORMATS)
def test_saved_subtomograms_round_trip_with_their_labels(tmp_path, fmt):
    if fmt in PACKAGE:
        pytest.importorskip(PACKAGE[fmt])
    root = save_subtomogram_folder(tmp_path / "data", 12, snr=0.5, seed=3, fmt=fmt, size=8)
    assert root == (tmp_path / "data").resolve()
    volumes, labels = make_subtomograms(12, size=8, snr=0.5, seed=3)
    ds, raw = quiet(root), quiet(root, normalize=False)
    names = [f"{c}_{name}" for c, name in enumerate(SUBTOMOGRAM_CLASSES)]
    assert ds.class_names == names and ds.root == root and ds.sample_shape == (1, *SHAPE)
    indices = [int(source.split("/")[1].split(".")[0]) for source in ds.sources]
    assert sorted(indices) == list(range(12))
    assert ds.sources == sorted(f"{names[labels[i]]}/{i:02d}.{fmt}" for i in range(12))
    assert ds.paths == [root / source for source in ds.sources]
    assert ds.labels == [int(labels[i]) for i in indices] and len(ds) == 12
    for k, i in enumerate(indices):
        x, label = ds[k]
        assert label == labels[i] and x.dtype == torch.float32 and x.shape == (1, *SHAPE)
        assert torch.equal(x, load_volume(ds.paths[k]))
        np.testing.assert_array_equal(raw[k][0].numpy(), volumes[i])


def test_a_flat_folder_of_mixed_formats_reads_like_load_volume(tmp_path):
    pytest.importorskip("mrcfile")
    pytest.importorskip("nibabel")
    names = ["e.nii.gz", "a.npy", "C.MRC", "b.npz", "d.nii", "f.map", "g.rec", "h.NII.GZ"]
    files(tmp_path, names)
    write(tmp_path / "i.npy", rng_volume(9)[None])  # (1, D, H, W) is the same sample shape
    ds = quiet(tmp_path, normalize=False)
    assert ds.sources == ["C.MRC", "a.npy", "b.npz", "d.nii", "e.nii.gz", "f.map", "g.rec", "h.NII.GZ", "i.npy"]
    assert ds.labels == [-1] * 9 and ds.class_names == [] and ds.skipped == []
    for i, path in enumerate(ds.paths):
        assert torch.equal(ds[i][0], load_volume(path, normalize=False))
        seed = names.index(path.name) if path.name in names else 9
        np.testing.assert_array_equal(ds[i][0].numpy().reshape(SHAPE), rng_volume(seed))


def test_save_subtomogram_folder_refuses_bad_arguments(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="not an empty folder"):
        save_subtomogram_folder(tmp_path / "full", 3)
    with pytest.raises(ValueError, match=r"npy, npz, mrc, nii, nii.gz; got 'tif'"):
        save_subtomogram_folder(tmp_path / "new", 3, fmt="tif")
    with pytest.raises(ValueError, match="at least 1, got 0"):
        save_subtomogram_folder(tmp_path / "new", 0)
    assert not (tmp_path / "new").exists()


def test_every_class_gets_a_folder_so_labels_stay_aligned(tmp_path):
    root = save_subtomogram_folder(tmp_path / "d", 2, seed=0, size=8)
    _, labels = make_subtomograms(2, size=8, seed=0)
    ds = quiet(root)
    assert len(ds.class_names) == len(SUBTOMOGRAM_CLASSES)
    assert sorted(ds.labels) == sorted(labels.tolist())


# ---------------------------------------------------------------- listing and labels


def test_files_are_listed_recursively_in_sorted_relative_posix_order(tmp_path):
    files(tmp_path, ["b.npy", "a/z.npy", "a-b/c.NPY", "A.npy", "a/deep/er/v.npz"])
    files(tmp_path, [".hidden.npy", ".ipynb_checkpoints/x.npy", "a/.cache/y.npy"])
    for name in ("notes.txt", "v.nii.bz2", "v.tif"):
        (tmp_path / name).write_text("not a volume")
    ds = quiet(tmp_path)
    assert ds.sources == ["A.npy", "a-b/c.NPY", "a/deep/er/v.npz", "a/z.npy", "b.npy"]
    assert ds.labels == [-1] * 5 and ds.class_names == []  # files lie directly in root: no classes
    only_npy = quiet(tmp_path, extensions=(".npy",))
    assert only_npy.sources == ["A.npy", "a-b/c.NPY", "a/z.npy", "b.npy"]
    with pytest.raises(ValueError, match=r"extensions must be some of .*got \.tif"):
        VolumeFolder(tmp_path, extensions=(".npy", ".tif"))


def test_first_level_subfolders_are_classes(tmp_path):
    files(tmp_path, ["cat/1.npy", "cat/sub/2.npy", "ant/3.npy", "bee/4.npz", ".hidden/5.npy"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "README.txt").write_text("not a volume, so root still holds only subfolders")
    ds = quiet(tmp_path)
    assert ds.class_names == ["ant", "bee", "cat", "empty"]
    assert ds.sources == ["ant/3.npy", "bee/4.npz", "cat/1.npy", "cat/sub/2.npy"]
    assert ds.labels == [0, 1, 2, 2]
    assert [ds[i][1] for i in range(4)] == [0, 1, 2, 2]


def test_labels_csv_with_integer_labels(tmp_path):
    files(tmp_path, ["a.npy", "b.npy", "sub/c.npy", "d.npy"])
    (tmp_path / "labels.csv").write_text("path,label\n./a.npy,3\n\nsub/c.npy, 0\nb.npy,-1\n", encoding="utf-8-sig")
    ds = quiet(tmp_path)
    assert ds.sources == ["a.npy", "b.npy", "d.npy", "sub/c.npy"]
    assert ds.labels == [3, -1, -1, 0] and ds.class_names == []  # d.npy has no row: -1


def test_labels_csv_with_class_names_wins_over_subfolders(tmp_path):
    files(tmp_path, ["x/1.npy", "x/2.npy", "y/3.npy"])
    (tmp_path / "labels.csv").write_text("x/1.npy,wheel\ny/3.npy,ring\nx/2.npy,7\n")
    ds = quiet(tmp_path)
    assert ds.class_names == ["7", "ring", "wheel"]  # one label is not an integer: all are names
    assert ds.labels == [2, 0, 1]
    other = tmp_path.parent / f"{tmp_path.name}_other.csv"
    other.write_text("PATH, Label\ny/3.npy,ring\n")
    ds = quiet(tmp_path, labels=other)  # an explicit labels= wins over root/labels.csv
    assert ds.class_names == ["ring"] and ds.labels == [-1, -1, 0]


@pytest.mark.parametrize(
    "text, match",
    [
        ("path,label\na.npy,1\nmissing.npy,2\n", r"row 3 names 'missing.npy', which is not one of the 2 volume files"),
        ("a.npy,1\nnotes.txt,2\n", r"row 2 names 'notes.txt'"),
        ("a.npy,1\n./a.npy,1\n", r"rows 1 and 2 both label 'a.npy'"),
        ("a.npy,1,2\n", r"row 1 is 'a.npy,1,2'; each row is path,label"),
        ("a.npy,\n", r"row 1 is 'a.npy,'"),
        ("b.npy,-2\n", r"row 1 labels 'b.npy' -2; an integer label is >= 0, or -1"),
    ],
)
def test_labels_csv_errors_name_the_row(tmp_path, text, match):
    files(tmp_path, ["a.npy", "b.npy"])
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "labels.csv").write_text(text)
    with pytest.raises(ValueError, match=match):
        VolumeFolder(tmp_path)


def test_a_missing_labels_file_is_an_error(tmp_path):
    files(tmp_path, ["a.npy"])
    with pytest.raises(ValueError, match=r"labels file .*nope.csv does not exist"):
        VolumeFolder(tmp_path, labels=tmp_path / "nope.csv")


@pytest.mark.parametrize("case", ["empty", "no volumes", "missing", "a file"])
def test_a_folder_without_volumes_says_what_was_searched(tmp_path, case):
    root = tmp_path / "root"
    if case == "empty":
        root.mkdir()
    elif case == "no volumes":
        files(root, [".hidden.npy"])
        (root / "v.tif").write_text("not a volume")
    elif case == "a file":
        root.write_text("x")
    with pytest.raises(ValueError) as info:
        VolumeFolder(root)
    message = str(info.value)
    assert str(root) in message
    if case in ("empty", "no volumes"):
        assert "No volume files (.npy, .npz, .mrc, .map, .rec, .nii, .nii.gz)" in message
    else:
        assert ("does not exist" if case == "missing" else "is not a folder") in message


# ---------------------------------------------------------------- checks and on_error


@pytest.fixture
def bad_folder(tmp_path):
    """Four good (8, 8, 8) files and one of each kind of bad file; returns (root, expected errors by path)."""
    files(tmp_path, ["good/a.npy", "good/b.npy", "good/c.npz", "good/d.npy"])
    write(tmp_path / "bad/wide.npy", rng_volume(5, (9, 8, 8)))
    write(tmp_path / "bad/two_channels.npy", rng_volume(6, (2, 8, 8, 8)))
    np.savez(tmp_path / "bad/two.npz", a=rng_volume(7), b=rng_volume(8))
    np.save(tmp_path / "bad/complex.npy", np.zeros(SHAPE, np.complex64))
    whole = (tmp_path / "good/a.npy").read_bytes()
    (tmp_path / "bad/truncated.npy").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "bad/garbage.npz").write_bytes(b"not a zip archive" * 10)
    expected = {
        "bad/complex.npy": "data type complex64 is not real numbers",
        "bad/garbage.npz": "not an .npz archive (a zip file)",
        "bad/truncated.npy": f"truncated: {len(whole) // 2 - 128} bytes of data where the header announces 2048",
        "bad/two.npz": "holds 2 arrays (a, b)",
        "bad/two_channels.npy": "Unsupported shape (2, 8, 8, 8)",
        "bad/wide.npy": "sample shape (1, 9, 8, 8) differs from (1, 8, 8, 8), the shape of 4 of the 5 readable files",
    }
    if importlib.util.find_spec("mrcfile"):
        (tmp_path / "bad/garbage.mrc").write_bytes(np.random.default_rng(0).bytes(2048))
        write(tmp_path / "bad/cut.mrc", rng_volume(9))
        (tmp_path / "bad/cut.mrc").write_bytes((tmp_path / "bad/cut.mrc").read_bytes()[:1500])
        expected["bad/garbage.mrc"] = "Map ID string not found"
        expected["bad/cut.mrc"] = "truncated: 476 bytes of data where the header announces 2048"
    if importlib.util.find_spec("nibabel"):
        write(tmp_path / "bad/cut.nii", rng_volume(10))
        (tmp_path / "bad/cut.nii").write_bytes((tmp_path / "bad/cut.nii").read_bytes()[:1000])
        (tmp_path / "bad/garbage.nii.gz").write_bytes(b"\x00" * 500)
        expected["bad/cut.nii"] = "truncated: 648 bytes of data where the header announces 2048"
        expected["bad/garbage.nii.gz"] = "is not a gzip file"
    return tmp_path, dict(sorted(expected.items()))


def test_bad_files_are_skipped_listed_and_warned_about_once(bad_folder):
    root, expected = bad_folder
    with pytest.warns(UserWarning) as record:
        ds = VolumeFolder(root)
    assert len(record) == 1
    warning = str(record[0].message)
    assert f"skipped {len(expected)} of {len(expected) + 4} files in {root}" in warning
    shown = list(expected)[:5]
    assert all(f"\n  {path}: " in warning for path in shown)
    assert f"... and {len(expected) - 5} more" in warning and list(expected)[5] not in warning
    assert [entry["path"] for entry in ds.skipped] == list(expected)
    for entry in ds.skipped:
        assert expected[entry["path"]] in entry["error"], entry
    assert ds.sources == ["good/a.npy", "good/b.npy", "good/c.npz", "good/d.npy"]
    assert ds.labels == [1, 1, 1, 1] and ds.class_names == ["bad", "good"]
    assert ds.sample_shape == (1, *SHAPE) and len(ds) == 4
    for i in range(4):
        assert torch.equal(ds[i][0], load_volume(ds.paths[i]))


def test_on_error_stop_names_every_bad_file_and_its_error(bad_folder):
    root, expected = bad_folder
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError) as info:
            VolumeFolder(root, on_error="stop")
    message = str(info.value)
    assert message.startswith(f"{len(expected)} of {len(expected) + 4} files in {root} cannot be used")
    for path, error in expected.items():
        line = next(line for line in message.splitlines() if line.startswith(f"  {path}: "))
        assert error in line
    with pytest.raises(ValueError, match=r"on_error must be 'skip' or 'stop', got 'ignore'"):
        VolumeFolder(root, on_error="ignore")


def test_every_file_bad_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"junk")
    (tmp_path / "b.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"None of the 2 files in .* can be used:\n  a.npy: .*\n  b.npz: "):
        VolumeFolder(tmp_path)


def test_the_majority_shape_wins_and_ties_go_to_the_first_in_order(tmp_path):
    files(tmp_path, ["a.npy", "b.npy"], shape=(6, 8, 8))
    files(tmp_path, ["c.npy", "d.npy"])
    with pytest.warns(UserWarning, match="skipped 2 of 4"):
        ds = VolumeFolder(tmp_path)
    assert ds.sample_shape == (1, 6, 8, 8) and ds.sources == ["a.npy", "b.npy"]
    assert [entry["path"] for entry in ds.skipped] == ["c.npy", "d.npy"]
    files(tmp_path, ["e.npy"])
    with pytest.warns(UserWarning, match="skipped 2 of 5"):
        ds = VolumeFolder(tmp_path)
    assert ds.sample_shape == (1, *SHAPE) and ds.sources == ["c.npy", "d.npy", "e.npy"]
    assert ds.skipped[0] == {
        "path": "a.npy",
        "error": "sample shape (1, 6, 8, 8) differs from (1, 8, 8, 8), the shape of 3 of the 5 readable files",
    }


def test_checks_read_headers_not_data(tmp_path, monkeypatch):
    mrcfile = pytest.importorskip("mrcfile")
    nibabel = pytest.importorskip("nibabel")
    files(tmp_path, ["a.npy", "b.npz", "c.mrc", "d.nii", "e.nii.gz"])

    def no_reading(*args, **kwargs):
        raise AssertionError("the check read a whole volume")

    for owner, name in [
        (loaders, "_read"),
        (folder_module, "load_volume"),
        (np.lib.format, "read_array"),  # what np.load uses for .npy and .npz data
        (mrcfile.mrcinterpreter.MrcInterpreter, "_read_data"),
        (nibabel.arrayproxy.ArrayProxy, "__array__"),
        (nibabel.arrayproxy.ArrayProxy, "_get_scaled"),
    ]:
        monkeypatch.setattr(owner, name, no_reading)
    ds = quiet(tmp_path)
    assert ds.sample_shape == (1, *SHAPE) and len(ds) == 5 and ds.skipped == []
    monkeypatch.undo()
    assert torch.equal(ds[2][0], load_volume(tmp_path / "c.mrc"))


def test_nan_values_show_when_the_sample_is_read(tmp_path):
    files(tmp_path, ["a.npy"])
    volume = rng_volume(1)
    volume[1, 2, 3] = np.nan
    write(tmp_path / "nan.npy", volume)
    ds = quiet(tmp_path)
    assert ds.sources == ["a.npy", "nan.npy"]
    with pytest.raises(ValueError, match=r"Sample 1, nan.npy in .* cannot be read: .*nan.npy holds 1 NaN or inf"):
        ds[1]


def test_a_file_changed_after_the_check_is_named(tmp_path):
    files(tmp_path, ["a.npy", "b.npy"])
    ds = quiet(tmp_path)
    (tmp_path / "a.npy").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"Sample 0, a.npy in .* cannot be read: "):
        ds[0]
    write(tmp_path / "b.npy", rng_volume(0, (4, 4)))
    with pytest.raises(ValueError, match=r"Sample 1, b.npy .* changed since .*: shape \(1, 4, 4\), not \(1, 8, 8, 8\)"):
        ds[1]


def test_check_false_reads_nothing_until_a_sample_is_asked_for(tmp_path):
    files(tmp_path, ["a.npy"])
    (tmp_path / "b.npy").write_bytes(b"junk")
    ds = quiet(tmp_path, check=False)
    assert ds.sources == ["a.npy", "b.npy"] and ds.skipped == [] and ds.sample_shape is None
    assert torch.equal(ds[0][0], load_volume(tmp_path / "a.npy"))
    assert torch.equal(ds[-2][0], ds[0][0])
    with pytest.raises(ValueError, match=r"Sample 1, b.npy in .* cannot be read"):
        ds[1]
    with pytest.raises(IndexError):
        ds[2]


def test_a_missing_format_package_raises_instead_of_skipping(tmp_path, monkeypatch):
    pytest.importorskip("mrcfile")
    files(tmp_path, ["a.npy", "b.mrc"])
    monkeypatch.setitem(sys.modules, "mrcfile", None)
    with pytest.raises(ImportError, match=r"pip install mrcfile"):
        VolumeFolder(tmp_path)


# ---------------------------------------------------------------- workers


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_pickles_and_loads_in_dataloader_workers(tmp_path, context):
    root = save_subtomogram_folder(tmp_path / "d", 6, seed=2, size=8)
    ds = quiet(root)
    clone = pickle.loads(pickle.dumps(ds))
    assert vars(clone) == vars(ds)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context=context)
    xs, ys = zip(*loader)
    assert torch.equal(torch.cat(xs), torch.stack([ds[i][0] for i in range(6)]))
    assert torch.cat(ys).tolist() == ds.labels


def test_restricted_keeps_exactly_the_given_files_in_their_order(tmp_path):
    root = save_subtomogram_folder(tmp_path / "d", 6, seed=1, size=8)
    folder = VolumeFolder(root)
    picked = [folder.sources[4], folder.sources[1]]
    subset = folder.restricted(picked)
    assert subset.sources == picked and subset.labels == [folder.labels[4], folder.labels[1]]
    assert torch.equal(subset[0][0], folder[4][0]) and len(folder) == 6  # the original is unchanged
    assert pickle.loads(pickle.dumps(subset)).sources == picked
    with pytest.raises(ValueError, match="1 of the 2 files are not in .* e.g. gone.npy"):
        folder.restricted([picked[0], "gone.npy"])
