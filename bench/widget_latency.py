"""Interactive latency of the CAMViewer widget, measured in a real browser (Debian's Chromium, headless).

    .venv/bin/python bench/widget_latency.py                 # both parts (under a minute)
    .venv/bin/python bench/widget_latency.py --quick         # fewer repeats
    .venv/bin/python bench/widget_latency.py --only slice    # or --only zoom, --only kernel, --only view3d
    .venv/bin/python bench/widget_latency.py --only kernel --verbose --ws-nodelay   # diagnosis

(1) ``slice``: a slice-slider change on a 128^3 volume with a CAM and a compare map, in the browser
    harness (``js/test/harness.html``, a fake model, no kernel; the repository root is served on
    127.0.0.1).  In the page, ``performance.now()`` around dispatching the slider's ``input`` event
    (the redraw of the main, compare and three orthogonal views is synchronous in the handler), then
    to the next ``requestAnimationFrame`` callback and to the end of that frame's rendering (a
    ``MessageChannel`` message posted from the rAF callback runs after style / layout / paint).
    Events are dispatched from a task at a pseudo-random phase of the frame, over different slices
    and all three axes; "handler + frame render" leaves out the wait for the next frame.

(1b) ``zoom``: zoom (wheel events, in and out about random points) and pan (Ctrl + pointer drags) on the
    same 128^3 harness state, timed the same way: the handler (the linked CSS transforms of all five
    panels and their crosshairs) plus the frame that shows it. Zoom and pan never redraw pixels.

(2) ``kernel``: a class / method / layer change in a real JupyterLab 4 (127.0.0.1, free port,
    --allow-root, news off) with the demo 3D CNN (CNN-1, ``load_demo("cnn1_snr_inf")``, layers maxpool2
    and conv4) on a test volume.  The page sets the control (``data-testid`` select, ``input`` +
    ``change`` events), then checks the main canvas's pixels inside every ``requestAnimationFrame``
    callback (what that frame will paint); the change is visible in the first frame whose pixels
    differ from those before the change.  The headline time is taken after that frame's rendering
    (an upper bound: tasks queued meanwhile delay it too); the time of that frame's rAF callback is
    printed as the lower bound.  Resolution: one frame (16.7 ms at 60 Hz).  Where the new map looks
    the same on the shown slice, the frame after the main canvas's redraw counts and the row says so.
    The class sequence walks through all classes (more than the explainer's gradient cache holds),
    so every class change needs a fresh backward pass; methods and layers alternate.
    For the breakdown the page logs its WebSocket frames (a WebSocket subclass installed before
    JupyterLab loads) and the main canvas's ``putImageData`` calls; the kernel logs (``time.time()``,
    the same machine clock; the browser clock's offset is calibrated over the DevTools protocol) when
    the change arrived (``set_state``), the time in ``explainer.explain`` and in encoding, and when
    the new map was sent (``send_state``).  Finally the same changes are timed in the kernel alone
    (``viewer.target_class = c``, ``time.perf_counter``, no browser in the loop).

(3) ``view3d`` (only with ``--only view3d``): class changes of a 128^3 CAMViewer in JupyterLab without and
    with ``viewer.view_3d()`` open, the time until the 3D view has updated, and the 3D update's time in
    the kernel (``bench/view3d_latency.py``).

Prints a table (what, n, median, p90, target, PASS/MISS) and the machine: CPU count, load average
at the start and the end (the machine may be shared: other processes' load moves these numbers),
torch, JupyterLab and Chromium versions.  Targets: slice change under 16 ms (one frame at 60 Hz);
class change under 150 ms on CPU (the same bound is shown for method and layer changes).  Nothing
is hard-coded: PASS / MISS come from the medians measured in this run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser.servers import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, jupyterlab_server, static_server, trait_defaults_script,
)

SLICE_TARGET_MS = 16.0
ZOOM_TARGET_MS = 16.0
KERNEL_TARGET_MS = 150.0
DEMO = "cnn1_snr_inf"
LAYERS = ["maxpool2", "conv4"]
METHOD_CYCLE = ["gradcam++", "hirescam", "xgradcam", "layercam", "respondcam", "gradcam"]


# ----------------------------------------------------------------------------------------- stats


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Table:
    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, what: str, values: list[float], target: float | None = None, note: str = ""):
        values = [v for v in values if v is not None and math.isfinite(v)]
        if not values:
            self.rows.append((what, 0, float("nan"), float("nan"), target, "n/a", note))
            return
        m = med(values)
        result = "-" if target is None else ("PASS" if m < target else "MISS")
        self.rows.append((what, len(values), m, p90(values), target, result, note))

    def print(self):
        width = max(len(r[0]) for r in self.rows)
        print(f"{'what':<{width}}  {'n':>4}  {'median ms':>10}  {'p90 ms':>8}  {'target':>9}  result")
        print("-" * (width + 50))
        for what, n, m, q, target, result, note in self.rows:
            t = "-" if target is None else f"< {target:g} ms"
            line = f"{what:<{width}}  {n:>4}  {m:>10.2f}  {q:>8.2f}  {t:>9}  {result}"
            print(line + (f"  {note}" if note else ""))


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# ----------------------------------------------------------------------------------------- servers


NODELAY_CONFIG = """
# written by bench/widget_latency.py --ws-nodelay: TCP_NODELAY on the kernel WebSockets (an experiment)
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler as _Handler
_original_open = _Handler.open
async def _open_nodelay(self, kernel_id):
    self.set_nodelay(True)
    self.log.info("bench: TCP_NODELAY set on the kernel websocket")
    await _original_open(self, kernel_id)
