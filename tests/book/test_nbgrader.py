"""The course end to end with the real nbgrader CLI: release, submit, autograde, gradebook.

A course directory in a temporary folder (``book/tools/course.py``), two chapters as two
assignments, ``nbgrader generate_assignment`` for both, then three submissions per
chapter, made from the released student notebook as a student would:

* ``full``: every answer cell holds the reference solution: full marks;
* ``empty``: the student version untouched: 0 on every exercise;
* ``partial``: some exercises right and the others wrong or untouched: exactly the
  points of the right ones (read from the notebook's metadata). In the fixture one
  answer passes its visible check but not the hidden tests (0 for it). This submission
  also lost every cell's metadata (as some editors drop it) and is repaired first with
  ``python book/tools/course.py COURSE --repair ASSIGNMENT``.

``nbgrader autograde`` grades all six; the scores are read from the gradebook. The
untouched student version also runs in a learner's kernel (no ``NBGRADER_EXECUTION``),
where *Run All* must reach the last cell with no error and each check must say what to do.

The chapters are two small fixture notebooks written here in the book's exercise format
(``book/tools/exercises.py``), with checks from ``llmwidgets.checks``, so the test is fast.
The same test runs on the real chapters of :data:`REAL_CHAPTERS` (quick mode).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "tools"))
import course  # noqa: E402  (book tooling, not part of the llmwidgets package)
import exercises  # noqa: E402

pytestmark = pytest.mark.kernel  # nbgrader and the learner's run start real kernels

# The real chapters graded end to end, in quick mode (about 30 s per submission each).
# Empty while the notebooks are being converted to nbgrader's format; the switch is
# this one line: REAL_CHAPTERS = ["04_math", "03b_tokenization"]
REAL_CHAPTERS: list[str] = ["04_math", "03b_tokenization"]

STUDENTS = ("full", "empty", "partial")
CELL_TIMEOUT = 300  # seconds one cell may run, in nbgrader and in the learner's kernel
SHARED_DATA = ROOT.parent / "shared" / "data"

# ------------------------------------------------------------------ fixture chapters

MATH_HEAD = "import math\n\nimport torch\n\nfrom llmwidgets import checks"
SOFTMAX = '''def my_softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Softmax of logits / temperature over the last dimension."""
    ### BEGIN SOLUTION
    z = logits / temperature
    e = torch.exp(z - z.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)
    ### END SOLUTION'''
MASK = '''def my_causal_mask(n: int) -> torch.Tensor:
    """(n, n) bool tensor, True where key j <= query i."""
    ### BEGIN SOLUTION
    return torch.arange(n)[None, :] <= torch.arange(n)[:, None]
    ### END SOLUTION'''
PERPLEXITY = '''def my_perplexity(probs: torch.Tensor) -> float:
    """exp of the mean negative log-probability of the right tokens."""
    ### BEGIN SOLUTION
    return math.exp(-torch.log(probs).mean().item())
    ### END SOLUTION'''
# Right on the visible check's sizes (1, 3, 6), wrong for n = 4: only a hidden test sees it.
MASK_SLIP = '''def my_causal_mask(n: int) -> torch.Tensor:
    """(n, n) bool tensor, True where key j <= query i."""
    full = torch.ones(n, n, dtype=torch.bool)
    return full if n == 4 else full.tril()'''

TOKENS_HEAD = "from llmwidgets import checks"
CHAR_TOKENIZER = '''def my_char_tokenizer(text: str):
    """(encode, decode) over the sorted characters of text."""
    ### BEGIN SOLUTION
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return (lambda s: [index[c] for c in s]), (lambda ids: "".join(chars[i] for i in ids))
    ### END SOLUTION'''
TOKENS_PER_CHAR = '''def my_tokens_per_char(encode, texts: list[str]) -> float:
    """Total tokens over total characters of texts."""
    ### BEGIN SOLUTION
    return sum(len(encode(t)) for t in texts) / sum(len(t) for t in texts)
    ### END SOLUTION'''
# The classic slip the visible check has a hint for: ids that start at 1.
CHAR_TOKENIZER_SLIP = '''def my_char_tokenizer(text: str):
    """(encode, decode) over the sorted characters of text."""
    chars = sorted(set(text))
    encode = lambda s: [chars.index(c) + 1 for c in s]  # noqa: E731
    return encode, lambda ids: "".join(chars[i - 1] for i in ids)'''


