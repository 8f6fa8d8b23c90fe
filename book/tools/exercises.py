"""The book's exercise format for nbgrader: build an exercise, and check a notebook's.

``docs/notebook-conventions.md`` defines an exercise as three cells:

1. Markdown, starting ``### Exercise N: <title>``;
2. the **answer cell**: its first line ``# @title Exercise N: ...``, the solution between
   ``### BEGIN SOLUTION`` and ``### END SOLUTION`` inside a function body, hidden in
   every frontend (tags ``solution`` and ``hide-input``, ``jupyter.source_hidden``,
   Colab's ``cellView: "form"``) and nbgrader's metadata of a solution cell
   (``grade_id`` ``exN-answer``);
3. the **check cell**: a visible check from ``llmwidgets.checks``, then hidden tests
   between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``; tagged
   ``nbval-check-output``, nbgrader's metadata of a locked, autograded cell
   (``grade_id`` ``exN-check``, 1 or 2 points).

:func:`new_exercise` writes the three cells; :func:`exercise_problems` lists what in a
notebook departs from the format (the hygiene test runs it on every notebook).

Usage::

    python book/tools/exercises.py notebooks/NAME.ipynb [...]   # prints the problems
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_TESTS, END_TESTS = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: nbgrader finds its markers anywhere in a line, so they may appear nowhere else.
_NBGRADER_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
ANSWER_TAGS = ("solution", "hide-input")
CHECK_TAG = "nbval-check-output"
MIN_EXERCISES = 4
_HEADING = re.compile(r"### Exercise (\d+): \S")
_TITLE = re.compile(r"# @title Exercise (\d+): \S")
_VISIBLE_CHECK = re.compile(r"^checks\.check_\w+\(", re.MULTILINE)


def answer_metadata(number: int) -> dict:
    """The metadata of exercise ``number``'s answer cell, as the conventions give it."""
    return {
        "cellView": "form",
        "jupyter": {"source_hidden": True},
        "nbgrader": {
            "grade": False,
            "grade_id": f"ex{number}-answer",
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        },
        "tags": list(ANSWER_TAGS),
    }


def check_metadata(number: int, points: int) -> dict:
    """The metadata of exercise ``number``'s check cell, worth ``points``."""
    return {
        "nbgrader": {
            "grade": True,
            "grade_id": f"ex{number}-check",
            "locked": True,
            "points": points,
            "schema_version": 3,
            "solution": False,
            "task": False,
        },
        "tags": [CHECK_TAG],
    }


def new_exercise(
    number: int, title: str, task: str, answer: str, check: str, hidden: str, points: int = 1
) -> list[nbformat.NotebookNode]:
    """The three cells of an exercise, in the book's format.

    Args:
        number: the exercise's number in its notebook (1, 2, ...).
        title: a short title, e.g. ``"softmax with temperature"``.
        task: the Markdown under the heading (the task, and what kind of exercise it is).
        answer: the answer cell's code without its ``# @title`` line: a function whose
            body holds the solution between the ``### BEGIN/END SOLUTION`` markers.
        check: the visible check, e.g. ``"checks.check_perplexity(my_perplexity)"``.
        hidden: the hidden test code (without markers); silent on the reference answer.
        points: what the check cell is worth (1, or 2 for an implementation).

    Returns:
        ``[markdown, answer cell, check cell]``.
    """
    heading = new_markdown_cell(f"### Exercise {number}: {title}\n\n{task}")
    answer_cell = new_code_cell(f"# @title Exercise {number}: your answer\n{answer}")
    answer_cell.metadata = nbformat.from_dict(answer_metadata(number))
    check_cell = new_code_cell(f"{check}\n{BEGIN_TESTS}\n{hidden}\n{END_TESTS}")
    check_cell.metadata = nbformat.from_dict(check_metadata(number, points))
    return [heading, answer_cell, check_cell]


def _blocks(source: str, begin: str, end: str) -> tuple[int, str | None]:
    """Count ``begin``/``end`` blocks; the second item describes a nesting or pairing error."""
    count, open_at = 0, None
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == begin:
            if open_at is not None:
                return count, f"'{begin}' on line {number} inside the block of line {open_at}"
            open_at = number
        elif line.strip() == end:
            if open_at is None:
                return count, f"'{end}' on line {number} without '{begin}'"
            open_at, count = None, count + 1
    if open_at is not None:
        return count, f"'{begin}' on line {open_at} is never closed"
    return count, None


