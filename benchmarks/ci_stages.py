"""Time the stages of `.ci/run` and compare them with the CI budget.

Usage:  .venv/bin/python benchmarks/ci_stages.py [--skip-setup]

Runs each stage of scripts/test.sh on its own (same commands, same environment)
and prints seconds per stage, the total, and the total as a ratio of the
20-minute target and the 90-minute hard limit. The numbers depend on the machine;
README quotes the figures of one run on a 2-core CPU machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 20 * 60  # the project's target for a whole CI run on 2 CPU cores
LIMIT_S = 90 * 60  # CI's hard limit
PY = str(ROOT / ".venv" / "bin" / "python")
RUFF = ".venv/bin/ruff check . && .venv/bin/ruff format --check ."

# (stage name, command) - the pytest stages split the suite the way it runs in CI.
STAGES: list[tuple[str, list[str]]] = [
    ("setup (venv, pip, assets)", ["bash", "scripts/setup.sh"]),
    ("ruff lint + format check", ["bash", "-c", RUFF]),
    ("unit tests", [PY, "-m", "pytest", "-q", "tests", "--ignore=tests/test_book.py",
                    "--ignore=tests/test_student.py"]),
    ("student versions run", [PY, "-m", "pytest", "-q", "tests/test_student.py"]),
    ("nbval, quick mode", [PY, "-m", "pytest", "-q", "notebooks"]),
    ("book build + browser", [PY, "-m", "pytest", "-q", "tests/test_book.py"]),
]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-setup", action="store_true", help="do not time scripts/setup.sh")
    args = parser.parse_args()
    env = dict(os.environ, LLMW_QUICK="1")
    shared = ROOT.parent / "shared" / "data"
    if "LLMW_DATA_DIR" not in env and shared.is_dir():
        env["LLMW_DATA_DIR"] = str(shared)
    rows = []
    for name, cmd in STAGES:
        if args.skip_setup and name.startswith("setup"):
            continue
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        rows.append((name, seconds, proc.returncode))
        print(f"{name:<28} {seconds:7.1f} s   exit {proc.returncode}", flush=True)
        if proc.returncode not in (0, 5):
            print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
    total = sum(s for _, s, _ in rows)
    print(f"{'total':<28} {total:7.1f} s")
    print(f"ratio to the 20-min target: {total / TARGET_S:.2f}   to the 90-min limit: "
          f"{total / LIMIT_S:.2f}   (cores: {os.cpu_count()})")  # fmt: skip
    return 0 if all(rc in (0, 5) for _, _, rc in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
