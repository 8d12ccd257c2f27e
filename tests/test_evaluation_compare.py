"""``compare_methods``: the same values as the metrics called one by one, a table and curves, shared work."""

import math

import pytest
import torch

from cam_widgets import CAMExplainer, PixelSet
from cam_widgets import evaluation as ev
from tests.models import classifier, segnet

OPTIONS = {"road": {"noise": 0.0}, "deletion_insertion": {"steps": 6}}


def classification_case():
    torch.manual_seed(0)
    model = classifier(ndim=2, side=16)
    x = torch.randn(4, 1, 16, 16, dtype=torch.float64)
    masks = torch.zeros(4, 16, 16, dtype=torch.bool)
    masks[:, 3:9, 4:12] = True
    return CAMExplainer(model), x, masks


def test_every_value_equals_the_metric_called_alone():
    explainer, x, masks = classification_case()
    methods = ["gradcam", "hirescam"]
    comparison = ev.compare_methods(explainer, x, methods=methods, masks=masks, options=OPTIONS, seed=1)
    assert comparison.metrics == ["deletion_insertion", "road", "average_drop", "localisation", "randomisation",
                                  "random_logit"]
    layer = explainer.layers[0]
    assert list(comparison.results) == [("Grad-CAM", layer), ("HiResCAM", layer)]
    for method, key in zip(methods, comparison.results):
        got = comparison.results[key]
        alone = {
            "deletion_insertion": ev.deletion_insertion(explainer, x, method=method, steps=6),
            "road": ev.road(explainer, x, method=method, noise=0.0),
            "average_drop": ev.average_drop(explainer, x, method=method),
            "localisation": ev.localisation(explainer, x, masks, method=method),
            "randomisation": ev.randomisation(explainer, x, method=method, seed=1),
            "random_logit": ev.random_logit(explainer, x, method=method, seed=1),
        }
        for name, result in alone.items():
            for value_name, value in result.table().items():
                torch.testing.assert_close(got[name].table()[value_name], value, rtol=1e-12, atol=1e-15,
                                           equal_nan=True, msg=f"{method} {name} {value_name}")


def test_data_set_of_tuples_equals_one_batch():
    explainer, x, masks = classification_case()
    labels = torch.tensor([0, 1, 2, 3])
    metrics = ["deletion_insertion", "average_drop", "localisation"]
    whole = ev.compare_methods(explainer, [(x, labels, masks)], methods=["layercam"], metrics=metrics, options=OPTIONS)
    parts = ev.compare_methods(explainer, [(x[:1], labels[:1], masks[:1]), {"x": x[1:], "target": labels[1:],
                               "masks": masks[1:]}], methods=["layercam"], metrics=metrics, options=OPTIONS)
    (key,) = whole.results
    for name in metrics:
        for value_name, value in whole.results[key][name].table().items():
            torch.testing.assert_close(parts.results[key][name].table()[value_name], value, equal_nan=True)
    assert whole.rows()[0]["n"] == 4


def test_segmentation_comparison_shares_the_random_reference():
    model = segnet()
    explainer = CAMExplainer(model)
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    mask = torch.zeros(2, 16, 16, dtype=torch.bool)
    mask[:, 4:12, 3:10] = True
    target = PixelSet(1, mask)
    comparison = ev.compare_methods(explainer, x, methods=["gradcam", "hirescam"], target=target, masks=mask,
                                    metrics=["segmentation_faithfulness", "localisation", "deletion_insertion"],
                                    options=OPTIONS)
    results = list(comparison.results.values())
    torch.testing.assert_close(results[0]["segmentation_faithfulness"].random_dice,
                               results[1]["segmentation_faithfulness"].random_dice)
    alone = ev.segmentation_faithfulness(explainer, x, target, method="hirescam")
    torch.testing.assert_close(results[1]["segmentation_faithfulness"].score_drop, alone.score_drop)
    torch.testing.assert_close(results[1]["segmentation_faithfulness"].random_score_drop, alone.random_score_drop)
    defaults = ev.compare_methods(explainer, x, methods=["gradcam"], target=target, options=OPTIONS).metrics
    assert "segmentation_faithfulness" in defaults and "random_logit" not in defaults and "localisation" not in defaults