def _stubbed(source: str) -> str:
    """The answer cell as the student gets it (the solution replaced by nbgrader's stub)."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_SOLUTION:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
        elif line.strip() == END_SOLUTION:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _answer_runs(source: str) -> str | None:
    """Why the student version of an answer cell would stop *Run All* (None if it would not)."""
    try:
        tree = ast.parse(_stubbed(source))
    except SyntaxError as err:
        return f"the student version does not parse ({err.msg}, line {err.lineno})"
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    names = {node.name for node in tree.body if isinstance(node, defs)}
    for node in tree.body:
        if isinstance(node, defs):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Raise):
                return f"line {node.lineno}: the solution must sit inside a function body"
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                if sub.func.id in names:
                    return (
                        f"line {node.lineno} calls {sub.func.id}(), which raises "
                        "NotImplementedError in the student version: move the call to the "
                        "check cell or a later cell"
                    )
    return None


def _check_answer(cell: nbformat.NotebookNode, number: int) -> list[str]:
    problems = []
    meta = cell.metadata
    if meta.get("nbgrader") != answer_metadata(number)["nbgrader"]:
        problems.append(f"nbgrader metadata {meta.get('nbgrader')}")
    missing = [t for t in ANSWER_TAGS if t not in meta.get("tags", [])]
    if missing:
        problems.append(f"tags {missing} missing")
    if meta.get("jupyter", {}).get("source_hidden") is not True:
        problems.append("jupyter.source_hidden is not true")
    if meta.get("cellView") != "form":
        problems.append("cellView is not 'form'")
    first = cell.source.splitlines()[0] if cell.source else ""
    title = _TITLE.match(first)
    if not title or int(title[1]) != number:
        problems.append(f"first line is not '# @title Exercise {number}: ...'")
    count, error = _blocks(cell.source, BEGIN_SOLUTION, END_SOLUTION)
    if error or count == 0:
        problems.append(error or f"no '{BEGIN_SOLUTION}' ... '{END_SOLUTION}' block")
    else:
        reason = _answer_runs(cell.source)
        if reason:
            problems.append(reason)
    return problems


def _check_check(cell: nbformat.NotebookNode, number: int) -> list[str]:
    problems = []
    grader = cell.metadata.get("nbgrader", {})
    points = grader.get("points")
    if not isinstance(points, int | float) or points <= 0:
        problems.append(f"points {points!r} (give 1, or 2 for an implementation)")
    elif grader != check_metadata(number, points)["nbgrader"]:
        problems.append(f"nbgrader metadata {grader}")
    if CHECK_TAG not in cell.metadata.get("tags", []):
        problems.append(f"tag {CHECK_TAG!r} missing")
    count, error = _blocks(cell.source, BEGIN_TESTS, END_TESTS)
    if error or count == 0:
        problems.append(error or f"no '{BEGIN_TESTS}' ... '{END_TESTS}' block")
    visible = cell.source.split(BEGIN_TESTS)[0]
    if not _VISIBLE_CHECK.search(visible):
        problems.append("no visible check (checks.check_...(...)) before the hidden tests")
    elif not _only_check_calls(visible):
        problems.append(
            "the visible part may only call checks.check_...(...): anything else runs in "
            "the student version and may stop Run All (put it in the hidden tests)"
        )
    return problems


def _only_check_calls(source: str) -> bool:
    """Whether every statement of ``source`` is a call ``checks.check_<name>(...)``."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return all(
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and isinstance(node.value.func.value, ast.Name)
        and node.value.func.value.id == "checks"
        and node.value.func.attr.startswith("check_")
        for node in body
    )


