"""The three reproductions of issue 15 (cam_widgets.experiments.trust) at small sizes: the objects and masks they
evaluate, the tables' structure and ranges, the headline statistics and the sanity verdicts on hand-made results.
The full sizes run with ``python -m cam_widgets.experiments.trust`` (README); notebook 07 runs them at its sizes."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import wilcoxon

from cam_widgets import evaluation as ev
from cam_widgets.datasets import make_scenes
from cam_widgets.experiments import trust
from cam_widgets.zoo import DEMOS, load_demo_unet
from cam_widgets.zoo.train import demo_data

UNIT = ("deletion_auc", "insertion_auc", "mass", "rank", "pointing", "energy", "dice (mean over fractions)",
        "random_dice (mean over fractions)")


def _columns(result: trust.Reproduction) -> dict[str, list[float]]:
    """``{value name: per-method means}`` of a reproduction's table."""
    out: dict[str, list[float]] = {}
    for row in result.comparison.rows():
        for key, value in row.items():
            if isinstance(value, tuple):
                out.setdefault(key.split(": ", 1)[1], []).append(value[0])
    return out


def test_scene_objects_are_every_visible_object_of_the_test_split():
    x, classes, pixel_sets, objects, scene = trust.scene_objects(200)
    test_x, _ = demo_data(DEMOS["unet_scenes"], "test")
    assert torch.equal(x, test_x[scene])   # at 200 scenes: the zoo's test split itself
    assert pixel_sets.dtype == objects.dtype == torch.bool and classes.dtype == torch.int64
    assert (pixel_sets <= objects).all() and pixel_sets.flatten(1).any(1).all()
    # brute force over the first scenes: one sample per visible object with a pixel predicted as its class
    _, labels, instances = make_scenes(200, size=64, seed=2, return_instances=True)
    with torch.no_grad():
        predicted = load_demo_unet()(test_x[:8]).argmax(1).numpy()
    expected = []
    for i in range(8):
        for k in range(1, instances[i].max() + 1):
            mask = instances[i] == k
            if mask.any():
                c = labels[i][mask][0]
                if (predicted[i][mask] == c).any():
                    expected.append((i, int(c), mask, mask & (predicted[i] == c)))
    first = scene < 8
    assert int(first.sum()) == len(expected)
    for (i, c, mask, pixels), s, cl, o, p in zip(expected, scene[first], classes[first], objects[first], pixel_sets[first]):
        assert (int(s), int(cl)) == (i, c)
        np.testing.assert_array_equal(o.numpy(), mask)
        np.testing.assert_array_equal(p.numpy(), pixels)


def test_segmentation_reproduction_table():
    result = trust.segmentation_methods_on_unet(2, ["gradcam", "hirescam", "cam"], progress=False)
    n_objects = len(trust.scene_objects(2)[0])
    assert [row["method"] for row in result.comparison.rows()] == ["Grad-CAM", "HiResCAM"]
    assert all(row["n"] == n_objects and row["layer"] == "bottleneck" for row in result.comparison.rows())
    assert result.unavailable == {"CAM": "defined for class scores only"}
    assert result.setting["objects"] == n_objects and result.seconds > 0
    columns = _columns(result)
    assert {*UNIT[:7], "score_drop (mean over fractions)"} <= set(columns)   # the random reference may be inline
    for name, means in columns.items():
        assert all(math.isfinite(m) for m in means), name
        if name in UNIT:
            assert all(0 <= m <= 1 for m in means), name
    deletion = result.values("hirescam", "deletion_insertion: deletion_auc")
    assert deletion.shape == (n_objects,) and result.means("deletion_insertion: deletion_auc")["HiResCAM"] == \
        pytest.approx(float(deletion.mean()))
    h = trust.headline(result)
    assert h["a"] == "HiResCAM" and h["b"] == "Grad-CAM" and h["n"] == n_objects
    assert 0 <= h["a_better_share"] <= 1 and 0 <= h["p"] <= 1
    markdown = result.to_markdown()
    assert "| Grad-CAM |" in markdown and "| HiResCAM |" in markdown and "CAM: n/a" in markdown
    assert result.rank("hirescam", "deletion_insertion: deletion_auc") in (1, 2)
    assert len(result.figure().data) > 0


def test_subtomogram_reproduction_table():
    result = trust.subtomogram_methods(0.1, "cnn2", n=4, methods=["gradcam", "respondcam", "cam"], batch=2,
                                       progress=False)
    assert [row["method"] for row in result.comparison.rows()] == ["Grad-CAM", "Respond-CAM"]
    assert list(result.unavailable) == ["CAM"] and "linear" in result.unavailable["CAM"]
    columns = _columns(result)
    assert {"deletion_auc", "insertion_auc", "combined", "mass", "pointing", "correlation (mean over layers)",
            "correlation"} <= set(columns)
    for name, means in columns.items():
        assert all(math.isfinite(m) for m in means), name
        bound = 1 if name in UNIT else (1 if "correlation" in name or name == "combined" else math.inf)
        assert all(-bound <= m <= bound for m in means), name
        if name in UNIT:
            assert all(m >= 0 for m in means), name
    standing = trust.standing(result)
    assert standing and all(value in ("1 of 2", "2 of 2") for value in standing.values())
    with pytest.raises(ValueError, match="arch"):
        trust.subtomogram_methods(arch="cnn3", n=1)


