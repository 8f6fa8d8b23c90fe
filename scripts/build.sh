#!/usr/bin/env bash
# Install everything into .venv, then build the online book into _build/html.
# Usage: bash scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/jupyter-book build . --warningiserror --keep-going
echo "The book is in $(pwd)/_build/html/index.html"
