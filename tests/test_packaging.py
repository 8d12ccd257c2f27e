"""Packaging: the declared dependencies, and the core running in an environment without the widget packages.

The core environment is a fresh ``venv`` whose site-packages holds links to exactly the installed
distributions the core needs (torch, numpy, scipy, scikit-image, tqdm, captum and what they require, worked out
from their metadata), plus the repository on the path; anywidget, ipywidgets, plotly, IPython and
traitlets are not there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cam_widgets import METHODS
from cam_widgets.datasets import SCENE_CLASSES

REPO = Path(__file__).resolve().parents[1]
CORE = ["torch", "numpy", "scipy", "scikit-image", "tqdm", "zarr", "captum"]
WIDGETS = ["anywidget", "ipywidgets", "plotly", "pillow"]
ABSENT = ["anywidget", "ipywidgets", "plotly", "IPython", "traitlets"]  # modules the core env must not have


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(roots: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions ``roots`` need, transitively (requirements whose markers hold here,
    without extras)."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = canonical(todo.pop())
        if name in found:
            continue
        found[name] = dist = metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def top_level_entries(dist: metadata.Distribution) -> set[Path]:
    """What a distribution put into site-packages: its packages, modules, ``.libs`` and ``.dist-info``."""
    if dist.files is None:
        raise RuntimeError(f"{dist.metadata['Name']} has no RECORD: cannot tell its files")
    parts = {file.parts[0] for file in dist.files if file.parts[0] not in ("..", "__pycache__")}
    return {Path(dist.locate_file(part)) for part in parts}


@pytest.fixture(scope="module")
def core_python(tmp_path_factory) -> Path:
    """The python of a venv with only the core's dependencies (linked from this environment) and the repo."""
    env = tmp_path_factory.mktemp("core_env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = Path(subprocess.run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    closure = dependency_closure(CORE)
    assert not {canonical(name) for name in [*WIDGETS[:3], "ipython", "traitlets"]} & set(closure), sorted(closure)
    for dist in closure.values():
        for entry in top_level_entries(dist):
            link = site / entry.name
            if not link.exists():
                link.symlink_to(entry)
    (site / "cam_widgets_repo.pth").write_text(f"{REPO}\n")
    return python


CORE_SCRIPT = textwrap.dedent("""
    import importlib.util, json, sys
    import torch
    from torch import nn
    import cam_widgets
    from cam_widgets import CAMExplainer, PFVExplainer, datasets, metrics
    import cam_widgets.batch, cam_widgets.cli  # data-set runs and the command line: core only
    from cam_widgets.zoo import load_demo

    out = {"file": cam_widgets.__file__, "absent": [m for m in ABSENT if importlib.util.find_spec(m) is None]}
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).eval()
    x = torch.randn(2, 1, 16, 16)
    explainer = CAMExplainer(model, layers=["4"])
    cam = explainer.explain(x, target=1, method="respondcam")
    out["cam"] = [list(cam.raw.shape), list(cam.map.shape), bool(torch.isfinite(cam.map).all())]
    out["scores"] = torch.allclose(cam.scores, model(x)[:, 1])
    out["table1"] = sorted(m for m in cam_widgets.METHODS
                           if torch.isfinite(explainer.explain(x, 1, m, progress=False).map).all())
    pfv = PFVExplainer(model).explain(x)
    out["pfv"] = [list(pfv.rgb.shape), float(pfv.rgb.min()), float(pfv.rgb.max())]
    out["metrics"] = sorted(metrics.evaluate_sum_to_score(explainer, x, progress=False))
    images, labels = datasets.make_scenes(2, size=32)
    volumes, classes = datasets.make_subtomograms(2, size=16)
    out["datasets"] = [list(images.shape), list(labels.shape), list(volumes.shape), len(classes)]
    unet = load_demo("unet_scenes")
    out["unet"] = list(unet(torch.from_numpy(images[:1]).float()).shape)
    out["widget_modules"] = sorted(m for m in ABSENT if m in sys.modules)
    try:
        from cam_widgets import CAMViewer
        out["viewer"] = "imported"
    except ImportError as error:
        out["viewer"] = [type(error).__name__, error.name, str(error)]
    print(json.dumps(out))
""")


def test_core_runs_without_the_widget_packages(core_python):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([core_python, "-I", "-c", f"ABSENT = {ABSENT!r}\n" + CORE_SCRIPT], capture_output=True,
                         text=True, cwd=core_python.parent, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).is_relative_to(REPO)
    assert out["absent"] == ABSENT, "the core environment has widget packages: the test proves nothing"
    assert out["cam"] == [[2, 8, 8], [2, 16, 16], True] and out["scores"]
    assert out["table1"] == sorted(METHODS)  # LIFT-CAM's Captum included
    assert out["pfv"] == [[2, 3, 16, 16], 0.0, 1.0]
    assert out["metrics"] == ["gradcam", "respondcam"]
    assert out["datasets"] == [[2, 1, 32, 32], [2, 32, 32], [2, 1, 16, 16, 16], 2]
    assert out["unet"] == [1, len(SCENE_CLASSES), 32, 32]
    assert out["widget_modules"] == []
    # the widgets fail with a message that says what is missing and what to install
    kind, missing, message = out["viewer"]
    assert kind == "ImportError" and missing in ABSENT
    assert f"pip install {missing.lower()}`" in message and "not installed" in message
    assert "pip install cam_widgets" in message


def test_declared_dependencies():
    """`pip install cam_widgets` brings the core and the widgets; JupyterLab is the `lab` extra, which the
    tests and `make demo` (through the Makefile's install step) get."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {canonical(Requirement(r).name) for r in project["dependencies"]}
    assert names == {*CORE, *WIDGETS}
    extras = {k: {canonical(Requirement(r).name): Requirement(r) for r in v}
              for k, v in project["optional-dependencies"].items()}
    assert set(extras["lab"]) == {"jupyterlab"} and str(extras["lab"]["jupyterlab"].specifier) == ">=4.0"
    assert {"nbconvert", "notebook", "nbclient", "playwright", "pytest"} <= set(extras["test"])
    assert "lab" in extras["test"]["cam-widgets"].extras
    makefile = (REPO / "Makefile").read_text()
    assert 'pip install -e ".[lab,test]"' in makefile and "pip install torch==2.13.0" in makefile
    assert re.search(r"^demo: \$\(STAMP\)\n\t\$\(VENV\)/bin/jupyter lab ", makefile, re.M)