def fixture_chapter(title: str, head: str, exercises_: list[tuple]) -> nbformat.NotebookNode:
    """A small chapter: title, set-up, ``## Exercises`` in the book's format, a last cell."""
    cells = [new_markdown_cell(f"# {title}"), new_code_cell(head)]
    cells.append(new_markdown_cell("## Exercises"))
    for number, spec in enumerate(exercises_, start=1):
        cells += exercises.new_exercise(number, *spec)
    cells.append(new_markdown_cell("## After the exercises"))
    cells.append(
        new_code_cell('import llmwidgets as lw\n\nprint("the end; quick mode:", lw.is_quick())')
    )
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata.kernelspec["language"] = "python"
    return nb


def fixture_chapters() -> dict[str, nbformat.NotebookNode]:
    math = fixture_chapter(
        "Fixture A: attention's maths",
        MATH_HEAD,
        [
            (
                "softmax with temperature",
                "Write `my_softmax(logits, temperature)` (an implementation).",
                SOFTMAX,
                "checks.check_softmax_temperature(my_softmax)",
                "big = torch.tensor([[1000.0, 0.0, -1000.0]])\n"
                "assert torch.allclose(my_softmax(big, 0.5), torch.softmax(big / 0.5, dim=-1))",
                2,
            ),
            (
                "the causal mask",
                "Write `my_causal_mask(n)`.",
                MASK,
                "checks.check_causal_mask(my_causal_mask)",
                "for n in (2, 4, 5):\n"
                "    want = torch.ones(n, n, dtype=torch.bool).tril()\n"
                "    assert torch.equal(my_causal_mask(n), want)",
                1,
            ),
            (
                "perplexity",
                "Write `my_perplexity(probs)`.",
                PERPLEXITY,
                "checks.check_perplexity(my_perplexity)",
                "assert abs(my_perplexity(torch.full((8,), 0.5)) - 2.0) < 1e-6",
                1,
            ),
        ],
    )
    tokens = fixture_chapter(
        "Fixture B: tokens",
        TOKENS_HEAD,
        [
            (
                "a character tokenizer",
                "Write `my_char_tokenizer(text)` (an implementation).",
                CHAR_TOKENIZER,
                "checks.check_char_tokenizer(my_char_tokenizer)",
                'encode, decode = my_char_tokenizer("banana")\n'
                'assert encode("nab") == [2, 0, 1] and decode([1, 0]) == "ba"',
                2,
            ),
            (
                "tokens per character",
                "Write `my_tokens_per_char(encode, texts)`.",
                TOKENS_PER_CHAR,
                "checks.check_tokens_per_char(my_tokens_per_char)",
                'assert abs(my_tokens_per_char(str.split, ["a b c", "d"]) - 4 / 6) < 1e-12',
                1,
            ),
        ],
    )
    return {"fx_math": math, "fx_tokens": tokens}


#: The partial submissions of the fixture: {chapter: {exercise: answer}}; "reference" is
#: the solution, anything else replaces the answer cell; exercises not named stay stubs.
FIXTURE_PARTIAL = {
    "fx_math": {1: "reference", 2: MASK_SLIP},
    "fx_tokens": {1: CHAR_TOKENIZER_SLIP, 2: "reference"},
}
#: Exercises of the fixture's partial submissions that score (the others score 0).
FIXTURE_RIGHT = {"fx_math": {1}, "fx_tokens": {2}}

# ------------------------------------------------------------------ submissions