_Handler.open = _open_nodelay
"""


# ----------------------------------------------------------------------------------------- (1) slice

SLICE_JS = """
async ({ n, seed }) => {
  const q = (id) => document.querySelector(`[data-testid="${id}"]`);
  const slider = q('slice-slider'), axisSel = q('axis-select'), main = q('main-canvas');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // the next rAF callback's time, and the time after that frame's rendering (a message posted from rAF)
  const frameTimes = () => new Promise((resolve) => requestAnimationFrame(() => {
    const tRaf = performance.now();
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve([tRaf, performance.now()]);
    ch.port2.postMessage(0);
  }));
  const pixels = () => main.getContext('2d').getImageData(0, 0, main.width, main.height).data;
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  let rnd = seed;
  const random = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

  // idle frame interval, for scale
  const idle = [];
  let [prev] = await frameTimes();
  for (let i = 0; i < 30; i++) { const [t] = await frameTimes(); idle.push(t - prev); prev = t; }

  const rows = [];
  const perAxis = Math.ceil(n / 3);
  for (let axis = 0; axis < 3 && rows.length < n; axis++) {
    axisSel.value = String(axis);
    axisSel.dispatchEvent(new Event('change', { bubbles: true }));
    await frameTimes(); await frameTimes();
    const size = Number(slider.max) + 1;
    let slice = Number(slider.value);
    let before = pixels();
    for (let k = 0; k < perAxis && rows.length < n; k++) {
      slice = (slice + 37 + axis * 11) % size;           // always another slice
      await frameTimes();
      await sleep(random() * 16);                          // a pseudo-random phase within the frame
      slider.value = String(slice);
      const t0 = performance.now();
      slider.dispatchEvent(new Event('input', { bubbles: true }));
      const t1 = performance.now();
      const [t2, t3] = await frameTimes();
      const after = pixels();                              // outside the timed part
      rows.push({ axis, slice, sync: t1 - t0, raf: t2 - t0, painted: t3 - t0, work: (t1 - t0) + (t3 - t2),
                  changed: !same(before, after), width: main.width, height: main.height });
      before = after;
    }
  }
  slider.dispatchEvent(new Event('change', { bubbles: true }));
  return { rows, idle, compareShown: !q('compare-panel').hidden, orthoShown: !q('ortho-views').hidden };
}
"""


ZOOM_JS = """
async ({ n, seed }) => {
  const main = document.querySelector('[data-testid="main-canvas"]');
  const frameTimes = () => new Promise((resolve) => requestAnimationFrame(() => {
    const tRaf = performance.now();
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve([tRaf, performance.now()]);
    ch.port2.postMessage(0);
  }));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let rnd = seed;
  const random = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const rows = [];
  let pointerId = 1;
  for (let k = 0; k < n; k++) {
    const box = main.getBoundingClientRect();
    const x = box.left + box.width * (0.2 + 0.6 * random()), y = box.top + box.height * (0.2 + 0.6 * random());
    await frameTimes();
    await sleep(random() * 16);
    const kind = k % 3 === 2 ? 'pan' : 'zoom';
    const zoomBefore = window.__model.get('zoom'), transformBefore = main.style.transform;
    const t0 = performance.now();
    if (kind === 'zoom') {
      const deltaY = (k % 6 < 3 ? -100 : 100);  // in for a while, then out
      main.dispatchEvent(new WheelEvent('wheel', { deltaY, clientX: x, clientY: y, bubbles: true, cancelable: true }));
    } else {
      const o = { clientX: x, clientY: y, ctrlKey: true, button: 0, buttons: 1, pointerId, bubbles: true };
      main.dispatchEvent(new PointerEvent('pointerdown', o));
      main.dispatchEvent(new PointerEvent('pointermove', { ...o, clientX: x + 9, clientY: y - 7 }));
      main.dispatchEvent(new PointerEvent('pointerup', { ...o, clientX: x + 9, clientY: y - 7, buttons: 0 }));
      pointerId += 1;
    }
    const t1 = performance.now();
    const [t2, t3] = await frameTimes();
    rows.push({ kind, sync: t1 - t0, work: (t1 - t0) + (t3 - t2), painted: t3 - t0,
                moved: main.style.transform !== transformBefore, zoom: zoomBefore });
  }
  await sleep(300);  // the debounced commit
  const saved = window.__model.savedState();
  return { rows, savedZoom: saved.zoom, savedCenter: saved.zoom_center,
           panels: [...document.querySelectorAll('.cam-canvas')].filter((c) => c.offsetParent).length };
}
"""


def _harness_page(browser, base: str, size: int):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(trait_defaults_script())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/js/test/harness.html?demo=3d&size={size}&compare=1")
    page.wait_for_function("() => window.__mounted", timeout=60_000, polling=100)
    page.evaluate("() => window.__mounted")
    page.wait_for_function(
        f"() => {{ const c = document.querySelector('[data-testid=\"main-canvas\"]'); return c && c.width === {size}; }}",
        timeout=60_000, polling=100)
    return context, page, errors


def _run_in_harness(browser, size: int, script: str, arg: dict) -> dict:
    """Mount the 128^3-like harness state (volume, cam, compare) and run ``script`` there; page errors are printed."""
    with static_server() as base:
        t = time.perf_counter()
        context, page, errors = _harness_page(browser, base, size)
        try:
            print(f"  harness mounted ({size}^3 synthetic volume + cam + compare) in {time.perf_counter() - t:.1f} s")
            out = page.evaluate(script, arg)
        finally:
            context.close()
    if errors:
        print(f"  page errors: {errors}")
    return out


def bench_zoom(browser, n: int, size: int, table: Table) -> None:
    out = _run_in_harness(browser, size, ZOOM_JS, {"n": n, "seed": 20261201})
    rows = out["rows"]
    moved = sum(r["moved"] for r in rows)
    print(f"  {out['panels']} canvases on screen; {moved}/{len(rows)} gestures moved the main canvas's transform; "
          f"saved zoom {out['savedZoom']}, zoom_center {out['savedCenter']}")
    for kind in ("zoom", "pan"):
        sel = [r for r in rows if r["kind"] == kind]
        table.add(f"{kind} {size}^3: handler (linked transforms)", [r["sync"] for r in sel], ZOOM_TARGET_MS)
        table.add(f"{kind} {size}^3: handler + frame render", [r["work"] for r in sel], ZOOM_TARGET_MS)


def bench_slice(browser, n: int, size: int, table: Table) -> None:
    out = _run_in_harness(browser, size, SLICE_JS, {"n": n, "seed": 20240611})
    rows = out["rows"]
    print(f"  main canvas {rows[0]['width']}x{rows[0]['height']} data px; compare panel shown: {out['compareShown']}, "
          f"orthogonal views shown: {out['orthoShown']}; idle frame interval median {med(out['idle']):.2f} ms")
    unchanged = sum(not r["changed"] for r in rows)
    print(f"  {len(rows) - unchanged}/{len(rows)} slice events changed the main canvas's pixels")
    per_axis = {a: med([r["sync"] for r in rows if r["axis"] == a]) for a in range(3)}
    print("  handler median per axis: " + ", ".join(f"axis {a}: {v:.2f} ms" for a, v in per_axis.items()))
    table.add(f"slice {size}^3: input handler (sync redraw)", [r["sync"] for r in rows], SLICE_TARGET_MS)
    table.add(f"slice {size}^3: handler + frame render", [r["work"] for r in rows], SLICE_TARGET_MS)
    table.add(f"slice {size}^3: input -> next rAF", [r["raf"] for r in rows], None, "incl. wait for vsync")
    table.add(f"slice {size}^3: input -> frame rendered", [r["painted"] for r in rows], None, "incl. wait for vsync")


# ----------------------------------------------------------------------------------------- (2) kernel

NOTEBOOK_CODE = """
import json, os, time
import torch
from cam_widgets import CAMExplainer, CAMViewer
from cam_widgets.datasets import SUBTOMOGRAM_CLASSES
from cam_widgets.zoo.demos import DEMOS, load_demo
from cam_widgets.zoo.train import demo_data

