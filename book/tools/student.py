"""Write student versions of the notebooks: solutions out, stubs in.

The exercise convention (nbgrader style): a solution cell is tagged ``solution``
(and ``hide-input``, so the built book folds it away) and holds its answer
between two marker lines::

    def my_softmax(logits, temperature=1.0):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

The student version keeps every line outside the markers and replaces what is
between them, at the indentation of the ``BEGIN`` line, by::

        # YOUR CODE HERE
        raise NotImplementedError("exercise N")

where N counts the solution cells of the notebook from 1. Outputs of solution
cells and of check cells (cells calling a ``check_…`` function) are cleared, and
``hide-input`` is dropped from solution cells so students see the stub.

Usage::

    python book/tools/student.py [notebook.ipynb | notebooks_dir ...] [-o student_dir]
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution"
HIDE_TAG = "hide-input"
_CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")


class MarkerError(ValueError):
    """Solution markers that do not pair up; the message names notebook and cell."""


def is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    """Tell whether a cell is an exercise solution (tagged, or holding a marker).

    Args:
        cell: a notebook cell.

    Returns:
        True for a code cell tagged ``solution`` or containing a marker line.
    """
    if cell.cell_type != "code":
        return False
    tags = cell.get("metadata", {}).get("tags", [])
    return SOLUTION_TAG in tags or any(
        line.strip() in (BEGIN, END) for line in cell.source.splitlines()
    )


def is_check_cell(cell: nbformat.NotebookNode) -> bool:
    """Tell whether a code cell calls a ``check_…`` function from :mod:`llmwidgets.checks`.

    Args:
        cell: a notebook cell.

    Returns:
        True for a code cell whose source calls ``check_<name>(…)``.
    """
    return cell.cell_type == "code" and bool(_CHECK_CALL.search(cell.source))


def strip_solution(source: str, exercise: int, where: str = "cell") -> str:
    """Replace each ``BEGIN``/``END`` block of a cell's source by a stub.

    Args:
        source: the cell's source.
        exercise: the exercise number written into ``NotImplementedError``.
        where: names the cell in error messages (notebook and index).

    Returns:
        The source with every solution block replaced.

    Raises:
        MarkerError: for an ``END`` without ``BEGIN``, a ``BEGIN`` inside a block,
            or a ``BEGIN`` never closed.
    """
    out: list[str] = []
    open_at: int | None = None  # line number of the unclosed BEGIN
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if open_at is not None:
                raise MarkerError(
                    f"{where}: '{BEGIN}' on line {number} inside the block opened on "
                    f"line {open_at} (missing '{END}')"
                )
            open_at = number
            indent = line[: len(line) - len(line.lstrip())]
            out += [
                f"{indent}# YOUR CODE HERE",
                f'{indent}raise NotImplementedError("exercise {exercise}")',
            ]
        elif marker == END:
            if open_at is None:
                raise MarkerError(f"{where}: '{END}' on line {number} without a '{BEGIN}'")
            open_at = None
        elif open_at is None:
            out.append(line)
    if open_at is not None:
        raise MarkerError(f"{where}: '{BEGIN}' on line {open_at} is never closed by '{END}'")
    return "\n".join(out)


def _clear_outputs(cell: nbformat.NotebookNode) -> None:
    cell.outputs = []
    cell.execution_count = None


def make_student_notebook(
    nb: nbformat.NotebookNode, name: str = "<notebook>"
) -> nbformat.NotebookNode:
    """Return the student version of a notebook (the input is not modified).

    Args:
        nb: a notebook read with ``nbformat``.
        name: the notebook's name, used in error messages.

    Returns:
        A new notebook: solutions replaced by stubs, outputs of solution and
        check cells cleared, ``hide-input`` removed from solution cells.

    Raises:
        MarkerError: for unbalanced markers, naming the notebook and cell index.
    """
    student = copy.deepcopy(nb)
    exercise = 0
    for index, cell in enumerate(student.cells):
        if is_solution_cell(cell):
            exercise += 1
            where = f"{name}, cell {index}"
            stripped = strip_solution(cell.source, exercise, where)
            if not any(line.strip() == BEGIN for line in cell.source.splitlines()):
                raise MarkerError(f"{where}: tagged '{SOLUTION_TAG}' but has no '{BEGIN}' line")
            cell.source = stripped
            tags = cell.metadata.get("tags", [])
            if HIDE_TAG in tags:
                cell.metadata["tags"] = [t for t in tags if t != HIDE_TAG]
            _clear_outputs(cell)
        elif is_check_cell(cell):
            _clear_outputs(cell)
    return student


def notebook_paths(src: str | Path) -> list[Path]:
    """The notebooks that ``src`` names: the file itself, or every ``*.ipynb`` in a folder.

    Args:
        src: a notebook file or a folder of notebooks.

    Returns:
        The notebook paths, in name order (empty for a folder without notebooks).

    Raises:
        ValueError: if ``src`` does not exist or is a file that is not a ``.ipynb``.
    """
    src = Path(src)
    if src.is_dir():
        return sorted(src.glob("*.ipynb"))
    if src.is_file():
        if src.suffix != ".ipynb":
            raise ValueError(f"{src} is not a notebook (.ipynb) nor a folder of notebooks")
        return [src]
    raise ValueError(f"{src} does not exist (give a notebook or a folder of notebooks)")


def make_student_versions(src: str | Path, dst: str | Path) -> list[Path]:
    """Write the student version of a notebook, or of every ``*.ipynb`` in a folder.

    Args:
        src: a notebook file, or the folder with the full notebooks.
        dst: the output folder (created if needed); must not be where the notebooks are.

    Returns:
        The paths written, in name order.

    Raises:
        ValueError: if ``src`` does not exist, is not a notebook, or a student version
            would overwrite its full notebook.
        MarkerError: for unbalanced markers (nothing is written for that notebook).
    """
    paths, dst = notebook_paths(src), Path(dst)
    for path in paths:
        if (dst / path.name).resolve() == path.resolve():
            raise ValueError(
                f"the student folder must differ from {path.parent}: it would overwrite solutions"
            )
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        student = make_student_notebook(nb, name=path.name)
        target = dst / path.name
        nbformat.write(student, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 1 on an error (printed to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python book/tools/student.py",
        description="Write student versions of the notebooks (solutions replaced by stubs).",
    )
    parser.add_argument(
        "notebooks", nargs="*", default=["notebooks"], help="files or folders (default: notebooks)"
    )
    parser.add_argument("-o", "--output", default="student", help="default: student")
    args = parser.parse_args(argv)
    written = []
    try:
        for src in args.notebooks:  # every argument is checked before anything is written
            notebook_paths(src)
        for src in args.notebooks:
            written += make_student_versions(src, args.output)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f"{len(written)} student notebook(s) written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
