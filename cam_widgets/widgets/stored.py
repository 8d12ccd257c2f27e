"""CAMs from a run's store instead of a model: ``StoredMaps`` answers a CAMViewer's questions about one
sample (its scores, its maps) from what ``cam_widgets.batch.explain_dataset`` stored, without any forward
pass, and ``StoredViewer`` is the CAMViewer limited to what the store holds.

    viewer = StoredViewer(open_run("run.zarr"), 17, x)   # x: sample 17's volume, for the image

Only the stored methods, layers and classes can be chosen: a stored ``predicted`` target gives the predicted
class, ``label`` the true class, ``class_<c>`` class c, ``all`` every class. Other methods are listed as
unavailable ("not stored in this run: pass model= to compute live"); other classes are refused with what is
stored. ``CAMResult.raw`` is the stored raw map (float32), ``map`` is computed from it as for a live result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..explainer import CAMExplainer, CAMResult
from ..methods import get_method
from ..targets import ClassScore, PixelSet
from .cam_viewer import CAMViewer
from .method_info import method_info
from .validation import one_of

NOT_STORED = "not stored in this run: pass model= to compute live"


class StoredMaps(CAMExplainer):
    """A CAMExplainer of sample ``index`` of ``run`` that reads everything from the store (no model)."""

    def __init__(self, run, index: int):
        if not 0 <= index < run.n:
            raise ValueError(f"sample index must be 0..{run.n - 1} (the run's samples), got {index}")
        if not run.available[index]:
            raise ValueError(f"sample {index} is not computed yet: its chunk of the run is not done")
        self.run, self.index = run, int(index)
        self.model = None
        self.output = None
        self.keys = [tuple(key.split("/")) for key in run.map_keys()]
        self._modules = {layer: None for layer in dict.fromkeys(k[1] for k in self.keys)}
        self._conv_ndim = int(run.attrs.get("spatial_ndim") or len(run.attrs["input_shape"]) - 1)
        self.scores = torch.as_tensor(np.asarray(run.scores[self.index], dtype=np.float32))
        self.prediction = int(run.prediction[self.index])
        self.label = int(run.label[self.index])
        self.reads = 0  # map arrays read (one per explanation)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(k[0] for k in self.keys))

    def stored_classes(self, method: str, layer: str) -> dict[int, str]:
        """``{class: target key}`` of the maps stored for this sample (an exact key wins over ``all``)."""
        targets = [t for m, l, t in self.keys if m == method and l == layer]
        classes = {c: "all" for c in range(len(self.scores))} if "all" in targets else {}
        for target in targets:
            if target == "predicted":
                classes[self.prediction] = target
            elif target == "label" and self.label >= 0:
                classes[self.label] = target
            elif target.startswith("class_") and target[6:].isdigit():
                classes[int(target[6:])] = target
        return classes

    def describe(self, method: str, layer: str) -> str:
        stored = self.stored_classes(method, layer)
        if len(stored) == len(self.scores) and set(stored.values()) == {"all"}:
            return "every class"
        return ", ".join(f"class {c} ({t})" for c, t in sorted(stored.items())) or "no class"

    def predict(self, x: Tensor) -> Tensor:
        """The stored logits of the sample, ``(1, C)`` (no forward pass)."""
        return self.scores[None].clone()

    def explain(self, x: Tensor, target=None, method: str = "gradcam", layer: str | None = None,
                progress=None) -> CAMResult:
        """The stored raw map of ``method`` at ``layer`` for the class of ``target`` (``ClassScore(c)`` or
        an int; None: the predicted class)."""
        name = get_method(method).name
        layer = layer or self.layers[0]
        c = target.classes if isinstance(target, (ClassScore, PixelSet)) else target
        c = self.prediction if target is None else c
        c = int(c if not isinstance(c, (list, tuple, Tensor, np.ndarray)) else np.asarray(c).reshape(-1)[0])
        key = self.stored_classes(name, layer).get(c)
        if key is None:
            raise ValueError(f"no {name} map of class {c} at {layer} is stored for sample {self.index} (stored: "
                             f"{self.describe(name, layer)}): pass model= to compute it live")
        values = self.run.cams(name, layer, key)[self.index]
        self.reads += 1
        raw = torch.as_tensor(np.asarray(values[c] if key == "all" else values, dtype=np.float32))[None]
        return CAMResult(raw=raw, scores=self.scores[c : c + 1].clone(), weights=None, layer=layer, method=name,
                         signed=not get_method(name).final_relu, target=f"stored {key} (class {c})",
                         input_size=tuple(x.shape[2:]))

    def explain_all_classes(self, x: Tensor, method="gradcam", layer=None, progress=True) -> CAMResult:
        raise NotImplementedError("a run's stored maps explain one class at a time: pass model= to compute live")

    def _prepare(self, x, layer, record_lower=False):
        raise RuntimeError("the stored maps have no model to run: pass model= to compute live")


class StoredViewer(CAMViewer):
    """A CAMViewer of sample ``index`` of ``run`` on its stored maps; ``x`` is the sample ``(C, *spatial)``
    (the image shown). Without ``target_class`` it follows the prediction when the predicted class (or
    ``all``) is stored, else it shows the first stored class."""

    def __init__(self, run, index: int, x: Tensor | np.ndarray, class_names: Sequence[str] | None = None,
                 layer: str | None = None, method: str | None = None, target_class: int | None = None, **options):
        stored = StoredMaps(run, index)
        if not stored.keys:
            raise ValueError(f"the run {run.path} stores no maps: pass model= to compute them live")
        self.stored = stored
        method = get_method(method).name if method else stored.methods[0]
        layer = layer or stored.layers[0]
        classes = stored.stored_classes(method, layer)
        if target_class is None and stored.prediction not in classes and classes:
            target_class = min(classes)
        if stored.label >= 0:
            options.setdefault("labels", [stored.label])
        super().__init__(stored, x, class_names=class_names or run.class_names, layer=layer, method=method,
                         target_class=target_class, **options)
        self._offer_stored_classes()
        self.observe(lambda change: self._offer_stored_classes(), names=["method", "layer"])

    def _offer_stored_classes(self) -> None:
        """The class select offers the classes stored for the method and layer shown; the rest are disabled."""
        self.available_classes = sorted(self.stored.stored_classes(self.method, self.layer))
        self.class_unavailable = f"{NOT_STORED} (stored: {self.stored.describe(self.method, self.layer)})"

    def _method_info(self) -> dict:
        info = method_info(self._segmentation)
        for name, entry in info.items():
            if name not in self.stored.methods and not entry["unavailable"]:
                entry["unavailable"] = NOT_STORED
        return info

    def _check_trait(self, name: str, value: object) -> object:
        if name == "layer":
            return one_of(value, self.stored.layers, "layer (the layers stored in this run)")
        if name in ("method", "compare_method") and value:
            resolved = get_method(value).name
            if resolved not in self.stored.methods:
                raise ValueError(f"{resolved} is {NOT_STORED} (stored: {', '.join(self.stored.methods)})")
        if name == "target_class" and self._constructed and not self._by_widget:
            classes = self.stored.stored_classes(self.method, self.layer)
            if value not in classes:
                raise ValueError(f"class {value} is not stored for this sample (stored: "
                                 f"{self.stored.describe(self.method, self.layer)}): pass model= to compute it live")
        return super()._check_trait(name, value)
