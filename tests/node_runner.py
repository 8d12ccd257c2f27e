"""Run a small ES module against the front end's sources with node (the Python / JS twin checks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "js"


def run_js(source: str, payload: object) -> object:
    """Run ``source`` (imports relative to ``js/``, e.g. ``./src/compose.js``) with ``payload`` as JSON in
    ``process.argv[2]``; return what it printed, parsed as JSON."""
    if shutil.which("node") is None:
        pytest.fail("node is needed for the JS twin checks (the front end is built with it)")
    script = JS / f".twin_{uuid.uuid4().hex}.mjs"
    script.write_text(source)
    try:
        out = subprocess.run(["node", str(script), json.dumps(payload)], capture_output=True, text=True, check=True,
                             cwd=JS).stdout
    finally:
        script.unlink()
    return json.loads(out)
