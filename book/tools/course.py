"""An nbgrader course directory made from the book's notebooks, and nbgrader run in it.

Each chapter notebook becomes one assignment of the same name, in nbgrader's layout::

    COURSE_DIR/
        nbgrader_config.py       # book/tools/nbgrader_config.py (kept if already there)
        nbgrader_unhide.py       # the preprocessor it loads (book/tools/nbgrader_unhide.py)
        source/04_math/04_math.ipynb
        source/03b_tokenization/03b_tokenization.ipynb
        ...

Then, in COURSE_DIR: ``nbgrader generate_assignment 04_math`` writes the student version
to ``release/04_math/``, and ``nbgrader autograde 04_math`` grades what lies in
``submitted/<student>/04_math/`` (see ``book/teachers_guide.md``).

Usage::

    python book/tools/course.py COURSE_DIR [notebooks/NAME.ipynb ...]
    python book/tools/course.py COURSE_DIR --repair ASSIGNMENT

Without notebooks, every notebook of ``_toc.yml`` is copied, in the book's order.

``--repair`` puts nbgrader's cell metadata back into the submissions of an assignment
(``submitted/*/ASSIGNMENT/*.ipynb``) that lost it: an editor that drops unknown metadata,
or a student who copied the cells into a new notebook. Each answer cell is found by its
first line (``# @title Exercise N: ...``), each check cell by its code; their metadata
is copied from the released student version. nbgrader grades only cells it can identify.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(__file__).resolve().parent
#: Files copied from book/tools into the root of a course directory.
COURSE_FILES = ("nbgrader_config.py", "nbgrader_unhide.py")


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds the command and its output."""


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks of the book, in ``_toc.yml`` order.

    Args:
        root: the repository root (holds ``_toc.yml``).

    Returns:
        The paths of the ``.ipynb`` files that ``_toc.yml`` lists (Markdown pages left out).
    """
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [
        chapter["file"] for part in toc.get("parts", []) for chapter in part.get("chapters", [])
    ]
    return [root / f"{name}.ipynb" for name in files if (root / f"{name}.ipynb").is_file()]


def make_course(course_dir: str | Path, notebooks: Iterable[str | Path]) -> dict[str, Path]:
    """Write (or update) a course directory with one assignment per notebook.

    Args:
        course_dir: the course's root folder (created if needed).
        notebooks: the chapter notebooks; each becomes ``source/<stem>/<stem>.ipynb``.

    Returns:
        ``{assignment id: path of its source notebook}``, in the order given.

    Raises:
        ValueError: for a path that is not an existing ``.ipynb`` file, or two
            notebooks with the same name.
    """
    course = Path(course_dir)
    paths = [Path(p) for p in notebooks]
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"{path} is not a notebook file (.ipynb)")
    names = [p.stem for p in paths]
    if len(set(names)) != len(names):
        raise ValueError(f"two notebooks share a name: {sorted(names)}")
    course.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        if not (course / name).exists():  # a teacher's edits to the config stay
            shutil.copyfile(TOOLS / name, course / name)
    written = {}
    for path in paths:
        target = course / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written[path.stem] = target
    return written


def nbgrader_command() -> list[str]:
    """The command that starts nbgrader: this Python's module, else ``nbgrader`` on PATH.

    Raises:
        NbgraderError: if nbgrader is not installed.
    """
    if importlib.util.find_spec("nbgrader") is not None:
        return [sys.executable, "-m", "nbgrader"]
    found = shutil.which("nbgrader")
    if found:
        return [found]
    raise NbgraderError(
        "nbgrader is not installed: run bash scripts/setup.sh (it installs the version "
        "pinned in requirements-dev.txt), or pip install nbgrader"
    )


def nbgrader_path() -> str:
    """``PATH`` with this Python's ``bin`` folder first.

    nbgrader runs the ``alembic`` command (installed with it) to open a gradebook; when
    nbgrader is started as ``.venv/bin/python -m nbgrader`` (or its ``Gradebook`` opened
    from Python) without an activated venv, ``alembic`` must still be found.
    """
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def run_nbgrader(
    course_dir: str | Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> str:
    """Run one nbgrader command in a course directory.

    Args:
        course_dir: where to run it (nbgrader reads ``nbgrader_config.py`` there).
        *args: the command and its arguments, e.g. ``"autograde", "04_math"``.
        env: extra environment variables (added to this process's environment).
        timeout: seconds before the command is stopped (``None``: no limit).

    Returns:
        What the command printed (stdout and stderr).

    Raises:
        NbgraderError: on a non-zero exit, with the command and its output.
    """
    cmd = [*nbgrader_command(), *args]
    proc = subprocess.run(
        cmd,
        cwd=course_dir,
        env={**os.environ, "PATH": nbgrader_path(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise NbgraderError(
            f"{' '.join(cmd[-len(args) - 1 :])} failed in {course_dir} "
            f"(exit {proc.returncode}):\n{output}"
        )
    return output


def generate_assignments(course_dir: str | Path, assignment: str = "*") -> str:
    """Write the student versions (``release/``) of one assignment, or of all (``"*"``).

    Args:
        course_dir: a course directory made by :func:`make_course`.
        assignment: an assignment id, or a glob over them.

    Returns:
        nbgrader's log.

    Raises:
        NbgraderError: if nbgrader fails on any notebook (its log names which, and why).
    """
    return run_nbgrader(course_dir, "generate_assignment", assignment, "--force")


def _find(cells: list, wanted: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The cell of ``cells`` that is ``wanted``'s: same first line for an answer cell
    (``# @title Exercise N: ...``), same code for a check cell."""
    if wanted.metadata.nbgrader.get("solution"):
        first = wanted.source.splitlines()[:1]
        found = [c for c in cells if first and c.source.splitlines()[:1] == first]
    else:
        found = [c for c in cells if c.source.strip() == wanted.source.strip()]
    return found[0] if len(found) == 1 else None


def repair_submission(
    submission: nbformat.NotebookNode, release: nbformat.NotebookNode
) -> list[str]:
    """Copy nbgrader's metadata from the released notebook into a submission that lost it.

    Args:
        submission: a student's notebook; changed in place.
        release: the student version it was made from (``release/<assignment>/``).

    Returns:
        One line per exercise cell: what was repaired, or that it could not be found.
    """
    report = []
    code = [c for c in submission.cells if c.cell_type == "code"]
    for cell in release.cells:
        grader = cell.metadata.get("nbgrader")
        if not grader or cell.cell_type != "code":
            continue
        grade_id = grader["grade_id"]
        found = _find(code, cell)
        if found is None:
            report.append(f"{grade_id}: not found (this exercise cannot be graded)")
        elif found.metadata.get("nbgrader", {}).get("grade_id") != grade_id:
            found.metadata["nbgrader"] = copy.deepcopy(grader)
            for key in ("deletable", "editable"):
                if key in cell.metadata:
                    found.metadata[key] = cell.metadata[key]
            report.append(f"{grade_id}: metadata restored")
    return report


def repair_submissions(course_dir: str | Path, assignment: str) -> list[str]:
    """Repair every submission of an assignment (see :func:`repair_submission`).

    Args:
        course_dir: the course directory (with ``release/`` and ``submitted/``).
        assignment: the assignment id, e.g. ``"04_math"``.

    Returns:
        The report, one line per repaired or missing cell, prefixed with the file.

    Raises:
        ValueError: if the assignment has no released notebook.
    """
    course = Path(course_dir)
    released = sorted((course / "release" / assignment).glob("*.ipynb"))
    if not released:
        raise ValueError(
            f"no release/{assignment}/*.ipynb in {course}: run nbgrader generate_assignment "
            f"{assignment} first"
        )
    report = []
    for release_path in released:
        release = nbformat.read(release_path, as_version=4)
        for path in sorted(course.glob(f"submitted/*/{assignment}/{release_path.name}")):
            submission = nbformat.read(path, as_version=4)
            lines = repair_submission(submission, release)
            if any(line.endswith("restored") for line in lines):
                nbformat.write(submission, path)
            report += [f"{path.relative_to(course)}: {line}" for line in lines]
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: make a course directory.

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 1 on an error (printed to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python book/tools/course.py",
        description="Make an nbgrader course directory: one assignment per chapter notebook.",
    )
    parser.add_argument("course_dir", help="the course's root folder (created if needed)")
    parser.add_argument(
        "notebooks", nargs="*", help="chapter notebooks (default: every notebook of _toc.yml)"
    )
    parser.add_argument(
        "--repair",
        metavar="ASSIGNMENT",
        help="restore nbgrader's metadata in the submissions of ASSIGNMENT, then stop",
    )
    args = parser.parse_args(argv)
    if args.repair:
        try:
            report = repair_submissions(args.course_dir, args.repair)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print("\n".join(report) or f"{args.repair}: every submission has its metadata")
        return 0
    try:
        written = make_course(args.course_dir, args.notebooks or toc_notebooks())
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for assignment in written:
        print(f"source/{assignment}/{assignment}.ipynb")
    print(
        f"{len(written)} assignment(s) in {args.course_dir}; next: cd {args.course_dir} && "
        f"nbgrader generate_assignment {next(iter(written), 'NAME')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