x, labels = demo_data(DEMOS[{demo!r}], "test", {n_samples})
sample = x[{sample}]
model = load_demo({demo!r})
if {threads}:
    torch.set_num_threads({threads})
viewer = CAMViewer(CAMExplainer(model, layers={layers!r}), sample, class_names=list(SUBTOMOGRAM_CLASSES))

# bench instrumentation: wall-clock times of each change that arrives from the browser
BENCH_LOG, _bench_current = [], []
def _bench_wrap(obj, name, kind):
    original = getattr(obj, name)
    def wrapper(*args, **kwargs):
        t = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            if _bench_current:
                record = _bench_current[-1]
                if kind == "send":
                    key = args[0] if args else kwargs.get("key")
                    keys = sorted(key) if isinstance(key, (set, list, tuple)) else [str(key)]
                    record["sends"].append([t, time.time(), keys])
                else:
                    record[kind] = record.get(kind, 0.0) + (time.time() - t) * 1e3
    setattr(obj, name, wrapper)
_bench_wrap(viewer.explainer, "explain", "explain_ms")
import cam_widgets.widgets.base as _widget_base  # the maps are encoded by its module-level encode_map
_bench_wrap(_widget_base, "encode_map", "encode_ms")
_bench_wrap(viewer, "send_state", "send")
_bench_set_state = viewer.set_state
def _bench_state(sync_data):
    record = {{"keys": {{k: v for k, v in sync_data.items() if isinstance(v, (int, float, str))}},
              "t_in": time.time(), "sends": []}}
    _bench_current.append(record)
    try:
        return _bench_set_state(sync_data)
    finally:
        _bench_current.pop()
        record["t_out"] = time.time()
        BENCH_LOG.append(record)
