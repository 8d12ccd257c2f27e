"""Where the built front end lives, and what a widget shows when it was not built."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent.parent / "static"

_NOT_BUILT = """
export default { render({ el }) {
  el.innerHTML = '<pre style="color:#b00">cam_widgets: the front end is not built ({name} is missing).\\n'
    + 'From a clone run `make install` (or `cd js && npm ci && npm run build`).</pre>';
} };
"""


def esm(name: str) -> Path | str:
    """The bundle ``static/<name>``, or a module that says how to build it."""
    path = STATIC / name
    return path if path.is_file() else _NOT_BUILT.replace("{name}", name)


def css(name: str) -> Path | str:
    path = STATIC / name
    return path if path.is_file() else ""
