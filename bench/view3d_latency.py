"""``widget_latency.py --only view3d``: does the 3D view slow down the 2D viewer? Class changes of a 128^3
CAMViewer in a real JupyterLab: first the viewer alone, then with ``viewer.view_3d()`` open below it,
alternately with the 3D view following the viewer and with it paused, change by change (so the machine's
load drifts hit both alike).

The viewer: a simulated subtomogram (``make_subtomograms``, 128^3, SNR 0.1) under a small fully
convolutional 3D CNN (three 3x3x3 convolutions, two max-pools, global average pool, 10 classes; seeded
random weights: the bench measures time), Respond-CAM at ``relu3`` with Grad-CAM as the compare map (as
in notebook 02). Each change sets the 2D viewer's class select; the page checks the main canvas's
pixels in every ``requestAnimationFrame`` callback (as the ``kernel`` part does) and the time is taken
after the first frame whose pixels differ. While the 3D view follows, the page also waits for its update:
the first frame after its header names the new class and is no longer busy (the title is sent right
after the figure's restyle), and notes the figure's redraw (``plotly_afterplot``). "Paused" unobserves the
viewer (the panel stays on screen, idle); when it follows again it catches up, and the page waits for
that to be drawn (and for the picture of the static fallback to be made) before the next change. Before
each change the kernel, the viewer and the 3D view are idle (a person looks at a class before choosing
the next). The kernel records each 3D update's time (the sum of its steps, ``time.perf_counter``).
Chromium runs with WebGL on SwiftShader (CPU).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.browser.servers import CHROMIUM, GL_ARGS, jupyterlab_server
from widget_latency import FRAME_JS


NOTEBOOK_CODE = """
import json, os, time
from collections import OrderedDict
import torch
from torch import nn
from cam_widgets import CAMExplainer, CAMViewer
from cam_widgets.datasets import SUBTOMOGRAM_CLASSES, make_subtomograms
from cam_widgets.widgets.view3d import _VIEWER_TRAITS

