"""Forwards from the layer up, options, progress and hygiene of the Table 1 methods.

The passes of Ablation-CAM and LIFT-CAM start at the layer, the part below replayed from a recording: they
must equal full forwards (float64, to rounding) on a U-Net with skip connections and a ResNet with in-place
residual adds, never compute the part below again, survive in-place ops above the layer, and leave the model
as it was after finished, failed or interrupted runs.
"""

import copy

import pytest
import torch
from torch import nn

from cam_widgets import AblationCAM, CAMExplainer, PixelSet, ScoreCAM, XResCAM
from cam_widgets.methods import METHODS
from cam_widgets.targets import box

from .models import classifier, gap_linear, replaced_forward, resnet, segnet

PERTURBATION = ["scorecam", "ablationcam", "liftcam"]


# --- forwards from the layer up -------------------------------------------------------------------


def probe_for(explainer, x, layer, target):
    from cam_widgets.probe import Probe

    explainer.explain(x, target, "gradcam", layer)
    return Probe(explainer, explainer._session, layer, target, progress=False)


@pytest.mark.parametrize("case", ["unet-bottleneck", "unet-enc", "unet-enc.1", "resnet-3.1.conv1", "resnet-3.1",
                                  "resnet-4.relu", "resnet-3.0.bn2"])
def test_forwards_from_the_layer_up_equal_full_forwards(case):
    name, layer = case.split("-", 1)
    model = segnet() if name == "unet" else resnet()
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    target = PixelSet([1, 0, 2], box((8, 8), (1, 1), (6, 7))) if name == "unet" else (lambda out: out[:, 2] - out[:, 0])
    explainer = CAMExplainer(model, layers=[layer])
    probe = probe_for(explainer, x, layer, target)
    a = probe.activations
    torch.manual_seed(4)
    changes = torch.rand(5, *a.shape, dtype=a.dtype) * 2 * a.abs().amax()
    scores = probe.scores_above(lambda i: changes[i], 5, batch_size=7, what="test")  # 3 rows per group: 3 passes
    module = dict(model.named_modules())[layer]
    expected = torch.stack([target(replaced_forward(model, module, changes[i], x)) for i in range(5)])
    torch.testing.assert_close(scores[:, 0], expected, rtol=1e-12, atol=1e-12)
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_in_place_ops_above_the_layer_on_a_replayed_output_leave_the_cache_intact():
    class WritesSkip(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(5)
            self.a, self.b = nn.Conv2d(1, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1)
            self.head = nn.Linear(3, 2)

        def forward(self, x):
            skip = self.a(x)
            deep = self.b(torch.relu(skip))
            skip.mul_(2)  # in place, above the layer, on the output of a module below it
            skip[:, 0] += 1
            return self.head((deep + skip).mean((2, 3)))

    model = WritesSkip().double().eval()
    x = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["b"])
    probe = probe_for(explainer, x, "b", lambda out: out[:, 1])
    changes = torch.rand(6, *probe.activations.shape, dtype=torch.float64)
    first = probe.scores_above(lambda i: changes[i], 6, batch_size=2, what="test")  # 6 passes of one group
    again = probe.scores_above(lambda i: changes[i], 6, batch_size=4, what="test")
    expected = torch.stack([replaced_forward(model, model.b, changes[i], x)[:, 1] for i in range(6)])
    torch.testing.assert_close(first[:, 0], expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(again, first, rtol=1e-12, atol=1e-12)


def test_only_the_part_above_the_layer_runs(monkeypatch):
    """Convolutions below the layer compute only in the recording forward (their calls answer from the cache)."""
    model = resnet()
    names = {id(m): n for n, m in model.named_modules()}
    computed = []
    convolve = nn.Conv2d.forward
    monkeypatch.setattr(nn.Conv2d, "forward", lambda self, x: computed.append(names[id(self)]) or convolve(self, x))
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["3.1"])
    explainer.explain(x, 1, "gradcam")
    computed.clear()
    explainer.explain(x, 1, AblationCAM(batch_size=12), "3.1")  # the recording forward, then 1 pass (6 x 2 rows)
    assert computed.count("0") == computed.count("3.0.conv1") == computed.count("3.1.conv2") == 1
    assert computed.count("4.conv1") == computed.count("4.downsample.0") == 2
    computed.clear()  # a fresh explainer: the session's forward records the part below the layer too
    CAMExplainer(model, layers=["3.1"]).explain(x, 1, AblationCAM(batch_size=12))
    assert computed.count("0") == computed.count("3.1.conv2") == 1 and computed.count("4.conv1") == 2


