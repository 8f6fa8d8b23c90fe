"""book/tools/student.py: solutions become stubs; student notebooks run up to their exercises."""

from __future__ import annotations

import os
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


def test_cli_reports_unbalanced_markers(tmp_path, capsys):
    src = tmp_path / "nb"
    src.mkdir()
    nbformat.write(new_notebook(cells=[solution_cell("### END SOLUTION")]), src / "bad.ipynb")
    assert student.main([str(src), "-o", str(tmp_path / "out")]) == 1
    assert "bad.ipynb, cell 0" in capsys.readouterr().err


# ------------------------------------------------------------------ the real notebooks

REAL = sorted(NOTEBOOKS.glob("*.ipynb"))


def exercise_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i, cell in enumerate(nb.cells) if student.is_solution_cell(cell)]


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_notebook_follows_the_exercise_convention(path):
    nb = nbformat.read(path, as_version=4)
    for i in exercise_cells(nb):
        tags = nb.cells[i].metadata.get("tags", [])
        assert {"solution", "hide-input"} <= set(tags), f"{path.name} cell {i}: tags {tags}"
        following = [c for c in nb.cells[i + 1 :] if c.cell_type == "code"]
        assert following and student.is_check_cell(following[0]), (
            f"{path.name} cell {i}: the next code cell should call a check_… function"
        )
    student.make_student_notebook(nb, name=path.name)  # markers balance


WITH_EXERCISES = [p for p in REAL if exercise_cells(nbformat.read(p, as_version=4))]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.name for p in WITH_EXERCISES])
def test_student_version_runs_up_to_the_exercises(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("LLMW_QUICK", "1")
    shared = ROOT.parent / "shared" / "data"
    if not os.environ.get("LLMW_DATA_DIR") and shared.is_dir():
        monkeypatch.setenv("LLMW_DATA_DIR", str(shared))
    written = student.make_student_versions(NOTEBOOKS, tmp_path)
    nb = nbformat.read(tmp_path / path.name, as_version=4)
    assert path.name in [p.name for p in written]

    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()

    def errors(cell):
        return [o for o in cell.get("outputs", []) if o.output_type == "error"]

    solutions = exercise_cells(nb)
    first = solutions[0]
    for i, cell in enumerate(nb.cells[:first]):
        if cell.cell_type == "code":
            assert not errors(cell), f"cell {i} failed: {errors(cell)[0].ename}"
    first_errors = errors(nb.cells[first])
    assert [e.ename for e in first_errors] == ["NotImplementedError"]
    assert "exercise 1" in first_errors[0].evalue

    checks = [i for i, cell in enumerate(nb.cells) if student.is_check_cell(cell)]
    assert len(checks) >= len(solutions)
    for i in checks:
        errs = errors(nb.cells[i])
        assert [e.ename for e in errs] == ["AssertionError"], f"check cell {i}: {errs}"
        assert "not answered yet" in errs[0].evalue