def test_table_marks_the_best_and_says_which_way_is_better():
    explainer, x, masks = classification_case()
    comparison = ev.compare_methods(explainer, x, methods=["gradcam", "hirescam", "eigencam"], masks=masks,
                                    metrics=["deletion_insertion", "localisation"], options=OPTIONS)
    text = comparison.to_markdown()
    lines = text.splitlines()
    assert lines[0].startswith("| method | layer | deletion auc ↓ | insertion auc ↑ | mass ↑")
    assert len(lines) == 2 + 3 and all(label in text for label in ("Grad-CAM", "HiResCAM", "Eigen-CAM"))
    rows = comparison.rows()
    means = [row["deletion_insertion: deletion_auc"][0] for row in rows]
    best = min(range(3), key=means.__getitem__)
    assert f"**{means[best]:.3f}" in lines[2 + best].split("|")[3]
    assert comparison.best(("deletion_insertion", "deletion_auc"))[0] == rows[best]["method"]
    assert comparison._repr_markdown_() == text


def test_figure_draws_the_mean_curves():
    explainer, x, _ = classification_case()
    comparison = ev.compare_methods(explainer, x, methods=["gradcam", "hirescam"],
                                    metrics=["deletion_insertion", "road", "randomisation"], options=OPTIONS)
    figure = comparison.figure()
    titles = [a.text for a in figure.layout.annotations]
    assert titles[:3] == ["Deletion (lower is better)", "Insertion (higher is better)", "ROAD: MoRF solid, LeRF dashed"]
    deletion = [t for t in figure.data if t.hovertemplate.endswith("<extra>deletion_curve</extra>")]
    assert len(deletion) == 2
    result = next(iter(comparison.results.values()))["deletion_insertion"]
    assert list(deletion[0].y) == pytest.approx(result.deletion_curve.mean(0).tolist())
    assert list(deletion[0].x) == pytest.approx(result.fractions.tolist())
    lerf = [t for t in figure.data if t.line.dash == "dash"]
    assert len(lerf) == 2 and all(len(t.x) == 9 for t in lerf)
    with pytest.raises(ValueError, match="no curves"):
        ev.compare_methods(explainer, x, methods=["gradcam"], metrics=["average_drop"]).figure()


def test_bad_requests_are_refused_with_what_is_accepted():
    explainer, x, masks = classification_case()
    with pytest.raises(ValueError, match="unknown metric"):
        ev.compare_methods(explainer, x, metrics=["deletion"])
    with pytest.raises(ValueError, match="needs ground-truth masks"):
        ev.compare_methods(explainer, x, metrics=["localisation"])
    with pytest.raises(ValueError, match="PixelSet"):
        ev.compare_methods(explainer, x, metrics=["segmentation_faithfulness"])
    with pytest.raises(ValueError, match="compare_methods sets itself"):
        ev.compare_methods(explainer, x, options={"road": {"maps": None}})
    with pytest.raises(ValueError, match="options for unknown"):
        ev.compare_methods(explainer, x, options={"roads": {}})
    with pytest.raises(ValueError, match="non-empty list"):
        ev.compare_methods(explainer, x, methods="gradcam")
    with pytest.raises(ValueError, match="no batches"):
        ev.compare_methods(explainer, [])


def test_nan_values_are_left_out_of_means_and_shown_as_n_a():
    explainer, x, masks = classification_case()
    masks = masks.clone()
    masks[0] = False                                     # an empty mask: NaN for that sample
    comparison = ev.compare_methods(explainer, x, methods=["gradcam"], masks=masks, metrics=["localisation"])
    row = comparison.rows()[0]
    values = next(iter(comparison.results.values()))["localisation"].mass
    assert math.isnan(values[0]) and row["localisation: mass"][0] == pytest.approx(float(values[1:].mean()))


def test_progress_is_one_count_over_the_comparison():
    explainer, x, masks = classification_case()
    calls = []
    ev.compare_methods(explainer, [x[:2], x[2:]], methods=["gradcam", "hirescam"], masks=masks[:2],
                       metrics=["average_drop", "randomisation"], progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (2 * 2 * 3, 2 * 2 * 3) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_reference_values_sit_beside_their_value_in_the_table():
    explainer = CAMExplainer(segnet())
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    target = PixelSet(1, torch.ones(16, 16, dtype=torch.bool))
    comparison = ev.compare_methods(explainer, x, methods=["gradcam"], target=target,
                                    metrics=["segmentation_faithfulness"])
    header, _, row = comparison.to_markdown().splitlines()
    assert "random" not in header and header.count("|") == 6           # method, layer, score drop, dice, n
    result = next(iter(comparison.results.values()))["segmentation_faithfulness"]
    assert f"(random {float(result.random_score_drop.nanmean(1).mean()):.3f})" in row.split("|")[3]
    figure = comparison.figure()
    assert [t.name for t in figure.data] == ["Grad-CAM · " + explainer.layers[0], "random positions (the reference)"]