viewer.set_state = _bench_state
BENCH_INFO = {{"pid": os.getpid(), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "label": int(labels[{sample}]), "predicted": viewer.target_class, "classes": list(SUBTOMOGRAM_CLASSES),
              "shape": list(sample.shape)}}
viewer
"""

KERNEL_EXEC_JS = """
async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({ code, silent: false, store_history: false });
  const out = [];
  future.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (t === 'stream') out.push(msg.content.text);
    if (t === 'error') out.push(`${msg.content.ename}: ${msg.content.evalue}`);
  };
  const reply = await future.done;
  return { status: reply.content.status, out: out.join('') };
}
"""

INSTALL_DRAW_HOOK_JS = """
() => {
  window.__camDraws = window.__camDraws || [];
  const proto = CanvasRenderingContext2D.prototype;
  if (!proto.__benchPut) {
    proto.__benchPut = proto.putImageData;
    proto.putImageData = function (...args) {
      const t = performance.now();
      const r = proto.__benchPut.apply(this, args);
      if (this.canvas && this.canvas.dataset && this.canvas.dataset.testid === 'main-canvas') window.__camDraws.push([t, performance.now()]);
      return r;
    };
  }
}
"""

WEBSOCKET_LOG_JS = """
(() => {
  // Arrival / send times of the page's WebSocket frames (the kernel connection), for the breakdown.
  // The listener is added in the constructor, so it runs before JupyterLab's own onmessage handler.
  const Original = window.WebSocket;
  window.__wsIn = [];
  window.__wsOut = [];
  const size = (d) => (typeof d === 'string' ? d.length : (d && (d.byteLength ?? d.size)) || 0);
  const decoder = new TextDecoder();
  const pick = (text, re) => { const m = text.match(re); return m ? m[1] : null; };
  // a short tag: msg_type[:execution_state | comm method][:first state key], from the first bytes
  const tag = (d) => {
    try {
      const text = typeof d === 'string' ? d.slice(0, 2000)
        : d instanceof ArrayBuffer ? decoder.decode(new Uint8Array(d, 0, Math.min(d.byteLength, 2000))) : '';
      return [pick(text, /"msg_type":\s*"(\w+)"/), pick(text, /"execution_state":\s*"(\w+)"/) || pick(text, /"method":\s*"(\w+)"/),
              pick(text, /"state":\s*\{\s*"(\w+)"/)].filter(Boolean).join(':');
    } catch (e) { return '?'; }
  };
  class LoggedWebSocket extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => window.__wsIn.push([performance.now(), size(e.data), tag(e.data)]));
    }
    send(data) {
      window.__wsOut.push([performance.now(), size(data), tag(data)]);
      return super.send(data);
    }
  }
  window.WebSocket = LoggedWebSocket;
})();
"""

FRAME_JS = """
  const kernel = () => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // `check` runs inside the rAF callback, so it sees what this frame paints; the second time is taken
  // by a message posted from the callback, which runs after the frame's style / layout / paint
  const frame = (check) => new Promise((resolve) => requestAnimationFrame(() => {
    const tRaf = performance.now();
    const state = check ? check() : null;
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve([tRaf, performance.now(), state]);
    ch.port2.postMessage(0);
  }));
  const pixels = () => canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const differs = (a, b) => a.length !== b.length || a.some((v, i) => v !== b[i]);
