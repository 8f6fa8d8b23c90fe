"""The benchmarks still run: their --smoke settings, in-process, for a few seconds."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
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
    assert report["recipe"]["preset"] == "char-tiny" and report["budget_seconds"] == 1.5
    assert report["recipe"]["threads"] == 1 and report["recipe"]["batch_size"] == 8
    assert report["steps_done"] > 0 and report["cosine_end_step"] >= report["steps_done"]
    for step, _, val_loss in report["evaluations"]:  # every 10 steps, or the last one
        assert step % 10 == 0 or step == report["steps_done"]
        assert 0 < val_loss < 10
    assert "best val loss" in capsys.readouterr().out


def test_cpu_recipe_specs():
    """The baseline is chapter 3e's CPU_RECIPE; a spec changes named fields of a recipe."""
    from llmwidgets import CPU_RECIPE

    v = _load("cpu_recipe_variants")
    base = v.parse_recipe("baseline")
    assert (base.preset, base.batch_size, base.lr, base.min_lr, base.warmup) == (
        CPU_RECIPE.preset,
        CPU_RECIPE.batch_size,
        CPU_RECIPE.lr,
        CPU_RECIPE.min_lr,
        CPU_RECIPE.warmup_steps,
    )
    assert (base.weight_decay, base.eval_every, base.eval_iters) == (0.1, 100, 25)
    assert not base.compile and v.parse_recipe("") == base
    r = v.parse_recipe("lr7e-3+batch_size=16+compile=1+n_embd=128")
    assert (r.lr, r.min_lr, r.batch_size, r.compile, r.n_embd) == (7e-3, 7e-4, 16, True, 128)
    assert v.parse_recipe("beta2=0.99").beta2 == 0.99 and v.parse_recipe("compile").compile
    smoke = v.parse_recipe("batch16+warmup=2", smoke=True)
    assert (smoke.preset, smoke.batch_size, smoke.warmup, smoke.eval_iters) == (
        "char-tiny",
        8,
        2,
        2,
    )
    for bad in ("nope", "lr=", "depth=3", "lr=fast", "compile=yes", "batch_size=1.5"):
        with pytest.raises(SystemExit):
            v.parse_recipe(bad)


def test_cpu_recipe_race_is_scored_against_the_baseline_of_each_round():
    v = _load("cpu_recipe_variants")
    assert v.round_order(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert v.round_order(["a", "b", "c"], 4) == ["b", "c", "a"]

    def run(loss, steps, speed):
        return {
            "best_val_loss": loss,
            "steps_done": steps,
            "tokens_per_second": speed,
            "reached_target": loss <= 1.60,
        }

    table = [
        {"baseline": run(1.70, 1000, 10000), "x": run(1.60, 1500, 15000)},
        {"baseline": run(1.80, 800, 8000), "x": run(1.62, 1000, 9000)},
        {"baseline": run(1.66, 1000, 10000), "x": run(1.66, 900, 9000)},
    ]
    s = v.summarise(["baseline", "x"], table)
    assert s["baseline"]["loss_ratio"] == [1.0, 1.0, 1.0]
    assert s["baseline"]["median_speed_ratio"] == 1.0
    x = s["x"]
    assert x["loss_ratio"] == [round(1.60 / 1.70, 4), 0.9, 1.0]  # each round's own baseline
    assert x["median_loss_ratio"] == round(1.60 / 1.70, 4) and x["median_best"] == 1.62
    assert x["minus_baseline"] == [-0.1, -0.18, 0.0] and x["median_minus_baseline"] == -0.1
    assert x["steps_ratio"] == [1.5, 1.25, 0.9] and x["median_steps_ratio"] == 1.25
    assert x["speed_ratio"] == [1.5, 1.125, 0.9] and x["reached_target"] == [True, False, False]
    lines = v.format_summary(s).splitlines()
    assert lines[0].split()[:3] == ["recipe", "best", "loss"]
    assert lines[2].split() == ["x", "1.6200", "0.9412", "-0.1000", "1.250", "1.125", "1/3"]
    with pytest.raises(ValueError, match="need recipes and rounds"):
        v.summarise(["baseline"], [])


def test_cpu_recipe_variants_smoke(tmp_path, capsys):
    """--variants: the baseline and a variant, each in its own process, in one race."""
    recipe = _load("cpu_recipe")
    out = tmp_path / "race.json"
    argv = ["--smoke", "--budget", "1", "--threads", "1", "--variants", "lr=7e-3"]
    assert recipe.main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    specs = ["baseline+threads=1", "lr=7e-3+threads=1"]
    assert list(report["summary"]) == specs and report["rounds_done"] == 1
    assert report["summary"][specs[0]]["loss_ratio"] == [1.0]
    run = report["runs"][0][specs[1]]
    assert run["recipe"]["lr"] == 7e-3 and run["recipe"]["preset"] == "char-tiny"
    ratio = run["best_val_loss"] / report["runs"][0][specs[0]]["best_val_loss"]
    assert report["summary"][specs[1]]["loss_ratio"] == [round(ratio, 4)]
    assert "loss/base" in capsys.readouterr().out


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
