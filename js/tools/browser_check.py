"""Open the harness in the system Chromium: screenshots and the slice-redraw timing.

Run from the repository root after `cd js && npm run build`:
    .venv/bin/python js/tools/browser_check.py --out /tmp/cam_shots
Needs the `playwright` Python package (no `playwright install`: it drives /usr/bin/chromium).
"""

import argparse
import contextlib
import functools
import http.server
import json
import pathlib
import threading

from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def serve(root):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="/tmp/cam_shots")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--size", type=int, default=128, help="edge of the timed volume")
    a = p.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with serve(ROOT) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=a.chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        shots = {
            "3d_unsigned": "?demo=3d&size=64&compare=1",
            "3d_signed": "?demo=3d&size=48&signed=1",
            "2d": "?demo=2d&size=96",
            "3d_dark": "?demo=3d&size=64&theme=dark&signed=1&compare=1",
        }
        for name, query in shots.items():
            page.goto(f"{base}/js/test/harness.html{query}")
            page.wait_for_selector('[data-testid="main-canvas"]')
            page.evaluate("window.__mounted")
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        # timing: a size^3 volume with a compare map, slice slider input events
        page.goto(f"{base}/js/test/harness.html")
        page.evaluate(f"window.__mount(window.__demoState({{kind: '3d', size: {a.size}, compare: true}}))")
        page.wait_for_selector('[data-testid="slice-slider"]')
        timing = {axis: page.evaluate(
            f"""() => {{ const s = document.querySelector('[data-testid=axis-select]');
                s.value = '{axis}'; s.dispatchEvent(new Event('change'));
                window.__measureSliceRedraw(20); return window.__measureSliceRedraw(300); }}""")
            for axis in (0, 1, 2)}
        page.screenshot(path=str(out / f"3d_{a.size}.png"), full_page=True)
        browser.close()
    print(json.dumps({"timing_ms": timing, "errors": errors, "screenshots": str(out)}, indent=1))


if __name__ == "__main__":
    main()