"""
"""The page's timing helpers (inside an async function that defines ``canvas``): the kernel, ``sleep``,
``frame(check)`` (times of a rAF callback and of the end of its frame, and what ``check`` saw in it), and
the main canvas's ``pixels`` with ``differs``. ``view3d_latency.py`` uses them too."""

CHANGES_JS = """
async ({ testid, values, timeoutMs, settleMs }) => {
  const q = (id) => document.querySelector(`[data-testid="${id}"]`);
  const select = q(testid), canvas = q('main-canvas'), root = q('cam-viewer');
""" + FRAME_JS + """  const settled = () => !root.classList.contains('busy') && kernel().status === 'idle';
  const rows = [];
  for (const value of values) {
    let t = performance.now();
    while (!settled() && performance.now() - t < timeoutMs) await sleep(10);
    await sleep(settleMs);
    await frame();
    const before = pixels();
    const drawsBefore = window.__camDraws.length;
    const row = { value, t0: null, sync: null, draw: null, drawEnd: null, visibleRaf: null, visible: null,
                  changed: false, busySeen: false, timedOut: false };
    select.value = String(value);
    const t0 = performance.now();
    select.dispatchEvent(new Event('input', { bubbles: true }));
    select.dispatchEvent(new Event('change', { bubbles: true }));
    row.t0 = t0;
    row.sync = performance.now() - t0;
    let drawFrame = null;
    for (;;) {
      const [tRaf, tPainted, st] = await frame(() => ({
        changed: differs(before, pixels()), drawn: window.__camDraws.length > drawsBefore,
        busy: root.classList.contains('busy'),
      }));
      if (st.busy) row.busySeen = true;
      if (st.changed) {
        row.changed = true; row.visibleRaf = tRaf - t0; row.visible = tPainted - t0;
        break;
      }
      if (st.drawn && drawFrame === null) drawFrame = [tRaf, tPainted];
      // drawn but the shown slice looks the same: once Python is done, count the first frame after the draw
      if (drawFrame !== null && settled() && tRaf - drawFrame[0] > 100) {
        row.visibleRaf = drawFrame[0] - t0; row.visible = drawFrame[1] - t0;
        break;
      }
      if (tRaf - t0 > timeoutMs) { row.timedOut = true; break; }
    }
    const draws = window.__camDraws.slice(drawsBefore);
    if (draws.length) { row.draw = draws[0][0] - t0; row.drawEnd = draws[0][1] - t0; row.nDraws = draws.length; }
    const end = row.draw === null ? Infinity : row.draw;
    row.wsOut = (window.__wsOut || []).filter(([t]) => t >= t0).map(([t, n, g]) => [t - t0, n, g]).filter(([t]) => t <= end);
    row.wsIn = (window.__wsIn || []).filter(([t]) => t >= t0).map(([t, n, g]) => [t - t0, n, g]).filter(([t]) => t <= end);
    rows.push(row);
  }
  return { rows, timeOrigin: performance.timeOrigin };
}
"""


def kernel_exec(page, code: str) -> str:
    result = page.evaluate(KERNEL_EXEC_JS, code)
    if result["status"] != "ok":
        raise RuntimeError(f"kernel code failed: {result['out'][-2000:]}")
    return result["out"]


def kernel_json(page, code: str):
    out = kernel_exec(page, code)
    marker = "BENCH_JSON:"
    return json.loads(out[out.rindex(marker) + len(marker):].strip())


def clock_offset(page) -> tuple[float, float]:
    """(browser epoch ms - host epoch ms, uncertainty ms): the sample with the smallest round trip."""
    best = None
    for _ in range(15):
        a = time.time() * 1e3
        b = page.evaluate("() => performance.timeOrigin + performance.now()")
        c = time.time() * 1e3
        if best is None or c - a < best[1]:
            best = (b - (a + c) / 2, c - a)
    return best[0], best[1] / 2


