"""What the widgets' method selects show: each method's name as its paper writes it, the paper, and
whether it applies to the widget's target. One table, read by both widgets (``method_info`` trait) and
by the static picture's titles, so the browser and the PNG never name a method differently.

Labels are the method objects' ``label`` ("Grad-CAM", "Score-CAM", "LIFT-CAM", ...) and, where the target is
a pixel set (the picker; the viewer on a segmentation model), the "Seg-" names of the Seg-Grad-CAM /
Seg-HiRes-Grad-CAM papers: "Seg-Grad-CAM", "Seg-HiRes-Grad-CAM", "Seg-Score-CAM", ... Eigen-CAM keeps its
name there (it is class-agnostic: the pixel set does not change it). ``xrescam`` is Seg-XRes-CAM in both
(that paper's own name; its window pooling is defined for any target). Also here: the progress messages of
the slow methods (``progress_keyword``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..explainer import FULLGRAD_LAYER
from ..methods import METHODS, get_method

SEG_LABELS: dict[str, str] = {"hirescam": "Seg-HiRes-Grad-CAM"}
"""Segmentation names that are not "Seg-" + the classification name."""

CAM_FOR_PIXEL_SETS = ("n/a for pixel sets: CAM needs the class score of a global-average-pooling + linear head "
                      "(use Seg-Grad-CAM)")


def method_label(name: str, segmentation: bool = False) -> str:
    """``"Score-CAM"``, or for pixel-set targets ``"Seg-Score-CAM"`` (class-agnostic methods keep their name)."""
    method = get_method(name)
    if not segmentation or method.class_agnostic or method.label.startswith("Seg-"):
        return method.label
    return SEG_LABELS.get(method.name, f"Seg-{method.label}")


def layer_text(name: str, layer: str) -> str:
    """What a title shows as the layer of a map of method ``name`` (may be '': no compare map) at ``layer``."""
    return FULLGRAD_LAYER if name and get_method(name).kind == "input-gradient" else layer


def unavailable(name: str, segmentation: bool) -> str:
    """Why method ``name`` does not apply to the widget's targets ('' when it does)."""
    method = get_method(name)
    if segmentation and not method.segmentation:
        return CAM_FOR_PIXEL_SETS if method.name == "cam" else f"n/a for pixel sets ({method.name})"
    return ""


def method_info(segmentation: bool) -> dict[str, dict]:
    """The ``method_info`` trait: for every method of ``METHODS``, in its order, ``label`` (as above),
    ``paper``, ``kind`` ("gradient", "activation", "perturbation", "input-gradient"), ``layer`` (what titles show
    instead of the layer, '' = the layer), ``class_agnostic`` and ``unavailable`` (why it does not apply, '' = it
    does). The ``methods`` trait lists the names that apply."""
    info = {}
    for name, method in METHODS.items():
        why = unavailable(name, segmentation)
        info[name] = {
            "label": method_label(name, segmentation and not why),  # "CAM", not "Seg-CAM", for the n/a one
            "paper": method.paper,
            "kind": method.kind,
            "layer": layer_text(name, ""),
            "class_agnostic": method.class_agnostic,
            "unavailable": why,
        }
    return info


def progress_keyword(send: Callable[[dict], None], which: str, method: str, segmentation: bool,
                     interval: float) -> dict:
    """``explain``'s ``progress=`` for the methods that run extra forward passes (``{}`` for the others): a
    callable that the method calls as ``progress(done, total)`` after each forward batch, and that sends
    ``{"type": "progress", "which", "method", "label", "done", "total"}`` to the browser, at most every
    ``interval`` seconds (and always the last batch). A custom message, not a trait: the traits are held by
    ``hold_sync`` until the explanation is done."""
    if get_method(method).kind != "perturbation":
        return {}
    label = method_label(method, segmentation)
    last = -float("inf")

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < interval:
            return
        last = now
        send({"type": "progress", "which": which, "method": method, "label": label, "done": int(done),
              "total": int(total)})

    return {"progress": report}
