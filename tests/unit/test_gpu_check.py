"""The GPU check (benchmarks/gpu_check*.py): its pure helpers, and its whole pipeline on the CPU.

The smoke test runs every phase with ``--cpu --notebooks none`` (char-tiny, a few steps, no
``torch.compile``, ``gpt_speed.py --smoke`` in a child process): about 10 CPU seconds, so it
is an ordinary unit test that CI runs.
"""

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def load(monkeypatch):
    """Import a benchmarks/ module by file; sys.path and torch's threads restored after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    threads = torch.get_num_threads()

    def _load(name):
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    yield _load
    torch.set_num_threads(threads)


def test_flops_per_token(load):
    r = load("gpu_check_report")
    assert r.flops_per_token(1000, 2, 8, 16) == 6 * 1000 + 12 * 2 * 8 * 16  # 9,072
    # GPT-2 small, 124,439,808 parameters, T = 1024
    assert r.flops_per_token(124_439_808, 12, 1024, 768) == 859_885_056  # 0.86 GFLOP
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_params"):
            r.flops_per_token(bad, 2, 8, 16)


def test_throughput_takes_the_median_step(load):
    r = load("gpu_check_report")
    assert r.throughput(1000, [0.2, 0.1, 0.4]) == {
        "ms_per_step": 200.0,
        "tokens_per_second": 5000,
        "steps_timed": 3,
    }
    assert r.throughput(1000, [0.4, 0.1, 0.3, 0.2])["tokens_per_second"] == round(1000 / 0.3)
    with pytest.raises(ValueError, match="positive step times"):
        r.throughput(1000, [])
    with pytest.raises(ValueError, match="positive step times"):
        r.throughput(1000, [0.1, 0.0])
    with pytest.raises(ValueError, match="tokens_per_step"):
        r.throughput(0, [0.1])


def test_peak_utilisation_and_speedup(load):
    r = load("gpu_check_report")
    assert r.peak_for("NVIDIA H200") == 989e12
    assert r.peak_for("NVIDIA A100-SXM4-80GB") == 312e12
    assert r.peak_for("Tesla T4") is None and r.peak_for("CPU") is None
    assert r.utilisation(1e6, 1e6, 4e12) == {"tflops": 1.0, "mfu": 0.25}
    assert r.utilisation(1e6, 1e6, None) == {"tflops": 1.0, "mfu": None}
    assert r.utilisation(None, 1e6, 4e12) == {"tflops": None, "mfu": None}
    assert r.speedup({"tokens_per_second": 100}, {"tokens_per_second": 150}) == 1.5
    assert r.speedup({"tokens_per_second": 100}, {"skipped": "--no-compile"}) is None
    assert r.speedup({"error": "OOM"}, {"tokens_per_second": 150}) is None


def test_notebook_summary(load):
    r = load("gpu_check_report")
    rows = [
        {"notebook": "a", "status": "ok", "seconds": 10.0},
        {"notebook": "b", "status": "ok", "seconds": 32.5},
        {"notebook": "c", "status": "timeout", "seconds": None},
        {"notebook": "d", "status": "not run", "seconds": None},
    ]
    assert r.notebook_summary(rows) == {
        "counts": {"ok": 2, "timeout": 1, "not run": 1},
        "total_seconds": 42.5,
        "longest_seconds": 32.5,
    }
    assert r.notebook_summary([]) == {"counts": {}, "total_seconds": 0, "longest_seconds": None}


def test_pick_notebooks_and_phases(load, tmp_path):
    r = load("gpu_check_report")
    for name in ("b_two", "a_one"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert r.pick_notebooks("all", tmp_path) == [tmp_path / "a_one.ipynb", tmp_path / "b_two.ipynb"]
    assert r.pick_notebooks("none", tmp_path) == []
    assert r.pick_notebooks("b_two, a_one.ipynb", tmp_path) == [
        tmp_path / "b_two.ipynb",
        tmp_path / "a_one.ipynb",
    ]
    for bad in ("c_three", "a_one,c_three", ","):
        with pytest.raises(ValueError, match="unknown notebook"):
            r.pick_notebooks(bad, tmp_path)
    assert r.pick_phases("notebooks, training") == ["training", "notebooks"]
    for bad in ("training,gpu", ""):
        with pytest.raises(ValueError, match="unknown phase"):
            r.pick_phases(bad)


def test_markdown_tables(load):
    r = load("gpu_check_report")
    report = {
        "date": "2026-12-01 10:00",
        "mode": "gpu",
        "total_seconds": 512.3,
        "environment": {
            "device_name": "NVIDIA H200",
            "capability": "9.0",
            "memory_gib": 139.8,
            "torch": "2.5.1",
            "cuda": "12.4",
            "precision": "bf16",
            "precision_reason": "cuda capability 9.0: bf16 autocast",
            "grad_scaler": False,
        },
        "training": [
            {
                "model": "GPT-2 small (124M)",
                "tokens_per_step": 16384,
                "eager": {"tokens_per_second": 100_000},
                "compiled": {"tokens_per_second": 150_000, "compile_seconds": 40.2},
                "speedup": 1.5,
                "peak_gib": 12.5,
                "tflops": 30.04,
                "mfu": 0.0304,
            },
            {"model": "char", "tokens_per_step": 2048, "eager": {"error": "x"}, "compiled": {}},
        ],
        "recipe": {"steps": 2000, "seconds": 41.6, "val_loss": 1.6512, "tokens_per_second": 98765},
        "notebooks": {
            "rows": [
                {"notebook": "02_core", "status": "ok", "error": None, "seconds": 61.4},
                {
                    "notebook": "08_scale",
                    "status": "error",
                    "error": "ValueError: a|b",
                    "seconds": 3,
                },
            ]
        },
        "benchmarks": {"error": "TimeoutExpired: gpt_speed.py"},
    }
    lines = r.markdown(report).splitlines()
    assert "NVIDIA H200 (compute capability 9.0, 140 GiB)" in lines[0]
    assert "precision path: bf16 (cuda capability 9.0" in lines[0] and "GradScaler" not in lines[0]
    assert "Whole check: 512 s." in lines[0]
    assert (
        "| GPT-2 small (124M) | 16,384 | 100,000 | 150,000 | 1.50x | 40 | 12.50 | 30.0 (3%) |"
        in lines
    )
    assert "| char | 2,048 | - | - | - | - | - | - (-) |" in lines
    assert any(line.startswith("Chapter 3e's CPU recipe") and "2,000 steps in 42 s" in line
               and "loss 1.651 (98,765 tokens/s)" in line for line in lines)  # fmt: skip
    assert "| 02_core | ok | 61 |" in lines
    assert "| 08_scale | error: ValueError: a/b | 3 |" in lines  # no stray column
    assert "Phase benchmarks failed: TimeoutExpired: gpt_speed.py" in lines
    fp16 = {"environment": {"precision": "fp16", "grad_scaler": True}}
    assert "precision path: fp16 + GradScaler" in r.markdown(fp16)
    assert r.markdown({}).startswith("GPU check of ? (? mode): ?")  # an empty report still renders


def test_notebooks_after_the_deadline_are_not_started(load, tmp_path):
    nbs = load("gpu_check_notebooks")
    paths = [tmp_path / "a.ipynb", tmp_path / "b.ipynb"]
    rows = nbs.run_notebooks(paths, tmp_path, 2, time.monotonic() + 5, 60.0, {})
    assert [(row["notebook"], row["status"]) for row in rows] == [
        ("a", "not run"),
        ("b", "not run"),
    ]


def test_bad_arguments(load):
    check = load("gpu_check")
    for argv in (["--phases", "gpu"], ["--notebooks", "no_such_notebook"], ["--jobs", "0"]):
        with pytest.raises(SystemExit):
            check.parse_args(argv)


def test_whole_pipeline_on_the_cpu(load, tmp_path, monkeypatch):
    """``--cpu --notebooks none``: every phase runs and the report holds their figures."""
    for name in ("LLMW_QUICK", "LLMW_CACHE_DIR", "LLMW_DEVICE"):  # run_all sets them
        monkeypatch.setenv(name, "")
    check = load("gpu_check")
    out = tmp_path / "out"
    assert check.main(["--cpu", "--notebooks", "none", "--out", str(out)]) == 0
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["mode"] == "cpu" and list(report["phase_seconds"]) == list(check.PHASES)
    assert report["environment"]["precision"] == "fp32"
    assert not report["environment"]["grad_scaler"]
    assert [row["parameters"] for row in report["training"]] == [28_576, 28_576]  # char-tiny
    for row in report["training"]:
        assert row["eager"]["tokens_per_second"] > 0 and row["eager"]["steps_timed"] == 4
        assert row["compiled"] == {"skipped": "--no-compile"} and row["speedup"] is None
    assert report["recipe"]["steps"] == 20 and 0 < report["recipe"]["val_loss"] < 4.2  # ln 65
    assert [b["status"] for b in report["benchmarks"]] == ["ok"]
    assert report["notebooks"]["rows"] == []
    assert list((tmp_path / "out" / "cache").rglob("*")), "the recipe's model is in the store"
    md = (out / "gpu_check.md").read_text()
    assert "| char (shakespeare-char-cpu) | 128 |" in md and "20 steps in" in md


@pytest.mark.kernel
def test_notebook_runner(load, tmp_path):
    """Two kernels side by side: a notebook that runs, one that fails, one over its time."""
    import nbformat

    nbs = load("gpu_check_notebooks")
    cells = {"fine": "print(6 * 7)", "fails": "raise ValueError('boom')", "slow": "sleep(60)"}
    paths = []
    for name, code in cells.items():
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(f"from time import sleep\n{code}")]
        )
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(nb, paths[-1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rows = nbs.run_notebooks(paths, tmp_path / "work", 2, time.monotonic() + 300, 8.0, env)
    assert [(row["notebook"], row["status"]) for row in rows] == [
        ("fine", "ok"),
        ("fails", "error"),
        ("slow", "timeout"),
    ]
    assert rows[1]["error"] == "ValueError: boom" and rows[0]["seconds"] > 0
    executed = nbformat.read(tmp_path / "work" / "notebooks" / "fine.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