def exercise_number(cell: nbformat.NotebookNode) -> int | None:
    """N of an ``exN-answer`` / ``exN-check`` cell (None for other cells)."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
    return int(grade_id[2:].split("-")[0]) if grade_id.startswith("ex") else None


def answer_cells(nb: nbformat.NotebookNode) -> dict[int, nbformat.NotebookNode]:
    return {
        exercise_number(c): c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
    }


def points(nb: nbformat.NotebookNode) -> dict[str, float]:
    """{grade id: points} of the notebook's autograded cells, from its metadata."""
    return {
        c.metadata.nbgrader.grade_id: float(c.metadata.nbgrader.points)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def submission(
    source: nbformat.NotebookNode, release: nbformat.NotebookNode, answers: dict[int, str]
) -> nbformat.NotebookNode:
    """The released notebook with some answer cells written (``answers``: see FIXTURE_PARTIAL)."""
    sub = nbformat.from_dict(release)
    solutions = answer_cells(source)
    for number, cell in answer_cells(sub).items():
        if number in answers:
            answer = answers[number]
            cell.source = solutions[number].source if answer == "reference" else answer
    return sub


@dataclass
class Graded:
    """One course, graded: what the tests look at."""

    course: Path
    sources: dict[str, nbformat.NotebookNode]  # {assignment: full notebook}
    releases: dict[str, nbformat.NotebookNode]  # {assignment: student version}
    learner_runs: dict[str, nbformat.NotebookNode]  # the untouched student version, run
    right: dict[str, set[int]]  # exercises right in the partial submission
    scores: dict[tuple[str, str], dict[str, float]]  # {(assignment, student): {grade id: score}}

    def autograded(self, assignment: str, student: str) -> nbformat.NotebookNode:
        path = self.course / "autograded" / student / assignment / f"{assignment}.ipynb"
        return nbformat.read(path, as_version=4)


def run_as_learner(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run every cell in a plain kernel (a learner's: checks print, they do not raise)."""
    from nbclient import NotebookClient

    run = nbformat.from_dict(nb)
    NotebookClient(
        run,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,  # errors are collected and asserted on by the tests
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return run


def grade_course(tmp: Path, sources: dict[str, nbformat.NotebookNode], partial, right) -> Graded:
    """Release, run the student version, submit three times, autograde, read the gradebook."""
    from nbgrader.api import Gradebook

    originals = tmp / "originals"
    originals.mkdir()
    for name, nb in sources.items():
        nbformat.write(nb, originals / f"{name}.ipynb")
    root = tmp / "course"
    course.make_course(root, [originals / f"{name}.ipynb" for name in sources])
    env = {"LLMW_QUICK": "1"}
    if not os.environ.get("LLMW_DATA_DIR") and SHARED_DATA.is_dir():
        env["LLMW_DATA_DIR"] = str(SHARED_DATA)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", course.nbgrader_path())  # nbgrader's Gradebook runs alembic
        for key, value in env.items():
            mp.setenv(key, value)
        for key in ("LLMW_CHECKS", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING"):
            mp.delenv(key, raising=False)
        course.generate_assignments(root, "*")
        releases = {
            name: nbformat.read(root / "release" / name / f"{name}.ipynb", as_version=4)
            for name in sources
        }
        learner_runs = {
            name: run_as_learner(nb, root / "release" / name) for name, nb in releases.items()
        }
        answers = {"full": None, "empty": {}, "partial": None}
        for name, source in sources.items():
            answers["full"] = {n: "reference" for n in answer_cells(source)}
            answers["partial"] = partial[name]
            for student in STUDENTS:
                folder = root / "submitted" / student / name
                folder.mkdir(parents=True)
                sub = submission(source, releases[name], answers[student])
                if student == "partial":  # as if an editor had dropped every cell's metadata
                    for cell in sub.cells:
                        cell.metadata = nbformat.NotebookNode()
                nbformat.write(sub, folder / f"{name}.ipynb")
            # ... which course.py --repair restores from the released version.
            assert course.main([str(root), "--repair", name]) == 0
        # Without LLMW_QUICK: the course's config starts nbgrader's kernels in quick mode.
        mp.delenv("LLMW_QUICK")
        course.run_nbgrader(root, "autograde", "*", f"--Execute.timeout={CELL_TIMEOUT}")
        scores = {}
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            for name in sources:
                for student in STUDENTS:
                    notebook = gb.find_submission_notebook(name, name, student)
                    scores[name, student] = {g.name: float(g.score) for g in notebook.grades}
    return Graded(root, sources, releases, learner_runs, right, scores)


@pytest.fixture(scope="module", params=["fixture", "real"])
def graded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """The fixture chapters, or the real ones (:data:`REAL_CHAPTERS`), graded once."""
    tmp = tmp_path_factory.mktemp(f"nbgrader-{request.param}")
    if request.param == "fixture":
        return grade_course(tmp, fixture_chapters(), FIXTURE_PARTIAL, FIXTURE_RIGHT)
    if not REAL_CHAPTERS:
        pytest.skip("REAL_CHAPTERS is empty: the real chapters are not graded yet")
    sources = {
        name: nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        for name in REAL_CHAPTERS
    }
    for name, nb in sources.items():
        problems = exercises.exercise_problems(nb)
        assert not problems, f"{name} is not in nbgrader's format:\n" + "\n".join(problems)
    # The partial submission: exercise 1 right (the reference), the others untouched.
    partial = {name: {1: "reference"} for name in sources}
    return grade_course(tmp, sources, partial, {name: {1} for name in sources})


# ------------------------------------------------------------------ the tests


def test_fixture_chapters_follow_the_exercise_format():
    for name, nb in fixture_chapters().items():
        assert exercises.exercise_problems(nb, min_exercises=2) == [], name


def test_student_version_hides_solutions_and_hidden_tests_and_shows_answer_cells(graded):
    for name, release in graded.releases.items():
        problems = exercises.student_version_problems(graded.sources[name], release)
        assert not problems, f"{name}:\n" + "\n".join(problems)


def _errors(cell: nbformat.NotebookNode) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def test_untouched_student_notebook_runs_to_the_end_and_says_what_to_do(graded):
    for name, run in graded.learner_runs.items():
        code = [c for c in run.cells if c.cell_type == "code"]
        errors = [(c.source[:80], _errors(c)) for c in code if _errors(c)]
        assert not errors, f"{name}: Run All would stop at {errors[0]}"
        assert all(c.execution_count for c in code), f"{name}: a cell did not run"
        checks = [c for c in code if c.metadata.get("nbgrader", {}).get("grade")]
        assert len(checks) == len(answer_cells(graded.sources[name]))
        for cell in checks:
            printed = _text(cell)
            assert "✗" in printed and "not answered yet" in printed, f"{name}: {printed!r}"
            assert "replace `raise NotImplementedError(...)`" in printed, printed


def expected_scores(graded: Graded, name: str, student: str) -> dict[str, float]:
    available = points(graded.sources[name])
    right = {"full": set(answer_cells(graded.sources[name])), "empty": set()}
    right["partial"] = graded.right[name]
    return {
        grade_id: (pts if int(grade_id[2:].split("-")[0]) in right[student] else 0.0)
        for grade_id, pts in available.items()
    }


@pytest.mark.parametrize("student", STUDENTS)
def test_gradebook_scores_are_exact(graded, student):
    for name in graded.sources:
        got = graded.scores[name, student]
        want = expected_scores(graded, name, student)
        assert got == want, f"{name}, {student} submission: {got} != {want}"
    if student == "partial":  # each chapter scores something, but not everything
        for name in graded.sources:
            total = sum(points(graded.sources[name]).values())
            assert 0 < sum(graded.scores[name, student].values()) < total, name


def test_autograder_runs_every_cell_of_an_untouched_submission(graded):
    for name in graded.sources:
        nb = graded.autograded(name, "empty")
        if name.startswith("fx_"):  # the fixture's last cell, in quick mode (the config's)
            assert _text(nb.cells[-1]) == "the end; quick mode: True\n"
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            assert cell.execution_count, f"{name}: not run: {cell.source[:80]!r}"
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert [e.split(":")[0] for e in _errors(cell)] == ["AssertionError"], _errors(cell)
            else:
                assert not _errors(cell), f"{name}: {cell.source[:80]!r}: {_errors(cell)}"


def test_a_hidden_test_catches_what_the_visible_check_misses(graded):
    if "fx_math" not in graded.sources:
        pytest.skip("the fixture's partial submission has the hidden-test case")
    nb = graded.autograded("fx_math", "partial")
    check = next(c for c in nb.cells if exercise_number(c) == 2 and c.metadata.nbgrader["grade"])
    assert "✓ correct" in _text(check)  # the visible check passed...
    assert "BEGIN HIDDEN TESTS" in check.source  # ...the hidden tests were put back...
    assert [e.split(":")[0] for e in _errors(check)] == ["AssertionError"]  # ...and failed
