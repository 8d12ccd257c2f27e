"""PFV (Bakken et al. 2020): Eq. 1-7 against an independent NumPy/SciPy implementation, the
properties of the decomposition, the sign convention, the paper's sanity checks (model
randomisation, batch composition), errors and hygiene."""

import numpy as np
import pytest
import torch
from scipy.ndimage import zoom
from torch import nn

from cam_widgets import PFVExplainer, PFVResult
from cam_widgets.capture import run_and_capture
from cam_widgets.pfv import principal_components

POOL_INPUTS = {"2": 2, "5": 5, "8": 8}  # pooling module name -> slice end of the model that gives its input


def pooled_cnn(ndim: int, side: int, seed: int = 0, inplace: bool = False) -> nn.Sequential:
    """Three conv-ReLU-maxpool blocks and a linear head, float64, eval mode."""
    torch.manual_seed(seed)
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if ndim == 2 else (nn.Conv3d, nn.MaxPool3d)
    return nn.Sequential(
        conv(1, 4, 3, padding=1), nn.ReLU(inplace), pool(2),
        conv(4, 6, 3, padding=1), nn.ReLU(inplace), pool(2),
        conv(6, 8, 3, padding=1), nn.ReLU(inplace), pool(2),
        nn.Flatten(), nn.Linear(8 * (side // 8) ** ndim, 3),
    ).double().eval()


def batch(ndim: int, side: int, n: int = 4, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, *(side,) * ndim, dtype=torch.float64, generator=generator)


# --- an independent implementation: NumPy SVD, SciPy resampling ------------------------------------


def resize(maps: np.ndarray, size) -> np.ndarray:
    """Linear interpolation of (B, *S) maps to (B, *size) with pixel centres aligned (as PyTorch's
    align_corners=False: scipy's grid_mode=True, edge values extended)."""
    factors = (1, *(t / s for s, t in zip(maps.shape[1:], size)))
    return zoom(maps, factors, order=1, mode="nearest", grid_mode=True)


def resize_channels(maps: np.ndarray, size) -> np.ndarray:
    return np.stack([resize(maps[:, c], size) for c in range(maps.shape[1])], axis=1)


def normalise(v: np.ndarray) -> np.ndarray:
    z = np.clip((v - v.mean()) / v.std(), -1, 1)
    return (z - z.min()) / (z.max() - z.min())


def reference_pfv(features: list[np.ndarray], size, numbers=(1, 2, 3), hierarchical=False):
    """Eq. 1-7 as written (features in forward order, the last decomposed); hierarchical: the
    SINTEF/PFV reference code's loop."""
    *earlier, last = features
    b, k, *spatial = last.shape
    f = np.moveaxis(last, 1, -1).reshape(-1, k)                    # positions x channels
    f = f - f.mean(axis=0)                                          # Eq. 3
    u, s, _ = np.linalg.svd(f, full_matrices=False)                 # Eq. 4
    d = (u * s)[:, [n - 1 for n in numbers]]                        # Eq. 5, 6
    d = d * np.sign((d**3).sum(axis=0))                             # the documented sign convention
    d = np.moveaxis(d.reshape(b, *spatial, len(numbers)), -1, 1)
    if hierarchical:
        v, w = d, np.ones((b, 1, *spatial))
        for a in (x.sum(axis=1) for x in reversed(earlier)):
            a = a / a.max()
            v = resize_channels(v, a.shape[1:]) * a[:, None]
            w = resize_channels(w, a.shape[1:]) * a[:, None]
        v, activation = resize_channels(v, size), resize_channels(w, size)[:, 0]
    else:
        activation = sum(resize(x.sum(axis=1), size) for x in earlier)  # Eq. 1, 2
        v = activation[:, None] * resize_channels(d, size)              # Eq. 7, before normalise
    return normalise(v), d, activation, s**2 / (s**2).sum()


def pool_inputs(model: nn.Sequential, x: torch.Tensor, names=tuple(POOL_INPUTS)) -> list[np.ndarray]:
    with torch.no_grad():
        return [model[: POOL_INPUTS[n]](x).numpy() for n in names]


def assert_matches(result: PFVResult, expected, atol=1e-5):
    rgb, d, activation, ratio = expected
    np.testing.assert_allclose(result.rgb.numpy(), rgb, atol=atol, rtol=0)
    np.testing.assert_allclose(result.components.numpy(), d, atol=atol, rtol=atol)
    np.testing.assert_allclose(result.activation.numpy(), activation, atol=atol, rtol=atol)
    np.testing.assert_allclose(result.explained_variance_ratio.numpy(), ratio, atol=1e-9)


# --- Eq. 1-7 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hierarchical", [False, True])
@pytest.mark.parametrize("ndim,side", [(2, 16), (3, 8)])
def test_matches_numpy_implementation_of_eq_1_to_7(ndim, side, hierarchical):
    model, x = pooled_cnn(ndim, side), batch(ndim, side)
    result = PFVExplainer(model).explain(x, hierarchical=hierarchical)
    assert result.layer == "8" and result.weight_layers == ("2", "5") and result.component_numbers == (1, 2, 3)
    assert result.rgb.shape == (4, 3, *x.shape[2:]) and result.components.shape == (4, 3, *(side // 4,) * ndim)
    assert float(result.rgb.min()) == 0 and float(result.rgb.max()) == 1
    assert_matches(result, reference_pfv(pool_inputs(model, x), x.shape[2:], hierarchical=hierarchical))


@pytest.mark.parametrize("hierarchical", [False, True])
def test_chosen_components_and_layer_to_decompose(hierarchical):
    model, x = pooled_cnn(2, 16), batch(2, 16, n=3)
    result = PFVExplainer(model).explain(x, layer="5", components=(2, 4, 3), hierarchical=hierarchical)
    assert result.layer == "5" and result.weight_layers == ("2",) and result.component_numbers == (2, 4, 3)
    expected = reference_pfv(pool_inputs(model, x, ("2", "5")), x.shape[2:], (2, 4, 3), hierarchical)
    assert_matches(result, expected)
    two = PFVExplainer(model).explain(x, n_components=2)
    assert two.rgb.shape[1] == 2
    assert_matches(two, reference_pfv(pool_inputs(model, x), x.shape[2:], (1, 2)))


@pytest.mark.parametrize("hierarchical", [False, True])
def test_a_wide_layer_with_fewer_positions_than_channels(hierarchical):
    """P < K (a small batch at a deep, wide layer) takes the P x P Gram matrix; same equations."""
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 40, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(40, 2),
    ).double().eval()
    x = batch(2, 4, n=3)
    result = PFVExplainer(model).explain(x, components=(1, 3, 5), hierarchical=hierarchical)
    features = pool_inputs(model, x, ("2", "5"))
    assert features[-1].shape == (3, 40, 2, 2)               # 12 positions x 40 channels
    rgb, d, activation, ratio = reference_pfv(features, x.shape[2:], (1, 3, 5), hierarchical)
    np.testing.assert_allclose(result.rgb.numpy(), rgb, atol=1e-5)
    np.testing.assert_allclose(result.components.numpy(), d, atol=1e-8, rtol=1e-6)
    np.testing.assert_allclose(result.activation.numpy(), activation, atol=1e-8)
    assert result.explained_variance_ratio.shape == (40,)
    np.testing.assert_allclose(result.explained_variance_ratio[:12].numpy(), ratio, atol=1e-9)
    assert bool((result.explained_variance_ratio[12:] == 0).all())


def test_explicit_layers_are_module_outputs_and_equal_the_pool_inputs():
    model, x = pooled_cnn(2, 16), batch(2, 16)
    default = PFVExplainer(model).explain(x)
    explicit = PFVExplainer(model, layers=["1", "4", model[7]]).explain(x)  # the ReLUs before the pools
    assert explicit.layer == "7" and explicit.weight_layers == ("1", "4")
    for field in ("rgb", "components", "activation", "explained_variance_ratio"):
        torch.testing.assert_close(getattr(explicit, field), getattr(default, field), rtol=0, atol=0)


def test_a_single_layer_is_not_weighted():
    """Eq. 2 with N = 1 is an empty sum; A^b = 1 (no weighting) rather than 0."""
    model, x = pooled_cnn(2, 16), batch(2, 16)
    result = PFVExplainer(model, layers=["7"]).explain(x)
    assert result.weight_layers == () and bool((result.activation == 1).all())
    torch.testing.assert_close(result.rgb, result.unweighted)
    _, d, _, _ = reference_pfv(pool_inputs(model, x), x.shape[2:])  # D_N depends on the last layer only
    np.testing.assert_allclose(result.rgb.numpy(), normalise(resize_channels(d, x.shape[2:])), atol=1e-5)


# --- the decomposition and its sign ---------------------------------------------------------------------


def test_components_are_orthogonal_with_variance_ratios_sorted():
    model, x = pooled_cnn(2, 16), batch(2, 16, n=6)
    result = PFVExplainer(model).explain(x, n_components=5)
    d = result.components.movedim(1, -1).reshape(-1, 5)             # one row per position of the batch
    gram = d.T @ d                                                   # = diag(s_k^2) for U S
    off_diagonal = gram - torch.diag(torch.diagonal(gram))
    assert float(off_diagonal.abs().max()) < 1e-9 * float(gram.diagonal().max())
    features = pool_inputs(model, x, ("8",))[0]
    centred = np.moveaxis(features, 1, -1).reshape(-1, 8)
    total = ((centred - centred.mean(0)) ** 2).sum()                 # ||F'||^2 = sum of all s_k^2
    ratio = result.explained_variance_ratio
    np.testing.assert_allclose(gram.diagonal().numpy() / total, ratio[:5].numpy(), rtol=1e-9)
    assert bool((ratio[:-1] >= ratio[1:]).all()) and float(ratio.sum()) <= 1 + 1e-12 and float(ratio.min()) >= 0
    np.testing.assert_allclose(d.mean(0).numpy(), 0, atol=1e-9)     # components of centred features


def test_sign_convention_is_deterministic_and_independent_of_the_eigensolver_sign():
    generator = torch.Generator().manual_seed(3)
    features = torch.rand(5, 6, 4, 4, dtype=torch.float64, generator=generator) ** 3
    d, _ = principal_components(features, (1, 2, 3, 4))
    assert bool(((d**3).sum((0, 2, 3)) > 0).all())                   # third moment positive, as documented
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64, generator=generator))
    flips = torch.diag(torch.tensor([-1.0, 1, -1, 1, 1, -1], dtype=torch.float64))
    # the same positions in an orthogonally mixed channel basis (rotation, reflections, negation) have the
    # same principal components, but the eigensolver returns the eigenvectors with other signs
    for mix in (q, flips, -torch.eye(6, dtype=torch.float64), q @ flips):
        mixed = torch.einsum("kc,bc...->bk...", mix, features)
        torch.testing.assert_close(principal_components(mixed, (1, 2, 3, 4))[0], d, rtol=1e-9, atol=1e-9)


def test_repeated_runs_are_identical_and_a_reordered_batch_reorders_the_result():
    model, x = pooled_cnn(2, 16), batch(2, 16, n=5)
    explainer = PFVExplainer(model)
    first, again = explainer.explain(x), explainer.explain(x)
    for field in ("rgb", "components", "activation"):
        assert torch.equal(getattr(first, field), getattr(again, field))
    order = torch.tensor([3, 0, 4, 2, 1])
    shuffled = explainer.explain(x[order])
    for field in ("rgb", "components", "activation"):
        torch.testing.assert_close(getattr(shuffled, field), getattr(first, field)[order], rtol=1e-9, atol=1e-9)


# --- the paper's checks (Sec. 3.2) -------------------------------------------------------------------------


def test_randomised_model_gives_a_different_visualisation():
    """Parameter randomisation (Adebayo et al.; the paper's Fig. 3): the trained demo CNN-2 against the
    same architecture freshly initialised, on 8 test subtomograms.  The mean |difference| of the two rgb
    maps is ~0.11-0.18 for several initialisations (in [0, 1] units; 0.5 would be complementary colours),
    while 5% input noise moves the trained model's map by ~3e-4: 0.05 (13 of 255 grey levels on average
    over every voxel and channel) separates 'visibly different' from 'the same' by more than 100x."""
    from cam_widgets.zoo import DEMOS, load_demo
    from cam_widgets.zoo.train import demo_data

    spec = DEMOS["cnn2_snr_inf"]
    x, _ = demo_data(spec, "test", 8)
    trained = PFVExplainer(load_demo(spec.name)).explain(x)
    torch.manual_seed(0)
    randomised = PFVExplainer(spec.build().eval()).explain(x)
    noise = 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    noisy = PFVExplainer(load_demo(spec.name)).explain(x + noise)
    assert trained.rgb.dtype == torch.float32 and trained.layer == "maxpool2" and trained.weight_layers == ("maxpool1",)
    distance = float((trained.rgb - randomised.rgb).abs().mean())
    assert distance > 0.05
    assert float((trained.rgb - noisy.rgb).abs().mean()) < 0.05 / 10


def test_batch_composition_changes_the_colours_of_the_same_image():
    """Sec. 3.2: the components are those of the batch, so one image's colours depend on its companions."""
    model, x = pooled_cnn(2, 16), batch(2, 16, n=6)
    explainer = PFVExplainer(model)
    in_first = explainer.explain(x[:3]).rgb[0]
    in_second = explainer.explain(torch.cat([x[:1], x[3:]])).rgb[0]
    alone = explainer.explain(x[:1]).rgb[0]
    assert float((in_first - in_second).abs().mean()) > 0.05
    assert float((in_first - alone).abs().mean()) > 0.05
    assert torch.equal(explainer.explain(x[:3]).rgb[0], in_first)


# --- capture: module inputs by pre-hooks ---------------------------------------------------------------------


@pytest.mark.parametrize("ndim", [2, 3])
def test_in_place_relu_model_equals_out_of_place(ndim):
    side = 16 if ndim == 2 else 8
    x = batch(ndim, side)
    a = PFVExplainer(pooled_cnn(ndim, side, inplace=True)).explain(x, hierarchical=True)
    b = PFVExplainer(pooled_cnn(ndim, side, inplace=False)).explain(x, hierarchical=True)
    torch.testing.assert_close(a.rgb, b.rgb, rtol=0, atol=0)


def test_pre_hook_keeps_the_input_before_an_in_place_op():
    model = pooled_cnn(2, 16, inplace=True)
    x = batch(2, 16)
    _, captured = run_and_capture(model, x, {"1": model[1], "2": model[2]}, differentiable=False, inputs={"1"})
    with torch.no_grad():
        conv_output = model[0](x)
    assert torch.equal(captured["1"], conv_output) and bool((conv_output < 0).any())  # not overwritten by the ReLU
    assert torch.equal(captured["2"], torch.max_pool2d(torch.relu(conv_output), 2))
    assert list(captured) == ["1", "2"]


# --- hygiene and errors -------------------------------------------------------------------------------------------


def snapshot(model: nn.Module):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
    )


