"""``python -m cam_widgets explain|evaluate|show`` as users run it: one process or ``torchrun`` with two (gloo,
CPU), killed with SIGKILL part-way and run again, bad files and bad stores."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import zarr

from cam_widgets.batch import open_run
from cam_widgets.datasets import save_subtomogram_folder

from .store_compare import arrays, assert_same_store

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
N = 40
SLOW_MODEL = "tests.models:slow_demo_cnn1"  # the demo CNN-1, slowed down enough to be killed part-way


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def explain_args(data: Path, out: Path, model: str = SLOW_MODEL, *extra: str) -> list[str]:
    return ["explain", "--model", model, "--data", str(data), "--methods", "respondcam,gradcam",
            "--layers", "maxpool2", "--targets", "predicted,label", "--metrics", "sum-to-score",
            "--out", str(out), "--chunk-size", "4", "--no-progress", *extra]


def cli(*args: str, launcher: list[str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    command = [*(launcher or [sys.executable]), "-m", "cam_widgets", *args]
    done = subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return save_subtomogram_folder(tmp_path_factory.mktemp("cli") / "subtomos", N, seed=11, size=24)


@pytest.fixture(scope="module")
def reference(folder, tmp_path_factory) -> Path:
    """The uninterrupted one-process run every other run must equal."""
    out = tmp_path_factory.mktemp("reference") / "run.zarr"
    done = cli(*explain_args(folder, out))
    assert f"{N} samples" in done.stdout and "sum-to-score/respondcam/maxpool2/tau" in done.stdout
    return out


def test_two_processes_give_the_one_process_store(folder, reference, tmp_path):
    out = tmp_path / "two.zarr"
    done = cli(*explain_args(folder, out, SLOW_MODEL, "--workers", "1"), launcher=TORCHRUN)
    assert done.stdout.count("sum-to-score/respondcam/maxpool2/l1") == 1  # rank 0 alone reports
    assert_same_store(reference, out)
    run = open_run(out)
    assert run.complete and run.attrs["provenance"]["command"][:4] == ["python", "-m", "cam_widgets", "explain"]


def wait_for_chunks(out: Path, process: subprocess.Popen, least: int) -> int:
    """Block until at least ``least`` chunks are flagged (and not all): the moment to kill."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        try:
            done = int(np.asarray(zarr.open_group(str(out), mode="r")["done"][:]).sum())
        except Exception:  # the store is not there yet
            done = 0
        if done >= least:
            return done
        time.sleep(0.05)
    raise AssertionError("the run made no progress")


