"""The student versions of the notebooks, made by nbgrader, and the archive teachers hand out.

nbgrader does the work (``nbgrader generate_assignment`` in a temporary course directory
made by ``book/tools/course.py``): each solution becomes ``raise NotImplementedError()``,
hidden tests and outputs are removed, and check cells are locked. What nbgrader does not
do is done by the ``UnhideSolutions`` preprocessor that the course's configuration adds
(``book/tools/nbgrader_unhide.py``): the answer cells, hidden in the book, are shown.

The output folder is the tree that ``.github/workflows/book.yml`` publishes on the
``student`` branch (the book's "student version in Colab" links point there), and the
content of ``student-notebooks.zip``::

    OUT/README.md                  how to work with the notebooks (for students)
    OUT/DATA.md                    the corpora the notebooks download, and offline use
    OUT/notebooks/<chapter>.ipynb  one per notebook of _toc.yml

Usage::

    python book/tools/student.py [notebooks/NAME.ipynb | folder ...] [-o OUT] [--zip FILE]

Without notebooks, every notebook of ``_toc.yml``. ``scripts/build.sh`` runs
``python book/tools/student.py -o _build/student --zip _build/html/_static/student-notebooks.zip``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402  (book/tools/course.py)

ROOT = course.ROOT
ARCHIVE_FOLDER = "student-notebooks"  # the folder a teacher gets when unzipping

HOWTO = """# The LLM Ecosystem: student notebooks

One notebook per chapter of the book, with the exercises to do: each answer cell holds a
function whose body is `raise NotImplementedError()`. Replace that line by your code.

## Open a notebook

* **Colab**: *File → Upload notebook*, pick `notebooks/<chapter>.ipynb` (or use the
  book's "student version in Colab" link). Run the first cell: it installs the book's
  package `llmwidgets`. *Runtime → Change runtime type → T4 GPU* makes training faster;
  every chapter also runs on a CPU.
* **JupyterLab, Notebook 7 or VS Code**: install the package once,
  `pip install "llmwidgets[book] @ git+{repo}"`, then open the notebook.

## Work on an exercise

1. Read the task under `### Exercise N`.
2. Write your code in the answer cell, in place of `raise NotImplementedError()`, and run it.
3. Run the check cell below it. It prints `✓ correct — ...` when your answer is right,
   or `✗ ...` with a hint that says what to try next. A check never stops the notebook:
   *Run All* runs every cell, and each exercise reports on its own.

## Hand in (courses graded with nbgrader)

Keep the file name, do not delete, copy or reorder cells (the check cells are locked),
save, and hand in the `.ipynb` file. Your teacher's grader runs the same checks and a
few more cases that the notebook does not show, so test your functions on your own
inputs too.

## Data

The notebooks download small public-domain corpora on first use; see `DATA.md` to
use them without internet access.
"""


def repository_url(root: Path = ROOT) -> str:
    """The book's repository (``repository.url`` of ``_config.yml``)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"]


def data_readme() -> str:
    """``DATA.md``: the pinned corpora (from ``llmwidgets.core.data``) and offline use."""
    from llmwidgets.core.data import CACHE_DIR_ENV, CORPORA, DATA_DIR_ENV

    rows = "\n".join(
        f"| `{c.name}` | `{c.filename}` | {c.size:,} | `{c.sha256}` | <{c.url}> |"
        for c in CORPORA.values()
    )
    return f"""# Data

The notebooks load three public-domain corpora through `llmwidgets`. Each file is
downloaded once over HTTPS, checked against its size and SHA-256, and cached (in
`~/.cache/llmwidgets`, or the folder named by `{CACHE_DIR_ENV}`).

| name | file | bytes | SHA-256 | source |
|---|---|---|---|---|
{rows}

**Without internet access** (an exam room, a JupyterHub without outbound access): put
the three files, under the names above, in one folder and set `{DATA_DIR_ENV}` to that
folder before starting Jupyter (`export {DATA_DIR_ENV}=/path/to/data`), or in a notebook
before the set-up cell (`import os; os.environ["{DATA_DIR_ENV}"] = "/path/to/data"`).
A file whose hash differs is refused with a message that says which.
"""


def notebook_paths(sources: list[str | Path]) -> list[Path]:
    """The notebooks that the arguments name: files, or every ``*.ipynb`` of a folder.

    Args:
        sources: notebook files and folders; empty means the notebooks of ``_toc.yml``.

    Returns:
        The notebook paths (a folder's in name order).

    Raises:
        ValueError: for a path that does not exist or a file that is not a notebook.
    """
    if not sources:
        return course.toc_notebooks()
    paths: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            paths += sorted(src.glob("*.ipynb"))
        elif src.is_file() and src.suffix == ".ipynb":
            paths.append(src)
        elif src.is_file():
            raise ValueError(f"{src} is not a notebook (.ipynb) nor a folder of notebooks")
        else:
            raise ValueError(f"{src} does not exist (give a notebook or a folder of notebooks)")
    return paths


def make_student_versions(notebooks: list[Path], out: str | Path) -> list[Path]:
    """Write the student versions (with nbgrader) and the two READMEs into ``out``.

    Args:
        notebooks: the full notebooks (with solutions).
        out: the output folder (created if needed); the notebooks go to ``out/notebooks/``.

    Returns:
        The student notebooks written, in the order given.

    Raises:
        ValueError: if a student version would overwrite a full notebook.
        course.NbgraderError: if nbgrader refuses a notebook (its log says which and why,
            e.g. a solution marker in a cell without nbgrader's metadata).
    """
    target = Path(out) / "notebooks"
    for path in notebooks:
        if (target / path.name).resolve() == path.resolve():
            raise ValueError(f"the output folder must not hold {path}: it would lose its solutions")
    with tempfile.TemporaryDirectory(prefix="student-course-") as tmp:
        assignments = course.make_course(tmp, notebooks)
        course.generate_assignments(tmp, "*")
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name in assignments:
            released = Path(tmp) / "release" / name / f"{name}.ipynb"
            shutil.copyfile(released, target / released.name)
            written.append(target / released.name)
    (Path(out) / "README.md").write_text(HOWTO.format(repo=repository_url()), encoding="utf-8")
    (Path(out) / "DATA.md").write_text(data_readme(), encoding="utf-8")
    return written


def write_archive(tree: str | Path, archive: str | Path) -> Path:
    """Zip a student tree under the top folder ``student-notebooks/`` (reproducibly).

    Args:
        tree: the folder written by :func:`make_student_versions`.
        archive: the ``.zip`` to write (its folder is created if needed).

    Returns:
        The archive's path.
    """
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in Path(tree).rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            name = f"{ARCHIVE_FOLDER}/{path.relative_to(tree).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # no build time
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return archive


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 1 on an error (printed to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python book/tools/student.py",
        description="Write the student versions of the notebooks with nbgrader.",
    )
    parser.add_argument(
        "notebooks", nargs="*", help="files or folders (default: the notebooks of _toc.yml)"
    )
    parser.add_argument("-o", "--output", default="student", help="default: student")
    parser.add_argument("--zip", help="also write this archive of the output folder")
    args = parser.parse_args(argv)
    try:
        written = make_student_versions(notebook_paths(args.notebooks), args.output)
    except (ValueError, course.NbgraderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f"{len(written)} student notebook(s) written to {Path(args.output) / 'notebooks'}")
    if args.zip:
        print(f"archive: {write_archive(args.output, args.zip)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
