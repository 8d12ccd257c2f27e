"""The rules of PFVGallery's controls: what a value set from Python (or the browser) may be, when the
hierarchical variant can do anything, and what a failed recompute says."""

from __future__ import annotations

from ..pfv import component_numbers
from .validation import fraction, index_in, one_of


def check_control(gallery, name: str, value: object) -> object:
    """``value`` for the control ``name`` of ``gallery``, checked (and normalised); raises ``ValueError`` with
    what is accepted."""
    if name == "layer":
        return one_of(value, gallery.layers, "layer")
    if name == "components":
        numbers = component_numbers(list(value), None)  # positive, distinct, numbered from 1
        if len(numbers) != 3:
            raise ValueError(f"three component numbers (from 1) for R, G and B, got {len(numbers)}")
        return list(numbers)
    if name == "hierarchical":
        if value and not earlier_layers(gallery, gallery.layer):
            raise ValueError(no_hierarchy(gallery.layer))
        return value
    if name == "selection":
        return sorted({index_in(i, len(gallery.batch), "a selected sample (an index into the batch)") for i in value})
    if name == "opacity":
        return fraction(value, "opacity")
    if name == "axis":
        if gallery.spatial_ndim == 2:
            return index_in(value, 1, "axis of a 2D image")
        return index_in(value, 3, "axis (0 = z, 1 = y, 2 = x)")
    if name == "slice_index":
        return index_in(value, slice_count(gallery), "slice_index")
    raise NotImplementedError(f"no check for the control {name!r}")


def slice_count(gallery) -> int:
    """Slices along the gallery's axis (1 for 2D images)."""
    return gallery.input_shape[gallery.axis] if gallery.spatial_ndim == 3 else 1


def earlier_layers(gallery, layer: str) -> tuple[str, ...]:
    """The layers that weight ``layer`` (Eq. 2's ``l = 1 .. N-1``): as computed, else those before it in
    ``layers``. The hierarchical variant needs at least one."""
    if layer in gallery._weights:
        return gallery._weights[layer]
    return tuple(gallery.layers[: gallery.layers.index(layer)]) if layer in gallery.layers else ()


def no_hierarchy(layer: str) -> str:
    return f"hierarchical needs an earlier layer: {layer} is the first layer"


def failure_message(asked: dict, kept: dict, reason: str) -> str:
    """What a failed recompute says: what was asked, what was kept, why."""
    if not asked:
        return f"recomputing failed (kept the PFV on screen): {reason}"
    what = ", ".join(f"{name} = {value!r}" for name, value in asked.items())
    was = ", ".join(f"{name} = {kept[name]!r}" for name in asked)
    return f"{what} failed (kept {was}): {reason}"
