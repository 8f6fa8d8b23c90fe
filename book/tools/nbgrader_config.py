# nbgrader configuration of a course run from this book's notebooks.
#
# `python book/tools/course.py COURSE_DIR` copies this file and nbgrader_unhide.py into
# the course directory; nbgrader reads nbgrader_config.py from the folder it runs in.
# Each chapter is one assignment: source/<chapter>/<chapter>.ipynb.
import os
import sys

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nbgrader_unhide import UnhideSolutions  # noqa: E402 (next to this file)

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

c.CourseDirectory.course_id = "llm-ecosystem"

# The student version shows its answer cells: the book hides them (hide-input tag,
# jupyter.source_hidden, Colab's cellView form), nbgrader keeps metadata as it is.
_default = GenerateAssignment.class_traits()["preprocessors"].default()
_at = _default.index(ClearSolutions) + 1
c.GenerateAssignment.preprocessors = [*_default[:_at], UnhideSolutions, *_default[_at:]]

# The kernels that autograde and validate run (nbgrader's Execute) start in quick mode,
# the sizes CI uses: a chapter runs in about 30 s on a CPU, and the exercises' checks do
# not depend on the sizes. Only those kernels: the teacher's own stay in full mode. To
# grade in full mode (minutes per chapter on a CPU), set LLMW_QUICK=0 where nbgrader runs.
c.Execute.extra_arguments = [
    "--HistoryManager.hist_file=:memory:",  # nbgrader's default for Python kernels
    "--IPKernelApp.exec_lines=__import__('os').environ.setdefault('LLMW_QUICK', '1')",
]
# Seconds one cell may run before nbgrader stops it (nbgrader's default is 30).
c.Execute.timeout = 600