def class_sequence(start: int, n_classes: int, n: int) -> list[int]:
    """start+1, start+2, ... cycling over every class: each change is a real change, and with more
    classes than the explainer's gradient cache holds (4) each one needs a fresh backward pass."""
    return [(start + 1 + i) % n_classes for i in range(n)]


def alternate(values: list[str], start: str, n: int) -> list[str]:
    others = [v for v in values if v != start] + [start]
    return [others[i % len(others)] for i in range(n)]


def breakdown(rows: list[dict], log: list[dict], trait: str, offset_ms: float, origin: float) -> dict[str, list[float]]:
    """Match browser changes with the kernel's records (in order, by trait and value) and split the time:
    change -> WebSocket send (JS) -> kernel set_state (server, ZMQ, kernel) -> map sent (kernel compute)
    -> the map's WebSocket frame in the page (ZMQ, server, WebSocket) -> main canvas drawn (JS: deserialise,
    decode, compose, putImageData) -> frame rendered (wait for vsync, style / layout / paint)."""
    keys = ("js_send", "to_kernel", "kernel", "explain", "encode", "to_page", "js_draw", "draw_to_visible", "draw_to_raf", "draws")
    parts: dict[str, list[float]] = {k: [] for k in keys}
    i = 0
    for row in rows:
        while i < len(log) and log[i]["keys"].get(trait) != row["value"]:
            i += 1
        if i >= len(log):
            break
        record = log[i]
        i += 1
        t0 = origin + row["t0"] - offset_ms  # browser time -> host / kernel epoch ms
        t_in = record["t_in"] * 1e3 - t0  # from here on: ms after the change, on the browser's clock
        cam_sends = [s for s in record["sends"] if "cam" in s[2]]
        t_sent = (cam_sends[0][1] if cam_sends else record["t_out"]) * 1e3 - t0
        t_ws_out = row["wsOut"][0][0] if row["wsOut"] else None
        after = [m for m in row["wsIn"] if m[0] >= t_sent - 2.0]  # 2 ms: clock calibration slack
        t_ws_in = max(after, key=lambda m: m[1])[0] if after else None  # the map's frame: the largest one
        if t_ws_out is not None:
            parts["js_send"].append(t_ws_out)
            parts["to_kernel"].append(t_in - t_ws_out)
        parts["kernel"].append(t_sent - t_in)
        parts["explain"].append(record.get("explain_ms", 0.0))
        parts["encode"].append(record.get("encode_ms", 0.0))
        if row["draw"] is not None:
            if t_ws_in is not None:
                parts["to_page"].append(t_ws_in - t_sent)
                parts["js_draw"].append(row["drawEnd"] - t_ws_in)
            parts["draws"].append(row["nDraws"])
            if row["visible"] is not None:
                parts["draw_to_visible"].append(row["visible"] - row["drawEnd"])
                parts["draw_to_raf"].append(row["visibleRaf"] - row["drawEnd"])
    return parts