def test_a_run_killed_mid_way_resumes_to_the_uninterrupted_store(folder, reference, tmp_path):
    out = tmp_path / "killed.zarr"
    args = explain_args(folder, out)
    process = subprocess.Popen([sys.executable, "-m", "cam_widgets", *args], cwd=ROOT, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    flagged = wait_for_chunks(out, process, least=2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert flagged < N // 4 and not open_run(out).complete
    cli(*args)
    assert_same_store(reference, out)


def test_a_rank_killed_fails_the_job_and_the_rerun_resumes_on_fewer_processes(folder, reference, tmp_path):
    out = tmp_path / "rank.zarr"
    args = explain_args(folder, out)
    launcher = subprocess.Popen([*TORCHRUN, "-m", "cam_widgets", *args], cwd=ROOT, env=environment(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_chunks(out, launcher, least=2)
    children = psutil.Process(launcher.pid).children(recursive=True)
    workers = [p for p in children if "cam_widgets" in " ".join(p.cmdline())]
    assert len(workers) >= 2
    workers[-1].send_signal(signal.SIGKILL)
    output, _ = launcher.communicate(timeout=300)
    assert launcher.returncode != 0 and "FAILED" in output  # torchrun reports the failed rank and stops the job
    assert not open_run(out).complete
    cli(*args)  # one process finishes what two left
    assert_same_store(reference, out)


def test_a_rerun_with_other_methods_is_refused(folder, reference, tmp_path):
    before = arrays(reference)
    args = explain_args(folder, reference)
    args[args.index("respondcam,gradcam")] = "gradcam"
    done = cli(*args, check=False)
    assert done.returncode == 1
    assert "holds a run made with other arguments" in done.stderr
    assert "methods: stored ['respondcam', 'gradcam']" in done.stderr
    after = arrays(reference)
    assert all(np.array_equal(before[k], after[k], equal_nan=before[k].dtype.kind == "f") for k in before)


def test_bad_files_are_skipped_and_listed_or_stop_the_run(folder, tmp_path):
    data = tmp_path / "data"
    save_subtomogram_folder(data, 6, seed=2, size=24)
    broken = sorted(data.rglob("*.npy"))[2]
    broken.write_bytes(b"\x93NUMPY garbage")
    relative = broken.relative_to(data).as_posix()
    done = cli(*explain_args(data, tmp_path / "skip.zarr"))
    run = open_run(tmp_path / "skip.zarr")
    assert run.n == 5 and relative not in list(run.source)
    assert [s["path"] for s in run.attrs["skipped"]] == [relative] and relative in done.stderr
    assert "skipped files: 1" in done.stdout
    evaluated = cli("evaluate", str(tmp_path / "skip.zarr"), "--metrics", "average-drop", "--no-progress")
    assert "average-drop/gradcam/maxpool2/drop" in evaluated.stdout
    assert "(n=5)" in evaluated.stdout  # the folder reopened without the skipped file
    stopped = cli(*explain_args(data, tmp_path / "stop.zarr"), "--on-error", "stop", check=False)
    assert stopped.returncode == 1 and relative in stopped.stderr and not (tmp_path / "stop.zarr").exists()


def test_evaluate_and_show_reopen_the_recorded_model_and_data(folder, reference, tmp_path):
    store = tmp_path / "run.zarr"
    shutil.copytree(reference, store)
    done = cli("evaluate", str(store), "--metrics", "deletion", "--no-progress")
    assert "deletion/gradcam/maxpool2/deletion_auc" in done.stdout
    run = open_run(store)
    assert np.isfinite(run.metric("deletion", "gradcam", "maxpool2")["deletion_auc"][:]).all()
    shown = cli("show", str(store)).stdout
    assert f"{N} samples" in shown and "metric deletion: 10/10 chunks" in shown and "accuracy" in shown
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    failed = cli("evaluate", str(foreign), "--metrics", "deletion", check=False)
    assert failed.returncode == 1 and "not a cam_widgets run store" in failed.stderr
    bad_model = cli(*explain_args(folder, tmp_path / "m.zarr", "no_such_module:make"), check=False)
    assert bad_model.returncode == 1 and "cannot import 'no_such_module'" in bad_model.stderr


def test_table1_under_torchrun_equals_one_process(tmp_path):
    """Four data-set runs in one script (one per Table 1 column) on two processes: the process group is made
    once and serves every run."""
    command = ["-m", "cam_widgets.experiments.table1", "--n-test", "12"]
    one = subprocess.run([sys.executable, *command, "--out", str(tmp_path / "one")], cwd=ROOT, env=environment(),
                         capture_output=True, text=True, timeout=600)
    two = subprocess.run([*TORCHRUN, *command, "--out", str(tmp_path / "two")], cwd=ROOT, env=environment(),
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-3000:] + two.stderr[-3000:]
    assert two.stdout == one.stdout and "| L1, Respond (ours) |" in one.stdout
    for store in (tmp_path / "one").iterdir():
        assert_same_store(store, tmp_path / "two" / store.name)


def test_a_rank_s_own_error_fails_the_job_with_its_message(tmp_path):
    data = tmp_path / "data"
    save_subtomogram_folder(data, 8, seed=4, size=24)
    last = sorted(data.rglob("*.npy"))[-1]  # in rank 1's shard; its header is fine, its values are not
    volume = np.load(last)
    volume[0, 0, 0] = np.nan
    np.save(last, volume)
    args = explain_args(data, tmp_path / "nan.zarr", "cam_widgets.zoo:load_demo_cnn1")
    args[args.index("--chunk-size") + 1] = "2"
    done = cli(*args, launcher=TORCHRUN, check=False)
    assert done.returncode != 0
    assert "(rank 1): error:" in done.stderr and last.relative_to(data).as_posix() in done.stderr
    assert "NaN" in done.stderr and "(rank 0): error:" not in done.stderr