def test_a_module_shared_below_and_above_the_layer_is_refused():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.relu = nn.Conv2d(1, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1), nn.ReLU()
            self.head = nn.Linear(3, 2)

        def forward(self, x):
            return self.head(self.relu(self.b(self.relu(self.a(x)))).mean((2, 3)))

    model = Shared().double().eval()
    with pytest.raises(RuntimeError, match="'relu' run both below and above layer 'b'"):
        CAMExplainer(model, layers=["b"]).explain(torch.randn(1, 1, 5, 5, dtype=torch.float64), 0, "ablationcam")
    assert all("forward" not in m.__dict__ and not m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("method", PERTURBATION)
def test_all_classes_come_from_the_same_passes(method):
    model = classifier(2)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])
    explainer.explain(x, 0, "gradcam")
    counter = {"n": 0}
    handle = model[11].register_forward_pre_hook(lambda *_: counter.__setitem__("n", counter["n"] + 1))
    try:
        every = explainer.explain_all_classes(x, method)
    finally:
        handle.remove()
    # 6 channels x 2 samples fit in one pass of 32 rows; Ablation- and LIFT-CAM record the part below the layer
    # once; LIFT-CAM: one forward (inputs and references together) and backward per class
    passes = {"scorecam": 1, "ablationcam": 1 + 1, "liftcam": 1 + 5}[method]
    assert counter["n"] == passes
    for c in (0, 4):
        torch.testing.assert_close(every.raw[c], CAMExplainer(model, layers=["4"]).explain(x, c, method).raw)


@pytest.mark.parametrize("method", [ScoreCAM, AblationCAM])
def test_the_batch_size_changes_nothing_but_the_passes(method):
    model, x = segnet(), torch.randn(3, 1, 8, 8, dtype=torch.float64)
    target = PixelSet(2, box((8, 8), (0, 0), (5, 5)))
    explainer = CAMExplainer(model, layers=["dec"])
    results = [explainer.explain(x, target, method(batch_size=n)).raw for n in (1, 4, 100)]
    torch.testing.assert_close(results[0], results[1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(results[0], results[2], rtol=1e-12, atol=1e-12)


def test_float32_agrees_with_float64_for_every_method():
    model64 = gap_linear(2)
    model32 = copy.deepcopy(model64).float()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    for name in METHODS:
        r64 = CAMExplainer(model64, layers=["3"]).explain(x, 2, name).raw
        r32 = CAMExplainer(model32, layers=["3"]).explain(x.float(), 2, name).raw
        assert r32.dtype == torch.float32
        torch.testing.assert_close(r32.double(), r64, rtol=1e-4, atol=1e-5 * float(r64.abs().max()), msg=name)


# --- options, progress and hygiene ----------------------------------------------------------------


def test_method_options_are_checked():
    with pytest.raises(ValueError, match="ScoreCAM batch_size must be an int >= 1, got 0"):
        ScoreCAM(batch_size=0)
    with pytest.raises(ValueError, match="XResCAM mode must be 'max' or 'mean', got 'median'"):
        XResCAM(mode="median")
    with pytest.raises(ValueError, match="XResCAM pool must be an int >= 1"):
        XResCAM(pool=1.5)
    with pytest.raises(TypeError, match="method must be a name .* or a method object such as ScoreCAM"):
        CAMExplainer(classifier(2)).explain(torch.randn(1, 1, 8, 8, dtype=torch.float64), 0, 3)


def test_progress_is_reported_per_pass():
    model, x = classifier(2), torch.randn(2, 1, 8, 8, dtype=torch.float64)
    seen = []
    CAMExplainer(model, layers=["4"]).explain(x, 1, ScoreCAM(batch_size=4), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 6), (4, 6), (6, 6)]  # 6 channels, 2 per pass of 4 rows
    seen.clear()
    CAMExplainer(model, layers=["4"]).explain_all_classes(x, "liftcam", progress=lambda d, t: seen.append((d, t)))
    assert seen == [(c, 5) for c in range(1, 6)]  # LIFT-CAM: one DeepLift call per class


@pytest.mark.parametrize("method", PERTURBATION + ["fullgrad"])
def test_a_stopped_or_failing_run_leaves_the_model_as_it_was(method):
    model = classifier(2, inplace=True)
    model[5].weight.grad = torch.full_like(model[5].weight, 7.0)
    params = copy.deepcopy(model.state_dict())
    attributes = [set(m.__dict__) for m in model.modules()]
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    explainer = CAMExplainer(model, layers=["4"])

    def stop(done, total):
        raise KeyboardInterrupt("stopped")

    calls = []

    def fails_after_the_first_call(out):  # inside the extra forwards of LIFT-CAM and FullGrad
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt("stopped")
        return out[:, 1]

    with pytest.raises(KeyboardInterrupt):
        if method in ("scorecam", "ablationcam"):
            explainer.explain(x, 1, method, progress=stop)
        else:
            explainer.explain(x, fails_after_the_first_call, method)
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())
    assert [set(m.__dict__) for m in model.modules()] == attributes  # no forward, no Captum input / output left
    assert not model.training and torch.is_grad_enabled()
    for name, value in model.state_dict().items():
        assert torch.equal(value, params[name]), name
    assert torch.equal(model[5].weight.grad, torch.full_like(model[5].weight, 7.0))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "5.weight")
    reference = CAMExplainer(classifier(2, inplace=False), layers=["4"]).explain(x, 1, method).raw
    torch.testing.assert_close(explainer.explain(x, 1, method).raw, reference)  # in-place ReLUs: the same maps
    assert [set(m.__dict__) for m in model.modules()] == attributes  # also after a run that finished


