"""Build the widgets' front end (js/ -> cam_widgets/static/) when a wheel or sdist is built, so
`pip install` of the result needs no node. Skipped when the bundle is already there."""

import json
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface



class FrontEndBuildHook(BuildHookInterface):
    PLUGIN_NAME = "front-end"

    def initialize(self, version, build_data):
        root = Path(self.root)
        names = [name for name in json.loads((root / "js" / "bundles.json").read_text()) if not name.startswith("_")]
        built = [root / "cam_widgets" / "static" / f"{name}.{kind}" for name in names for kind in ("js", "css")]
        if all(path.is_file() for path in built):
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("building cam_widgets' front end needs node and npm (or a pre-built cam_widgets/static/)")
        subprocess.run([npm, "ci"], cwd=root / "js", check=True)
        subprocess.run([npm, "run", "build"], cwd=root / "js", check=True)
