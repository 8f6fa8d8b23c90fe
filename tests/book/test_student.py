"""book/tools/student.py: solutions become stubs; student notebooks fail at their exercises.

The real notebooks are converted once (the module-scoped ``student_versions`` fixture).
An untouched student notebook must run up to its exercises and fail there, each check
saying "not answered yet". The part up to the exercises is not run again here:
:func:`test_student_version_changes_only_the_exercises` proves that every cell before
the first exercise is the full notebook's own cell, unchanged, and nbval runs the full
notebook in the same suite (quick mode). The kernel test then runs the notebook's set-up
and import cells and its whole exercise section, untouched.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "tools"))
import student  # noqa: E402  (book tooling, not part of the llmwidgets package)

NOTEBOOKS = ROOT / "notebooks"


def solution_cell(source: str, tags=("hide-input", "solution")) -> nbformat.NotebookNode:
    cell = new_code_cell(source, execution_count=3)
    cell.metadata["tags"] = list(tags)
    cell.outputs = [new_output("stream", name="stdout", text="solution output\n")]
    return cell


def example_notebook() -> nbformat.NotebookNode:
    intro = new_code_cell("x = 1", execution_count=1)
    intro.outputs = [new_output("stream", name="stdout", text="kept\n")]
    check = new_code_cell("check_softmax_temperature(my_softmax)", execution_count=4)
    check.outputs = [new_output("stream", name="stdout", text="✓ correct\n")]
    return new_notebook(
        cells=[
            new_markdown_cell("### Exercise 1"),
            intro,
            solution_cell(
                "def my_softmax(z, t=1.0):\n"
                '    """Docstring kept."""\n'
                "    ### BEGIN SOLUTION\n"
                "    e = (z / t).exp()\n"
                "    return e / e.sum()\n"
                "    ### END SOLUTION\n"
                "\n"
                "\n"
                "print(my_softmax(1.0))"
            ),
            check,
            solution_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\nprint(answer)"),
        ]
    )


def test_solution_replaced_by_stub_keeping_indentation_and_surrounding_lines():
    nb = example_notebook()
    out = student.make_student_notebook(nb)
    assert out.cells[2].source == (
        "def my_softmax(z, t=1.0):\n"
        '    """Docstring kept."""\n'
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("exercise 1")\n'
        "\n"
        "\n"
        "print(my_softmax(1.0))"
    )
    assert out.cells[4].source == (
        '# YOUR CODE HERE\nraise NotImplementedError("exercise 2")\nprint(answer)'
    )
    for cell in out.cells:
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source
    # the input notebook is untouched
    assert "### BEGIN SOLUTION" in nb.cells[2].source and nb.cells[2].outputs


def test_outputs_and_tags():
    out = student.make_student_notebook(example_notebook())
    intro, sol, check = out.cells[1], out.cells[2], out.cells[3]
    assert intro.outputs and intro.execution_count == 1  # ordinary cells keep their outputs
    assert sol.outputs == [] and sol.execution_count is None
    assert check.outputs == [] and check.execution_count is None
    assert sol.metadata["tags"] == ["solution"]  # hide-input removed, solution kept


def test_several_blocks_in_one_cell_share_the_exercise_number():
    src = (
        "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n"
        "if a:\n    ### BEGIN SOLUTION\n    c = 3\n    ### END SOLUTION\n"
    )
    got = student.strip_solution(src, 7)
    assert got.count('raise NotImplementedError("exercise 7")') == 2
    assert '\n    raise NotImplementedError("exercise 7")' in got
    assert got.startswith("a = 1\n# YOUR CODE HERE\n")


@pytest.mark.parametrize(
    "source, words",
    [
        ("### BEGIN SOLUTION\nx = 1\n", ["line 1", "never closed"]),
        ("x = 1\n### END SOLUTION\n", ["line 2", "without"]),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", ["line 2", "line 1"]),
        ("x = 1  # tagged solution but no markers", ["no '### BEGIN SOLUTION'"]),
    ],
)
def test_unbalanced_markers_name_notebook_and_cell(source, words):
    nb = new_notebook(cells=[new_markdown_cell("intro"), solution_cell(source)])
    with pytest.raises(student.MarkerError) as err:
        student.make_student_notebook(nb, name="07_demo.ipynb")
    message = str(err.value)
    assert "07_demo.ipynb, cell 1" in message
    for word in words:
        assert word in message
    assert isinstance(err.value, ValueError)


def test_make_student_versions_and_cli(tmp_path, capsys):
    src, dst = tmp_path / "nb", tmp_path / "student"
    src.mkdir()
    nbformat.write(example_notebook(), src / "01_a.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("print(1)")]), src / "02_b.ipynb")
    (src / "notes.txt").write_text("not a notebook")
    written = student.make_student_versions(src, dst)
    assert written == [dst / "01_a.ipynb", dst / "02_b.ipynb"]
    stub = nbformat.read(dst / "01_a.ipynb", as_version=4)
    assert 'raise NotImplementedError("exercise 1")' in stub.cells[2].source

    assert student.main([str(src), "-o", str(tmp_path / "cli")]) == 0
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    assert "2 student notebook(s) written" in capsys.readouterr().out

    with pytest.raises(ValueError, match="overwrite"):
        student.make_student_versions(src, src)
    assert student.main([str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_notebook_files_as_well_as_folders(tmp_path, capsys):
    src = tmp_path / "nb"
    src.mkdir()
    nbformat.write(example_notebook(), src / "01_a.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("print(1)")]), src / "02_b.ipynb")
    (src / "notes.txt").write_text("not a notebook")

    written = student.make_student_versions(src / "01_a.ipynb", tmp_path / "one")
    assert written == [tmp_path / "one" / "01_a.ipynb"]
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["01_a.ipynb"]
    stub = nbformat.read(written[0], as_version=4)
    assert 'raise NotImplementedError("exercise 1")' in stub.cells[2].source

    files = [str(src / "02_b.ipynb"), str(src / "01_a.ipynb")]
    assert student.main([*files, "-o", str(tmp_path / "cli")]) == 0
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    assert "2 student notebook(s) written" in capsys.readouterr().out

    with pytest.raises(ValueError, match="overwrite"):
        student.make_student_versions(src / "01_a.ipynb", src)
    with pytest.raises(ValueError, match=r"notes\.txt is not a notebook"):
        student.make_student_versions(src / "notes.txt", tmp_path / "out")
    # a bad argument among several: an error, and nothing written
    assert student.main([files[0], str(src / "missing.ipynb"), "-o", str(tmp_path / "x")]) == 1
    assert "missing.ipynb does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_reports_unbalanced_markers(tmp_path, capsys):
    src = tmp_path / "nb"
    src.mkdir()
    nbformat.write(new_notebook(cells=[solution_cell("### END SOLUTION")]), src / "bad.ipynb")
    assert student.main([str(src), "-o", str(tmp_path / "out")]) == 1
    assert "bad.ipynb, cell 0" in capsys.readouterr().err


# ------------------------------------------------------------------ the real notebooks

REAL = sorted(NOTEBOOKS.glob("*.ipynb"))
Versions = dict[str, tuple[nbformat.NotebookNode, nbformat.NotebookNode]]


def exercise_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i, cell in enumerate(nb.cells) if student.is_solution_cell(cell)]


@pytest.fixture(scope="module")
def student_versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    """Every notebook converted once, through the files: {name: (full, student)}."""
    out = tmp_path_factory.mktemp("student")
    written = student.make_student_versions(NOTEBOOKS, out)
    assert [p.name for p in written] == [p.name for p in REAL]
    return {
        p.name: (nbformat.read(p, as_version=4), nbformat.read(out / p.name, as_version=4))
        for p in REAL
    }


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_notebook_follows_the_exercise_convention(path, student_versions):
    nb, _ = student_versions[path.name]  # converted: the markers balance
    for i in exercise_cells(nb):
        tags = nb.cells[i].metadata.get("tags", [])
        assert {"solution", "hide-input"} <= set(tags), f"{path.name} cell {i}: tags {tags}"
        following = [c for c in nb.cells[i + 1 :] if c.cell_type == "code"]
        assert following and student.is_check_cell(following[0]), (
            f"{path.name} cell {i}: the next code cell should call a check_… function"
        )


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_student_version_changes_only_the_exercises(path, student_versions):
    """Solution cells become stubs, check cells lose their outputs; nothing else changes."""
    full, stud = student_versions[path.name]
    assert stud.metadata == full.metadata and len(stud.cells) == len(full.cells)
    exercise = 0
    for i, (a, b) in enumerate(zip(full.cells, stud.cells, strict=True)):
        where = f"{path.name} cell {i}"
        if student.is_solution_cell(a):
            exercise += 1
            assert f'raise NotImplementedError("exercise {exercise}")' in b.source, where
            assert student.BEGIN not in b.source and b.outputs == [], where
        elif student.is_check_cell(a):
            assert b.source == a.source and b.outputs == [], where
        else:
            assert b == a, f"{where} differs from the full notebook"


def _bound_names(sources: list[str]) -> set[str]:
    """Names that code binds at any level (assignments, defs, imports, loop targets)."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics: they bind nothing the exercises use
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _imports_only(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(node, ast.Import | ast.ImportFrom) for node in body)


