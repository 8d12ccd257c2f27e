"""``CAMExplainer``: one forward pass per input, gradients to the captured layers, any method.

    explainer = CAMExplainer(model, layers=["features.8"])
    result = explainer.explain(x, target=3, method="respondcam")   # x: (B, C, *spatial)

The forward pass is cached (a *session*), so changing the target, method or layer reuses it. A
session is reused only while the input holds the same values (compared exactly with a copy) and
the weights are unchanged (identity, ``_version`` and a fingerprint of every value, so writes
through ``.data`` count too: ``fingerprint``). Gradients come from ``torch.autograd.grad`` w.r.t.
the captured activations only (never ``.backward()``, never parameter gradients), with autograd
switched on for the call, so ``explain`` works under ``torch.no_grad()`` and
``torch.inference_mode()``.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import Tensor, nn

from .above import LowerPart, recording
from .capture import run_and_capture
from .checks import check_batch, on_model_device, require_eval_mode, require_finite
from .fingerprint import InputSnapshot, WeightsFingerprint, model_tensors
from .layers import LayerSpec, conv_ndim, forward_module, find_deepest_spatial_layer, require_spatial, resolve_layers
from .methods import CAMMethod, get_method
from .probe import Probe, Progress
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

    input: InputSnapshot
    weights: WeightsFingerprint
    output: Tensor
    activations: dict[str, Tensor]
    hidden: dict[str, str]
    lower_parts: dict[str, LowerPart] = field(default_factory=dict)
    gradients: OrderedDict[Hashable, tuple[Tensor, dict[str, Tensor | None]]] = field(default_factory=OrderedDict)


class CAMExplainer:
    """Class activation maps for any PyTorch CNN, 2D or 3D, classifier or segmentation network.

    ``layers``: names from ``model.named_modules()`` or module objects; ``None`` picks the deepest
    layer whose output still has spatial dims.  ``output``: for models that return a dict or tuple,
    the key, index or callable that selects the scores tensor (e.g. ``"out"``).  ``check_weights``:
    fingerprint every parameter and buffer on each call, so a cached forward pass never outlives a
    change of the weights' values (one read of them: 2-4% of a forward pass at batch 8 and 5-14% at
    batch 1 on two CPU cores, ``bench/fingerprint.py``);
    ``False`` notices only changes that autograd sees (replaced tensors, in-place ops outside
    ``.data``), for users who never write weights through ``.data``.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[LayerSpec] | None = None,
        output: OutputSelector = None,
        all_class_memory: int = DEFAULT_ALL_CLASS_MEMORY,
        check_weights: bool = True,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.output = output
        self.all_class_memory = all_class_memory
        self.check_weights = bool(check_weights)
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
        self, x: Tensor, target: Classes | Target | None = None, method: str | CAMMethod = "gradcam",
        layer: LayerSpec | None = None, progress: Progress = True,
    ) -> CAMResult:
        """Explain ``y = target(model(x))`` at ``layer`` with ``method``; ``x`` is a batch ``(B, C, *spatial)``.

        ``target``: ``None`` (each sample's predicted class), an int, one int per sample (a list,
        NumPy array or tensor), ``ClassScore(c)``, ``PixelSet(c, mask)`` or any callable ``outputs -> (B,)``.
        ``method``: a name from ``METHODS`` or a method object (``ScoreCAM(batch_size=64)``).
        ``progress``: for the methods that run extra forward passes, ``True`` shows a text bar for runs
        over 2 s, ``False`` nothing, a callable is called as ``progress(done, total)`` after each pass
        (it may raise to stop the run).
        """
        cam_method = get_method(method)
        with autograd_enabled():
            session, name = self._prepare(x, layer, cam_method.runs_above_layer)
            target_fn = as_target(target, session.output)
            probe = Probe(self, session, name, target_fn, progress)
            raw, weights = cam_method.compute(probe)
            scores = probe.scores[0]
        return self._result(cam_method, raw[0], None if weights is None else weights[0], scores, name, x,
                            repr(target_fn))

    def explain_all_classes(
        self, x: Tensor, method: str | CAMMethod = "gradcam", layer: LayerSpec | None = None, progress: Progress = True,
    ) -> CAMResult:
        """Explain every class's logit at once: ``raw`` ``(C, B, *layer_spatial)``, ``scores`` ``(B, C)``.

        One forward pass (cached) and batched gradient calls with one cotangent per class (in chunks
        under ``all_class_memory`` bytes); perturbation methods score all classes from the same passes.
        """
        cam_method = get_method(method)
        with autograd_enabled():
            session, name = self._prepare(x, layer, cam_method.runs_above_layer)
            logits = session.output
            if logits.ndim != 2:
                raise ValueError(
                    f"explain_all_classes needs class scores (B, C), the output has shape {tuple(logits.shape)}; "
                    "for segmentation explain one PixelSet at a time"
                )
            raw, weights = cam_method.compute(Probe(self, session, name, None, progress))
        return self._result(cam_method, raw, weights, logits.detach(), name, x, "all classes")

    def predict(self, x: Tensor) -> Tensor:
        """The model's (selected) output for ``x``, from the cached forward pass when there is one."""
        with autograd_enabled():
            session, _ = self._prepare(x, None)
        return session.output.detach()

    def clear(self) -> None:
        """Drop the cached forward pass and gradients (frees their memory)."""
        self._session = None

    # --- sessions ------------------------------------------------------------------------------

    def _prepare(self, x: Tensor, layer: LayerSpec | None, record_lower: bool = False) -> tuple[_Session, str]:
        """The session for ``x`` (a new forward pass unless the cached one holds) and the layer's name;
        ``record_lower``: a new forward also records the part below the layer (``above.LowerPart``)."""
        require_eval_mode(self.model)
        x = check_batch(self.model, x, self._conv_ndim)
        if not self._modules:
            default = find_deepest_spatial_layer(self.model, on_model_device(self.model, x))
            self._modules = resolve_layers(self.model, [default])
        modules = dict(self._modules)
        if layer is None:
            name = next(iter(modules))
        else:
            (name, module), = resolve_layers(self.model, [layer]).items()
            modules.setdefault(name, module)  # captured on demand, kept only if the forward succeeds
        session, weights = self._session, self._weights()  # one fingerprint per call, also when a forward follows
        if session is None or not self._session_matches(session, x, weights) or name not in session.activations:
            session = self._forward(x, modules, name, weights, record_lower)
            self._session, self._modules = session, modules
        elif session.activations[name].ndim != x.ndim:  # a layer captured with another one, e.g. a head
            require_spatial(self.model, on_model_device(self.model, x), name, session.activations[name], modules[name])
        return session, name

    @staticmethod
    def _session_matches(session: _Session, x: Tensor, weights: WeightsFingerprint) -> bool:
        return session.weights == weights and session.input.matches(x)

    def _forward(self, x: Tensor, modules: dict[str, nn.Module], name: str, weights: WeightsFingerprint,
                 record_lower: bool) -> _Session:
        require_finite(x, "CAM")
        self._session = None  # free the old graph before building a new one
        device_x = on_model_device(self.model, x)
        hidden: dict[str, str] = {}
        record = (recording(forward_module(self.model), device_x.detach(), modules[name], name) if record_lower
                  else contextlib.nullcontext())
        try:
            with record as lower:
                raw_output, activations = run_and_capture(self.model, device_x, modules, differentiable=True,
                                                          hidden=hidden)
        except RuntimeError as error:
            if "Inference tensors cannot be saved for backward" in str(error):
                raise RuntimeError(_INFERENCE_TENSORS) from error
            raise
        lower_parts = {} if lower is None else {name: lower}
        require_spatial(self.model, device_x, name, activations[name], modules[name])
        output = self._select_output(raw_output)
        if not bool(torch.isfinite(output.detach()).all()):
            raise ValueError(
                f"the model's output for this input contains NaN or inf (dtype {output.dtype}); every map of it would be "
                "NaN: check the input's scale, or run a float16 / bfloat16 model in float32 (model.float(), x.float())"
            )
        return _Session(InputSnapshot(x), weights, output, activations, hidden, lower_parts)

    def _weights(self) -> WeightsFingerprint:
        return WeightsFingerprint(model_tensors(self.model), check_values=self.check_weights)

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
        if not y.is_floating_point():
            raise TypeError(f"a target must return floating scores (B,) computed from the output, got dtype {y.dtype} "
                            "(an argmax or a count cannot be differentiated: explain a logit or a sum of logits)")
        if not y.requires_grad and session.output.requires_grad:
            raise ValueError("the target's value does not depend on the model's output through autograd: did it call "
                             ".detach(), .item(), .numpy() or build a new tensor? Compute it with torch operations on "
                             "the output it is given")
        if not y.requires_grad:
            raise ValueError(_not_on_path(
                f"the explained output does not depend on any captured layer ({', '.join(names)})", session, names))
        tracked = [n for n in names if session.activations[n].requires_grad]  # others ran where autograd was off
        with _reentrant_checkpoint_explained():
            grads = torch.autograd.grad(
                y, [session.activations[n] for n in tracked], grad_outputs=torch.ones_like(y),
                retain_graph=True, allow_unused=True,
            )
        by_name = dict(zip(tracked, grads))
        result = (y.detach(), {n: by_name.get(n) for n in names})
        if key is not None:
            session.gradients[key] = result
            while len(session.gradients) > GRADIENT_CACHE_SIZE:
                session.gradients.popitem(last=False)
        return result

    def _layer_gradients(self, session: _Session, name: str, target_fn: Target | None) -> Tensor:
        """``dy/dA`` at layer ``name``: ``(B, K, *S)`` for one target, ``(C, B, K, *S)`` for every class."""
        if target_fn is None:
            return self._all_class_gradients(session.output, session.activations[name], name, session)
        _, gradients = self._gradients(session, target_fn)
        if gradients[name] is None:
            raise ValueError(_not_on_path(f"the explained output does not depend on layer {name!r}", session, [name]))
        return gradients[name]

    def _all_class_gradients(self, logits: Tensor, activation: Tensor, name: str, session: _Session) -> Tensor:
        """``(C, B, K, *S)``: the gradient of each class's logit, from batched cotangents
        ``e_c`` (``is_grads_batched``), ``chunk`` classes per call."""
        n_classes = logits.shape[1]
        chunk = max(1, min(n_classes, self.all_class_memory // max(1, activation.numel() * activation.element_size())))
        if not (logits.requires_grad and activation.requires_grad):
            raise ValueError(_not_on_path(f"the model's output does not depend on layer {name!r}", session, [name]))
        eye = torch.eye(n_classes, dtype=logits.dtype, device=logits.device)
        pieces = []
        for start in range(0, n_classes, chunk):
            cotangents = eye[start:start + chunk, None, :].expand(-1, logits.shape[0], -1)
            with _reentrant_checkpoint_explained():
                (grad,) = torch.autograd.grad(
                    logits, activation, grad_outputs=cotangents, retain_graph=True, allow_unused=True,
                    is_grads_batched=True,
                )
            if grad is None:
                raise ValueError(_not_on_path(f"the model's output does not depend on layer {name!r}", session, [name]))
            pieces.append(grad)
        return torch.cat(pieces) if len(pieces) > 1 else pieces[0]

    # --- checks and results ------------------------------------------------------------------------

    def _result(self, method: CAMMethod, raw: Tensor, weights: Tensor | None, scores: Tensor, layer: str, x: Tensor,
                target: str) -> CAMResult:
        return CAMResult(raw=raw, scores=scores, weights=weights, layer=FULLGRAD_LAYER if method.kind == "input-gradient"
                         else layer, method=method.name, signed=not method.final_relu, target=target,
                         input_size=tuple(x.shape[2:]))


FULLGRAD_LAYER = "all biases"
"""The ``layer`` of a FullGrad result, which uses every bias module and the input, not one layer."""

_INFERENCE_TENSORS = (
    "the model's parameters or buffers are inference tensors (created or loaded inside torch.inference_mode()), "
    "and autograd cannot differentiate through them, so no CAM can be computed: create or load the model outside "
    "inference mode (torch.no_grad() is fine), or clone its tensors once outside it, e.g. "
    "model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})"
)


@contextlib.contextmanager
def autograd_enabled() -> Iterator[None]:
    """Autograd on for one call, whatever the caller's mode: a CAM needs gradients even when
    evaluation code runs under ``torch.no_grad()`` or ``torch.inference_mode()``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextlib.contextmanager
def _reentrant_checkpoint_explained() -> Iterator[None]:
    """torch refuses ``autograd.grad`` through a reentrant checkpoint above the layer: say what to do."""
    try:
        yield
    except RuntimeError as error:
        if "use_reentrant=True" not in str(error):
            raise
        raise ValueError(
            "the model runs part of its forward in torch.utils.checkpoint(..., use_reentrant=True) above the explained "
            "layer, and reentrant checkpointing cannot be differentiated with torch.autograd.grad, which CAMs need: "
            "use use_reentrant=False (or turn gradient checkpointing off while explaining)"
        ) from error


def _not_on_path(message: str, session: _Session, names: Iterable[str]) -> str:
    """The error for a layer the target does not depend on, with the reason autograd could not see
    it when the capture found one (reentrant checkpointing, a custom Function, a no_grad block)."""
    reasons = [f"layer {n!r}: {session.hidden[n]}" for n in names if n in session.hidden]
    if reasons:
        return f"{message}, because autograd cannot see it: " + "; ".join(reasons)
    return f"{message}: choose a layer on its path"


def _as_list(layers: Iterable[LayerSpec] | LayerSpec) -> list[LayerSpec]:
    return [layers] if isinstance(layers, (str, nn.Module)) else list(layers)
