"""CAMViewer explains each sample's predicted class while ``follow_prediction`` is on; a class chosen in
the browser or from Python stays; ``labels=`` gives the batch's true labels. Messages from the browser
go through ``set_state``, as the comm delivers them (held changes arrive together)."""

import numpy as np
import pytest
import torch

from cam_widgets import CAMExplainer, CAMViewer

from .models import segnet, sign_classifier


@pytest.fixture
def batch():
    torch.manual_seed(0)
    noise = 0.1 * torch.randn(3, 1, 8, 8, dtype=torch.float64)
    x = noise + torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64).view(3, 1, 1, 1)
    model = sign_classifier()
    assert model(x).argmax(1).tolist() == [0, 1, 2]  # three samples, three different predictions
    return model, x


def explains(viewer, model, x, sample, c):
    """The viewer's result is the score of class ``c`` of sample ``sample``."""
    expected = float(model(x[sample : sample + 1])[0, c].detach())
    return viewer.sample == sample and viewer.target_class == c and float(viewer.result.scores[0]) == pytest.approx(expected)


def test_stepping_the_batch_explains_each_samples_prediction(batch):
    model, x = batch
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), x, class_names=["bright", "dark", "grey"])
    assert viewer.follow_prediction and viewer.predicted_class == 0 and explains(viewer, model, x, 0, 0)
    for sample in (1, 2, 0, 2):
        viewer.sample = sample
        assert viewer.follow_prediction and viewer.predicted_class == sample and explains(viewer, model, x, sample, sample)
        assert viewer.error == ""
    viewer.set_state({"sample": 1})  # the browser's [ ] keys or the sample slider
    assert viewer.follow_prediction and explains(viewer, model, x, 1, 1)


def test_a_chosen_class_stays_until_predicted_is_chosen_again(batch):
    model, x = batch
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), x)
    viewer.target_class = 2  # from Python
    assert not viewer.follow_prediction and explains(viewer, model, x, 0, 2)
    viewer.sample = 1
    assert viewer.predicted_class == 1 and explains(viewer, model, x, 1, 2)  # the chosen class, not the prediction
    viewer.follow_prediction = True  # the class select's "predicted"
    assert explains(viewer, model, x, 1, 1)
    viewer.set_state({"target_class": 0})  # a bar click: one message with the class alone
    assert not viewer.follow_prediction and explains(viewer, model, x, 1, 0)
    viewer.set_state({"follow_prediction": True})
    assert viewer.follow_prediction and explains(viewer, model, x, 1, 1)
    viewer.set_state({"target_class": 2, "follow_prediction": False})
    assert not viewer.follow_prediction and explains(viewer, model, x, 1, 2)


def test_sample_and_class_in_one_message_keep_the_class(batch):
    """{sample: 2, target_class: 1} (held changes sent together): the class is the user's, not sample 2's prediction."""
    model, x = batch
    viewer = CAMViewer(CAMExplainer(model, layers=["1"]), x)
    seen = []
    viewer.observe(lambda change: seen.append((viewer.sample, viewer.target_class)), names=["cam"])
    viewer.set_state({"sample": 2, "target_class": 1})
    assert not viewer.follow_prediction and explains(viewer, model, x, 2, 1)
    assert seen == [(2, 1)]  # one explanation, of what was asked
    viewer.follow_prediction = True
    viewer.set_state({"target_class": 0, "sample": 1})  # the other order
    assert not viewer.follow_prediction and explains(viewer, model, x, 1, 0)


def test_a_class_given_to_the_constructor_is_fixed(batch):
    model, x = batch
    calls = {"n": 0}
    handle = model.register_forward_pre_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    try:
        viewer = CAMViewer(CAMExplainer(model, layers=["1"]), x, target_class=1)
        assert not viewer.follow_prediction and explains(viewer, model, x, 0, 1)
        viewer.sample = 2
        assert viewer.predicted_class == 2 and explains(viewer, model, x, 2, 1)
        follows = CAMViewer(CAMExplainer(model, layers=["1"]), x)
        before = calls["n"]
        follows.sample = 1
        follows.sample = 2
    finally:
        handle.remove()
    assert calls["n"] - before == 2  # following the prediction costs no extra forward pass