WITH_EXERCISES = [p for p in REAL if exercise_cells(nbformat.read(p, as_version=4))]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.name for p in WITH_EXERCISES])
def test_student_version_fails_at_its_exercises(path, student_versions, monkeypatch):
    """Run the student notebook's set-up and imports, then its exercise section, untouched.

    Every check cell must fail with "not answered yet". Any other cell of the section may
    fail only where a student's run would (a stub: ``NotImplementedError("exercise k")``
    for this exercise or an earlier one) or on a name that the skipped part binds (that
    part is the full notebook's own code, which nbval runs).
    """
    from nbclient import NotebookClient

    monkeypatch.setenv("LLMW_QUICK", "1")
    shared = ROOT.parent / "shared" / "data"
    if not os.environ.get("LLMW_DATA_DIR") and shared.is_dir():
        monkeypatch.setenv("LLMW_DATA_DIR", str(shared))
    _, stud = student_versions[path.name]
    first = exercise_cells(stud)[0]
    body = [c for c in stud.cells[:first] if c.cell_type == "code"]
    setup = body[:2] + [c for c in body[2:] if _imports_only(c.source)]  # install, env report
    skipped = _bound_names([c.source for c in body if all(c is not s for s in setup)])
    section = [c for c in stud.cells[first:] if c.cell_type == "code"]
    nb = new_notebook(cells=copy.deepcopy(setup + section), metadata=stud.metadata)
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()

    def errors(cell):
        return [o for o in cell.get("outputs", []) if o.output_type == "error"]

    for i, cell in enumerate(nb.cells[: len(setup)]):
        assert not errors(cell), f"{path.name} set-up cell {i}: {errors(cell)}"
    exercise = checks = 0
    for cell in nb.cells[len(setup) :]:
        where = f"{path.name}, cell:\n{cell.source}\n"
        errs = errors(cell)
        if student.is_solution_cell(cell):
            exercise += 1
        if student.is_check_cell(cell):
            checks += 1
            assert [e.ename for e in errs] == ["AssertionError"], f"{where}{errs}"
            assert "not answered yet" in errs[0].evalue, where
            continue
        for err in errs:
            stub = re.fullmatch(r"exercise (\d+)", err.evalue)
            name = re.fullmatch(r"name '(\w+)' is not defined", err.evalue)
            assert (
                err.ename == "NotImplementedError" and stub and 1 <= int(stub[1]) <= exercise
            ) or (err.ename == "NameError" and name and name[1] in skipped), f"{where}{err}"
    assert exercise == len(exercise_cells(stud)) and checks >= exercise
