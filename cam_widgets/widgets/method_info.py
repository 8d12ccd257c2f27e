"""What the widgets' method selects show: each method's name as its paper writes it, the paper, and
whether it applies to the widget's target. One table, read by both widgets (``method_info`` trait) and
by the static picture's titles, so the browser and the PNG never name a method differently.

Labels follow the papers: "Grad-CAM", "Score-CAM", "LIFT-CAM", ... and, where the target is a pixel set
(the picker; the viewer on a segmentation model), the "Seg-" names of the Seg-Grad-CAM / Seg-HiRes-Grad-CAM
papers: "Seg-Grad-CAM", "Seg-HiRes-Grad-CAM", "Seg-Score-CAM", ... Eigen-CAM keeps its name there (it is
class-agnostic: the pixel set does not change it). ``xrescam`` is Seg-XRes-CAM in both (that paper's own
name; its window pooling is defined for any target)."""

from __future__ import annotations

LABELS: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "hirescam": "HiResCAM",
    "xgradcam": "XGrad-CAM",
    "layercam": "LayerCAM",
    "respondcam": "Respond-CAM",
    "cam": "CAM",
    "scorecam": "Score-CAM",
    "ablationcam": "Ablation-CAM",
    "eigencam": "Eigen-CAM",
    "eigengradcam": "Eigen-Grad-CAM",
    "fullgrad": "FullGrad",
    "liftcam": "LIFT-CAM",
    "xrescam": "Seg-XRes-CAM",
}
"""The papers' names (classification column of the Seg-HiRes-Grad-CAM paper's Table 1), for methods
whose object carries no ``label``."""

SEG_LABELS: dict[str, str] = {"hirescam": "Seg-HiRes-Grad-CAM", "xrescam": "Seg-XRes-CAM", "eigencam": "Eigen-CAM"}
"""Segmentation names that are not "Seg-" + the classification name."""

LAYER_FREE: dict[str, str] = {"fullgrad": "all biases"}
"""Methods whose map comes from no single layer: titles show this text where the layer would be."""

CAM_FOR_PIXEL_SETS = ("n/a for pixel sets: CAM needs the class score of a global-average-pooling + linear head "
                      "(use Seg-Grad-CAM)")


def method_label(name: str, segmentation: bool = False) -> str:
    """``"Score-CAM"`` (the method object's ``label``, else ``LABELS``), or for pixel-set targets
    ``"Seg-Score-CAM"``; a method with no label is named by its name."""
    from ..methods import METHODS

    label = getattr(METHODS.get(name), "label", "") or LABELS.get(name, name)
    if not segmentation or label == name:
        return label
    return SEG_LABELS.get(name, label if label.startswith("Seg-") else f"Seg-{label}")


def layer_text(name: str, layer: str) -> str:
    """What a title shows as the layer of a map of method ``name`` explained at ``layer``."""
    return LAYER_FREE.get(name, layer)


def unavailable(name: str, segmentation: bool) -> str:
    """Why method ``name`` does not apply to the widget's targets ('' when it does)."""
    from ..methods import get_method

    method = get_method(name)
    if segmentation and not getattr(method, "segmentation", True):
        return CAM_FOR_PIXEL_SETS if name == "cam" else f"n/a for pixel sets ({name})"
    return ""


def method_info(segmentation: bool) -> dict[str, dict]:
    """The ``method_info`` trait: for every method of ``METHODS``, in its order, ``label`` (as above),
    ``paper``, ``kind`` ("gradient", "activation", "perturbation", "input-gradient"), ``layer`` (what titles show instead
    of the layer, '' = the layer), ``class_agnostic`` and ``unavailable`` (why it does not apply, '' = it
    does). The ``methods`` trait lists the names that apply."""
    from ..methods import METHODS

    info = {}
    for name, method in METHODS.items():
        why = unavailable(name, segmentation)
        info[name] = {
            "label": method_label(name, segmentation and not why),  # "CAM", not "Seg-CAM", for the n/a one
            "paper": str(getattr(method, "paper", "")),
            "kind": str(getattr(method, "kind", "gradient")),
            "layer": LAYER_FREE.get(name, ""),
            "class_agnostic": bool(getattr(method, "class_agnostic", False)),
            "unavailable": why,
        }
    return info
