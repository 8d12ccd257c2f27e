"""Layers that cannot be explained, unknown names on large models, empty batches: short, true errors
that name what is accepted."""

import pytest
import torch
from torch import nn

from cam_widgets import CAMExplainer, PFVExplainer
from cam_widgets.methods import METHODS

from .models import classifier
from .test_errors import assert_clean


class WithHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("layer", ["head", "head.1", "head.2"])
def test_non_spatial_layers_get_a_clear_error_with_the_nearest_spatial_layers(method, layer):
    model = WithHead().double().eval()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    kind = {"head": "Sequential", "head.1": "Flatten", "head.2": "Linear"}[layer]
    pattern = (rf"layer '{layer}' \({kind}\) outputs shape \(2, (6|3)\), which has no spatial dims.*"
               r"\(B, channels, H, W\).*nearest to it: 'features', 'features.3', 'features.2'$")  # not head.0's 1x1
    with pytest.raises(ValueError, match=pattern):
        CAMExplainer(model, layers=[layer]).explain(x, 1, method)
    explainer = CAMExplainer(model, layers=["features.2"])
    with pytest.raises(ValueError, match=pattern):
        explainer.explain(x, 1, method, layer=layer)
    assert explainer.layers == ["features.2"]  # a refused on-demand layer is not kept
    assert_clean(model)


@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_a_head_captured_beside_a_spatial_layer_is_refused_on_the_cached_forward_too(method):
    """explainer.layers = ["features.2", "head.2"]: the forward for the first layer captures the head too; explaining
    the head afterwards reuses that forward, and must still get the clear error, not an IndexError."""
    model = WithHead().double().eval()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["features.2", "head.2"])
    explainer.explain(x, 1, method)  # the first layer: one forward captures both
    with pytest.raises(ValueError, match=r"layer 'head.2' \(Linear\) outputs shape \(2, 3\), which has no spatial dims"):
        explainer.explain(x, 1, method, layer="head.2")
    assert explainer.explain(x, 1, method).map.shape == (2, 6, 6)  # the session still serves the spatial layer
    assert_clean(model)


def test_the_whole_model_and_all_classes_are_refused_too():
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"the whole model outputs shape \(2, 5\).*nearest to it: '7', '6', '5'"):
        CAMExplainer(model, layers=[model]).explain(x, 1, "hirescam")
    with pytest.raises(ValueError, match=r"layer '11' \(Linear\) outputs shape \(2, 5\)"):
        CAMExplainer(model, layers=["11"]).explain_all_classes(x, "layercam")
    assert_clean(model)


def big_model(blocks: int = 120) -> nn.Module:
    """~500 named modules, like MONAI's DenseNet121 (495)."""
    layers = [nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU()) for _ in range(blocks)]
    return nn.Sequential(nn.Sequential(*layers), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3)).eval()


def test_unknown_layer_on_a_large_model_gives_close_matches_and_a_short_list():
    model = big_model()
    assert len(dict(model.named_modules())) > 480
    with pytest.raises(KeyError) as caught:
        CAMExplainer(model, layers=["0.119.O"])
    message = caught.value.args[0]
    assert len(message) < 700, len(message)
    assert message.startswith("unknown layer '0.119.O'. Did you mean ") and "'0.119.0'" in message.split("?")[0]
    assert "Convolution and pooling layers (the last 8 of 120): 0.112.0, " in message and ", 0.119.0." in message
    assert "Top-level modules: 0, 1, 2, 3." in message and "named modules" in message
    with pytest.raises(KeyError, match=r"Did you mean '0.5.0', '0.5.2'"):  # the convs inside the deepest valid prefix first
        CAMExplainer(model, layers=["0.5.2X"])
    with pytest.raises(KeyError, match=r"unknown layer '0.7.conv3'. Did you mean '0.7.0', "):
        CAMExplainer(model, layers=["0.7.conv3"])


def test_empty_batches_and_empty_dims_are_refused():
    model = classifier(2)
    for explain in (lambda x: CAMExplainer(model).explain(x), lambda x: PFVExplainer(model).explain(x)):
        with pytest.raises(ValueError, match=r"x is an empty batch, shape \(0, 1, 8, 8\): give at least one sample"):
            explain(torch.zeros(0, 1, 8, 8, dtype=torch.float64))
        with pytest.raises(ValueError, match=r"x has an empty dim, shape \(1, 1, 0, 8\)"):
            explain(torch.zeros(1, 1, 0, 8, dtype=torch.float64))
    assert_clean(model)