def test_segmentation_prediction_is_the_most_frequent_pixel_class():
    model = segnet().float()
    torch.manual_seed(3)
    x = torch.randn(2, 1, 8, 8)
    viewer = CAMViewer(CAMExplainer(model, layers=["dec"]), x)
    for sample in (0, 1):
        viewer.sample = sample
        counts = np.bincount(model(x[sample : sample + 1]).argmax(1).flatten().numpy(), minlength=3)
        assert counts[viewer.predicted_class] == counts.max() and viewer.target_class == viewer.predicted_class


def test_true_labels_from_indices_or_names(batch):
    model, x = batch
    explainer = CAMExplainer(model, layers=["1"])
    names = ["bright", "dark", "grey"]
    assert CAMViewer(explainer, x, class_names=names).true_labels == []
    assert CAMViewer(explainer, x, class_names=names, labels=["bright", 2, -1]).true_labels == [0, 2, -1]
    assert CAMViewer(explainer, x, labels=np.array([1, 1, 0])).true_labels == [1, 1, 0]
    assert CAMViewer(explainer, x[0], labels=torch.tensor([2])).true_labels == [2]
    with pytest.raises(ValueError, match=r"got 2 labels for 3 sample\(s\)"):
        CAMViewer(explainer, x, labels=[0, 1])
    with pytest.raises(ValueError, match="label 'cat' is not a class name; valid: bright, dark, grey"):
        CAMViewer(explainer, x, class_names=names, labels=["cat", 0, 0])
    with pytest.raises(ValueError, match=r"label 3 must be a class name or a class index -1 \(unknown\), 0..2"):
        CAMViewer(explainer, x, labels=[0, 3, 0])
    with pytest.raises(ValueError, match="label True must be"):
        CAMViewer(explainer, x, labels=[True, 0, 0])
    viewer = CAMViewer(explainer, x, labels=[0, 1, 2])
    viewer.true_labels = [0, 1, -2]
    assert viewer.true_labels == [0, 1, 2] and "true_labels = [0, 1, -2] was not applied" in viewer.error


def test_a_failed_explanation_puts_back_the_class_and_the_follow_rule(batch, monkeypatch):
    model, x = batch
    explainer = CAMExplainer(model, layers=["1"])
    viewer = CAMViewer(explainer, x)
    explain = explainer.explain

    def fails_for_sample_1_or_class_2(inputs, target=None, method="gradcam", layer=None):
        if torch.equal(inputs, x[1:2]) or target.classes == 2:
            raise RuntimeError("boom")
        return explain(inputs, target, method, layer)

    monkeypatch.setattr(explainer, "explain", fails_for_sample_1_or_class_2)
    result = viewer.result
    viewer.sample = 1  # the follow rule asks for class 1 of sample 1: it fails
    assert viewer.follow_prediction and explains(viewer, model, x, 0, 0) and viewer.result is result
    assert viewer.predicted_class == 0  # the prediction shown is the shown sample's
    assert viewer.error == ("target_class = 1, sample = 1 failed (kept target_class = 0, sample = 0): "
                            "RuntimeError: boom")
    viewer.target_class = 2  # a chosen class that fails: following the prediction is back on
    assert viewer.follow_prediction and explains(viewer, model, x, 0, 0)
    assert viewer.error == ("target_class = 2, follow_prediction = False failed "
                            "(kept target_class = 0, follow_prediction = True): RuntimeError: boom")
    viewer.set_state({"sample": 2, "target_class": 1})
    assert viewer.error == "" and not viewer.follow_prediction and explains(viewer, model, x, 2, 1)
