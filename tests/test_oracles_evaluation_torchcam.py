"""Deletion / insertion and average drop against torchcam 0.5's metrics, on the same maps (DESIGN.md 10).

torchcam's metrics take a CAM extractor; a stand-in hands them our maps (at input resolution, so
torchcam's resize is the identity), min-max normalised for average drop as torchcam's extractors
normalise. With ``logits_fn=softmax`` torchcam scores the class probability, as we do. torchcam reports
batch means only; we compare those (and the per-sample values through batches of one).
"""

import contextlib
import functools

import pytest
import torch
from torchcam.metrics import ClassificationMetric, DeletionInsertionMetric

from cam_widgets import CAMExplainer
from cam_widgets import evaluation as ev
from cam_widgets.evaluation.deletion import min_max
from tests.models import classifier

SOFTMAX = functools.partial(torch.softmax, dim=-1)


class MapsAsExtractor:
    """torchcam's extractor protocol, returning fixed maps."""

    def __init__(self, model, maps):
        self.model, self.maps = model, maps

    def __call__(self, class_idx=None, scores=None, normalized=True, **kwargs):
        return [self.maps]

    def fuse_cams(self, cams):
        return cams[0]

    @contextlib.contextmanager
    def _hooks_off(self):
        yield


def case(ndim: int, seed: int = 0):
    torch.manual_seed(seed)
    side = 16 if ndim == 2 else 8
    model = classifier(ndim=ndim, side=side)
    x = torch.randn(5, 1, *[side] * ndim, dtype=torch.float64)
    explainer = CAMExplainer(model)
    return model, x, explainer


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("steps", [20, 7])
@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_deletion_insertion_equals_torchcam(ndim, steps, method):
    model, x, explainer = case(ndim)
    maps = explainer.explain(x, method=method).map
    ours = ev.deletion_insertion(explainer, x, method=method, steps=steps)
    for i in range(len(x)):   # torchcam's summary is a mean: one sample at a time gives per-sample values
        peer = DeletionInsertionMetric(MapsAsExtractor(model, maps[i:i + 1]), SOFTMAX, steps=steps, batch_size=16)
        peer.update(x[i:i + 1])
        got = peer.summary()
        assert ours.deletion_auc[i].item() == pytest.approx(got["deletion_auc"], rel=1e-5, abs=1e-7)
        assert ours.insertion_auc[i].item() == pytest.approx(got["insertion_auc"], rel=1e-5, abs=1e-7)


def test_deletion_with_a_baseline_and_class_targets_equals_torchcam():
    model, x, explainer = case(2, seed=3)
    targets = [0, 1, 2, 3, 4]
    maps = explainer.explain(x, target=targets, method="layercam").map
    blur = x.mean(dim=(2, 3), keepdim=True)
    ours = ev.deletion_insertion(explainer, x, target=targets, maps=maps, baseline=blur, steps=10)
    peer = DeletionInsertionMetric(MapsAsExtractor(model, maps), SOFTMAX, steps=10, baseline=blur.expand_as(x))
    peer.update(x, class_idx=targets)
    got = peer.summary()
    assert ours.deletion_auc.mean().item() == pytest.approx(got["deletion_auc"], rel=1e-5)
    assert ours.insertion_auc.mean().item() == pytest.approx(got["insertion_auc"], rel=1e-5)


@pytest.mark.parametrize("ndim", [2, 3])
def test_average_drop_and_increase_equal_torchcam(ndim):
    model, x, explainer = case(ndim, seed=1)
    for method in ("gradcam", "gradcam++", "eigencam"):
        maps = explainer.explain(x, method=method).map
        ours = ev.average_drop(explainer, x, maps=maps)
        peer = ClassificationMetric(MapsAsExtractor(model, min_max(maps)), SOFTMAX)
        peer.update(x)
        got = peer.summary()
        assert ours.drop.mean().item() == pytest.approx(got["avg_drop"], rel=1e-5, abs=1e-9)
        assert ours.increase.mean().item() == pytest.approx(got["conf_increase"], abs=1e-12)
