"""``bench/methods.py``'s peers: loading pytorch-grad-cam and torchcam where they import, keeping their progress
bars off the bench's output, the one patch the Score-CAM check applies to pytorch-grad-cam, and timing a
pytorch-grad-cam CAM object as its user runs it."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

if __package__:
    from .core import Case
    from .methods_section import Section
else:  # imported by bench/methods.py run as a script: bench/ is on sys.path
    from core import Case  # type: ignore[no-redef]
    from methods_section import Section  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent


def peers() -> dict[str, object]:
    """The peer libraries that import here (pytorch-grad-cam through ``tests/peers`` when no real
    torchvision loads; see ``tests/peers/__init__.py``), or why not."""
    found: dict[str, object] = {}
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from tests.peers import load_pytorch_grad_cam

        found["pgc"] = load_pytorch_grad_cam()
        import tests.peers as tp

        found["pgc_torchvision"] = tp.TORCHVISION
    except Exception as error:  # noqa: BLE001 - reported, the rows are skipped
        found["pgc_error"] = f"{type(error).__name__}: {error}"
    try:
        import torchcam.methods

        found["torchcam"] = torchcam.methods
    except Exception as error:  # noqa: BLE001
        found["torchcam_error"] = f"{type(error).__name__}: {error}"
    return found


@contextlib.contextmanager
def quiet():
    """The peers' tqdm bars go to a buffer, not the bench's output."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def pgc_masks_aligned_with_ours():
    """For the check only: pytorch-grad-cam's Score-CAM upsamples the masks with ``align_corners=False``."""

    class Upsample(nn.Module):
        def __init__(self, size):
            super().__init__()
            self.size = size

        def forward(self, t):
            return F.interpolate(t, size=self.size, mode="bilinear", align_corners=False)

    saved = nn.UpsamplingBilinear2d
    nn.UpsamplingBilinear2d = Upsample
    try:
        yield
    finally:
        nn.UpsamplingBilinear2d = saved


def add_pgc_case(section: Section, label: str, make_cam: Callable[[], object], x: Tensor, targets: list | None,
                 repeats: int) -> Case:
    """A timed row of pytorch-grad-cam's ``cam(x, targets)`` (its bars quieted): each repeat on a fresh
    ``make_cam()``, built before and released after, untimed."""
    state: dict = {}

    def setup() -> Callable[[], None]:
        state["cam"] = make_cam()
        return lambda: state.pop("cam").activations_and_grads.release()

    def run() -> object:
        with quiet():
            return state["cam"](x, targets)

    return section.add(label, run, repeats, "peer", setup)
