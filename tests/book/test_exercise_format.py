"""Every notebook's exercises are in nbgrader's format, and nbgrader makes its student version.

The format is ``docs/notebook-conventions.md``'s, checked by ``book/tools/exercises.py``:
answer cells hidden in every frontend with nbgrader's solution metadata, check cells with
a visible check, hidden tests and nbgrader's grade metadata (points, unique grade ids).
nbgrader itself then writes every notebook's student version (one ``generate_assignment``
for all of them), and the student version is checked cell by cell.

The notebooks are being converted now. :data:`NOT_CONVERTED` lists those that are not
yet: their tests are expected to fail (``xfail(strict=True)``, so a notebook that
starts passing must leave the list). The list gets shorter as notebooks land.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "tools"))
import course  # noqa: E402  (book tooling, not part of the llmwidgets package)
import exercises  # noqa: E402
import student  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Notebooks whose exercises are not in nbgrader's format yet (remove each as it lands).
NOT_CONVERTED = {
    "05_project",
    "07_widget_kit",
}


def _params() -> list:
    return [
        pytest.param(
            path,
            id=path.stem,
            marks=[pytest.mark.xfail(reason="not converted yet", strict=True)]
            if path.stem in NOT_CONVERTED
            else [],
        )
        for path in NOTEBOOKS
    ]


def test_the_list_names_real_notebooks():
    assert NOT_CONVERTED <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", _params())
def test_exercises_are_in_nbgrader_format(path):
    problems = exercises.exercise_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def student_versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """nbgrader's student version of every notebook: {name: path}, missing where it failed."""
    tmp = tmp_path_factory.mktemp("student-versions")
    course.make_course(tmp, NOTEBOOKS)
    try:
        course.generate_assignments(tmp, "*")
    except course.NbgraderError as err:  # the notebooks it refused have no release
        print(err)
    return {p.stem: tmp / "release" / p.stem / p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", _params())
def test_nbgrader_writes_the_student_version(path, student_versions):
    released = student_versions[path.stem]
    assert released.is_file(), f"nbgrader generate_assignment refused {path.name}"
    full = nbformat.read(path, as_version=4)
    problems = exercises.student_version_problems(full, nbformat.read(released, as_version=4))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_archive_holds_the_notebooks_of_the_toc():
    assert [p.name for p in student.notebook_paths([])] == [p.name for p in course.toc_notebooks()]
    assert {p.name for p in course.toc_notebooks()} <= {p.name for p in NOTEBOOKS}


# ------------------------------------------------------------------ the checker itself


def good_notebook(n: int = 4) -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell("x = 1")]
    for number in range(1, n + 1):
        cells += exercises.new_exercise(
            number,
            f"part {number}",
            "Write `f`.",
            f'def f{number}() -> int:\n    """One."""\n    ### BEGIN SOLUTION\n    return 1\n'
            "    ### END SOLUTION",
            f"checks.check_one(f{number})",
            f"assert f{number}() == 1",
            points=2 if number == 1 else 1,
        )
    return nbformat.v4.new_notebook(cells=cells)


def test_a_notebook_in_the_format_has_no_problems():
    assert exercises.exercise_problems(good_notebook()) == []
    assert exercises.exercise_problems(good_notebook(2), min_exercises=2) == []


def _set(index: int, **changes):
    def mutate(nb):
        cell = nb.cells[index]
        for key, value in changes.items():
            if key == "source":
                cell.source = value(cell.source)
            else:
                cell.metadata[key] = value
        return nb

    return mutate


def _meta(index: int, path: str, value):
    def mutate(nb):
        node = nb.cells[index].metadata
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
        return nb

    return mutate


def _delete(index: int):
    def mutate(nb):
        del nb.cells[index]
        return nb

    return mutate


# Cells of good_notebook(): 0 title, 1 code, then per exercise N: 3N-1 markdown,
# 3N answer, 3N+1 check (exercise 1: cells 2, 3, 4; exercise 2: 5, 6, 7).
BROKEN = {
    "too few exercises": (lambda nb: good_notebook(3), "3 exercises in nbgrader's format"),
    "hide-input missing": (_set(3, tags=["solution"]), "tags ['hide-input'] missing"),
    "source_hidden missing": (_meta(3, "jupyter", None), "jupyter.source_hidden is not true"),
    "cellView missing": (_meta(3, "cellView", None), "cellView is not 'form'"),
    "wrong grade id": (_meta(6, "nbgrader.grade_id", "ex1-answer"), "grade ids used twice"),
    "schema version 2": (
        _meta(3, "nbgrader.schema_version", 2),
        "exercise 1 (cell 3): nbgrader metadata",
    ),
    "no title line": (_set(3, source=lambda s: s.split("\n", 1)[1]), "first line is not"),
    "heading missing": (
        _set(2, source=lambda s: "Exercise one"),
        "no '### Exercise 1: <title>' Markdown",
    ),
    "unclosed solution": (
        _set(3, source=lambda s: s.replace("    ### END SOLUTION", "")),
        "never closed",
    ),
    "solution at top level": (
        _set(3, source=lambda s: s.replace("    ### BEGIN", "### BEGIN")),
        "inside a function body",
    ),
    "answer called in its cell": (
        _set(3, source=lambda s: s + "\n\n\nprint(f1())"),
        "calls f1(), which raises NotImplementedError",
    ),
    "check cell missing": (_delete(4), "the next cell is not its check cell"),
    "no hidden tests": (
        _set(4, source=lambda s: s.split("\n")[0]),
        "no '### BEGIN HIDDEN TESTS'",
    ),
    "no visible check": (
        _set(4, source=lambda s: s.replace("checks.check_one(f1)", "")),
        "no visible check",
    ),
    "visible code that may raise": (
        _set(4, source=lambda s: "print(f1())\n" + s),
        "may only call checks.check_",
    ),
    "zero points": (_meta(4, "nbgrader.points", 0), "points 0"),
    "not locked": (_meta(4, "nbgrader.locked", False), "check (cell 4): nbgrader metadata"),
    "nbval tag missing": (_set(4, tags=[]), "tag 'nbval-check-output' missing"),
    "marker in prose": (
        _set(0, source=lambda s: s + "\nUse ### BEGIN SOLUTION markers."),
        "cell 0: 'BEGIN SOLUTION' outside an exercise cell",
    ),
    "stray nbgrader cell": (
        _set(1, nbgrader={"grade": False, "solution": False, "locked": True}),
        "cell 1: nbgrader metadata on a cell that is not an exercise",
    ),
}


@pytest.mark.parametrize("mutate, expected", BROKEN.values(), ids=BROKEN.keys())
def test_the_checker_names_each_departure(mutate, expected):
    problems = exercises.exercise_problems(mutate(good_notebook()))
    assert any(expected in p for p in problems), problems
