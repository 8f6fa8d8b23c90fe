"""The classroom tools in book/tools: nbgrader's configuration, the course, the student archive.

* ``nbgrader_unhide.UnhideSolutions`` shows the answer cells that the book hides;
* ``nbgrader_config.py`` puts it into ``generate_assignment`` right after ``ClearSolutions``;
* ``course.py`` lays out a course directory, one assignment per notebook;
* ``student.py`` writes the student tree (notebooks, README.md, DATA.md) through the real
  nbgrader CLI and zips it; a notebook nbgrader refuses is an error naming it.

The end-to-end grading test is ``test_nbgrader.py``; the real notebooks' format and
student versions are in ``test_exercise_format.py``.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "book" / "tools"
sys.path.insert(0, str(TOOLS))
import course  # noqa: E402  (book tooling, not part of the llmwidgets package)
import exercises  # noqa: E402
import student  # noqa: E402


def chapter(n: int = 2) -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# A chapter"), new_code_cell("from llmwidgets import checks")]
    for number in range(1, n + 1):
        cells += exercises.new_exercise(
            number,
            f"part {number}",
            "Write it.",
            f'def f{number}(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    return 2 * x\n'
            "    ### END SOLUTION",
            f"checks.check_twice(f{number})",
            f"assert f{number}(3) == 6",
        )
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nb


# ------------------------------------------------------------------ the preprocessor


def test_unhide_solutions_removes_only_what_hides_solution_cells():
    from nbgrader_unhide import UnhideSolutions

    nb = chapter(1)
    answer, check = nb.cells[3], nb.cells[4]
    answer.metadata["tags"].append("keep-me")
    answer.metadata["jupyter"]["outputs_hidden"] = True
    check.metadata["tags"].append("hide-input")
    check.metadata["cellView"] = "form"
    before = nbformat.from_dict(check)
    UnhideSolutions().preprocess(nb, {})
    assert answer.metadata["tags"] == ["solution", "keep-me"]
    assert answer.metadata["jupyter"] == {"outputs_hidden": True}
    assert "cellView" not in answer.metadata
    assert answer.metadata["nbgrader"]["solution"] is True
    assert check == before  # not a solution cell: untouched

    bare = chapter(1).cells[3]
    UnhideSolutions().preprocess_cell(bare, {}, 0)
    assert "jupyter" not in bare.metadata  # nothing left in it
    assert bare.metadata["tags"] == ["solution"]


def test_the_course_config_runs_unhide_right_after_clear_solutions(tmp_path):
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions
    from nbgrader_unhide import UnhideSolutions
    from traitlets.config.loader import PyFileConfigLoader

    course.make_course(tmp_path, [])
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    chain = config.GenerateAssignment.preprocessors
    default = GenerateAssignment.class_traits()["preprocessors"].default()
    at = default.index(ClearSolutions) + 1
    assert [p.__name__ for p in chain] == [
        p.__name__ for p in [*default[:at], UnhideSolutions, *default[at:]]
    ]
    assert config.Execute.timeout >= 300
    assert any("LLMW_QUICK', '1'" in a for a in config.Execute.extra_arguments)
    assert config.CourseDirectory.course_id == "llm-ecosystem"


# ------------------------------------------------------------------ the course directory


def test_make_course_lays_out_one_assignment_per_notebook(tmp_path):
    src = tmp_path / "nb"
    src.mkdir()
    for name in ("04_math", "03b_tokenization"):
        nbformat.write(chapter(), src / f"{name}.ipynb")
    root = tmp_path / "course"
    written = course.make_course(root, [src / "04_math.ipynb", src / "03b_tokenization.ipynb"])
    assert list(written) == ["04_math", "03b_tokenization"]
    assert written["04_math"] == root / "source" / "04_math" / "04_math.ipynb"
    assert written["04_math"].read_bytes() == (src / "04_math.ipynb").read_bytes()
    for name in course.COURSE_FILES:
        assert (root / name).read_bytes() == (TOOLS / name).read_bytes()
    (root / "nbgrader_config.py").write_text("# the teacher's own\n")
    course.make_course(root, [src / "04_math.ipynb"])  # an update keeps the config
    assert (root / "nbgrader_config.py").read_text() == "# the teacher's own\n"

    with pytest.raises(ValueError, match="not a notebook"):
        course.make_course(root, [tmp_path / "missing.ipynb"])
    (tmp_path / "other").mkdir()
    nbformat.write(chapter(), tmp_path / "other" / "04_math.ipynb")
    with pytest.raises(ValueError, match="share a name"):
        course.make_course(root, [src / "04_math.ipynb", tmp_path / "other" / "04_math.ipynb"])


def test_toc_notebooks_follow_the_toc(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    for name in ("b", "a"):
        nbformat.write(chapter(), tmp_path / "notebooks" / f"{name}.ipynb")
    (tmp_path / "book" / "intro.md").write_text("# Intro")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n"
        "  - caption: One\n    chapters:\n      - file: notebooks/b\n      - file: book/intro\n"
        "  - caption: Two\n    chapters:\n      - file: notebooks/a\n"
    )
    assert course.toc_notebooks(tmp_path) == [
        tmp_path / "notebooks" / "b.ipynb",
        tmp_path / "notebooks" / "a.ipynb",
    ]


def test_course_cli(tmp_path, capsys):
    nbformat.write(chapter(), tmp_path / "04_math.ipynb")
    assert course.main([str(tmp_path / "c"), str(tmp_path / "04_math.ipynb")]) == 0
    assert "nbgrader generate_assignment 04_math" in capsys.readouterr().out
    assert (tmp_path / "c" / "source" / "04_math" / "04_math.ipynb").is_file()
    assert course.main([str(tmp_path / "c"), str(tmp_path / "nope.ipynb")]) == 1
    assert "nope.ipynb is not a notebook" in capsys.readouterr().err


def test_repair_restores_metadata_from_the_release(tmp_path, capsys):
    release = chapter(2)
    sub = nbformat.from_dict(release)
    for cell in sub.cells:
        cell.metadata = nbformat.NotebookNode()
    sub.cells[6].source = "def f2(x):\n    return 2 * x"  # its # @title line deleted
    sub.cells.insert(4, new_code_cell("print('a cell of the student')"))
    report = course.repair_submission(sub, release)
    assert report == [
        "ex1-answer: metadata restored",
        "ex1-check: metadata restored",
        "ex2-answer: not found (this exercise cannot be graded)",
        "ex2-check: metadata restored",
    ]
    assert sub.cells[3].metadata.nbgrader == release.cells[3].metadata.nbgrader
    assert sub.cells[5].metadata.nbgrader == release.cells[4].metadata.nbgrader
    assert "nbgrader" not in sub.cells[4].metadata
    assert course.repair_submission(sub, release) == [  # the rest is in place now
        "ex2-answer: not found (this exercise cannot be graded)"
    ]

    root = tmp_path / "course"
    (root / "release" / "ch").mkdir(parents=True)
    (root / "submitted" / "ann" / "ch").mkdir(parents=True)
    nbformat.write(release, root / "release" / "ch" / "ch.ipynb")
    stripped = nbformat.from_dict(release)
    for cell in stripped.cells:
        cell.metadata = nbformat.NotebookNode()
    nbformat.write(stripped, root / "submitted" / "ann" / "ch" / "ch.ipynb")
    assert course.main([str(root), "--repair", "ch"]) == 0
    assert "submitted/ann/ch/ch.ipynb: ex2-check: metadata restored" in capsys.readouterr().out
    repaired = nbformat.read(root / "submitted" / "ann" / "ch" / "ch.ipynb", as_version=4)
    assert [c.metadata.get("nbgrader") for c in repaired.cells] == [
        c.metadata.get("nbgrader") for c in release.cells
    ]
    assert course.main([str(root), "--repair", "ch"]) == 0  # nothing left to do
    assert "every submission has its metadata" in capsys.readouterr().out
    assert course.main([str(root), "--repair", "other"]) == 1
    assert "generate_assignment other" in capsys.readouterr().err


# ------------------------------------------------------------------ the student archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Two fixture chapters through ``student.py``'s CLI: (sources, tree, zip)."""
    tmp = tmp_path_factory.mktemp("archive")
    src = tmp / "notebooks"
    src.mkdir()
    nbformat.write(chapter(2), src / "01_one.ipynb")
    nbformat.write(chapter(3), src / "02_two.ipynb")
    tree, zipped = tmp / "student", tmp / "site" / "_static" / "student-notebooks.zip"
    assert student.main([str(src), "-o", str(tree), "--zip", str(zipped)]) == 0
    return src, tree, zipped