def test_a_pass_that_runs_out_of_memory_says_how_to_have_fewer_rows():
    class Greedy(nn.Module):
        """Raises what torch raises when a batch does not fit, for batches larger than the input's."""

        def forward(self, x):
            if x.shape[0] > 2:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            return x

    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), Greedy(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(3, 2)).double().eval()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    with pytest.raises(MemoryError, match=r"Score-CAM: a forward pass of 6 rows .* ScoreCAM\(batch_size=1\)"):
        CAMExplainer(model, layers=["1"]).explain(x, 1, ScoreCAM(batch_size=6), progress=False)
    assert CAMExplainer(model, layers=["1"]).explain(x, 1, ScoreCAM(batch_size=2), progress=False).raw.shape == (2, 6, 6)


class SharedReluBlock(nn.Module):
    """torchvision's BasicBlock pattern: one ``self.relu`` applied twice (``shared=False``: a module per call)."""

    def __init__(self, shared: bool):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.relu2 = self.relu if shared else nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu2(self.conv2(self.relu(self.conv1(x))) + x)


@pytest.mark.parametrize("layer", ["1", "2.conv1"])
def test_liftcam_gives_each_call_of_a_shared_relu_its_own_deeplift_state(layer):
    def model(shared):
        torch.manual_seed(6)
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), SharedReluBlock(shared), SharedReluBlock(shared),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 16, 3)).double().eval()

    shared, separate = model(True), model(False)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    ours = CAMExplainer(shared, layers=[layer]).explain(x, [0, 2], "liftcam")
    reference = CAMExplainer(separate, layers=[layer]).explain(x, [0, 2], "liftcam")  # Captum sees one call per module
    torch.testing.assert_close(ours.weights, reference.weights)
    assert shared[2].relu is shared[2].relu2 and type(shared[2].relu) is nn.ReLU  # its own modules back
    assert all("copies" not in dict(m.named_children()) for m in shared.modules())


def test_liftcam_on_a_module_registered_under_two_names():
    """MONAI's SegResNet holds its ``act_mod`` as ``act_mod`` and inside ``conv_final``: Captum's DeepLift would
    hook it twice; ours reaches it once, so the result equals the model without the second registration."""
    def model(alias):
        torch.manual_seed(7)
        net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
        net.act = nn.ReLU()
        net.final = nn.Sequential(net.act if alias else nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4, 3))
        net.forward = lambda x: net.final(net[2](net[1](net[0](x))))
        return net.double().eval()

    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    aliased, plain = model(True), model(False)
    ours = CAMExplainer(aliased, layers=["1"]).explain(x, 1, "liftcam")
    torch.testing.assert_close(ours.weights, CAMExplainer(plain, layers=["1"]).explain(x, 1, "liftcam").weights)
    assert aliased.final[0] is aliased.act