def exercise_problems(nb: nbformat.NotebookNode, min_exercises: int = MIN_EXERCISES) -> list[str]:
    """Everything in a notebook's exercises that departs from the book's format.

    Args:
        nb: a notebook read with ``nbformat``.
        min_exercises: how many exercises a notebook must have (a chapter: four).

    Returns:
        One line per problem, naming the cell (empty when the notebook follows the format).
    """
    problems: list[str] = []
    cells = nb.cells
    answers = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")]
    graded = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade")]
    ids = [c.metadata["nbgrader"].get("grade_id") for c in cells if "nbgrader" in c.metadata]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"grade ids used twice: {duplicates}")
    if len(answers) < min_exercises:
        problems.append(f"{len(answers)} exercises in nbgrader's format, at least {min_exercises}")
    paired = set()
    for number, index in enumerate(answers, start=1):
        where = f"exercise {number} (cell {index})"
        cell = cells[index]
        if cell.cell_type != "code":
            problems.append(f"{where}: the answer cell is not a code cell")
            continue
        heading = next((c for c in reversed(cells[:index]) if c.cell_type == "markdown"), None)
        found = _HEADING.match(heading.source) if heading else None
        if not found or int(found[1]) != number:
            problems.append(f"{where}: no '### Exercise {number}: <title>' Markdown before it")
        problems += [f"{where}: {p}" for p in _check_answer(cell, number)]
        following = index + 1
        if following >= len(cells) or following not in graded:
            problems.append(f"{where}: the next cell is not its check cell")
            continue
        paired.add(following)
        problems += [f"{where} check (cell {following}): {p}" for p in _check_check(
            cells[following], number)]  # fmt: skip
    for index in sorted(set(graded) - paired):
        problems.append(f"cell {index}: an nbgrader grade cell that follows no answer cell")
    allowed = set(answers) | set(graded)
    for index, cell in enumerate(cells):
        if index in allowed:
            continue
        if "nbgrader" in cell.metadata:
            problems.append(f"cell {index}: nbgrader metadata on a cell that is not an exercise")
        marker = next((m for m in _NBGRADER_MARKERS if m in cell.source), None)
        if marker:
            problems.append(
                f"cell {index}: '{marker}' outside an exercise cell (nbgrader would cut it)"
            )
    return problems


def student_version_problems(
    full: nbformat.NotebookNode, student: nbformat.NotebookNode
) -> list[str]:
    """What is wrong in a student version that nbgrader made from ``full``.

    The student version must keep every cell; lose every solution, hidden test and
    output; show its answer cells (no ``hide-input``, ``source_hidden`` or ``cellView``)
    with nbgrader's stub; keep the visible checks, locked; and change nothing else.

    Args:
        full: the notebook with solutions, in the book's exercise format.
        student: its student version (``release/`` of an nbgrader course).

    Returns:
        One line per problem (empty when the student version is right).
    """
    if len(full.cells) != len(student.cells):
        return [f"{len(student.cells)} cells, the full notebook has {len(full.cells)}"]
    problems = []
    for index, (a, b) in enumerate(zip(full.cells, student.cells, strict=True)):
        where = f"cell {index}"
        marker = next((m for m in _NBGRADER_MARKERS if m in b.source), None)
        if marker:
            problems.append(f"{where}: still holds '{marker}'")
        if b.get("outputs"):
            problems.append(f"{where}: outputs not cleared")
        grader = a.metadata.get("nbgrader", {})
        if grader.get("solution"):
            meta = b.metadata
            if "raise NotImplementedError()" not in b.source:
                problems.append(f"{where}: no stub in the answer cell")
            if b.source.splitlines()[:1] != a.source.splitlines()[:1]:
                problems.append(f"{where}: the answer cell's first line changed")
            hidden = [
                name
                for name, hides in (
                    ("hide-input", "hide-input" in meta.get("tags", [])),
                    ("jupyter.source_hidden", "source_hidden" in meta.get("jupyter", {})),
                    ("cellView", "cellView" in meta),
                )
                if hides
            ]
            if hidden:
                problems.append(f"{where}: the answer cell is still hidden by {hidden}")
        elif grader.get("grade"):
            visible = a.source.split(BEGIN_TESTS)[0].rstrip("\n")
            if b.source.rstrip("\n") != visible:
                problems.append(f"{where}: the check cell is not the visible check alone")
            if b.metadata.get("editable") is not False:
                problems.append(f"{where}: the check cell is not locked")
        elif b.source != a.source:
            problems.append(f"{where}: changed, though it is not an exercise cell")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the format problems of each notebook given.

    Args:
        argv: notebook paths; ``None`` reads ``sys.argv``.

    Returns:
        0 when every notebook follows the format, else 1.
    """
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python book/tools/exercises.py notebooks/NAME.ipynb [...]", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        problems = exercise_problems(nbformat.read(Path(path), as_version=4))
        for problem in problems:
            print(f"{path}: {problem}")
        if not problems:
            print(f"{path}: ok")
        status |= bool(problems)
    return status


if __name__ == "__main__":
    sys.exit(main())