def test_the_student_tree_has_the_notebooks_and_the_readmes(archive):
    src, tree, _ = archive
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()) == [
        "DATA.md",
        "README.md",
        "notebooks/01_one.ipynb",
        "notebooks/02_two.ipynb",
    ]
    for name in ("01_one", "02_two"):
        full = nbformat.read(src / f"{name}.ipynb", as_version=4)
        released = nbformat.read(tree / "notebooks" / f"{name}.ipynb", as_version=4)
        assert exercises.student_version_problems(full, released) == []
    howto = (tree / "README.md").read_text(encoding="utf-8")
    assert "raise NotImplementedError()" in howto and "DATA.md" in howto
    assert student.repository_url() in howto
    data = (tree / "DATA.md").read_text(encoding="utf-8")
    from llmwidgets.core.data import CORPORA

    for corpus in CORPORA.values():
        assert corpus.sha256 in data and corpus.url in data and corpus.filename in data
    assert "LLMW_DATA_DIR" in data


def test_the_zip_holds_the_tree_under_one_folder(archive):
    _, tree, zipped = archive
    with zipfile.ZipFile(zipped) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(
            f"student-notebooks/{p.relative_to(tree).as_posix()}"
            for p in tree.rglob("*")
            if p.is_file()
        )
        assert zf.read("student-notebooks/README.md") == (tree / "README.md").read_bytes()
    again = student.write_archive(tree, zipped.with_name("again.zip"))
    assert again.read_bytes() == zipped.read_bytes()  # reproducible: no build time inside


def test_a_notebook_nbgrader_refuses_is_an_error_naming_it(tmp_path, capsys):
    old = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    old.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    old.cells[0].metadata["tags"] = ["solution", "hide-input"]  # the old format
    nbformat.write(old, tmp_path / "07_old.ipynb")
    assert student.main([str(tmp_path / "07_old.ipynb"), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "07_old" in err and "Solution region detected in a non-solution cell" in err
    assert not (tmp_path / "out" / "notebooks" / "07_old.ipynb").exists()


def test_arguments_are_checked(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a notebook")
    assert student.main([str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 1
    assert "missing does not exist" in capsys.readouterr().err
    assert student.main([str(tmp_path / "notes.txt"), "-o", str(tmp_path / "x")]) == 1
    assert "notes.txt is not a notebook" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    nb_dir = tmp_path / "work" / "notebooks"
    nb_dir.mkdir(parents=True)
    nbformat.write(chapter(), nb_dir / "01_a.ipynb")
    with pytest.raises(ValueError, match="lose its solutions"):
        student.make_student_versions([nb_dir / "01_a.ipynb"], tmp_path / "work")