torch.manual_seed(0)
model = nn.Sequential(OrderedDict(
    conv1=nn.Conv3d(1, 8, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool3d(2),
    conv2=nn.Conv3d(8, 16, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool3d(2),
    conv3=nn.Conv3d(16, 32, 3, padding=1), relu3=nn.ReLU(),
    gap=nn.AdaptiveAvgPool3d(1), flatten=nn.Flatten(), fc=nn.Linear(32, len(SUBTOMOGRAM_CLASSES)))).eval()
volume, label = make_subtomograms(1, size=128, snr=0.1, seed=3)
viewer = CAMViewer(CAMExplainer(model, layers=["relu3"]), torch.from_numpy(volume[0]),
                   class_names=list(SUBTOMOGRAM_CLASSES), method="respondcam", compare_method="gradcam")
BENCH_INFO = {"pid": os.getpid(), "classes": list(SUBTOMOGRAM_CLASSES), "predicted": viewer.target_class,
              "shape": list(viewer.input_shape), "threads": torch.get_num_threads()}
viewer
"""

VIEW_CODE = """
view = viewer.view_3d()

BENCH_UPDATES, _bench_spent = [], [0.0]
def _bench_timed(method):  # the kernel's time in an update: its steps, not the turns of the loop between
    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            _bench_spent[0] += (time.perf_counter() - t) * 1e3
    return timed
view._run, view._step = _bench_timed(view._run), _bench_timed(view._step)
_bench_finished = view._finished
def _bench_record(problem):
    _bench_finished(problem)
    BENCH_UPDATES.append(_bench_spent[0])
    _bench_spent[0] = 0.0
view._finished = _bench_record

_bench_following = [True]
def bench_follow(on):  # pause / resume the 3D view (it catches up at once when resumed)
    if on and not _bench_following[0]:
        viewer.observe(view._on_viewer, names=list(_VIEWER_TRAITS))
        view._changed("cam"), view._changed("title")
        view.refresh()
    elif not on and _bench_following[0]:
        viewer.unobserve(view._on_viewer, names=list(_VIEWER_TRAITS))
    _bench_following[0] = on
view
"""

KERNEL = ("const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
          " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;")

CHANGES_JS = """
async ({ values, follow, names, timeoutMs, settleMs }) => {
  const q = (id) => document.querySelector(`[data-testid="${id}"]`);
  const select = q('class-select'), canvas = q('main-canvas'), root = q('cam-viewer');
  const header = q('view3d'), title = q('view3d-title');  // null before the 3D view is open
  const gd = document.querySelector('.cam-view3d-panel .js-plotly-plot');
""" + FRAME_JS + """  const settled = () => !root.classList.contains('busy') && kernel().status === 'idle'
    && !(header && header.classList.contains('busy'));
  const plots = [];  // the figure's redraws
  if (gd) gd.on('plotly_afterplot', () => plots.push(performance.now()));
  const rows = [];
  for (let n = 0; n < values.length; n++) {
    const value = values[n], with3d = !!follow[n];
    if (follow[n] !== null) {  // (null: no 3D view yet)
      const drawn = plots.length;
      await kernel().requestExecute({ code: `bench_follow(${with3d ? 'True' : 'False'})`, silent: true }).done;
      if (with3d && n > 0 && !follow[n - 1]) {  // resumed: its catch-up is drawn, its picture made, first
        const t1 = performance.now();
        while (plots.length === drawn && performance.now() - t1 < 5000) await sleep(20);
        await sleep(1500);
      }
    }
    let t = performance.now();
    while (!settled() && performance.now() - t < timeoutMs) await sleep(10);
    await sleep(settleMs);
    await frame();
    const before = pixels();
    const want = `class ${names[value]} ·`;
    const row = { value, with3d, visible: null, view3d: null, figure: null, timedOut: false };
    select.value = String(value);
    const t0 = performance.now();
    select.dispatchEvent(new Event('input', { bubbles: true }));
    select.dispatchEvent(new Event('change', { bubbles: true }));
    for (;;) {
      const [tRaf, tPainted, st] = await frame(() => ({
        changed: row.visible === null && differs(before, pixels()),
        shown3d: with3d && title.textContent.includes(want) && !header.classList.contains('busy'),
      }));
      if (st.changed) row.visible = tPainted - t0;
      if (st.shown3d && row.view3d === null) row.view3d = tPainted - t0;
      if (row.visible !== null && (!with3d || row.view3d !== null)) break;
      if (tRaf - t0 > timeoutMs) { row.timedOut = true; break; }
    }
    const drawn = plots.find((p) => p >= t0);
    row.figure = with3d && drawn !== undefined ? drawn - t0 : null;
    rows.push(row);
  }
  return rows;
}
"""


def open_notebook(page, lab: dict, code: str) -> None:
    """Write a notebook of one cell with ``code``, open it in JupyterLab, Run All, and wait until the
    viewer has drawn and the kernel is idle."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, lab["notebooks"] / "view3d_latency.ipynb")
    page.goto(f"{lab['url']}/lab/tree/view3d_latency.ipynb?token={lab['token']}")
    page.wait_for_function(f"() => {{ {KERNEL} return k && k.status === 'idle'; }}", timeout=90_000, polling=200)
    page.evaluate("() => window.jupyterapp.commands.execute('runmenu:run-all')")
    page.wait_for_selector('[data-testid="main-canvas"]', timeout=180_000)
    page.wait_for_function(f"() => {{ {KERNEL} return k.status === 'idle' && document.querySelector("
                           "'[data-testid=\"main-canvas\"]').width > 1; }", timeout=180_000, polling=200)


def run_cell(page, code: str) -> None:
    """Append a code cell with ``code`` to the open notebook and run it, as a person does; wait until
    the 3D view has drawn."""
    page.evaluate(
        """(code) => { const panel = window.jupyterapp.shell.currentWidget, cells = panel.content.model.sharedModel;
                       cells.insertCell(cells.cells.length, { cell_type: 'code', source: code });
                       panel.content.activeCellIndex = panel.content.widgets.length - 1;
                       return window.jupyterapp.commands.execute('notebook:run-cell'); }""", code)
    page.wait_for_function("() => { const gd = document.querySelector('.cam-view3d-panel .js-plotly-plot');"
                           " return gd && gd._fullData && gd._fullData.length === 3; }", timeout=180_000, polling=200)


def bench_view3d(browser_type, repeats: int, table, kernel_json, med) -> None:
    """``repeats`` class changes each with the 3D view following and paused, alternating, into ``table``
    (``browser_type``: Playwright's Chromium, launched here with WebGL; ``kernel_json`` runs code in the
    kernel and reads what it prints; ``med``: the median)."""
    with tempfile.TemporaryDirectory(prefix="cam-bench-view3d-") as tmp, jupyterlab_server(Path(tmp)) as lab:
        browser = browser_type.launch(executable_path=CHROMIUM, args=GL_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            t = time.perf_counter()
            open_notebook(page, lab, NOTEBOOK_CODE)
            info = kernel_json(page, "print('BENCH_JSON:' + json.dumps(BENCH_INFO))")
            lab["kernel_pids"].append(info["pid"])
            print(f"  viewer {'x'.join(map(str, info['shape']))} drawn in {time.perf_counter() - t:.1f} s "
                  f"(kernel pid {info['pid']}, {info['threads']} torch threads); Respond-CAM + Grad-CAM compare at relu3")
            names, n = info["classes"], len(info["classes"])
            args = {"names": names, "timeoutMs": 20_000, "settleMs": 300}
            walk = lambda start, count: [(start + 1 + i) % n for i in range(count)]
            first = walk(info["predicted"], repeats + 2)  # 2 warm-up changes
            rows = page.evaluate(CHANGES_JS, {**args, "values": first, "follow": [None] * len(first)})[2:]
            run_cell(page, VIEW_CODE)
            page.locator('[data-testid="main-canvas"]').scroll_into_view_if_needed()
            time.sleep(2)
            values = walk(first[-1], 2 * repeats + 2)
            follow = [i % 2 == 1 for i in range(len(values))]
            rows += page.evaluate(CHANGES_JS, {**args, "values": values, "follow": follow})[2:]
            updates = kernel_json(page, "print('BENCH_JSON:' + json.dumps(BENCH_UPDATES))")
        finally:
            browser.close()
    if errors:
        print(f"  page errors: {errors}")
    series = {"no 3D view": rows[:repeats], "3D view open, paused": [r for r in rows[repeats:] if not r["with3d"]],
              "3D view open, following": [r for r in rows[repeats:] if r["with3d"]]}
    for name, changes in series.items():
        late = sum(r["timedOut"] for r in changes)
        table.add(f"128^3 class change -> 2D redraw visible, {name}", [r["visible"] for r in changes if r["visible"]],
                  None, f"{late} timed out" if late else "pixel poll per frame")
    opened = series["3D view open, following"]
    table.add("128^3 class change -> 3D figure redrawn (plotly_afterplot)", [r["figure"] for r in opened if r["figure"]],
              None, "Plotly's WebGL on SwiftShader (CPU)")
    table.add("128^3 class change -> 3D view updated (header idle, new class)",
              [r["view3d"] for r in opened if r["view3d"]], None, "the frame after its header names the new class")
    table.add("3D view update in the kernel (its steps)", updates[1:], None, "perf_counter; after the browser's answer")
    a, b, c = (med([r["visible"] for r in changes if r["visible"]]) for changes in series.values())
    print(f"  2D redraw median: {a:.1f} ms without a 3D view, {b:.1f} ms with it open but paused, {c:.1f} ms with it "
          f"following ({c - b:+.1f} ms); 3D view updated after {med([r['view3d'] for r in opened if r['view3d']]):.1f} ms")
