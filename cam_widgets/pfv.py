"""Principal Feature Visualisation (Bakken et al. 2020, "Principal Feature Visualisation in
Convolutional Neural Networks", ECCV workshops; reference code github.com/SINTEF/PFV).

    pfv = PFVExplainer(model)                     # default: the inputs of the max-pools
    res = pfv.explain(batch)                      # forward passes only, no gradients
    res.rgb                                       # (B, 3, *input_spatial) in [0, 1]

For a batch of ``B`` images and the layers ``l = 1 .. N`` (in the order they run):

    A_l^b(i, j) = sum_c F_l(b, c, i, j)                               (Eq. 1)
    A^b         = sum_{l=1}^{N-1} P(A_l^b; input size)                (Eq. 2)
    F'          = F_N as (B*H*W positions) x (K channels), minus its mean over the positions (Eq. 3)
    F'          = U S V^T,   F_PCA = U S = [d_1 ... d_r]               (Eq. 4, 5)
    D_N         = [d_1 d_2 d_3], reshaped to (B, 3, H, W)             (Eq. 6)
    V^b         = normalise(A^b o P(D_N^b; input size))               (Eq. 7)

``P`` is bilinear (2D) / trilinear (3D) upsampling with ``align_corners=False`` and
``normalise`` is the reference code's: one z-score over the whole ``(B, 3, ...)`` result,
clipped to +-1 sigma, min-max scaled to ``[0, 1]``, so colours are comparable across the batch
(and depend on it: the components are those of this batch).

Choices where the paper is silent or loose (each documented where it is made):

- layers: the inputs of the max-pools by default (Sec. 3.2); A^b sums only the layers before
  the decomposed one (Eq. 2's ``l = 1 .. N-1``), never the decomposed layer itself;
  with no earlier layer A^b = 1 (``unweighted``);
- F' is positions x channels (the text writes the transpose), centred over all B*H*W positions;
- the decomposition goes through the smaller Gram matrix, ``F'^T F'`` or ``F' F'^T``
  (``principal_components``), and the forward passes through chunks of the batch;
- components get a deterministic sign (``orient``);
- ``hierarchical=True`` is the reference code's variant, which the paper does not describe
  (``hierarchical_weighting``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor, nn

from .capture import run_and_capture
from .checks import check_batch, on_model_device, require_eval_mode, require_finite
from .layers import LayerSpec, conv_ndim, resolve_layers
from .resample import upsample

N_SIGMA = 1.0
DEFAULT_BATCH_SIZE = 32
"""Samples per forward pass in ``PFVExplainer.explain``."""
POOLING_TYPES = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)


@dataclass
class PFVResult:
    """One PFV of a batch.

    ``rgb``: ``(B, n, *input_spatial)`` in ``[0, 1]``, V^b of Eq. 7 (n = 3 components -> R, G, B);
    ``components``: ``(B, n, *layer_spatial)`` the chosen principal components ``d_k`` (columns of
    U S) before upsampling, sign-fixed (see ``orient``); ``activation``: ``(B, *input_spatial)``
    the weight A^b of Eq. 2 (hierarchical: the product of the weights, see ``hierarchical_weighting``);
    ``explained_variance_ratio``: ``(K,)`` ``s_k^2 / sum_j s_j^2`` for every component, descending
    (component k at index k - 1); ``component_numbers``: which components (numbered from 1) are
    in ``rgb``'s channels; ``layer``: the decomposed layer; ``weight_layers``: the layers whose
    activations make A^b.  Layer names are those of ``model.named_modules()`` (with the default
    layers: the names of the pooling modules whose *input* is taken).
    """

    rgb: Tensor
    components: Tensor
    activation: Tensor
    explained_variance_ratio: Tensor
    component_numbers: tuple[int, ...]
    layer: str
    weight_layers: tuple[str, ...]
    hierarchical: bool
    input_size: tuple[int, ...]

    @cached_property
    def unweighted(self) -> Tensor:
        """``normalise(P(D_N^b))``: the visualisation without the activation weighting (the
        paper's Fig. 2, middle), ``(B, n, *input_spatial)`` in ``[0, 1]``."""
        return normalise(upsample(self.components.double(), self.input_size)).to(self.rgb.dtype)


class PFVExplainer:
    """Principal Feature Visualisation of a batch with any PyTorch CNN, 2D or 3D.

    ``layers=None``: the *inputs* of the model's max-pool modules (``MaxPool1d/2d/3d`` and
    ``AdaptiveMaxPool*``), as in the paper's VGG example (Sec. 3.2: "the intermediate activation
    maps were extracted before each max pool layer, and F_N before the last max pool layer") and
    the reference code (forward hooks on ``MaxPool2d`` that keep ``input[0]``).  Average pools are
    left out: the input of an input-side ``AvgPool`` (the Respond-CAM CNN-2) is the image itself.
    ``layers=[...]``: names from ``model.named_modules()`` or modules; their *outputs* are taken.
    Either way the layer that runs last is decomposed and the ones before it make A^b.
    """

    def __init__(self, model: nn.Module, layers: Iterable[LayerSpec] | LayerSpec | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self._conv_ndim = conv_ndim(model)
        if layers is None:
            self._modules = pooling_modules(model)
            self._inputs = frozenset(self._modules)
            if not self._modules:
                raise ValueError(
                    f"{type(model).__name__} has no max-pool layers, so PFV has no default layers: pass layers=[...] "
                    "(names from model.named_modules() or modules; their outputs are taken, the one that runs last "
                    f"is decomposed, the earlier ones weight it){_layer_hint(model)}"
                )
        else:
            listed = [layers] if isinstance(layers, (str, nn.Module)) else list(layers)
            self._modules = resolve_layers(model, listed)
            self._inputs = frozenset()

    @property
    def layers(self) -> list[str]:
        """The captured layers' names (with the default: the pooling modules whose input is taken)."""
        return list(self._modules)

    def takes_input(self, layer: str) -> bool:
        """Whether PFV takes the *input* of module ``layer`` (the default layers: the pooling modules) rather
        than its output (explicit ``layers=[...]``)."""
        return layer in self._inputs

    @torch.no_grad()
    def explain(
        self,
        x: Tensor,
        *,
        layer: LayerSpec | None = None,
        components: Sequence[int] | None = None,
        n_components: int | None = None,
        hierarchical: bool = False,
        batch_size: int | None = DEFAULT_BATCH_SIZE,
    ) -> PFVResult:
        """PFV of the batch ``x`` ``(B, C, *spatial)``: forward passes only, under ``torch.no_grad``.

        ``layer``: the layer to decompose, one of ``layers`` (default: the one that runs last);
        A^b sums the layers that run before it.  ``components``: which principal components
        (numbered from 1) go to the channels of ``rgb``, e.g. ``(2, 3, 4)``; default the first
        ``n_components`` (default 3).  ``hierarchical``: the reference code's variant
        (``hierarchical_weighting``) instead of Eq. 2 and 7's single weighting.
        ``batch_size``: samples per forward pass (``None``: all at once).  The decomposition is
        always of the whole batch; chunking only bounds the memory: one chunk's activations, the
        earlier layers' channel sums (Eq. 1) and the decomposed layer's features are kept.
        """
        numbers = component_numbers(components, n_components)
        if batch_size is not None and not is_positive_int(batch_size):
            raise ValueError(f"batch_size must be a positive int (samples per forward pass) or None, got {batch_size!r}")
        require_eval_mode(self.model)
        x = self._check_input(x)
        step = batch_size or len(x)
        name, earlier, maps, last = self._reduced_features(x, layer, step)
        size = tuple(x.shape[2:])
        d, ratio = principal_components(last, numbers, name, step)                  # Eq. 3-6
        weighted, weight = weight_components(d, maps, size, hierarchical)           # Eq. 2, A^b o P(D)
        dtype = last.dtype
        return PFVResult(
            rgb=normalise(weighted).to(dtype), components=d.to(dtype), activation=weight.to(dtype),  # Eq. 7
            explained_variance_ratio=ratio, component_numbers=numbers, layer=name,
            weight_layers=earlier, hierarchical=hierarchical, input_size=size,
        )

    def _reduced_features(
        self, x: Tensor, layer: LayerSpec | None, batch_size: int
    ) -> tuple[str, tuple[str, ...], list[Tensor], Tensor]:
        """Forward passes over chunks of ``batch_size`` samples, keeping what PFV needs: the
        decomposed layer's name, the earlier layers' names, their activation maps ``A_l^b``
        (Eq. 1, float64) and the decomposed layer's features, each for the whole batch."""
        chunks_of_maps, chunks_of_last = [], []
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size]
            features = self._capture(chunk)
            name = self._decomposed(layer, features)
            names = list(features)
            earlier = tuple(names[: names.index(name)])
            for n in (*earlier, name):
                _check_feature_map(n, features[n], chunk)
            chunks_of_maps.append([activation_map(features[n]) for n in earlier])   # Eq. 1
            chunks_of_last.append(features[name])
            del features
        maps = [torch.cat([chunk[k] for chunk in chunks_of_maps]) for k in range(len(earlier))]
        return name, earlier, maps, torch.cat(chunks_of_last)

    # --- capture and checks -----------------------------------------------------------------------

    def _capture(self, x: Tensor) -> dict[str, Tensor]:
        """The captured layers' outputs (default: the pooling modules' inputs), in the order they ran."""
        try:
            _, features = run_and_capture(self.model, x, self._modules, differentiable=False, inputs=self._inputs)
        except RuntimeError as error:
            if self._inputs and "more than once" in str(error):
                raise RuntimeError(
                    f"{error}. PFV's default layers are the inputs of the max-pool modules, and a pooling module "
                    "shared by several stages has one input per call: pass layers=[...] naming the layer before "
                    f"each pooling call{_layer_hint(self.model)}"
                ) from None
            raise
        return features

    def _decomposed(self, layer: LayerSpec | None, features: dict[str, Tensor]) -> str:
        if layer is None:
            return list(features)[-1]
        (name, _), = resolve_layers(self.model, [layer]).items()
        if name not in features:
            raise ValueError(
                f"layer {name!r} is not one of this explainer's layers ({', '.join(features)}); decompose one of "
                "them, or create PFVExplainer(model, layers=[...]) with it"
            )
        return name

    def _check_input(self, x: Tensor) -> Tensor:
        x = check_batch(self.model, x, self._conv_ndim)
        require_finite(x, "PFV")
        return on_model_device(self.model, x)


def pooling_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The default layers: ``{name: module}`` of every max-pool module, in registration order."""
    return {name: m for name, m in model.named_modules() if name and isinstance(m, POOLING_TYPES)}


def component_numbers(components: Sequence[int] | None, n_components: int | None) -> tuple[int, ...]:
    """The chosen components, numbered from 1: ``components``, or ``1 .. n_components`` (default 3)."""
    if components is None:
        n = 3 if n_components is None else n_components
        if not is_positive_int(n):
            raise ValueError(f"n_components must be a positive int, got {n_components!r}")
        return tuple(range(1, n + 1))
    numbers = tuple(components)
    if not numbers or not all(is_positive_int(k) for k in numbers):
        raise ValueError(
            f"components are principal component numbers counted from 1, e.g. (1, 2, 3); got {components!r}"
        )
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"components must be distinct, got {numbers}")
    if n_components is not None and n_components != len(numbers):
        raise ValueError(
            f"n_components={n_components} but {len(numbers)} components {numbers} were chosen; give one of them"
        )
    return numbers


def is_positive_int(value: object) -> bool:
    """An ``int`` of at least 1 (``bool`` is not accepted, though Python makes it an ``int``)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


# --- the method, equation by equation ------------------------------------------------------------


def activation_map(features: Tensor) -> Tensor:
    """Eq. 1: ``A_l^b = sum_c F_l(b, c, ...)``, ``(B, K, *S) -> (B, *S)``."""
    return features.to(torch.float64).sum(1)


def total_activation(maps: Sequence[Tensor], size: Sequence[int]) -> Tensor:
    """Eq. 2: ``A^b = sum_{l=1}^{N-1} P(A_l^b; input size)``, ``(B, *size)`` in float64, from the
    activation maps ``A_l^b`` of Eq. 1.

    Only the layers *before* the decomposed layer N enter, as in Eq. 2 (``l = 1 .. N-1``) and
    the reference code (``embeddings[:idx_layer]``): the decomposed layer's own activation does
    not weight its components.
    """
    return sum(upsample(a, size) for a in maps)


def unweighted(d: Tensor, size: Sequence[int]) -> Tensor:
    """A^b for a decomposed layer with no earlier layer: Eq. 2's sum is then empty, and we use
    ones (no weighting; the hierarchical variant's empty product) rather than zeros, which would
    make every V^b constant."""
    return torch.ones(d.shape[0], *size, dtype=torch.float64, device=d.device)


def feature_matrix(features: Tensor) -> Tensor:
    """``(B, K, *S) -> (B * prod(S), K)`` in float64, a new tensor: one row per position of the
    batch, one column per channel.  (Sec. 3.1 writes the transpose, ``n_c x (n_B n_x n_y)``, but
    Eq. 5-6 need one row of U S per position to reshape D_N to ``n_B x 3 x n_x x n_y``, and the
    reference code has positions x channels.)"""
    moved = features.movedim(1, -1)
    matrix = torch.empty(moved.shape, dtype=torch.float64, device=features.device)
    return matrix.copy_(moved).view(-1, features.shape[1])


def principal_components(
    features: Tensor, numbers: Sequence[int], name: str = "the layer", batch_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Eq. 3-6: the components ``d_k`` (``k`` in ``numbers``, from 1) of the layer's features
    ``(B, K, *S)`` as maps ``(B, n, *S)``, and the explained variance ratio of all K components.

    In float64, through the smaller of the two Gram matrices of the centred ``F'`` (P x K,
    P = B * prod(S)), never the P x K SVD itself:

        F' = U S V^T  =>  F'^T F' = V S^2 V^T  (K x K, when P >= K):  U S = F' V,
                          F' F'^T = U S^2 U^T  (P x P, when P < K):   U S = U diag(s),

    so the work is one eigendecomposition of a min(P, K)-sized matrix.  When P >= K the features
    are visited in their own (B, K, positions) layout, ``batch_size`` samples at a time (the mean,
    then ``F'^T F'``, then ``(F' V)^T``), so the float64 copies are of one chunk.
    Explained variance ratio: ``s_k^2 / sum_j s_j^2`` (components beyond the rank have
    ``s_k = 0``).  Signs are fixed by ``orient``.
    """
    batch, channels = features.shape[:2]
    positions = batch * features[0, 0].numel()
    highest = max(numbers)
    if highest > channels:
        raise ValueError(f"layer {name!r} has {channels} channels, so it has {channels} principal components; "
                         f"component {highest} does not exist: choose components from 1 to {channels}")
    if highest > positions - 1:
        raise ValueError(
            f"layer {name!r} gives {positions} positions for this batch (B={batch} x spatial "
            f"{tuple(features.shape[2:])}), fewer than needed for component {highest}: centred, {positions} "
            f"positions span at most {positions - 1} components; use a larger batch, an earlier layer or fewer "
            "components"
        )
    chosen = [k - 1 for k in numbers]
    if positions >= channels:
        step = batch_size or batch
        chunks = [features[i:i + step].flatten(2) for i in range(0, batch, step)]      # (b, K, prod(S))
        mean = sum(f.double().sum((0, 2)) for f in chunks)[:, None] / positions
        gram = torch.zeros(channels, channels, dtype=torch.float64, device=features.device)
        for f in chunks:
            for sample in centred_copy(f, mean):                                        # Eq. 3: F'
                gram.addmm_(sample, sample.T)                                           # F'^T F'
        squared, v = descending_eigh(gram)                                              # s_k^2, v_k
        loadings = v[:, chosen]
        d = torch.cat([loadings.T @ centred_copy(f, mean) for f in chunks])            # Eq. 4-6: (U S)^T
    else:
        centred = feature_matrix(features)
        centred -= centred.mean(0)                                                      # Eq. 3
        squared, u = descending_eigh(centred @ centred.T)                               # s_k^2, u_k
        s = squared[chosen].sqrt()
        loadings = (centred.T @ u[:, chosen]) / torch.where(s > 0, s, 1.0)
        d = (u[:, chosen] * s).reshape(batch, -1, len(numbers)).transpose(1, 2)         # Eq. 4-6: U S
        squared = torch.cat([squared, squared.new_zeros(channels - positions)])
    total = squared.sum()
    ratio = squared / total if total > 0 else torch.zeros_like(squared)
    return orient(d, loadings).reshape(batch, len(numbers), *features.shape[2:]), ratio


def centred_copy(features: Tensor, mean: Tensor) -> Tensor:
    """``features - mean`` in a new float64 tensor (never in place on the caller's features)."""
    return features.to(torch.float64, copy=True).sub_(mean)


def descending_eigh(gram: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (clamped at 0: a Gram matrix has none below) and eigenvectors of a symmetric
    matrix, largest first."""
    values, vectors = torch.linalg.eigh(gram)
    return values.flip(0).clamp_min(0), vectors.flip(1)


def orient(d: Tensor, loadings: Tensor) -> Tensor:
    """The sign convention (the paper has none; SVD/eigensolvers return either sign).

    ``d``: the components as maps ``(B, n, ...)``, component ``k`` along dimension 1; ``loadings``:
    their ``v_k`` as columns ``(K, n)``.  Each component ``d_k`` is multiplied by the sign of its
    third moment ``sum_p d_k[p]^3`` over every position of the batch: its long tail (the few
    positions where the feature is strong) points to positive values, so they are bright in its
    colour before normalisation.  This depends only on the component's values, so it does not
    change when the batch is reordered or the channels are mixed by any orthogonal map.  Where the
    third moment is exactly 0 (a symmetric or zero component), the loading ``v_k`` is oriented
    instead: its entry of largest magnitude, the first channel among equals, is made positive.
    """
    sign = torch.sign((d**3).transpose(0, 1).flatten(1).sum(1))
    strongest = loadings.abs().argmax(0)   # first index among equals
    fallback = torch.sign(loadings.gather(0, strongest[None])[0])
    sign = torch.where(sign != 0, sign, torch.where(fallback != 0, fallback, 1.0))
    return d * sign.reshape(1, -1, *[1] * (d.dim() - 2))


def weight_components(
    d: Tensor, maps: Sequence[Tensor], size: Sequence[int], hierarchical: bool
) -> tuple[Tensor, Tensor]:
    """The components weighted by the earlier layers' activation maps ``A_l^b`` (Eq. 1) at the
    input's size, and the weight: ``(A^b o P(D_N^b), A^b)`` of Eq. 2 and 7, or with
    ``hierarchical`` the reference code's variant and the same weighting applied to a map of ones."""
    if hierarchical:
        weight = hierarchical_weighting(torch.ones_like(d[:, :1]), maps, size)[:, 0]
        return hierarchical_weighting(d, maps, size), weight
    weight = total_activation(maps, size) if maps else unweighted(d, size)
    return weight[:, None] * upsample(d, size), weight


def hierarchical_weighting(d: Tensor, maps: Sequence[Tensor], size: Sequence[int]) -> Tensor:
    """The reference code's ``hierarchical=True`` variant (used in its demo; the paper's text
    gives only Eq. 2 and 7): from the decomposed layer back to the first, upsample to each earlier
    layer's size and weight by that layer's activation map divided by its maximum over the batch,

        W_{N-1} = P(D_N; S_{N-1}) o A_{N-1} / max|A_{N-1}|,  W_{l} = P(W_{l+1}; S_l) o A_l / max|A_l|,

    then ``P(W_1; input size)`` (a no-op where layer 1 is at the input's size, as VGG's first
    pool input).  ``maps``: the ``A_l^b`` of Eq. 1 in forward order.  The division (the
    reference divides by the max, the same for rectified activations) only scales the result by a
    positive constant, which the z-score of ``normalise`` removes; an all-zero map is left as is.
    """
    weighted = d.to(torch.float64)
    for a in reversed(maps):
        peak = a.abs().max()
        a = a / peak if peak > 0 else a
        weighted = upsample(weighted, a.shape[1:]) * a[:, None]
    return upsample(weighted, size)


def normalise(v: Tensor, n_sigma: float = N_SIGMA) -> Tensor:
    """Eq. 7's ``normalise``, as the reference code: ``z = (v - mean) / std`` over the whole batch
    and all channels (population std), clipped to ``[-n_sigma, n_sigma]``, then min-max to ``[0, 1]``.
    A constant ``v`` gives zeros rather than NaN."""
    std = v.std(correction=0)
    if not std > 0:
        return torch.zeros_like(v)
    z = ((v - v.mean()) / std).clamp(-n_sigma, n_sigma)
    low, high = z.min(), z.max()
    return (z - low) / (high - low) if high > low else torch.zeros_like(v)


# --- checks ---------------------------------------------------------------------------------------


def _check_feature_map(name: str, features: Tensor, x: Tensor) -> None:
    if features.ndim != x.ndim or features.shape[0] != x.shape[0]:
        raise ValueError(
            f"layer {name!r} gives shape {tuple(features.shape)}, not a feature map (B={x.shape[0]}, C, "
            f"{len(x.shape) - 2} spatial dims) like the input; PFV needs convolutional layers: choose layers "
            "before the flatten / dense part"
        )


def _layer_hint(model: nn.Module) -> str:
    candidates = [n for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.modules.conv._ConvNd))]
    return f", e.g. layers={candidates[:4]!r}" if candidates else ""
