"""explain_dataset / evaluate_run in one process: the store holds what CAMExplainer and the metrics compute,
resumes only what is not done, and refuses what it must."""

from pathlib import Path

import numpy as np
import pytest
import torch
import zarr

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets.batch import RunStoreError, evaluate_run, explain_dataset, open_run
from cam_widgets.batch.samples import MaskSource
from cam_widgets.datasets import VolumeFolder, save_subtomogram_folder
from cam_widgets.evaluation import average_drop, deletion_insertion
from cam_widgets.metrics import sum_to_score
from cam_widgets.targets import from_prediction
from cam_widgets.zoo import load_demo_cnn1

from .models import segnet, sum_model
from .store_compare import arrays, assert_same_store

N = 22  # not a multiple of the chunk size: the last chunk is short


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return save_subtomogram_folder(tmp_path_factory.mktemp("subtomos") / "data", N, seed=5, size=24)


@pytest.fixture(scope="module")
def model():
    return load_demo_cnn1()


def volumes(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    data = VolumeFolder(folder)
    items = [data[i] for i in range(len(data))]
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


def within_float16(stored: np.ndarray, expected: torch.Tensor) -> None:
    """One float16 ulp of the exact value, up to float32 noise of the batch's composition (1e-5 of the peak)."""
    exact = expected.double().numpy()
    ulp = np.spacing(np.abs(exact).astype(np.float16)).astype(np.float64)
    assert stored.dtype == np.float16
    assert np.all(np.abs(stored.astype(np.float64) - exact) <= ulp + 1e-5 * np.abs(exact).max())


def test_stored_maps_scores_and_labels_equal_the_explainer(folder, model, tmp_path):
    run = explain_dataset(model, str(folder), methods=["gradcam", "respondcam", "hirescam"], layers=["maxpool2"],
                          targets=["predicted", "label", "all", "class_2"], out=tmp_path / "run.zarr",
                          input_maps=True, chunk_size=8, batch_size=5, progress=False)
    x, labels = volumes(folder)
    explainer = CAMExplainer(model, layers=["maxpool2"])
    logits = explainer.predict(x)
    np.testing.assert_allclose(run.scores[:], logits.numpy(), rtol=1e-5, atol=1e-5 * float(logits.abs().max()))
    assert np.array_equal(run.prediction[:], logits.argmax(1).numpy())
    assert np.array_equal(run.label[:], labels.numpy()) and run.label[:].min() >= 0
    assert list(run.source) == VolumeFolder(folder).sources
    assert run.class_names == VolumeFolder(folder).class_names and run.complete
    for method in ("gradcam", "respondcam", "hirescam"):
        for key, target in (("predicted", None), ("label", labels), ("class_2", 2)):
            expected = explainer.explain(x, target, method, "maxpool2", progress=False)
            within_float16(run.cams(method, "maxpool2", key)[:], expected.raw)
            within_float16(run.cams(method, "maxpool2", key, resolution="input")[:], expected.map)
        every = explainer.explain_all_classes(x, method, "maxpool2", progress=False)
        within_float16(run.cams(method, "maxpool2", "all")[:], every.raw.transpose(0, 1))
    with pytest.raises(KeyError, match="stored: gradcam/maxpool2/all"):
        run.cams("scorecam", "maxpool2")


def test_metrics_equal_the_evaluation_functions(folder, model, tmp_path):
    run = explain_dataset(model, str(folder), methods=["gradcam", "respondcam"], layers=["maxpool2"], targets=[],
                          metrics=["sum-to-score", "deletion", "average-drop"], out=tmp_path / "m.zarr",
                          chunk_size=8, progress=False)
    assert run.map_keys() == []  # no targets: metrics only
    x, _ = volumes(folder)
    explainer = CAMExplainer(model, layers=["maxpool2"])
    for method in ("gradcam", "respondcam"):
        paper = sum_to_score(explainer.explain_all_classes(x, method, "maxpool2", progress=False))
        stored = run.metric("sum-to-score", method, "maxpool2")
        np.testing.assert_allclose(stored["l1"][:], paper.l1, rtol=1e-5, atol=1e-5)  # |sum - y|, y ~ 40
        np.testing.assert_allclose(stored["tau"][:], paper.tau, rtol=1e-5, atol=1e-5)
        curves = deletion_insertion(explainer, x, None, method, "maxpool2", progress=False)
        stored = run.metric("deletion", method, "maxpool2")
        np.testing.assert_allclose(stored["deletion_auc"][:], curves.deletion_auc.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stored["insertion_auc"][:], curves.insertion_auc.numpy(), rtol=1e-5, atol=1e-6)
        drop = average_drop(explainer, x, None, method, "maxpool2", progress=False)
        np.testing.assert_allclose(run.metric("average-drop", method, "maxpool2")["drop"][:], drop.drop.numpy(),
                                   rtol=1e-5, atol=1e-6)
    mean, std, n = run.summary["sum-to-score/respondcam/maxpool2/l1"]
    assert n == N and mean == pytest.approx(float(paper.l1.mean()), rel=1e-4)


class Counting(torch.nn.Module):
    """Counts the samples its forward passes see."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, 0

    def forward(self, x):
        self.seen += len(x)
        return self.inner(x)


def test_resume_computes_only_unfinished_chunks_and_ends_as_an_uninterrupted_run(folder, model, tmp_path):
    options = dict(methods=["gradcam"], layers=["inner.maxpool2"], targets=["predicted"], chunk_size=8,
                   progress=False)
    counting = Counting(model).eval()
    explain_dataset(counting, str(folder), out=tmp_path / "whole.zarr", **options)
    broken = tmp_path / "broken.zarr"
    explain_dataset(counting, str(folder), out=broken, **options)
    group = zarr.open_group(str(broken), mode="r+")
    group["done"][1] = False  # as if killed while chunk 1 was written: its rows hold garbage
    group["maps/gradcam/inner.maxpool2/predicted"][8:16] = 7.0
    group["scores"][8:16] = 0.0
    counting.seen = 0
    explain_dataset(counting, str(folder), out=broken, **options)
    assert counting.seen == 1 + 8  # the first sample (the arguments' check) and chunk 1's forward pass
    assert_same_store(tmp_path / "whole.zarr", broken)
    counting.seen = 0
    explain_dataset(counting, str(folder), out=broken, **options)
    assert counting.seen == 1  # nothing left to do


def test_a_rerun_with_other_arguments_is_refused_and_leaves_the_store(folder, model, tmp_path):
    out = tmp_path / "run.zarr"
    explain_dataset(model, str(folder), methods=["gradcam"], layers=["maxpool2"], out=out, chunk_size=8,
                    progress=False)
    before = arrays(out)
    with pytest.raises(RunStoreError, match=r"differing: .*methods: stored \['gradcam'\], given \['respondcam'\]"):
        explain_dataset(model, str(folder), methods=["respondcam"], layers=["maxpool2"], out=out, chunk_size=8,
                        progress=False)
    with pytest.raises(RunStoreError, match="chunk_size: stored 8, given 4"):
        explain_dataset(model, str(folder), methods=["gradcam"], layers=["maxpool2"], out=out, chunk_size=4,
                        progress=False)
    other = load_demo_cnn1()
    with torch.no_grad():
        other.conv1.weight[0, 0, 0, 0, 0] += 1e-3
    with pytest.raises(RunStoreError, match="model: stored"):
        explain_dataset(other, str(folder), methods=["gradcam"], layers=["maxpool2"], out=out, chunk_size=8,
                        progress=False)
    after = arrays(out)
    assert all(np.array_equal(before[k], after[k], equal_nan=before[k].dtype.kind == "f") for k in before)
    # speed-only arguments may change between runs
    explain_dataset(model, str(folder), methods=["gradcam"], layers=["maxpool2"], out=out, chunk_size=8,
                    batch_size=3, workers=1, progress=False)


def test_foreign_and_corrupt_stores_get_clear_errors(folder, model, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    with pytest.raises(RunStoreError, match="not a cam_widgets run store"):
        explain_dataset(model, str(folder), out=plain, progress=False)
    assert [p.name for p in plain.iterdir()] == ["notes.txt"]
    other = tmp_path / "other.zarr"
    zarr.open_group(str(other), mode="w").attrs["format"] = "someone-else/2"
    with pytest.raises(RunStoreError, match="'format' attribute is 'someone-else/2'"):
        open_run(other)
    run = tmp_path / "run.zarr"
    explain_dataset(model, str(folder), layers=["maxpool2"], out=run, chunk_size=8, progress=False)
    (run / "zarr.json").write_text("{ not json")
    with pytest.raises(RunStoreError, match="not a readable Zarr group"):
        open_run(run)
    with pytest.raises(RunStoreError, match="no run store at"):
        open_run(tmp_path / "missing.zarr")


def test_a_creation_cut_short_is_redone_and_an_unreadable_flag_is_not_done(folder, model, tmp_path):
    leftover = tmp_path / ".run.zarr.creating-0123456789ab"
    leftover.mkdir()
    (leftover / "zarr.json").write_text("{}")
    run = explain_dataset(model, str(folder), layers=["maxpool2"], out=tmp_path / "run.zarr", chunk_size=8,
                          progress=False)
    assert not leftover.exists() and run.complete
    (tmp_path / "run.zarr" / "done" / "c" / "2").write_bytes(b"")  # a flag write cut short
    assert run.done.tolist() == [True, True, False]


def test_float16_overflow_names_float32(tmp_path):
    model = sum_model((8, 8), scale=1e6).float()
    data = torch.utils.data.TensorDataset(torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(OverflowError, match="--dtype float32"):
        explain_dataset(model, data, methods=["gradcam"], out=tmp_path / "big.zarr", progress=False)
    run = explain_dataset(model, data, methods=["gradcam"], out=tmp_path / "big32.zarr", dtype="float32",
                          progress=False)
    assert run.cams("gradcam", run.layers[0]).dtype == np.float32 and list(run.source) == ["#0", "#1", "#2", "#3"]


def test_segmentation_pixel_sets_from_mask_files(tmp_path):
    torch.manual_seed(0)
    model = segnet(n_classes=3).float()
    x = torch.randn(6, 1, 16, 16)
    masks = torch.rand(6, 16, 16) > 0.7
    data_dir, mask_dir = tmp_path / "images", tmp_path / "masks"
    data_dir.mkdir(), mask_dir.mkdir()
    for i in range(6):
        np.save(data_dir / f"{i}.npy", x[i, 0].numpy())
        np.save(mask_dir / f"{i}.npy", masks[i].numpy().astype(np.uint8))
    run = explain_dataset(model, str(data_dir), methods=["gradcam"], layers=["bottleneck"],
                          targets=["mask_cells", "class_1"], masks=[MaskSource("cells", 2, str(mask_dir))],
                          out=tmp_path / "seg.zarr", chunk_size=4, dtype="float32", progress=False)
    images = torch.stack([VolumeFolder(data_dir)[i][0] for i in range(6)])
    explainer = CAMExplainer(model, layers=["bottleneck"])
    expected = explainer.explain(images, PixelSet(2, masks), "gradcam", "bottleneck", progress=False)
    np.testing.assert_allclose(run.cams("gradcam", "bottleneck", "mask_cells")[:], expected.raw.numpy(), rtol=1e-5,
                               atol=1e-6)
    predicted = from_prediction(explainer.predict(images), 1)
    expected = explainer.explain(images, PixelSet(1, predicted), "gradcam", "bottleneck", progress=False)
    np.testing.assert_allclose(run.cams("gradcam", "bottleneck", "class_1")[:], expected.raw.numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(run.scores[:], explainer.predict(images).flatten(2).mean(2).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="segmentation network: use class_<c>"):
        explain_dataset(model, str(data_dir), targets=["predicted"], out=tmp_path / "no.zarr", progress=False)


def test_evaluate_reopens_the_recorded_data_and_resumes(folder, model, tmp_path):
    out = tmp_path / "run.zarr"
    explain_dataset(model, str(folder), methods=["respondcam"], layers=["maxpool2"], out=out, chunk_size=8,
                    model_spec="cam_widgets.zoo:load_demo_cnn1", progress=False)
    summary = evaluate_run(out, ["sum-to-score"], progress=False)
    x, _ = volumes(folder)
    paper = sum_to_score(CAMExplainer(model, layers=["maxpool2"]).explain_all_classes(x, "respondcam", progress=False))
    run = open_run(out)
    np.testing.assert_allclose(run.metric("sum-to-score", "respondcam", "maxpool2")["tau"][:], paper.tau, atol=1e-5)
    assert summary["sum-to-score/respondcam/maxpool2/l1"][2] == N and run.metric_done("sum-to-score").all()
    with pytest.raises(ValueError, match="unknown metric 'dice'; metrics are sum-to-score, deletion, average-drop"):
        evaluate_run(out, ["dice"], progress=False)
    changed = load_demo_cnn1()
    with torch.no_grad():
        changed.fc2.bias += 1
    with pytest.raises(RunStoreError, match="not the one the run explained"):
        evaluate_run(out, ["deletion"], model=changed, progress=False)


def test_flags_read_from_their_files_equal_zarrs_own_reading(tmp_path):
    from cam_widgets.batch.store import make_flags, read_flags

    flags = make_flags(zarr.open_group(str(tmp_path / "g.zarr"), mode="w"), "done", 300)
    pattern = np.random.default_rng(0).random(300) < 0.6
    flags[:] = pattern
    flags[5] = False  # a flag set, then cleared
    pattern[5] = False
    assert np.array_equal(read_flags(flags), pattern) and np.array_equal(np.asarray(flags[:]), pattern)
    (tmp_path / "g.zarr" / "done" / "c" / str(int(np.flatnonzero(pattern)[0]))).write_bytes(b"")  # cut short
    pattern[np.flatnonzero(pattern)[0]] = False
    assert np.array_equal(read_flags(flags), pattern)
    compressed = zarr.open_group(str(tmp_path / "g.zarr"), mode="r+").create_array(
        "other", shape=(300,), chunks=(1,), dtype="bool", fill_value=False)  # not the flags' layout: zarr reads it
    compressed[:] = pattern
    assert np.array_equal(read_flags(compressed), pattern)


def test_command_line_arguments_parse_to_the_engine_s(tmp_path):
    from cam_widgets.batch.samples import parse_mask
    from cam_widgets.cli import parser

    args = parser().parse_args(["explain", "--model", "m:f", "--data", "d", "--out", "o", "--targets",
                                "predicted,3, 4", "--methods", "respondcam,gradcam", "--mask", "x=1:/tmp"])
    assert args.targets == ["predicted", "class_3", "class_4"] and args.methods == ["respondcam", "gradcam"]
    assert parse_mask(f"cells=2:{tmp_path}") == MaskSource("cells", 2, str(tmp_path.resolve()))
    for bad in ("cells", "cells=two:/tmp", "=1:/tmp", f"cells=1:{tmp_path / 'missing'}"):
        with pytest.raises(ValueError, match="--mask"):
            parse_mask(bad)
    with pytest.raises(ValueError, match="unknown target 'best'; targets are predicted, label, all"):
        explain_dataset(load_demo_cnn1(), torch.utils.data.TensorDataset(torch.zeros(2, 1, 24, 24, 24)),
                        targets=["best"], out=tmp_path / "t.zarr", progress=False)
    with pytest.raises(ValueError, match="class_12': the model outputs 10 classes"):
        explain_dataset(load_demo_cnn1(), torch.utils.data.TensorDataset(torch.zeros(2, 1, 24, 24, 24)),
                        targets=["class_12"], out=tmp_path / "t.zarr", progress=False)
    assert not (tmp_path / "t.zarr").exists()


def test_the_model_is_left_as_it_was_even_when_a_run_fails(tmp_path):
    model = sum_model((8, 8), scale=1e6).float()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = torch.utils.data.TensorDataset(torch.rand(4, 1, 8, 8))
    with pytest.raises(OverflowError):
        explain_dataset(model, data, methods=["gradcam"], out=tmp_path / "a.zarr", progress=False)
    explain_dataset(model, data, methods=["gradcam"], dtype="float32", out=tmp_path / "b.zarr", progress=False)
    assert not model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in model.modules())


def test_dict_items_monai_style_give_the_input_and_the_label(model, tmp_path):
    x = torch.randn(3, 1, 24, 24, 24)
    items = [{"image": x[i], "label": i} for i in range(3)]
    run = explain_dataset(model, items, layers=["maxpool2"], targets=["label"], out=tmp_path / "d.zarr",
                          dtype="float32", progress=False)
    assert run.label[:].tolist() == [0, 1, 2]
    expected = CAMExplainer(model, layers=["maxpool2"]).explain(x, torch.arange(3), "gradcam", progress=False)
    np.testing.assert_allclose(run.cams("gradcam", "maxpool2", "label")[:], expected.raw.numpy(), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(KeyError, match="under 'image'.*keys are \\['volume'\\]"):
        explain_dataset(model, [{"volume": x[0]}], out=tmp_path / "e.zarr", progress=False)
