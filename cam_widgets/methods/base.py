"""What every CAM method is: a name, its paper, whether it ends in a ReLU, and ``compute(probe)``.

``compute`` returns the raw map ``(T, B, *S)`` before the final ReLU and the channel weights
``(T, B, K)`` (or None), ``T`` the probe's targets (1, or one per class). A method reads the model only
through the ``Probe`` it is given (``cam_widgets.probe``), so each one reads like its paper's equation.
This module imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from torch import Tensor, nn

from .gradient import weighted_sum


class Probe(Protocol):
    """The interface a method sees (implemented by ``cam_widgets.probe.Probe``)."""

    @property
    def activations(self) -> Tensor: ...

    @property
    def input(self) -> Tensor: ...

    @property
    def scores(self) -> Tensor: ...

    def gradients(self) -> Tensor: ...

    def upsample(self, maps: Tensor) -> Tensor: ...

    def scores_above(self, make: Callable[[Tensor], Tensor], count: int, batch_size: int, what: str) -> Tensor: ...

    def scores_of_inputs(self, make: Callable[[Tensor], Tensor], count: int, batch_size: int, what: str) -> Tensor: ...

    def above(self) -> AbstractContextManager[nn.Module]: ...

    def reporter(self, total: int, what: str) -> Callable[[int | None], None]: ...

    def input_and_bias_gradients(self) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]: ...


class CAMMethod:
    """Base of the method objects. ``kind``: "gradient" (a function of ``A`` and ``g``), "activation" (of ``A``
    alone: Eigen-CAM), "perturbation" (more forward passes), or "input-gradient" (FullGrad: every bias and the
    input, not one layer)."""

    name: str = ""
    paper: str = ""
    label: str = ""
    final_relu: bool = True
    kind: str = "gradient"
    class_agnostic: bool = False
    segmentation: bool = True
    runs_above_layer: bool = False
    """Whether it runs the network from the layer up (``Probe.scores_above`` / ``above``): the explainer then
    records the part below the layer in the same forward pass as the session's."""

    def compute(self, probe: Probe) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class GradientMethod(CAMMethod):
    """A method that is a pure function of ``(A, g)``: its raw map and its channel weights, if any."""

    raw: Callable[[Tensor, Tensor], Tensor]
    weights: Callable[[Tensor, Tensor], Tensor] | None
    name: str
    label: str
    paper: str
    final_relu: bool = True
    segmentation: bool = True

    def raw_and_weights(self, activations: Tensor, gradients: Tensor) -> tuple[Tensor, Tensor | None]:
        """The raw map and, for weighted methods, the channel weights it was made of (computed once)."""
        if self.weights is None:
            return self.raw(activations, gradients), None
        weights = self.weights(activations, gradients)
        return weighted_sum(weights, activations), weights

    def compute(self, probe: Probe) -> tuple[Tensor, Tensor | None]:
        return self.raw_and_weights(probe.activations, probe.gradients())


def positive_int(value: object, what: str) -> int:
    """``value`` as an int >= 1, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an int >= 1, got {value!r}")
    return value
