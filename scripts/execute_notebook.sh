#!/usr/bin/env bash
# Execute notebooks in full mode for committing (the outputs the book shows).
# Usage: bash scripts/execute_notebook.sh notebooks/NAME.ipynb [more.ipynb ...]
# In place, without timing metadata or widget state; live widget views are then replaced
# by the static form they carry (book/tools/static_outputs.py), and the hygiene checks run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash scripts/execute_notebook.sh notebooks/NAME.ipynb ..." >&2; exit 2; }
if [ -z "${LLMW_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export LLMW_DATA_DIR=$(cd ../shared/data && pwd); fi
unset LLMW_QUICK
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
for nb in "$@"; do
  echo "executing $nb (full mode)"
  start=$(date +%s)
  .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False \
    --ExecutePreprocessor.timeout=3600 "$nb"
  if [ -f book/tools/static_outputs.py ]; then .venv/bin/python book/tools/static_outputs.py "$nb"; fi
  echo "$nb: $(( $(date +%s) - start )) s, $(stat -c %s "$nb") bytes"
done
LLMW_QUICK=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/book/test_notebook_hygiene.py
