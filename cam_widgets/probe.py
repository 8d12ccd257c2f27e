"""``Probe``: what a CAM method may ask of the model, for one input, layer and target (or all classes).

Methods (``cam_widgets.methods``) are small functions of a probe and know nothing of hooks:

* ``activations``, ``gradients()``: ``A`` and ``dy/dA`` at the layer (gradients computed on first use);
* ``scores``: the explained targets on the unmodified input, ``(T, B)`` (``T = 1``, or one per class);
* ``scores_above(make, count)``: the targets for ``count`` modified activations, forwards of the part above
  the layer only (``above.LowerPart``); ``scores_of_inputs(make, count)``: the targets of the softmax of
  the output for ``count`` modified inputs (full forwards); both batched, ``batch_size`` rows per pass;
* ``above()``: the network above the layer as a module ``A -> (R, T)`` (for Captum's DeepLift);
* ``reporter(total, what)``: progress for a method's own loop (what ``scores_*`` use);
* ``input_and_bias_gradients()``: FullGrad's ``x * dy/dx`` and ``(bias, dy/dz)`` of every bias module.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .above import LowerPart, one_module_per_call
from .capture import run_and_capture
from .checks import on_model_device
from .layers import call_model, forward_module
from .resample import upsample

if TYPE_CHECKING:
    from .explainer import CAMExplainer, _Session

Progress = bool | Callable[[int, int], None] | None
PROGRESS_DELAY_S = 2.0
"""A text progress bar (``progress=True``) appears only for runs longer than this."""
LOW_PRECISION = (torch.float16, torch.bfloat16)
_CONV = nn.modules.conv._ConvNd
_BATCH_NORM = nn.modules.batchnorm._BatchNorm


class Probe:
    """The model seen from one layer, for one target (``target=None``: every class's logit)."""

    def __init__(self, explainer: CAMExplainer, session: _Session, layer: str,
                 target: Callable[[Tensor], Tensor] | None, progress: Progress = True):
        self._explainer, self._session, self.layer, self._target, self._progress = (
            explainer, session, layer, target, progress)
        self._activations = session.activations[layer].detach()

    # --- the unmodified input -------------------------------------------------------------------

    @property
    def activations(self) -> Tensor:
        """``A`` ``(B, K, *S)`` (float32 for a float16 / bfloat16 model, so sums and eps hold)."""
        return _float(self._activations)

    @property
    def input(self) -> Tensor:
        """``x`` ``(B, C, *spatial)`` on the model's device."""
        return on_model_device(self._explainer.model, self._session.input.copy)

    @property
    def scores(self) -> Tensor:
        """``(T, B)``: the explained targets on the unmodified input."""
        return self._targets(self._session.output.detach())

    def gradients(self) -> Tensor:
        """``dy/dA`` ``(T, B, K, *S)``, from the explainer's (cached) gradient calls."""
        g = self._explainer._layer_gradients(self._session, self.layer, self._target)
        return _float(g if self._target is None else g[None])

    def upsample(self, maps: Tensor) -> Tensor:
        """``(..., *S) -> (..., *input_spatial)``, bilinear / trilinear, ``align_corners=False``."""
        return upsample(maps, self._session.input.copy.shape[2:])

    # --- perturbations --------------------------------------------------------------------------

    def scores_above(self, make: Callable[[Tensor], Tensor], count: int, batch_size: int, what: str) -> Tensor:
        """``(count, T, B)``: the targets with the layer's output replaced by ``make(indices)``, an
        ``(m, B, K, *S)`` batch of ``m`` modified activations (``indices``: which of the ``count``)."""
        lower = self._lower_part()
        dtype = self._activations.dtype
        return self._batched(make, count, batch_size, what,
                             lambda rows, groups: lower.run(rows.to(dtype), groups), softmax=False)

    def scores_of_inputs(self, make: Callable[[Tensor], Tensor], count: int, batch_size: int, what: str) -> Tensor:
        """``(count, T, B)``: the targets of ``softmax(model(x'), dim=1)`` for ``make(indices)``, an
        ``(m, B, C, *spatial)`` batch of ``m`` modified inputs (full forward passes)."""
        model = self._explainer.model
        return self._batched(make, count, batch_size, what, lambda rows, groups: call_model(model, rows), softmax=True)

    @contextlib.contextmanager
    def above(self) -> Iterator[nn.Module]:
        """While the block lasts: the network above the layer as a module, ``(R, K, *S)`` activations (row ``r``
        of sample ``r mod B``) to the ``(R, T)`` targets; differentiable, for attribution libraries, with each
        call of a parameter-free module that runs several times above the layer given its own module
        (``above.one_module_per_call``)."""
        lower = self._lower_part()
        with one_module_per_call(lower):
            yield _AboveLayer(self, lower)

    def _lower_part(self) -> LowerPart:
        parts = self._session.lower_parts
        if self.layer not in parts:
            module = dict(self._explainer.model.named_modules())[self.layer]
            parts[self.layer] = LowerPart.record(forward_module(self._explainer.model), self.input, module, self.layer)
        return parts[self.layer]

    def _targets(self, outputs: Tensor) -> Tensor:
        """``(B, ...)`` selected outputs of one group of the batch's samples -> ``(T, B)``."""
        if self._target is None:
            return outputs.transpose(0, 1)
        return self._target(outputs)[None]

    def _batched(self, make: Callable[[Tensor], Tensor], count: int, batch_size: int, what: str,
                 run: Callable[[Tensor, int], object], softmax: bool) -> Tensor:
        batch = self._session.output.shape[0]
        per_pass = max(1, math.ceil(batch_size / batch))
        report = self.reporter(count, what)
        pieces = []
        try:
            with torch.no_grad(), _out_of_memory_explained(what, per_pass * batch):
                for start in range(0, count, per_pass):
                    indices = torch.arange(start, min(count, start + per_pass), device=self._activations.device)
                    rows = make(indices)
                    output = self._explainer._select_output(run(rows.flatten(0, 1), len(indices)))
                    if softmax:
                        output = output.softmax(1)
                    pieces.extend(self._targets(group) for group in output.unflatten(0, (len(indices), batch)))
                    report(len(indices))
        finally:
            report(None)
        if not pieces:  # nothing to perturb (e.g. every channel constant)
            scores = self.scores
            return scores.new_zeros(0, *scores.shape)
        return torch.stack(pieces)

    def reporter(self, total: int, what: str) -> Callable[[int | None], None]:
        """Progress of ``total`` steps named ``what``, as the explain call's ``progress`` asks (``make_reporter``)."""
        return make_reporter(self._progress, total, what)

    # --- FullGrad -------------------------------------------------------------------------------

    def input_and_bias_gradients(self) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """``x * dy/dx`` ``(T, B, C, *spatial)`` and, for every convolution with a bias and every BatchNorm
        with affine weights and running statistics whose output has spatial dims, its effective bias
        ``(K,)`` with ``dy/dz`` ``(T, B, K, *S)`` at its output ``z`` (zero off ``y``'s path)."""
        model = self._explainer.model
        modules = {name: m for name, m in model.named_modules() if _effective_bias(m) is not None}
        x = self.input.detach().requires_grad_(True)
        raw_output, outputs = run_and_capture(model, x, modules, differentiable=True, from_input=True)
        outputs = {name: z for name, z in outputs.items() if z.ndim > 2}
        targets = self._targets(self._explainer._select_output(raw_output))
        wrt = [x, *outputs.values()]
        per_target = [torch.autograd.grad(y.sum(), wrt, retain_graph=True, allow_unused=True) for y in targets]
        stacked = [torch.stack([g[i] if g[i] is not None else torch.zeros_like(t) for g in per_target])
                   for i, t in enumerate(wrt)]
        biases = [_float(_effective_bias(modules[name]).detach()) for name in outputs]
        return _float(x.detach() * stacked[0]), [(b, _float(g)) for b, g in zip(biases, stacked[1:])]


def make_reporter(progress: Progress, total: int | None, what: str, unit: str = "pass") -> Callable[[int | None], None]:
    """Progress of ``total`` steps named ``what``: ``report(n)``, ``n`` more done; ``report(None)``, finished
    (closes a bar). ``progress``: ``True`` a text bar for runs over ``PROGRESS_DELAY_S``, ``False`` / ``None``
    nothing, a callable is called as ``progress(done, total)`` (it may raise to stop the run)."""
    if callable(progress):
        done = [0]

        def call(n: int | None) -> None:
            if n is not None:
                done[0] += n
                progress(done[0], total)

        return call
    if not progress:
        return lambda n: None
    bar = tqdm(total=total, desc=what, unit=unit, delay=PROGRESS_DELAY_S, leave=False)
    return lambda n: bar.close() if n is None else bar.update(n)


@contextlib.contextmanager
def _out_of_memory_explained(what: str, rows: int) -> Iterator[None]:
    """A pass that runs out of memory (CPU or GPU) says how many rows it had and how to have fewer."""
    try:
        yield
    except RuntimeError as error:  # torch.OutOfMemoryError is one too
        if "out of memory" not in str(error) and "can't allocate memory" not in str(error):
            raise
        raise MemoryError(
            f"{what}: a forward pass of {rows} rows (perturbations x the batch's samples) ran out of memory; give the "
            f"method fewer rows per pass, e.g. ScoreCAM(batch_size={max(1, rows // 4)}) or "
            f"AblationCAM(batch_size={max(1, rows // 4)}), or explain fewer samples at once"
        ) from error


def _float(t: Tensor) -> Tensor:
    """float32 for a float16 / bfloat16 tensor (the methods' sums and eps), others as they are."""
    return t.float() if t.dtype in LOW_PRECISION else t


def _effective_bias(module: nn.Module) -> Tensor | None:
    """A convolution's bias; a BatchNorm's ``b - mu * gamma / sqrt(var + eps)``; None for other modules."""
    if isinstance(module, _CONV) and not isinstance(module, nn.modules.conv._ConvTransposeNd):
        return module.bias
    if isinstance(module, _BATCH_NORM) and module.affine and module.running_mean is not None:
        return module.bias - module.running_mean * module.weight / torch.sqrt(module.running_var + module.eps)
    return None


class _AboveLayer(nn.Module):
    """``A -> (R, T)`` through the part of the model above the probe's layer (the model is a submodule,
    so an attribution library's hooks reach its nonlinearities)."""

    def __init__(self, probe: Probe, lower: LowerPart):
        super().__init__()
        self.model = lower.model
        self._probe, self._lower = probe, lower

    def forward(self, activations: Tensor) -> Tensor:
        batch = self._lower.x.shape[0]
        if activations.shape[0] % batch:
            raise ValueError(f"the rows ({activations.shape[0]}) must be whole groups of the batch's {batch} samples")
        rows = activations.to(self._probe._activations.dtype)
        groups = activations.shape[0] // batch
        output = self._probe._explainer._select_output(self._lower.run(rows, groups, leaves_require_grad=True))
        groups = [self._probe._targets(group) for group in output.unflatten(0, (-1, batch))]
        return torch.stack(groups).permute(0, 2, 1).flatten(0, 1)
