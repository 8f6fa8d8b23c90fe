#!/usr/bin/env bash
# Install everything into .venv, then build the online book into _build/html and the
# student notebooks into _build/student (zipped into _build/html/_static/student-notebooks.zip).
# Usage: bash scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/jupyter-book build . --warningiserror --keep-going
# The student notebooks (nbgrader's student versions of every notebook of _toc.yml):
# the tree published on the branch "student", and the archive the site offers.
rm -rf _build/student
.venv/bin/python book/tools/student.py -o _build/student --zip _build/html/_static/student-notebooks.zip
echo "The book is in $(pwd)/_build/html/index.html; the student notebooks in $(pwd)/_build/student"