def assert_untouched(model: nn.Module, before) -> None:
    state, modes, flags = before
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert torch.is_grad_enabled()


def test_model_untouched_after_a_call_and_after_errors():
    model = pooled_cnn(2, 16)
    model.append(nn.BatchNorm1d(3).double().eval())  # buffers that a train-mode forward would change
    before = snapshot(model)
    explainer = PFVExplainer(model)
    calls = []
    handle = model.register_forward_pre_hook(lambda *_: calls.append(1))
    result = explainer.explain(batch(2, 16), hierarchical=True)
    handle.remove()
    assert len(calls) == 1 and not result.rgb.requires_grad and not result.components.requires_grad
    assert_untouched(model, before)
    with pytest.raises(RuntimeError):  # fails inside the forward, after the hooks are registered
        explainer.explain(torch.randn(2, 3, 16, 16, dtype=torch.float64))
    assert_untouched(model, before)
    with pytest.raises(ValueError, match="channels"):  # fails after the forward
        explainer.explain(batch(2, 16), components=(9,))
    assert_untouched(model, before)


def test_errors_say_what_is_wrong_and_what_is_accepted():
    model, x = pooled_cnn(2, 16), batch(2, 16)
    model[4].train()
    with pytest.raises(RuntimeError, match=r"train mode \(4\).*model\.eval\(\)"):
        PFVExplainer(model).explain(x)
    assert model[4].training
    model.eval()
    no_pools = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU())
    no_pools = no_pools.double().eval()
    with pytest.raises(ValueError, match=r"no max-pool layers.*pass layers=\[\.\.\.\].*e\.g\. layers=\['0', '1', "):
        PFVExplainer(no_pools)
    assert PFVExplainer(no_pools, layers=["1", "3"]).explain(x).rgb.shape == (4, 3, 16, 16)
    with pytest.raises(KeyError, match=r"unknown layer 'relu'.*Valid layer names: 0, 1, 2"):
        PFVExplainer(model, layers=["relu"])
    with pytest.raises(ValueError, match=r"'4' is not one of this explainer's layers \(2, 5, 8\)"):
        PFVExplainer(model).explain(x, layer="4")
    with pytest.raises(ValueError, match=r"gives 4 positions for this batch \(B=1 x spatial \(2, 2\)\).*at most 3"):
        PFVExplainer(pooled_cnn(2, 8)).explain(batch(2, 8, n=1), n_components=4)  # 2x2 at the last pool input
    with pytest.raises(ValueError, match=r"has 8 channels.*component 9 does not exist"):
        PFVExplainer(model).explain(x, components=(1, 9))
    with pytest.raises(ValueError, match="counted from 1"):
        PFVExplainer(model).explain(x, components=(0, 1, 2))
    with pytest.raises(ValueError, match="n_components=2 but 3 components"):
        PFVExplainer(model).explain(x, components=(1, 2, 3), n_components=2)
    with pytest.raises(ValueError, match=r"not a feature map.*before the flatten"):
        PFVExplainer(model, layers=["7", "9"]).explain(x)
    with pytest.raises(ValueError, match=r"x must be a batch \(B, C, H, W\).*unsqueeze"):
        PFVExplainer(model).explain(x[0])


