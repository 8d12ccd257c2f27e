"""The README's quick start runs exactly as written and shows what it says."""

import contextlib
import io
import re
from pathlib import Path

import torch

README = Path(__file__).parent.parent / "README.md"


def test_quick_start_runs_as_written():
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code, "README quick start", "exec"), namespace)
    res, allc = namespace["res"], namespace["allc"]
    assert res.raw.shape == (2, 16, 16, 16) and res.map.shape == (2, 32, 32, 32) and res.scores.shape == (2,)
    assert allc.raw.shape == (5, 2, 16, 16, 16)
    bias = namespace["model"][4].bias[3].detach()
    torch.testing.assert_close(res.raw.flatten(1).sum(1), res.scores - bias, rtol=1e-4, atol=1e-4)
    assert "torch.Size([2, 16, 16, 16])" in printed.getvalue()


def test_evaluation_example_runs_as_written():
    text = README.read_text()
    section = text.split("## Which map should I trust?", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code, "README evaluation example", "exec"), namespace)
    r, table = namespace["r"], namespace["table"]
    assert r.deletion_auc.shape == (8,) and "torch.Size([8]) {'deletion_auc': (" in printed.getvalue()
    assert [key[0] for key in table.results] == ["Grad-CAM", "HiResCAM", "Respond-CAM"]
    assert table.metrics == ["deletion_insertion", "road", "average_drop", "localisation", "randomisation",
                             "random_logit"]
    assert "| Respond-CAM | `maxpool2` |" in printed.getvalue()
    assert len(namespace["figure"].data) > 0


def test_data_set_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    section = README.read_text().split("## Whole data sets", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code, "README data-set example", "exec"), namespace)
    lines = printed.getvalue().splitlines()
    assert lines[0] == "(64, 10) (64, 6, 6, 6)"
    mean, std, n = namespace["run"].summary["sum-to-score/respondcam/maxpool2/tau"]
    assert lines[1] == str((mean, std, n)) and n == 64 and mean > 0.9  # Respond-CAM's sums rank the classes
    assert (tmp_path / "run.zarr" / "zarr.json").is_file()
