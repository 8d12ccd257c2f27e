"""Every notebook under notebooks/ runs top to bottom at the settings a user gets (no ``CI`` variable), and
its nbconvert HTML shows a picture for every widget.

Each notebook is executed once at its defaults (the module-scoped ``executed`` fixture) and that run is
reused by the HTML check. A notebook that reads the ``CI`` variable runs a second time with ``CI=true``:
its claims (printed numbers, assertions) must hold at both settings.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from PIL import Image

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
READS_CI = re.compile(r"""(?:environ(?:\.get)?\s*[(\[]|getenv\s*\()\s*["']CI["']""")
IMG_PNG = re.compile(r"""<img\b[^>]*?\bsrc="data:image/png;base64,([^"]+)\"""")
MIN_PICTURE_SIDE = 16


def reads_ci(notebook: nbformat.NotebookNode) -> bool:
    """Whether a code cell reads the ``CI`` environment variable."""
    return any(READS_CI.search(cell.source) for cell in notebook.cells if cell.cell_type == "code")


def execute(path: Path, workdir: Path, ci: bool) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` in a fresh kernel (cwd ``workdir``) with ``CI=true`` or without ``CI``."""
    notebook = nbformat.read(path, as_version=4)
    with pytest.MonkeyPatch.context() as env:  # the kernel inherits this process's environment
        if ci:
            env.setenv("CI", "true")
        else:
            env.delenv("CI", raising=False)
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def executed(request, tmp_path_factory) -> tuple[str, nbformat.NotebookNode]:
    """(name, the notebook executed once at its default settings)."""
    path = request.param
    return path.name, execute(path, tmp_path_factory.mktemp(path.stem), ci=False)


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code), \
        "commit without outputs"


def test_runs_at_default_settings(executed):
    name, notebook = executed
    unrun = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and cell.execution_count is None]
    assert not unrun, f"{name}: cells {unrun} did not run"


def test_reads_ci_finds_a_ci_switch():
    def notebook(source):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])

    for switch in ('CI = os.environ.get("CI") == "true"', "os.environ.get('CI', '').lower()",
                   'os.environ["CI"]', 'os.getenv("CI")'):
        assert reads_ci(notebook(switch)), switch
    assert not reads_ci(notebook('CIRCLE = os.environ.get("CIRCLE")\nprint("CI")'))


def test_notebooks_that_read_ci_also_run_with_it(tmp_path):
    """``CI=true`` may only shorten what cannot change an outcome: every claim must hold there too."""
    for path in NOTEBOOKS:
        if reads_ci(nbformat.read(path, as_version=4)):
            execute(path, tmp_path, ci=True)


def shows_nothing(notebook: nbformat.NotebookNode, model_id: str) -> bool:
    """Whether the widget is an ``ipywidgets.Output`` that holds no output (it shows nothing anywhere)."""
    model = widget_state(notebook).get(model_id, {})
    return model.get("model_name") == "OutputModel" and not model.get("state", {}).get("outputs")


def widget_state(notebook: nbformat.NotebookNode) -> dict:
    return notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})


def widget_pictures(notebook: nbformat.NotebookNode) -> list[tuple[str, str, str | None, str | None]]:
    """For every output of a live widget (widget mime type with a model id) that shows something: where it
    is, its model id, its picture (base64 ``image/png``) from the same output or the picture output right after
    it (``export.py``), and its ``text/html`` static fallback (``DatasetBrowser``'s table)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        outputs = cell.get("outputs", [])
        for k, output in enumerate(outputs):
            view = output.get("data", {}).get(WIDGET_MIME)
            if not view or not view.get("model_id") or shows_nothing(notebook, view["model_id"]):
                continue
            after = outputs[k + 1:k + 2]  # the picture output, unless it is another live widget
            candidates = [output] + [o for o in after if not o.get("data", {}).get(WIDGET_MIME, {}).get("model_id")]
            png = next((o["data"]["image/png"] for o in candidates if "image/png" in o.get("data", {})), None)
            html = next((o["data"]["text/html"] for o in candidates if "text/html" in o.get("data", {})), None)
            last_line = cell.source.strip().splitlines()[-1] if cell.source.strip() else ""
            label = output["data"].get("text/plain", "").strip() or view["model_id"]
            found.append((f"cell {index} (`{last_line}`), output {k} ({label[:60]})", view["model_id"], png, html))
    return found


def text_of(markup: str) -> str:
    """The text of HTML markup: tags dropped, white space removed."""
    return re.sub(r"\s", "", re.sub(r"<[^>]*>", "", markup))


def box_children(notebook: nbformat.NotebookNode, model_id: str) -> list[str] | None:
    """The model ids of a Box widget's children (None for a widget that is not a Box)."""
    model = widget_state(notebook).get(model_id, {})
    if not model.get("model_name", "").endswith("BoxModel"):
        return None
    return [child.removeprefix("IPY_MODEL_") for child in model.get("state", {}).get("children", [])]


def test_html_shows_every_widget_picture(executed):
    """Every widget shows in the exported HTML: its picture, or its static table (``text/html`` with a
    ``<table>``, found in the HTML); a container (a Box) shows its children, each text or pictured elsewhere."""
    name, notebook = executed
    html, _ = HTMLExporter().from_notebook_node(notebook)
    shown = {re.sub(r"\s", "", src) for src in IMG_PNG.findall(html)}
    found = widget_pictures(notebook)
    pictured = {model_id for _, model_id, png, _ in found if png}
    text_models = ("HTMLModel", "LabelModel", "HTMLMathModel")
    problems = []
    for where, model_id, png, table in found:
        if png is None:
            children = box_children(notebook, model_id)
            if table and "<table" in table:
                if text_of(table) not in text_of(html):  # the exporter may rewrite the markup, not the text
                    problems.append(f"{where}: its static table is not in the HTML")
            elif children is not None:
                state = widget_state(notebook)
                unshown = [c for c in children if c not in pictured
                           and state.get(c, {}).get("model_name") not in text_models]
                if unshown:
                    problems.append(f"{where}: a container whose children {unshown} are pictured nowhere")
            else:
                problems.append(f"{where}: no image/png")
            continue
        png = re.sub(r"\s", "", png)
        with Image.open(io.BytesIO(base64.b64decode(png))) as picture:
            if picture.format != "PNG" or min(picture.size) < MIN_PICTURE_SIDE:
                problems.append(f"{where}: not a picture ({picture.format}, {picture.size})")
        if png not in shown:
            problems.append(f"{where}: its image/png is not an <img> in the HTML")
    assert not problems, f"{name}: widgets without a picture in the exported HTML:\n" + "\n".join(problems)
