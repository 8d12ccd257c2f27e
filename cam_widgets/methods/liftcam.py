"""LIFT-CAM (Jung and Oh 2021): channel weights from DeepLIFT through the network above the layer.

``C_k = sum over positions of the DeepLIFT (Rescale) contributions of A_k`` to ``y``, with the
reference activations ``A' = 0``; ``L = ReLU(sum_k C_k A_k)``. The contributions come from Captum's
``DeepLift`` on the module that maps the layer's activations to ``y`` (as the LIFT-CAM authors' code
does), with its rules for the nonlinearity modules it knows (ReLU, max-pooling, sigmoid, ...);
nonlinearities called as functions inside ``forward`` (``F.relu``) are invisible to it and pass plain
gradients. A parameter-free module applied more than once above the layer (one ``self.relu`` for both ReLUs of
a ResNet block) gets a copy per call for the attribution (``Probe.above``), since DeepLift keeps one state per
module. This module imports nothing from the package.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .base import CAMMethod, Probe
from .gradient import weighted_sum


def deeplift_contributions(probe: Probe) -> Tensor:
    """``C`` ``(T, B, K)``: each channel's summed DeepLIFT contribution to each target, reference 0."""
    try:
        from captum.attr import DeepLift
    except ImportError as error:
        raise ImportError("liftcam needs Captum's DeepLift: pip install captum") from error
    a = probe.activations
    targets = probe.scores.shape[0]
    report = probe.reporter(targets, "LIFT-CAM")
    contributions = []
    try:
        with probe.above() as above, warnings.catch_warnings(), _attributes_removed_after(above):
            warnings.filterwarnings("ignore", message=".*hooks.*", category=UserWarning)
            for target in range(targets):
                contributions.append(_summed_attribution(DeepLift(above), a, target))
                report(1)
    finally:
        report(None)
    return torch.stack(contributions)


def _summed_attribution(deeplift: object, a: Tensor, target: int) -> Tensor:
    """``(B, K)``: DeepLIFT's attributions of ``A`` for one target, reference 0, summed over the positions."""
    try:
        attribution = deeplift.attribute(a.clone().requires_grad_(True), baselines=torch.zeros_like(a), target=target)
    except RuntimeError as error:
        if "does not contain some of the input/output attributes" not in str(error):
            raise
        raise ValueError(
            "liftcam: Captum's DeepLift needs each nonlinearity module above the layer to run once per forward, "
            f"and this model uses one more than once ({str(error).split(' was detected')[0].removeprefix('A ')}"
            ", e.g. one activation module applied twice in a block): give each use its own module, choose a "
            "layer above every such use, or use method='ablationcam', which needs no rule per module"
        ) from error
    return attribution.detach().sum(tuple(range(2, a.ndim)))


@contextlib.contextmanager
def _attributes_removed_after(model: nn.Module) -> Iterator[None]:
    """Captum's DeepLift stores ``input`` / ``output`` on each nonlinearity module and deletes them in its
    backward hooks, which never run for modules below the layer: remove whatever it left."""
    before = {id(m): set(m.__dict__) for m in model.modules()}
    try:
        yield
    finally:
        for module in model.modules():
            for name in set(module.__dict__) - before.get(id(module), set(module.__dict__)):
                delattr(module, name)


class LiftCAM(CAMMethod):
    """LIFT-CAM: ``L = ReLU(sum_k C_k A_k)`` with DeepLIFT's channel contributions ``C_k``."""

    name = "liftcam"
    label = "LIFT-CAM"
    paper = "Jung and Oh 2021"
    kind = "perturbation"
    runs_above_layer = True

    def compute(self, probe: Probe) -> tuple[Tensor, Tensor]:
        weights = deeplift_contributions(probe).to(probe.activations.dtype)
        return weighted_sum(weights, probe.activations), weights
