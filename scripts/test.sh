#!/usr/bin/env bash
# Run the whole test suite: ruff, unit tests, real-kernel tests, nbval on every notebook
# (quick mode), student versions, the book build with warnings as errors, and
# headless-Chromium checks of the built book and of JupyterLab. Exits non-zero on any failure.
# Usage: bash scripts/test.sh [extra pytest args]
#   LLMW_TEST_WORKERS=N  pytest worker processes (default: one per CPU; 0 runs in-process)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Chromium for the browser tests, from the OS package manager when missing.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: chromium not found and no apt-get; browser tests will be skipped" >&2
  fi
fi
# Corpora from a local mirror when one sits next to the repository (CI has one).
if [ -z "${LLMW_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export LLMW_DATA_DIR=$(cd ../shared/data && pwd); fi
export LLMW_QUICK=1
# Each worker (and each kernel it starts) computes on one thread: on a busy machine
# with as many workers as cores, more OpenMP threads only spin and wait for each other.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# pytest-xdist, one test file per worker at a time (--dist loadfile): a notebook's cells
# share one kernel, and tests/book/test_book.py builds the book once for all its tests.
# Files go out in collection order (tests/book/ first, notebooks last), so the longest
# one, the book build, starts at once instead of last (xdist would sort by test count).
# (nproc without the OMP variables: GNU nproc reports OMP_NUM_THREADS when it is set.)
workers=${LLMW_TEST_WORKERS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
.venv/bin/python -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
