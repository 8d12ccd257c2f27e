"""Driving Jupyter Notebook 7 (the ``notebook`` package) from the browser tests: open a notebook as a
person does (``/notebooks/<name>``), run all, and wait until every cell has finished."""

from __future__ import annotations

from pathlib import Path

import nbformat

# The notebook panel is the shell's current widget. A cell has finished once its execution count is set
# (the count is cleared when a cell is sent and set from the kernel's reply); the kernel is idle then.
_KERNEL_IDLE = (
    "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
    " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
    " return !!(k && k.status === 'idle' && document.querySelector('.jp-Notebook')); }"
)
_ALL_RUN = (
    "() => { const w = window.jupyterapp.shell.currentWidget;"
    " const cells = Array.from(w.content.model.cells).filter((c) => c.type === 'code');"
    " return w.sessionContext.session.kernel.status === 'idle' && cells.every((c) => c.executionCount !== null); }"
)

# Notebook 7.6's own start-up error, thrown by its keyboard-shortcuts plugin while the settings load (also on
# a notebook of `1 + 1` without any widget); the only page error that is not the tests' business.
STARTUP_ERRORS = frozenset({"Cannot read properties of undefined (reading 'schema')"})


def write_notebook(folder: Path, name: str, code: str) -> None:
    """A notebook of one code cell with the Python 3 kernel, as ``folder/name``."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / name)


def open_and_run_nb7(page, server: dict, name: str, code: str, timeout_ms: int = 120_000) -> None:
    """Write ``code`` as the one cell of ``name`` in ``server["notebooks"]``, open it in Notebook 7,
    Run All (``runmenu:run-all``, the Run menu's command), and return once the cell has finished
    (kernel idle, execution count set), with Notebook 7's own :data:`STARTUP_ERRORS` dropped
    from ``page.errors``. The server exposes the app as ``window.jupyterapp``
    (:func:`servers.notebook7_server`), which the waits read."""
    write_notebook(server["notebooks"], name, code)
    page.goto(f"{server['url']}/notebooks/{name}?token={server['token']}")
    page.wait_for_function(_KERNEL_IDLE, timeout=timeout_ms, polling=200)
    page.evaluate("() => window.jupyterapp.commands.execute('runmenu:run-all')")
    page.wait_for_function(_ALL_RUN, timeout=timeout_ms, polling=200)
    errors = getattr(page, "errors", None)  # the `page` fixtures collect uncaught page errors there
    if errors is not None:
        errors[:] = [e for e in errors if e not in STARTUP_ERRORS]
