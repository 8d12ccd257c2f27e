"""Local servers for the browser tests and the widget benchmark, bound to 127.0.0.1 on free ports:
the repository root over http (the harness page and the built bundle), a JupyterLab 4 server and a
Jupyter Notebook 7 server."""

from __future__ import annotations

import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
GL_ARGS = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + [
    "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--ignore-gpu-blocklist"]
"""The headless flags with WebGL on the CPU (SwiftShader): Plotly's 3D scenes need WebGL."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextmanager
def static_server(root: Path = REPO) -> Iterator[str]:
    """``root`` over http on 127.0.0.1; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def jupyterlab_server(root: Path, server_config: str | None = None) -> Iterator[dict]:
    """JupyterLab on 127.0.0.1 (free port, ``--allow-root``, news pop-up off, the app exposed as
    ``window.jupyterapp``), serving ``root/notebooks``. At the end its kernels are shut down through
    the server and the server's process group is stopped by PID, also on error; kernel PIDs a caller
    appends to ``kernel_pids`` are killed if they outlive it. ``server_config``: the text of a
    ``jupyter_server_config.py`` to run it with (in a config dir of its own)."""
    with _jupyter_server(root, ["jupyterlab", "--LabApp.expose_app_in_browser=True"], server_config) as info:
        yield info


@contextmanager
def notebook7_server(root: Path, server_config: str | None = None) -> Iterator[dict]:
    """Jupyter Notebook 7 (``python -m notebook``) on 127.0.0.1, set up and stopped as
    :func:`jupyterlab_server` (same keys: url, token, notebooks, log, pid, kernel_pids); the app is
    exposed as ``window.jupyterapp``."""
    with _jupyter_server(root, ["notebook", "--JupyterNotebookApp.expose_app_in_browser=True"], server_config) as info:
        yield info


@contextmanager
def _jupyter_server(root: Path, app: list[str], server_config: str | None) -> Iterator[dict]:
    """``python -m <app[0]> <app[1:]>`` serving ``root/notebooks`` with settings, workspaces and
    runtime files of its own under ``root`` (news and update checks off)."""
    settings = root / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    news_off = {"fetchNews": "false", "checkForUpdates": False}
    (settings / "notification.jupyterlab-settings").write_text(json.dumps(news_off))
    notebooks = root / "notebooks"
    notebooks.mkdir()
    port, token = free_port(), "cam-widgets-test"
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    if server_config:
        (root / "config").mkdir()
        (root / "config" / "jupyter_server_config.py").write_text(server_config)
        env["JUPYTER_CONFIG_DIR"] = str(root / "config")
    command = [
        sys.executable, "-m", app[0], "--no-browser", "--allow-root", f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.port_retries=0", *app[1:],
    ]
    log_path = root / "server.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        info = {"url": url, "token": token, "notebooks": notebooks, "log": log_path, "pid": process.pid,
                "kernel_pids": []}
        try:
            _wait_until_up(url, token, process, log_path)
            yield info
        finally:
            _shut_down_kernels(url, token)
            _stop(process)
            for pid in info["kernel_pids"]:
                _kill_when_left(pid)


def _wait_until_up(url: str, token: str, process: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the Jupyter server did not start: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.5)


def _shut_down_kernels(url: str, token: str) -> None:
    """Kernels run in sessions of their own: stop them through the server before stopping it."""
    try:
        kernels = json.load(urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5))
        for kernel in kernels:
            request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
            urllib.request.urlopen(request, timeout=10)
    except OSError:
        pass


def _kill_when_left(pid: int, grace: float = 5) -> None:
    deadline = time.time() + grace
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def trait_defaults_script() -> str:
    """Python's trait defaults of each widget, for the harness (js/test/harness.js: traitDefaults)."""
    from cam_widgets import CAMViewer, PFVGallery, PixelSetPicker
    from cam_widgets.widgets.schema import trait_defaults

    defaults = {"cam_viewer": trait_defaults(CAMViewer), "pixel_set_picker": trait_defaults(PixelSetPicker),
                "pfv_gallery": trait_defaults(PFVGallery)}
    return f"window.__traitDefaults = {json.dumps(defaults)};"