def test_sanity_checks_table():
    table = trust.sanity_checks(n=3, methods=["gradcam", "eigencam"], progress=False)
    assert table.steps == ["fc3", "fc2", "fc1", "conv4", "conv3", "conv2", "conv1"]   # CNN-1, top down
    assert list(table.correlation) == ["Grad-CAM", "Eigen-CAM"]
    # Eigen-CAM reads only the activations at maxpool2: randomising the dense layers above leaves its maps as
    # they were (correlation 1), randomising the convolutions below changes them
    np.testing.assert_allclose(table.correlation["Eigen-CAM"][:3], 1.0, atol=1e-12)
    assert table.correlation["Eigen-CAM"][-1] < 1.0
    assert table.random_logit["Eigen-CAM"] == pytest.approx(1.0)   # class-agnostic: the same map for any class
    for label, values in table.correlation.items():
        assert len(values) == 7 and all(-1 <= v <= 1 for v in values if not math.isnan(v))
        assert table.verdict[label] == ("fails" if values[-1] >= trust.FAILS_ABOVE else "passes")
    markdown = table.to_markdown()
    assert "→ `fc3`" in markdown and "| Eigen-CAM |" in markdown


def _comparison(per_method: dict[str, dict[str, object]]) -> trust.Reproduction:
    results = {(label, "layer"): got for label, got in per_method.items()}
    metrics = list(dict.fromkeys(m for got in per_method.values() for m in got))
    return trust.Reproduction("hand-made", ev.Comparison(results, metrics), {"n": 0})


def _deletion(auc: list[float]) -> ev.DeletionInsertion:
    auc = torch.tensor(auc, dtype=torch.float64)
    curve = torch.zeros(len(auc), 2, dtype=torch.float64)
    return ev.DeletionInsertion(torch.tensor([0.0, 1.0], dtype=torch.float64), curve, curve, auc, 1 - auc)


def test_headline_is_a_paired_comparison():
    a = [0.1, 0.2, 0.3, 0.1, 0.5, 0.25, float("nan")]
    b = [0.3, 0.1, 0.4, 0.3, 0.9, 0.25, 0.2]
    result = _comparison({"HiResCAM": {"deletion_insertion": _deletion(a)},
                          "Grad-CAM": {"deletion_insertion": _deletion(b)}})
    h = trust.headline(result)
    # lower deletion AUC is better: a wins 4 pairs, loses 1, ties 1 (half); the NaN pair is left out
    assert h["n"] == 6 and h["a_better_share"] == pytest.approx(4.5 / 6)
    assert h["mean_a"] == pytest.approx(np.mean(a[:6])) and h["mean_b"] == pytest.approx(np.mean(b[:6]))
    assert h["p"] == pytest.approx(wilcoxon(a[:6], b[:6]).pvalue)
    insertion = trust.headline(result, column="deletion_insertion: insertion_auc")   # higher is better there
    assert insertion["a_better_share"] == pytest.approx(4.5 / 6)
    assert result.best("deletion_insertion: deletion_auc") == "HiResCAM"
    assert result.rank("gradcam", "deletion_insertion: deletion_auc") == 2
    assert result.rank("HiResCAM", "deletion_insertion: insertion_auc") == 1
    tied = _comparison({label: {"deletion_insertion": _deletion(auc)} for label, auc in
                        (("A", [0.2, 0.4]), ("B", [0.1, 0.1]), ("C", [0.3, 0.3]), ("D", [0.1, 0.1]))})
    assert [tied.rank(label, "deletion_insertion: deletion_auc") for label in "ABCD"] == [3, 1, 3, 1]


def test_sanity_verdicts():
    def randomised(rows):
        correlation = torch.tensor(rows, dtype=torch.float64)
        return {"randomisation": ev.RandomisationResult(["top", "bottom"], [], correlation),
                "random_logit": ev.RandomLogitResult(correlation[:, 0], torch.zeros(len(rows), dtype=torch.long))}

    result = _comparison({
        "Stays": randomised([[0.9, 0.8], [0.7, 0.4]]),                        # last step: 0.6 -> fails
        "Falls": randomised([[0.9, 0.1], [0.5, float("nan")]]),              # 0.1 (NaN left out) -> passes
        "Constant": randomised([[float("nan"), float("nan")]] * 2),          # no correlation at all -> undefined
    })
    table = trust.sanity_table(result)
    assert table.steps == ["top", "bottom"]
    assert table.correlation["Stays"] == pytest.approx([0.8, 0.6])
    assert table.correlation["Falls"] == pytest.approx([0.7, 0.1])
    assert table.verdict == {"Stays": "fails", "Falls": "passes", "Constant": "undefined"}
    assert table.failing == ["Stays"]
    assert table.random_logit["Stays"] == pytest.approx(0.8)


def test_script_prints_markdown_tables(capsys):
    trust.main(["--only", "3", "--volumes", "2", "--methods", "hirescam"])
    out = capsys.readouterr().out
    assert "### Sanity checks" in out and "| HiResCAM |" in out and "→ `conv1`" in out
