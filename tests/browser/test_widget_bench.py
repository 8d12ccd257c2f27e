"""The widget benchmark's browser parts run (few events) and print what they measured: a bench that rots is
caught here; its timings are not asserted (the targets live in bench/widget_latency.py)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_slice_and_zoom_parts_print_a_row_per_measurement():
    rows = {}
    for part in ("slice", "zoom"):
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "widget_latency.py"), "--only", part, "--quick",
                              "--slice-events", "12", "--size", "48"], capture_output=True, text=True, timeout=300,
                             check=True).stdout
        assert "page errors" not in out, out
        rows.update({m[0]: float(m[1]) for m in re.findall(r"^(\w+ 48\^3: [^\n]*?)\s+\d+\s+([0-9.]+)\s+[0-9.]+", out, re.M)})
    assert any(k.startswith("slice 48^3: input handler") for k in rows), rows
    assert any(k.startswith("zoom 48^3: handler + frame") for k in rows), rows
    assert any(k.startswith("pan 48^3: handler + frame") for k in rows), rows
    assert all(v > 0 for v in rows.values()), rows