def test_a_pooling_module_shared_by_two_stages_asks_for_explicit_layers():
    class SharedPool(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            return self.pool(torch.relu(self.conv2(self.pool(torch.relu(self.conv1(x))))))

    model = SharedPool().double().eval()
    with pytest.raises(RuntimeError, match=r"'pool'.*more than once.*pass layers=\[\.\.\.\]"):
        PFVExplainer(model).explain(batch(2, 16))
    assert all(not m._forward_pre_hooks for m in model.modules())
    assert PFVExplainer(model, layers=["conv1", "conv2"]).explain(batch(2, 16)).layer == "conv2"


def test_a_larger_batch_gives_stabler_colours():
    """docs/pfv.md: adding one image changes the colours of a large batch much less than those of a
    small one. Trained demo CNN-2, five batches each (starting at samples 0, 5, 10, 30, 60): the mean
    |change| of the first four images' rgb is ~0.03 at B=4 and ~0.001 at B=128 (single batches vary
    from 3x to 150x; the average over five is ~30x)."""
    from cam_widgets.zoo import DEMOS, load_demo
    from cam_widgets.zoo.train import demo_data

    x, _ = demo_data(DEMOS["cnn2_snr_inf"], "test", 200)
    explainer = PFVExplainer(load_demo("cnn2_snr_inf"))

    def change_when_one_is_added(b: int) -> float:
        changes = [(explainer.explain(x[s:s + b]).rgb[:4] - explainer.explain(x[s:s + b + 1]).rgb[:4]).abs().mean()
                   for s in (0, 5, 10, 30, 60)]
        return float(sum(changes) / len(changes))

    small, large = change_when_one_is_added(4), change_when_one_is_added(128)
    assert large < small / 5, (small, large)


@pytest.mark.parametrize("hierarchical", [False, True])
@pytest.mark.parametrize("ndim,side", [(2, 16), (3, 8)])
def test_chunked_forward_passes_give_the_whole_batch_result(ndim, side, hierarchical):
    """batch_size only bounds memory: 7 samples in chunks of 3 (three forward passes) decompose the
    whole batch, as one pass does and as the NumPy implementation does."""
    model, x = pooled_cnn(ndim, side), batch(ndim, side, n=7)
    calls = []
    handle = model[0].register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    try:
        chunked = PFVExplainer(model).explain(x, batch_size=3, hierarchical=hierarchical)
        assert calls == [3, 3, 1]
        whole = PFVExplainer(model).explain(x, batch_size=None, hierarchical=hierarchical)
    finally:
        handle.remove()
    for field in ("rgb", "components", "activation", "explained_variance_ratio"):
        torch.testing.assert_close(getattr(chunked, field), getattr(whole, field), rtol=1e-9, atol=1e-9)
    assert_matches(chunked, reference_pfv(pool_inputs(model, x), x.shape[2:], hierarchical=hierarchical))


def test_batch_size_must_be_a_positive_int():
    model, x = pooled_cnn(2, 16), batch(2, 16)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            PFVExplainer(model).explain(x, batch_size=bad)


@pytest.mark.parametrize("shape", [(7, 4, 5, 5), (3, 40, 2, 2)])   # P >= K (chunked route) and P < K
def test_decomposition_leaves_float64_features_untouched_and_chunks_agree(shape):
    features = torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    before = features.clone()
    whole = principal_components(features, (1, 2, 3))
    for step in (1, 2, 3):
        torch.testing.assert_close(principal_components(features, (1, 2, 3), batch_size=step), whole,
                                   rtol=1e-10, atol=1e-10)
    assert torch.equal(features, before)
