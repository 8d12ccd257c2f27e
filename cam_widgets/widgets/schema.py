"""The widgets' trait schema as data: the defaults of every synced trait, read from the traitlets
themselves (``CAMWidget`` and each widget class), so that the browser test harness and the JS
defaults have no second copy that can drift."""

from __future__ import annotations

import json

import anywidget
import traitlets as t

_FRAMEWORK = frozenset(anywidget.AnyWidget.class_traits(sync=True))
"""anywidget's / ipywidgets' own synced traits (``_esm``, ``layout``, ...): not ours."""


def trait_defaults(cls: type[t.HasTraits]) -> dict:
    """``{name: default}`` for every ``sync=True`` trait that ``cls`` (or a base such as ``CAMWidget``)
    declares, JSON-able, with the class's own default overrides (``@t.default``) applied."""
    generators = getattr(cls, "_all_trait_default_generators", {})
    defaults = {}
    for name, trait in sorted(cls.class_traits(sync=True).items()):
        if name in _FRAMEWORK:
            continue
        generator = generators.get(name)
        value = generator(None) if generator is not None else trait.default()
        defaults[name] = value
    json.dumps(defaults)  # raises if a default is not JSON-able
    return defaults
