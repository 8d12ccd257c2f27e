"""CAM methods: every method of the Seg-HiRes-Grad-CAM paper's Table 1 and a registry of their names.

Gradient methods are pure functions of ``(A, g)`` (``gradient``, ``xres``, ``eigen``); Score-CAM,
Ablation-CAM and LIFT-CAM need more forward passes and FullGrad every bias, which they get through a
``Probe`` (``base``). Options go through method objects: ``ScoreCAM(batch_size=64)``,
``XResCAM(pool=3, mode="mean")``; a name gives the defaults. Any method explains any target: a class
score, a ``PixelSet`` (Seg-Score-CAM, Seg-Ablation-CAM, ... with no special code) or a callable.
This package imports nothing else from cam_widgets.
"""

from __future__ import annotations

from .base import CAMMethod, GradientMethod, Probe
from .eigen import EigenCAM, EigenGradCAM, eigencam, eigengradcam
from .fullgrad import FullGrad
from .gradient import (
    RESPOND_CAM_EPS,
    cam,
    cam_weights,
    gradcam,
    gradcam_plus_plus,
    gradcam_plus_plus_weights,
    gradcam_weights,
    hirescam,
    layercam,
    respond_weights,
    respondcam,
    weighted_sum,
    xgradcam,
)
from .liftcam import LiftCAM
from .perturbation import AblationCAM, ScoreCAM
from .xres import XResCAM, pooled_gradients, xrescam

Method = CAMMethod

METHODS: dict[str, CAMMethod] = {
    m.name: m
    for m in (
        GradientMethod(gradcam, gradcam_weights, "gradcam", "Grad-CAM", "Selvaraju et al. 2017"),
        GradientMethod(gradcam_plus_plus, gradcam_plus_plus_weights, "gradcam++", "Grad-CAM++",
                       "Chattopadhyay et al. 2018"),
        GradientMethod(hirescam, None, "hirescam", "HiResCAM", "Draelos and Carin 2021"),
        GradientMethod(xgradcam, respond_weights, "xgradcam", "XGrad-CAM", "Fu et al. 2020"),
        GradientMethod(layercam, None, "layercam", "LayerCAM", "Jiang et al. 2021"),
        GradientMethod(respondcam, respond_weights, "respondcam", "Respond-CAM", "Zhao et al. 2018", final_relu=False),
        GradientMethod(cam, cam_weights, "cam", "CAM", "Zhou et al. 2016", segmentation=False),
        ScoreCAM(),
        AblationCAM(),
        EigenCAM(),
        EigenGradCAM(),
        FullGrad(),
        LiftCAM(),
        XResCAM(),
    )
}
"""Every method by name, with its default options."""

ALIASES: dict[str, str] = {
    "gradcampp": "gradcam++",
    "gradcamplusplus": "gradcam++",
    "segcam": "gradcam",
    "seghiresgradcam": "hirescam",
    "segxrescam": "xrescam",
}
"""Names that are not ``METHODS`` keys (after lower-casing and dropping ``-``, ``_`` and spaces);
besides these, "seg" + a method's name is that method ("Seg-Score-CAM" is ``scorecam``)."""

def _key(name: str) -> str:
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    key = ALIASES.get(key, key)
    if key not in METHODS and key.startswith("seg") and ALIASES.get(key[3:], key[3:]) in METHODS:
        key = ALIASES.get(key[3:], key[3:])
    return key


def get_method(method: str | CAMMethod) -> CAMMethod:
    """A method object from a name (case- and punctuation-insensitive: "Grad-CAM++", "seg-xres-cam") or
    a method object itself (``ScoreCAM(batch_size=64)``)."""
    if isinstance(method, CAMMethod):
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a name (str) or a method object such as ScoreCAM(batch_size=64), got "
                        f"{type(method).__name__}; valid names: {', '.join(sorted(METHODS))}")
    key = _key(method)
    if key not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; valid methods: {', '.join(sorted(METHODS))} (aliases: "
                         f"{', '.join(sorted(ALIASES))}, and 'seg' + a method's name)")
    return METHODS[key]


__all__ = [
    "ALIASES", "METHODS", "RESPOND_CAM_EPS", "AblationCAM", "CAMMethod", "EigenCAM", "EigenGradCAM", "FullGrad",
    "GradientMethod", "LiftCAM", "Method", "Probe", "ScoreCAM", "XResCAM", "cam", "cam_weights", "eigencam",
    "eigengradcam", "get_method", "gradcam", "gradcam_plus_plus", "gradcam_plus_plus_weights", "gradcam_weights",
    "hirescam", "layercam", "pooled_gradients", "respond_weights", "respondcam", "weighted_sum", "xgradcam",
    "xrescam",
]
