"""Build the widgets' front end (js/ -> cam_widgets/static/) when a wheel or sdist is built, so
`pip install` of the result needs no node. Skipped when the bundle is already there."""

import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLES = ("cam_viewer.js", "pixel_set_picker.js")


class FrontEndBuildHook(BuildHookInterface):
    PLUGIN_NAME = "front-end"

    def initialize(self, version, build_data):
        root = Path(self.root)
        if all((root / "cam_widgets" / "static" / name).is_file() for name in BUNDLES):
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("building cam_widgets' front end needs node and npm (or a pre-built cam_widgets/static/)")
        subprocess.run([npm, "ci"], cwd=root / "js", check=True)
        subprocess.run([npm, "run", "build"], cwd=root / "js", check=True)
