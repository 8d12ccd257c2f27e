"""Demo models: shipped weights load and classify as stated; training and Table 1 code paths run."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cam_widgets import CAMExplainer
from cam_widgets.experiments import table1
from cam_widgets.zoo import DEMOS, EVALUATION_LAYER, cnn1, cnn2, demo_metrics, load_demo
from cam_widgets.zoo.demos import WEIGHTS_DIR
from cam_widgets.zoo.train import accuracy, demo_data, train_demo

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_shipped_weights_fit_the_budget():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.pt"))
    assert {p.stem for p in WEIGHTS_DIR.glob("*.pt")} == set(DEMOS)
    assert total < 20 * 2**20, f"{total / 2**20:.1f} MB"


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_shipped_model_reaches_the_stated_accuracy(name):
    model = load_demo(name)
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    stated = demo_metrics(name)["test_accuracy"]
    x, y = demo_data(DEMOS[name], "test")
    assert accuracy(model, x, y) == pytest.approx(stated, abs=0.005)
    assert f"`{name}`" in README and f"{stated:.3f}" in README, "README must state the measured accuracy"


def test_paper_architectures():
    model = cnn1(40, 23)
    names = [n for n, _ in model.named_children()]
    assert names[:10] == ["conv1", "relu1", "conv2", "relu2", "maxpool1", "conv3", "relu3", "conv4", "relu4", "maxpool2"]
    assert model(torch.zeros(1, 1, 40, 40, 40)).shape == (1, 23)
    assert [n for n, _ in cnn2(40, 23).named_children()][0] == "avgpool0"
    explainer = CAMExplainer(cnn1(24, 10, (4, 4, 8, 8), 16).eval())
    explainer.explain(torch.randn(1, 1, 24, 24, 24))
    assert explainer.layers == [EVALUATION_LAYER]
    with pytest.raises(ValueError, match="divisible by 8"):
        cnn2(36)


def test_unknown_demo_lists_the_available_ones():
    with pytest.raises(KeyError, match="available: cnn1_snr_inf"):
        load_demo("resnet50")


def test_training_script_writes_loadable_weights_and_manifest(tmp_path):
    spec = replace(DEMOS["faces_lfw"], epochs=2)
    metrics = train_demo(spec, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["faces_lfw"] == metrics and 0 <= metrics["test_accuracy"] <= 1
    state = torch.load(tmp_path / "faces_lfw.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values())


def test_table1_on_a_small_test_set():
    columns = table1.shipped_columns(n_test=50, progress=False)
    assert len(columns) == 4
    for column in columns:
        assert column.respond.l1.mean() < column.grad.l1.mean()
        assert column.respond.tau_mean_std[0] > column.grad.tau_mean_std[0]
    text = table1.format_table(columns)
    assert "15.344 ± 7.789" in text and text.count("(ours)") == 5


def test_table1_through_the_data_set_path_equals_the_in_memory_evaluation(tmp_path):
    from cam_widgets.metrics import evaluate_sum_to_score

    x, labels = demo_data(DEMOS["cnn2_snr_0.1"], "test", 30)
    model = load_demo("cnn2_snr_0.1")
    column = table1.evaluate_model(model, x, labels, batch=8, progress=False, out=tmp_path / "t.zarr")
    direct = evaluate_sum_to_score(CAMExplainer(model, layers=[EVALUATION_LAYER]), [x[:13], x[13:]], progress=False)
    for ours, theirs in ((column.grad, direct["gradcam"]), (column.respond, direct["respondcam"])):
        np.testing.assert_allclose(ours.l1, theirs.l1, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ours.tau, theirs.tau, atol=1e-5)
    with torch.no_grad():
        assert column.test_accuracy == float((model(x).argmax(1) == labels).float().mean())
    again = table1.evaluate_model(model, x, labels, batch=8, progress=False, out=tmp_path / "t.zarr")  # resumed: done
    assert np.array_equal(again.respond.tau, column.respond.tau, equal_nan=True)
