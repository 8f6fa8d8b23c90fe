"""Time `.ci/run` (= `bash scripts/test.sh`) stage by stage against the CI budget.

Usage:  .venv/bin/python benchmarks/ci_stages.py [--skip-setup] [extra pytest args]

Runs ``bash scripts/setup.sh`` (timed on its own unless ``--skip-setup``), then
``bash scripts/test.sh`` itself, unchanged, with this module loaded as a pytest plugin
(``-p benchmarks.ci_stages``). The plugin adds up, on the pytest controller, the time
of every test (set-up, call and tear-down, fixtures included: a notebook's kernel start,
the book build) by layer, the pytest markers of tests/conftest.py. A test counts in its
first layer of: browser, notebooks, kernel, book, unit. test.sh runs the tests on
several workers at once, so the layers' times add up to more than pytest's wall time.

Prints seconds per stage, the total wall time, and the total as a ratio of the 20-minute
target and the 90-minute hard limit. The numbers depend on the machine; README quotes
one run on a 2-core CPU machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 20 * 60  # the project's target for a whole CI run on 2 CPU cores
LIMIT_S = 90 * 60  # CI's hard limit
LAYERS = ("browser", "notebooks", "kernel", "book", "unit")  # first match wins
REPORT_ENV = "LLMW_CI_STAGES_REPORT"  # where the plugin writes its JSON

# ----------------------------------------------------------------- the pytest plugin

_seconds: dict[str, float] = defaultdict(float)  # nodeid -> set-up + call + tear-down
_layer: dict[str, str] = {}  # nodeid -> layer
_outcome: dict[str, str] = {}  # nodeid -> passed / failed / skipped
_start = time.perf_counter()


def layer_of(keywords: object) -> str:
    """The layer of a test from its keywords (markers included); "other" if none."""
    return next((name for name in LAYERS if name in keywords), "other")  # type: ignore[operator]


def pytest_sessionstart(session: object) -> None:
    global _start
    _start = time.perf_counter()


def pytest_runtest_logreport(report: object) -> None:
    """Called on the controller for every phase of every test, from any worker."""
    nodeid = report.nodeid  # type: ignore[attr-defined]
    _seconds[nodeid] += report.duration  # type: ignore[attr-defined]
    _layer[nodeid] = layer_of(report.keywords)  # type: ignore[attr-defined]
    if report.when == "call" or report.outcome != "passed":  # type: ignore[attr-defined]
        _outcome[nodeid] = report.outcome  # type: ignore[attr-defined]


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    path = os.environ.get(REPORT_ENV)
    config = session.config  # type: ignore[attr-defined]
    if not path or hasattr(config, "workerinput"):  # nothing to do in an xdist worker
        return
    layers: dict[str, dict[str, float]] = {}
    for nodeid, seconds in _seconds.items():
        row = layers.setdefault(_layer[nodeid], {"tests": 0, "seconds": 0.0, "failed": 0})
        row["tests"] += 1
        row["seconds"] += seconds
        row["failed"] += _outcome.get(nodeid) == "failed"
    workers = getattr(config.option, "numprocesses", None) or 0
    report = {"wall": time.perf_counter() - _start, "workers": workers, "layers": layers}
    Path(path).write_text(json.dumps(report, indent=1), encoding="utf-8")


# ----------------------------------------------------------------- the command


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, CPU seconds of it and its children, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    returncode = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-setup", action="store_true", help="do not time scripts/setup.sh")
    args, pytest_args = parser.parse_known_args()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    rows: list[tuple[str, float, str]] = []
    if not args.skip_setup:
        seconds, cpu, rc = _timed(["bash", "scripts/setup.sh"], env)
        rows.append(("setup.sh (venv, pip, assets)", seconds, f"exit {rc}, {cpu:.0f} s CPU"))
    with tempfile.TemporaryDirectory() as tmp:
        env[REPORT_ENV] = report_path = str(Path(tmp) / "stages.json")
        test_cmd = ["bash", "scripts/test.sh", "-p", "benchmarks.ci_stages", *pytest_args]
        seconds, cpu, rc = _timed(test_cmd, env)
        report = json.loads(Path(report_path).read_text()) if Path(report_path).is_file() else None
    if report is None:
        print(f"scripts/test.sh exited {rc} before pytest reported", file=sys.stderr)
        return 1
    rows.append(("test.sh before pytest (setup check, ruff)", seconds - report["wall"], ""))
    workers = report["workers"] or 1
    note = f"exit {rc}; test.sh used {cpu:.0f} s CPU in all"
    rows.append((f"pytest, {workers} worker(s), wall", report["wall"], note))
    total = sum(s for _, s, _ in rows)
    print(f"\n{'stage':<44} {'seconds':>8}  {'note'}")
    for name, seconds, note in rows:
        print(f"{name:<44} {seconds:8.1f}  {note}")
    for name in (*LAYERS, "other"):
        layer = report["layers"].get(name)
        if layer:
            note = f"{layer['tests']} tests, {layer['failed']} failed"
            print(
                f"{'  ' + name + ' (test time, all workers)':<44} {layer['seconds']:8.1f}  {note}"
            )
    print(f"{'total (wall)':<44} {total:8.1f}")
    print(f"ratio to the 20-min target: {total / TARGET_S:.2f}   to the 90-min limit: "
          f"{total / LIMIT_S:.2f}   (cores: {os.cpu_count()})")  # fmt: skip
    return rc


if __name__ == "__main__":
    sys.exit(main())
