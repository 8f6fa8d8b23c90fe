#!/usr/bin/env bash
# Run the whole test suite: unit tests, nbval on every notebook (quick mode), the
# book build with warnings as errors, and headless-Chromium checks of the built book.
# Usage: bash scripts/test.sh [extra pytest args]
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
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