def bench_kernel(browser, repeats: dict[str, int], sample: int, table: Table, threads: int = 0,
                 verbose: bool = False, nodelay: bool = False) -> None:
    import nbformat

    with tempfile.TemporaryDirectory(prefix="cam-bench-lab-") as tmp, jupyterlab_server(Path(tmp), NODELAY_CONFIG if nodelay else None) as lab:
        notebook = nbformat.v4.new_notebook()
        code = NOTEBOOK_CODE.format(demo=DEMO, n_samples=max(sample + 1, 1), sample=sample, layers=LAYERS, threads=threads)
        notebook.cells = [nbformat.v4.new_code_cell(code)]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, lab["notebooks"] / "latency.ipynb")

        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(WEBSOCKET_LOG_JS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            t = time.perf_counter()
            page.goto(f"{lab['url']}/lab/tree/latency.ipynb?token={lab['token']}")
            page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=90_000, polling=200)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle'; }",
                timeout=90_000, polling=200,
            )
            page.evaluate("() => { window.jupyterapp.commands.execute('runmenu:run-all'); }")
            page.wait_for_selector('[data-testid="main-canvas"]', timeout=120_000)
            page.wait_for_function(
                """() => { const c = document.querySelector('[data-testid="main-canvas"]');
                           return c.width > 1 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0); }""",
                timeout=60_000, polling=200,
            )
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                timeout=60_000, polling=100)
            info = kernel_json(page, "print('BENCH_JSON:' + json.dumps(BENCH_INFO))")
            lab["kernel_pids"].append(info["pid"])
            print(f"  JupyterLab up, notebook run, viewer drawn in {time.perf_counter() - t:.1f} s "
                  f"(kernel pid {info['pid']}, torch {info['torch']}, {info['threads']} torch threads)")
            print(f"  CNN-1 ({DEMO}) on test volume {sample} {info['shape']}: label {info['classes'][info['label']]}, "
                  f"predicted {info['classes'][info['predicted']]}; layers {LAYERS}")
            page.locator('[data-testid="main-canvas"]').scroll_into_view_if_needed()
            page.evaluate(INSTALL_DRAW_HOOK_JS)
            offset, uncertainty = clock_offset(page)

            if nodelay:
                applied = "bench: TCP_NODELAY set" in lab["log"].read_text()
                print(f"  --ws-nodelay: TCP_NODELAY on the kernel WebSocket {'applied' if applied else 'NOT applied'}")
            n_classes = len(info["classes"])
            series = [
                ("class", "class-select", "target_class",
                 class_sequence(info["predicted"], n_classes, repeats["class"] + 2)),
                ("method", "method-select", "method", alternate(METHOD_CYCLE, "gradcam", repeats["method"] + 1)),
                ("layer", "layer-select", "layer", alternate(LAYERS, LAYERS[0], repeats["layer"] + 1)),
            ]
            results = {}
            for name, testid, trait, values in series:
                warm = 2 if name == "class" else 1  # the first changes (first backward passes) are not counted
                out = page.evaluate(CHANGES_JS, {"testid": testid, "values": values, "timeoutMs": 15_000, "settleMs": 150})
                results[name] = (trait, out["rows"][warm:], out["timeOrigin"], warm)
            offset_end, _ = clock_offset(page)
            log = kernel_json(page, "print('BENCH_JSON:' + json.dumps(BENCH_LOG))")

            # the same changes with no browser in the loop: set the trait in the kernel, time.perf_counter
            direct_code = """
import json, time
def _bench_direct(name, values):
    out = []
    for v in values:
        t = time.perf_counter(); setattr(viewer, name, v); out.append((time.perf_counter() - t) * 1e3)
    return out
def _bench_cycle(values, current, n):  # every step a real change, starting after the current value
    i = values.index(current) if current in values else -1
    return [values[(i + 1 + k) % len(values)] for k in range(n)]
_bench_out = {{
    "class": _bench_direct("target_class", _bench_cycle(list(range(len(viewer.class_names))), viewer.target_class, {n_class}))[2:],
    "method": _bench_direct("method", _bench_cycle({methods!r}, viewer.method, {n_other})),
    "layer": _bench_direct("layer", _bench_cycle({layers!r}, viewer.layer, {n_other})),
}}
print('BENCH_JSON:' + json.dumps(_bench_out))
""".format(n_class=repeats["class"] + 2, n_other=repeats["method"], methods=METHOD_CYCLE, layers=LAYERS)
            direct = kernel_json(page, direct_code)
        finally:
            context.close()

    if errors:
        print(f"  page errors: {errors}")
    lower: list[tuple[str, list[float]]] = []
    print(f"  clock offset browser - host {offset:+.2f} ms (+-{uncertainty:.2f} ms; {offset_end - offset:+.2f} ms drift by the end)")
    for name, (trait, rows, origin, warm) in results.items():
        timed_out = sum(r["timedOut"] for r in rows)
        same = sum((not r["changed"]) and not r["timedOut"] for r in rows)
        values = [r["visible"] for r in rows if not r["timedOut"]]
        note = "pixel poll per frame"
        if same:
            note += f"; {same} looked the same (frame after draw)"
        if timed_out:
            note += f"; {timed_out} timed out"
        table.add(f"{name} change -> redraw visible (JupyterLab)", values, KERNEL_TARGET_MS, note)
        lower.append((name, [r["visibleRaf"] for r in rows if not r["timedOut"]]))
        parts = breakdown(rows, log, trait, offset, origin)
        visible_raf = med([r["visibleRaf"] for r in rows if r["visibleRaf"] is not None])
        print(f"  {name}: {len(rows)} changes after {warm} warm-up; values {[r['value'] for r in rows]}")
        print(f"    median split (ms): change -> WebSocket send {med(parts['js_send']):.1f} | -> kernel set_state "
              f"{med(parts['to_kernel']):.1f} | kernel until the map is sent {med(parts['kernel']):.1f} "
              f"(explain {med(parts['explain']):.1f}, encode {med(parts['encode']):.1f}) | -> map's frame in the page "
              f"{med(parts['to_page']):.1f} | -> main canvas drawn {med(parts['js_draw']):.1f} | -> frame rendered "
              f"{med(parts['draw_to_visible']):.1f} (of which to its rAF {med(parts['draw_to_raf']):.1f})")
        if verbose:
            for row in rows:
                print(f"      {row['value']!s:>10}: visible {row['visible']:.1f} (rAF {row['visibleRaf']:.1f}), "
                      f"drawn {row['draw']:.1f} x{row.get('nDraws', 0)}, changed pixels {row['changed']}, "
                      f"ws out {[(round(t, 1), g) for t, _, g in row['wsOut']]}, "
                      f"ws in {[(round(t, 1), n, g) for t, n, g in row['wsIn']]}")
        gaps = [max(b[0] - a[0] for a, b in zip(r["wsIn"], r["wsIn"][1:])) for r in rows if len(r["wsIn"]) > 1]
        nagle = sum(35.0 <= g <= 48.0 for g in gaps)
        print(f"    kernel frames in the page before the draw: largest gap between two, median {med(gaps):.1f} ms; "
              f"{nagle}/{len(gaps)} changes with a 35-48 ms gap (the signature of Nagle + delayed ACK on the WebSocket)")
        print(f"    change -> putImageData {med([r['draw'] for r in rows if r['draw'] is not None]):.1f} ms; "
              f"-> rAF of the visible frame {visible_raf:.1f} ms; main-canvas draws per change {med(parts['draws']):g}; "
              f"busy class seen in a frame: {sum(r['busySeen'] for r in rows)}/{len(rows)}")
    for name, values in lower:
        table.add(f"{name} change -> rAF of that frame", values, None, "lower bound: before its paint")
    for name, values in direct.items():
        table.add(f"{name} change, kernel only (viewer.{ {'class': 'target_class'}.get(name, name)} = v)", values, None,
                  "perf_counter in the kernel")


