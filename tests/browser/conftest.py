"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser), a static
file server for the front-end harness, and real JupyterLab and Notebook 7 servers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from .harness import Harness
from .servers import (
    CHROMIUM, CHROMIUM_ARGS, GL_ARGS, REPO, jupyterlab_server, notebook7_server, static_server, trait_defaults_script,
)


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the session (a second sync_playwright() inside the first one's loop fails)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("the browser tests need Debian's chromium at /usr/bin/chromium (make browser installs it)")
    if not (REPO / "cam_widgets" / "static" / "cam_viewer.js").exists():
        pytest.fail("the front end is not built: run `make build`")
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def gl_browser(playwright):
    """Chromium with WebGL in software (``GL_ARGS``), for Plotly's 3D scenes."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=GL_ARGS)
    yield browser
    browser.close()


def _page(browser, height: int = 1000, defaults: bool = True, **options):
    """A page in a context of its own, 1400 px wide; ``page.errors`` collects uncaught page errors;
    ``defaults``: the harness gets Python's trait defaults (``trait_defaults_script``)."""
    context = browser.new_context(viewport={"width": 1400, "height": height}, **options)
    if defaults:
        context.add_init_script(trait_defaults_script())
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture()
def gl_page(gl_browser):
    yield from _page(gl_browser, height=1100, defaults=False)


@pytest.fixture()
def page(browser):
    yield from _page(browser)


@pytest.fixture(scope="session", name="static_server")
def static_server_fixture():
    """Serves the repository root (the harness page and the built bundle) on 127.0.0.1."""
    with static_server() as url:
        yield url


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory):
    """A JupyterLab 4 server on 127.0.0.1 (free port, news pop-up off), stopped by PID at the end."""
    with jupyterlab_server(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    """A Jupyter Notebook 7 server on 127.0.0.1 (free port, news pop-up off, the app exposed as
    ``window.jupyterapp``), one per test module, stopped by PID at the end."""
    with notebook7_server(tmp_path_factory.mktemp("nb7")) as server:
        yield server


@pytest.fixture(scope="module")
def shared_page(browser):
    """One browser page per test module (a fresh context per test costs more than the tests); every
    test still loads the harness page anew. `errors` collects uncaught page errors, per test. A module
    may define its own `shared_page` (e.g. another viewport), which then wins."""
    yield from _page(browser, accept_downloads=True)


@pytest.fixture()
def harness(shared_page, static_server) -> Harness:
    """The harness page (js/test/harness.html) on the module's shared page; page errors cleared."""
    shared_page.errors.clear()
    shared_page.set_viewport_size({"width": 1400, "height": 1000})
    return Harness(shared_page, static_server)
