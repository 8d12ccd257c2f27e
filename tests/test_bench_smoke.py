"""The PFV, fingerprint and methods benchmarks run (tiny sizes) and print what they measured: a bench that rots is
caught here, its timings are not asserted (speed targets live in bench/)."""

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


def test_methods_bench_quick_checks_the_maps_and_prints_the_table():
    """bench/methods.py --quick: every section's maps are checked against the lower bounds' and the peers' (an
    AssertionError fails the run), and the summary table has a row per target; the timings are not asserted."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "methods.py"), "--quick"], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert out.count("checks (before timing):") == 6, out
    assert len(re.findall(r"^  lower bound's scores -> .* max\|diff\| .*  OK$", out, re.M)) == 8, out
    assert "| workload | method | ours | compared with | theirs | ratio | target | pass |" in out, out
    rows = re.findall(r"^\| (resnet|cnn1)/cpu \| (Score|Ablation|Eigen)-CAM.* \| ([0-9.]+)x \| .* \| (PASS|MISS) \|$",
                      out, re.M)
    assert sum("lower bound" in line for line in out.splitlines() if line.startswith("| ")) == 6, out
    assert len(rows) >= 6, out
    assert all(float(ratio) > 0 for _, _, ratio, _ in rows), out
    assert re.search(r"^[0-9]+ of [0-9]+ targets met$", out, re.M), out


def test_evaluation_bench_quick_checks_every_value_and_prints_the_table():
    """bench/evaluation.py --quick: ours vs each peer that imports here (torchcam, pytorch-grad-cam, Quantus) and vs
    the lower bounds' own forwards is checked value by value before timing (a difference prints DIFFERS); the
    summary has a row per comparison. The timings are not asserted."""
    import importlib.util

    out = subprocess.run([sys.executable, str(ROOT / "bench" / "evaluation.py"), "--quick"], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    checks = re.findall(r"^  (.+?) +max\|diff\| [0-9.e+-]+  max rel [0-9.e+-]+ \(.*\)  (OK|DIFFERS)$", out, re.M)
    assert all(verdict == "OK" for _, verdict in checks), out
    labels = " | ".join(label for label, _ in checks)
    assert labels.count("the lower bound's forwards") >= 7, out         # CNN-1 and the U-Net
    expected = {"torchcam": "vs torchcam", "pytorch_grad_cam": "vs pytorch-grad-cam", "quantus": "vs Quantus"}
    for module, text in expected.items():
        if importlib.util.find_spec(module) is not None:
            assert text in labels, (module, out)
    assert "| section | metric | ours | compared with | theirs | ratio | values equal | target | met |" in out, out
    rows = re.findall(r"^\| (2D|3D|seg)/cpu \| .* \| ([0-9.]+)x \| (yes|NO) \| .* \| (met|not met) \|$", out, re.M)
    assert len(rows) >= 5 and all(v == "yes" for _, _, v, _ in rows), out
    assert all(float(ratio) > 0 for _, ratio, _, _ in rows), out
    assert re.search(r"^[0-9]+ of [0-9]+ targets met; the run took [0-9]+ s$", out, re.M), out


def test_batch_bench_quick_checks_the_maps_compares_the_stores_and_prints_the_table():
    """bench/batch.py --quick: a run's stored maps and scores equal the lower bound's passes (checked before timing),
    the 1- and 2-process CLI stores are equal (tests/store_compare), and the summary has every figure; the timings
    are not asserted."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "batch.py"), "--quick"], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    checks = re.findall(r"^  (scores|prediction|maps/\S+) .*  (OK|DIFFERS)$", out, re.M)
    assert len(checks) == 4 and all(verdict == "OK" for _, verdict in checks), out
    assert "stores of 1 and 2 processes equal (tests/store_compare.assert_same_store): yes" in out, out
    assert "| figure | value | what was measured | target | met |" in out, out
    ratios = re.findall(r"^\| lower bound / run, workers=(2|0) \| ([0-9.]+) \| .* \| >= 0.8 \| (met|NOT MET) \|$",
                        out, re.M)
    assert sorted(w for w, _, _ in ratios) == ["0", "2"] and all(float(r) > 0 for _, r, _ in ratios), out
    assert len(re.findall(r"^\| volumes/s, explain_dataset workers=[20] \| [0-9.]+ \|", out, re.M)) == 2, out
    speedups = re.findall(r"^\| speedup 1 -> 2 processes, (.+?) \| ([0-9.]+x|n/a) \|", out, re.M)
    assert len(speedups) == 3 and all(v != "n/a" for what, v in speedups if "wall less" not in what), out
    assert re.search(r"^\| 1- and 2-process stores equal \| yes \| .* \| equal \| met \|$", out, re.M), out
    assert re.search(r"^[0-9]+ of [0-9]+ targets met; the run took [0-9]+ s$", out, re.M), out
