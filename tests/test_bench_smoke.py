"""The PFV and fingerprint benchmarks run (tiny sizes) and print what they measured: a bench that rots is caught here,
its timings are not asserted (speed targets live in bench/)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_pfv_bench_quick_runs_and_the_decompositions_agree():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "pfv.py"), "--quick"], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    differences = [float(v) for v in re.findall(r"max relative difference of the components ([0-9.e+-]+)", out)]
    assert len(differences) == 2 and max(differences) < 1e-8, out
    assert len(re.findall(r"PFVExplainer\.explain .* x the forward pass", out)) == 2, out
    peaks = [float(v) for v in re.findall(r"peak memory added, .* ([0-9.]+) MiB", out)]
    assert len(peaks) == 6 and min(peaks) > 0 or out.count("peak memory: not measured") == 2, out


def test_fingerprint_bench_quick_prints_a_row_per_workload_and_batch():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "fingerprint.py"), "--quick"], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    rows = re.findall(r"^\| (demo CNN-1|CNN-1|ResNet-18-like) .* \| ([0-9.]+)% \| (-?[0-9.]+)% \|$", out, re.M)
    assert len(rows) == 6, out
    assert all(float(share) > 0 for _, share, _ in rows), out