# ----------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", choices=["slice", "zoom", "kernel", "view3d"],
                        help="run one part only (view3d runs only when asked for)")
    parser.add_argument("--size", type=int, default=128, help="volume side for the slice part (default 128)")
    parser.add_argument("--slice-events", type=int, help="slice events (default 200, --quick 60)")
    parser.add_argument("--repeats", type=int, help="class / method / layer changes each (default 20, --quick 6)")
    parser.add_argument("--sample", type=int, default=0, help="index of the test volume (default 0)")
    parser.add_argument("--kernel-threads", type=int, default=0,
                        help="torch.set_num_threads in the kernel (default 0: torch's default, one per core)")
    parser.add_argument("--verbose", action="store_true", help="print every change of the kernel part")
    parser.add_argument("--ws-nodelay", action="store_true",
                        help="experiment: start JupyterLab with TCP_NODELAY on the kernel WebSockets (not the default)")
    args = parser.parse_args(argv)

    if not Path(CHROMIUM).exists():
        print(f"needs Debian's chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    if not (REPO / "cam_widgets" / "static" / "cam_viewer.js").exists():
        print("the front end is not built: run `make build`", file=sys.stderr)
        return 2

    import torch
    from playwright.sync_api import sync_playwright

    n_slice = args.slice_events or (60 if args.quick else 200)
    r = args.repeats or (6 if args.quick else 20)
    repeats = {"class": r, "method": r, "layer": r}
    load_start = loadavg()
    print("CAMViewer interactive latency (headless Chromium; times from performance.now() in the page)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}")
    print(f"load average at start (1/5/15 min): {load_start}  -- a shared machine: other processes' work "
          "(and this bench's own browser, server and kernel, all on the same cores) moves these numbers")
    table = Table()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print(f"browser: Chromium {browser.version} ({' '.join(CHROMIUM_ARGS)})")
            if args.only in (None, "slice"):
                print(f"\n[slice] harness page, {n_slice} slider input events over 3 axes")
                bench_slice(browser, n_slice, args.size, table)
            if args.only in (None, "zoom"):
                print(f"\n[zoom] harness page, {n_slice} wheel / pan gestures on the main panel")
                bench_zoom(browser, n_slice, args.size, table)
            if args.only in (None, "kernel"):
                import jupyterlab

                print(f"\n[kernel] JupyterLab {jupyterlab.__version__}, {r} changes each of class, method, layer")
                bench_kernel(browser, repeats, args.sample, table, args.kernel_threads, args.verbose, args.ws_nodelay)
            if args.only == "view3d":
                from view3d_latency import bench_view3d

                print(f"\n[view3d] JupyterLab, {r} class changes of a 128^3 viewer without, then with the 3D view open")
                bench_view3d(browser.browser_type, r, table, kernel_json, med)
        finally:
            browser.close()
    print()
    table.print()
    print(f"\nload average at end (1/5/15 min): {loadavg()} (start: {load_start}); {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
