#!/usr/bin/env bash
# The GPU check (issue 11): on a machine with a CUDA GPU, unattended, in under 10 minutes,
# set-up included: the book's GPU figures and every notebook in full mode.
#
# Usage: bash scripts/gpu_check.sh [--out DIR] [options of benchmarks/gpu_check.py]
#   e.g. bash scripts/gpu_check.sh --out "$OUT"
#        bash scripts/gpu_check.sh --notebooks none          (the figures only, ~4 minutes)
#        bash scripts/gpu_check.sh --cpu --notebooks none    (the pipeline on a CPU, seconds)
# Writes DIR/gpu_check.json and DIR/gpu_check.md (default DIR: _build/gpu_check): device,
# precision path (bf16, or fp16 + GradScaler), tokens/s eager and compiled, the
# torch.compile speed-up, peak memory, the recipe's time and loss, wall time per notebook.
# The executed notebooks and a fresh model store go to DIR too (--work elsewhere).
#
# Environment:
#   GPU_CHECK_BUDGET  seconds for everything, set-up included (default 570)
#   PYTHON            the Python to use; default: .venv/bin/python if it imports torch,
#                     else python3 if it does, else scripts/setup.sh makes .venv
#   LLMW_DATA_DIR     the corpora (tinyshakespeare...); default shared/data or
#                     ../shared/data when there, else they are downloaded
#   PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR   pip's own variables: install offline from wheels
#
# Python set-up (README "Setup"): a Python that already imports torch keeps its torch (a
# CUDA build is never reinstalled): what the book needs beyond it is installed with
# requirements.txt (pip install -e .[book] and ipykernel) plus nbclient, torch pinned to
# the installed version, and only when something is missing. Without torch:
# bash scripts/setup.sh. If the install fails (no network), the check runs anyway and
# the phases that miss a package report it.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${GPU_CHECK_BUDGET:-570}
SECONDS=0

has_torch() { "$1" -c "import torch" >/dev/null 2>&1; }
if [ -n "${PYTHON:-}" ]; then
  py=$PYTHON
elif [ -x .venv/bin/python ] && has_torch .venv/bin/python; then
  py=.venv/bin/python
elif command -v python3 >/dev/null 2>&1 && has_torch python3; then
  py=python3
else
  echo "gpu_check: no Python with torch; running scripts/setup.sh" >&2
  bash scripts/setup.sh
  py=.venv/bin/python
fi
has_torch "$py" || { echo "gpu_check: $py cannot import torch" >&2; exit 2; }

# What the notebooks import beyond torch (import names of requirements.txt's packages).
needed=(numpy plotly IPython ipywidgets ipykernel nbclient nbformat sentencepiece tokenizers
  sacrebleu scipy sklearn rouge_score bm25s peft)
missing=$("$py" - "${needed[@]}" <<'PY'
import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  echo "gpu_check: installing what is missing ($missing), torch kept" >&2
  pin=$(mktemp)
  "$py" -c "import torch; print('torch==' + torch.__version__)" >"$pin"
  if ! "$py" -m pip install -q -c "$pin" -r requirements.txt nbclient; then
    echo "gpu_check: the install failed; running the check with what is there" >&2
  fi
  rm -f "$pin"
fi

if [ -n "${LLMW_DATA_DIR:-}" ] && [ -d "$LLMW_DATA_DIR" ]; then
  LLMW_DATA_DIR=$(cd "$LLMW_DATA_DIR" && pwd)  # absolute: the notebooks run in notebooks/
  export LLMW_DATA_DIR
elif [ -z "${LLMW_DATA_DIR:-}" ]; then
  for dir in shared/data ../shared/data; do
    if [ -d "$dir" ]; then export LLMW_DATA_DIR; LLMW_DATA_DIR=$(cd "$dir" && pwd); break; fi
  done
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg

left=$((budget - SECONDS))
if [ "$left" -lt 120 ]; then
  echo "gpu_check: set-up took ${SECONDS} s; under 120 s of the ${budget} s budget left" >&2
  exit 3
fi
echo "gpu_check: set-up ${SECONDS} s; the check gets $((left - 20)) s ($py)"
# The check keeps its own deadline; timeout is the backstop for a hang (the JSON is
# written after every phase, so what was done stays).
status=0
timeout --kill-after=10 "$left" "$py" benchmarks/gpu_check.py --deadline "$((left - 20))" "$@" \
  || status=$?
echo "gpu_check: done in ${SECONDS} s (exit $status)"
exit "$status"
