"""The benchmarks still run: their --smoke settings, in-process, for a few seconds."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_cpu_recipe_smoke(tmp_path, capsys):
    recipe = _load("cpu_recipe")
    out = tmp_path / "report.json"
    assert recipe.main(["--smoke", "--budget", "1.5", "--threads", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["config"]["preset"] == "char-tiny" and report["budget_seconds"] == 1.5
    assert report["steps_done"] > 0 and report["cosine_end_step"] >= report["steps_done"]
    for step, _, val_loss in report["evaluations"]:  # every 10 steps, or the last one
        assert step % 10 == 0 or step == report["steps_done"]
        assert 0 < val_loss < 10
    assert "best val loss" in capsys.readouterr().out


def test_gpt_speed_smoke(capsys):
    speed = _load("gpt_speed")
    assert speed.main(["--smoke", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "char-tiny" in out and "28,576" in out  # both arms: the same parameter count


def test_kv_cache_smoke(tmp_path, capsys):
    bench = _load("kv_cache")
    out = tmp_path / "kv.json"
    assert bench.main(["--smoke", "--threads", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["config"]["n_layer"] == 2 and report["new_tokens"] == 4
    assert [row["context"] for row in report["results"]] == [8, 16]
    for row in report["results"]:
        assert row["same_tokens"]  # the cache changes the speed, never the tokens
        assert row["cached_ms_per_token"] > 0 and row["uncached_ms_per_token"] > 0
    assert report["target"] == {"context": 512, "speedup": 5.0, "met": False}  # not measured
    assert "not measured" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main(["--contexts", "1020", "--new-tokens", "8"])  # beyond block_size
