"""``CAMExplainer``: one forward pass per input, gradients to the captured layers, any method.

    explainer = CAMExplainer(model, layers=["features.8"])
    result = explainer.explain(x, target=3, method="respondcam")   # x: (B, C, *spatial)

The forward pass is cached (a *session*, keyed by the input tensor and the model's weights), so
changing the target, method or layer reuses it; gradients come from ``torch.autograd.grad``
w.r.t. the captured activations only (never ``.backward()``, never parameter gradients).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import Tensor, nn

from .checks import check_batch, require_eval_mode, require_finite
from .capture import LayerSpec, conv_ndim, find_deepest_spatial_layer, resolve_layers, run_and_capture
from .methods import Method, get_method
from .resample import upsample
from .targets import Classes, Target, as_target

OutputSelector = str | int | Callable[[object], Tensor] | None

GRADIENT_CACHE_SIZE = 4
DEFAULT_ALL_CLASS_MEMORY = 512 * 2**20


@dataclass
class CAMResult:
    """One explanation.

    ``raw``: ``(B, *layer_spatial)`` map at layer resolution before the method's final ReLU
    (``(C, B, ...)`` from ``explain_all_classes``); ``map``: after the final ReLU (none for
    Respond-CAM) and upsampled to the input's spatial size, not normalised (computed on first
    access); ``scores``: the explained scalars ``(B,)`` (``(B, C)`` logits for all classes);
    ``weights``: channel weights ``(..., B, K)`` where the method has them; ``layer``: the module's name.
    """

    raw: Tensor
    scores: Tensor
    weights: Tensor | None
    layer: str
    method: str
    signed: bool
    target: str
    input_size: tuple[int, ...]

    @cached_property
    def map(self) -> Tensor:
        shown = self.raw if self.signed else torch.relu(self.raw)
        return upsample(shown, self.input_size)


@dataclass
class _Session:
    """The cached forward pass for one input."""

    input: Tensor
    input_version: int
    weights_key: tuple
    output: Tensor
    activations: dict[str, Tensor]
    gradients: OrderedDict[Hashable, tuple[Tensor, dict[str, Tensor | None]]] = field(default_factory=OrderedDict)


class CAMExplainer:
    """Class activation maps for any PyTorch CNN, 2D or 3D, classifier or segmentation network.

    ``layers``: names from ``model.named_modules()`` or module objects; ``None`` picks the deepest
    layer whose output still has spatial dims.  ``output``: for models that return a dict or tuple,
    the key, index or callable that selects the scores tensor (e.g. ``"out"``).
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[LayerSpec] | None = None,
        output: OutputSelector = None,
        all_class_memory: int = DEFAULT_ALL_CLASS_MEMORY,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.output = output
        self.all_class_memory = all_class_memory
        self._modules: dict[str, nn.Module] = {} if layers is None else resolve_layers(model, _as_list(layers))
        self._conv_ndim = conv_ndim(model)
        self._session: _Session | None = None

    @property
    def spatial_ndim(self) -> int | None:
        """1, 2 or 3: the dimensionality of the model's first convolution (None without one)."""
        return self._conv_ndim

    @property
    def layers(self) -> list[str]:
        """The captured layers' names (empty until the default is found on the first input)."""
        return list(self._modules)

    # --- public API ---------------------------------------------------------------------------

    def explain(
        self, x: Tensor, target: Classes | Target | None = None, method: str = "gradcam", layer: LayerSpec | None = None
    ) -> CAMResult:
        """Explain ``y = target(model(x))`` at ``layer`` with ``method``; ``x`` is a batch ``(B, C, *spatial)``.

        ``target``: ``None`` (each sample's predicted class), an int, one int per sample,
        ``ClassScore(c)``, ``PixelSet(c, mask)`` or any callable ``outputs -> (B,)``.
        """
        cam_method = get_method(method)
        session, name = self._prepare(x, layer)
        target_fn = as_target(target, session.output)
        scores, gradients = self._gradients(session, target_fn)
        if gradients[name] is None:
            raise ValueError(f"the explained output does not depend on layer {name!r}: choose a layer on its path")
        activations = session.activations[name].detach()
        return self._result(cam_method, activations, gradients[name], scores, name, x, repr(target_fn))

    def explain_all_classes(self, x: Tensor, method: str = "gradcam", layer: LayerSpec | None = None) -> CAMResult:
        """Explain every class's logit at once: ``raw`` ``(C, B, *layer_spatial)``, ``scores`` ``(B, C)``.

        One forward pass (cached) and batched gradient calls with one cotangent per class; the
        classes go in chunks sized so that the gradients stay under ``all_class_memory`` bytes.
        """
        cam_method = get_method(method)
        session, name = self._prepare(x, layer)
        logits = session.output
        if logits.ndim != 2:
            raise ValueError(
                f"explain_all_classes needs class scores (B, C), the output has shape {tuple(logits.shape)}; "
                "for segmentation explain one PixelSet at a time"
            )
        activation = session.activations[name]
        gradients = self._all_class_gradients(logits, activation, name)
        return self._result(cam_method, activation.detach(), gradients, logits.detach(), name, x, "all classes")

    def predict(self, x: Tensor) -> Tensor:
        """The model's (selected) output for ``x``, from the cached forward pass when there is one."""
        session, _ = self._prepare(x, None)
        return session.output.detach()

    def clear(self) -> None:
        """Drop the cached forward pass and gradients (frees their memory)."""
        self._session = None

    # --- sessions ------------------------------------------------------------------------------

    def _prepare(self, x: Tensor, layer: LayerSpec | None) -> tuple[_Session, str]:
        require_eval_mode(self.model)
        x = check_batch(self.model, x, self._conv_ndim)
        if not self._modules:
            self._modules = resolve_layers(self.model, [find_deepest_spatial_layer(self.model, x)])
        modules = dict(self._modules)
        if layer is None:
            name = next(iter(modules))
        else:
            (name, module), = resolve_layers(self.model, [layer]).items()
            modules.setdefault(name, module)  # captured on demand, kept only if the forward succeeds
        session = self._session
        if session is None or not self._session_matches(session, x) or name not in session.activations:
            session = self._forward(x, modules)
            self._session, self._modules = session, modules
        return session, name

    def _session_matches(self, session: _Session, x: Tensor) -> bool:
        return (
            session.input is x
            and session.input_version == x._version
            and session.weights_key == self._weights_key()
        )

    def _forward(self, x: Tensor, modules: dict[str, nn.Module]) -> _Session:
        require_finite(x, "CAM")
        self._session = None  # free the old graph before building a new one
        device_x = x.to(self._device()) if self._device() is not None else x
        raw_output, activations = run_and_capture(self.model, device_x, modules, differentiable=True)
        output = self._select_output(raw_output)
        return _Session(x, x._version, self._weights_key(), output, activations)

    def _weights_key(self) -> tuple:
        tensors = itertools.chain(self.model.parameters(), self.model.buffers())
        return tuple((t.data_ptr(), t._version) for t in tensors)

    def _device(self) -> torch.device | None:
        first = next(itertools.chain(self.model.parameters(), self.model.buffers()), None)
        return None if first is None else first.device

    def _select_output(self, raw_output: object) -> Tensor:
        selector = self.output
        if selector is None:
            selected = raw_output
        elif callable(selector):
            selected = selector(raw_output)
        else:
            try:
                selected = raw_output[selector]
            except (KeyError, IndexError, TypeError) as error:
                raise ValueError(f"output selector {selector!r} does not apply to the model's output "
                                 f"({type(raw_output).__name__}): {error}") from None
        if not isinstance(selected, Tensor):
            raise TypeError(
                f"the model returns {type(selected).__name__}, not a tensor; pass output=<key, index or callable> "
                "to CAMExplainer to select the scores (e.g. output='out' for torchvision segmentation models)"
            )
        return selected

    # --- gradients -------------------------------------------------------------------------------

    def _gradients(self, session: _Session, target_fn: Target) -> tuple[Tensor, dict[str, Tensor | None]]:
        """``y`` and ``dy/dA`` for every captured layer from one ``autograd.grad`` call, cached per target."""
        key = target_fn.cache_key() if hasattr(target_fn, "cache_key") else None
        if key is not None and key in session.gradients:
            session.gradients.move_to_end(key)
            return session.gradients[key]
        y = target_fn(session.output)
        batch = session.output.shape[0]
        if not isinstance(y, Tensor) or y.shape != (batch,):
            shape = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise ValueError(f"a target must return one scalar per sample, shape ({batch},); got {shape}")
        names = list(session.activations)
        if not y.requires_grad:
            raise ValueError(f"the explained output does not depend on any captured layer ({', '.join(names)})")
        grads = torch.autograd.grad(
            y, [session.activations[n] for n in names], grad_outputs=torch.ones_like(y),
            retain_graph=True, allow_unused=True,
        )
        result = (y.detach(), dict(zip(names, grads)))
        if key is not None:
            session.gradients[key] = result
            while len(session.gradients) > GRADIENT_CACHE_SIZE:
                session.gradients.popitem(last=False)
        return result

    def _all_class_gradients(self, logits: Tensor, activation: Tensor, name: str) -> Tensor:
        """``(C, B, K, *S)``: the gradient of each class's logit, from batched cotangents
        ``e_c`` (``is_grads_batched``), ``chunk`` classes per call."""
        n_classes = logits.shape[1]
        chunk = max(1, min(n_classes, self.all_class_memory // max(1, activation.numel() * activation.element_size())))
        eye = torch.eye(n_classes, dtype=logits.dtype, device=logits.device)
        pieces = []
        for start in range(0, n_classes, chunk):
            cotangents = eye[start:start + chunk, None, :].expand(-1, logits.shape[0], -1)
            (grad,) = torch.autograd.grad(
                logits, activation, grad_outputs=cotangents, retain_graph=True, allow_unused=True,
                is_grads_batched=True,
            )
            if grad is None:
                raise ValueError(f"the model's output does not depend on layer {name!r}: choose a layer on its path")
            pieces.append(grad)
        return torch.cat(pieces) if len(pieces) > 1 else pieces[0]

    # --- checks and results ------------------------------------------------------------------------

    def _result(
        self, method: Method, activations: Tensor, gradients: Tensor, scores: Tensor, layer: str, x: Tensor, target: str
    ) -> CAMResult:
        raw, weights = method.raw_and_weights(activations, gradients)
        return CAMResult(raw=raw, scores=scores, weights=weights, layer=layer, method=method.name,
                         signed=not method.final_relu, target=target, input_size=tuple(x.shape[2:]))


def _as_list(layers: Iterable[LayerSpec] | LayerSpec) -> list[LayerSpec]:
    return [layers] if isinstance(layers, (str, nn.Module)) else list(layers)
