"""The checks' framework (llmwidgets.checks._core) and the package's public names."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import torch

from llmwidgets import checks
from llmwidgets.checks import _core


def chapter_modules():
    for info in pkgutil.iter_modules(checks.__path__):
        if info.name.startswith("ch"):
            yield importlib.import_module(f"llmwidgets.checks.{info.name}")


def test_every_check_a_notebook_calls_exists():
    """The notebooks call ``checks.check_...``: each of those names is exported."""
    import json
    import re
    from pathlib import Path

    called = set()
    for path in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            called |= set(re.findall(r"\b(check_\w+)\(", "".join(cell["source"])))
    assert called and called <= set(checks.__all__), sorted(called - set(checks.__all__))
    assert set(checks.FAMILY_TASKS.values()) == set(checks.FAMILIES)  # notebook 02 uses them


def test_every_check_of_every_chapter_is_exported():
    modules = list(chapter_modules())
    assert len(modules) >= 9
    names = [n for m in modules for n in m.__all__]
    assert len(names) == len(set(names)), "two chapter modules export the same name"
    assert set(checks.__all__) == {"Hint", "expect_close", "run_check", "when_answered", *names}
    for module in modules:
        for name in module.__all__:
            assert getattr(checks, name) is getattr(module, name)


def test_a_check_reads_like_a_public_function():
    check = checks.check_window_mask
    assert check.__name__ == "check_window_mask"
    assert check.__module__ == "llmwidgets.checks.ch04"
    assert list(inspect.signature(check).parameters) == ["my_window_mask"]
    assert "Args:\n    my_window_mask:" in check.__doc__ and "Raises:" in check.__doc__


def test_a_check_takes_its_answer_by_keyword_too(capsys):
    def window(n, w):
        i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
        return (j <= i) & (j > i - w)

    checks.check_window_mask(my_window_mask=window)
    assert capsys.readouterr().out.startswith("✓ correct — exercise 3 (sliding-window mask)")
    with pytest.raises(TypeError):
        checks.check_window_mask(answer=None)


def test_exercise_decorator_runs_the_trial(capsys):
    @_core.exercise("exercise 9 (double)")
    def check_double(my_double):
        """Check ``my_double(x)`` = 2x."""
        _core.expect_close(my_double(torch.tensor(3.0)), torch.tensor(6.0), "x = 3")
        return "1 case"

    check_double(lambda x: x + x)
    assert capsys.readouterr().out == "✓ correct — exercise 9 (double): 1 case\n"
    with pytest.raises(AssertionError, match="not correct yet. Hint: wrong values for x = 3"):
        check_double(lambda x: x * 3)
    with pytest.raises(AssertionError, match="not answered yet"):
        check_double(None)


def test_expect_close_messages():
    expected = torch.tensor([1.0, 2.0])
    checks.expect_close([1.0, 2.0], expected, "case")  # lists are fine
    with pytest.raises(checks.Hint, match=r"shape \(2,\), got \(3,\)"):
        checks.expect_close(torch.zeros(3), expected, "case")
    with pytest.raises(checks.Hint, match="NaN or inf"):
        checks.expect_close(torch.tensor([1.0, float("nan")]), expected, "case")
    with pytest.raises(checks.Hint, match="typo"):
        checks.expect_close(
            torch.tensor([2.0, 1.0]), expected, "case", [(expected.flip(0), "typo")]
        )
    with pytest.raises(checks.Hint, match="should be a tensor"):
        checks.expect_close(object(), expected, "case")


def test_a_wrong_value_is_not_told_the_reference():
    """The last-resort message says what was got and what to do, never what was expected."""
    with pytest.raises(checks.Hint) as err:
        checks.expect_close(torch.tensor([1.0, 7.5]), torch.tensor([1.0, 2.0]), "case")
    message = str(err.value)
    assert "got [1.0000, 7.5000] (1 of 2 entries are off)" in message
    assert "2.0000" not in message and "run your function on this case" in message
    with pytest.raises(checks.Hint, match="print the steps") as err:
        checks.expect_close(3.0, torch.tensor(4.0), "one", next_step="print the steps")
    assert "4.0000" not in str(err.value) and "entries" not in str(err.value)


def test_run_check_reports_each_outcome(capsys):
    def trial(fn):
        fn()
        return "fine"

    checks.run_check("exercise 0 (demo)", lambda: None, trial)
    assert capsys.readouterr().out == "✓ correct — exercise 0 (demo): fine\n"

    def wrong():
        raise checks.Hint("try this")

    with pytest.raises(AssertionError, match=r"✗ exercise 0 \(demo\): not correct yet. Hint: try"):
        checks.run_check("exercise 0 (demo)", wrong, trial)
    with pytest.raises(AssertionError, match="without calling it"):
        checks.run_check("exercise 0 (demo)", 3.5, trial)
    with pytest.raises(AssertionError, match="ZeroDivisionError: division by zero. Call it"):
        checks.run_check("exercise 0 (demo)", lambda: 1 / 0, trial)


def test_fixed_seed_restores_the_global_rng():
    torch.manual_seed(1)
    expected = torch.rand(2)
    torch.manual_seed(1)
    with _core.fixed_seed(0):
        inside = torch.rand(2)
    assert torch.equal(torch.rand(2), expected)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(2), inside)


@pytest.mark.parametrize(
    "env, kernel, raises",
    [
        ({}, False, True),  # plain Python and pytest: a failed check is an error
        ({}, True, False),  # a learner's notebook: it prints, Run All goes on
        ({"NBGRADER_EXECUTION": "autograde"}, True, True),  # nbgrader scores the cell 0
        ({"LLMW_CHECKS": "raise"}, True, True),
        ({"LLMW_CHECKS": "print"}, False, False),
        ({"LLMW_CHECKS": "print", "NBGRADER_EXECUTION": "autograde"}, True, True),  # no way out
    ],
)
def test_a_failed_check_raises_only_where_it_should(env, kernel, raises, monkeypatch, capsys):
    from llmwidgets.checks import _core

    for name in ("NBGRADER_EXECUTION", "LLMW_CHECKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(_core, "in_kernel", lambda: kernel)
    assert _core.failures_raise() is raises
    if raises:
        with pytest.raises(AssertionError, match="not answered yet"):
            checks.check_window_mask(None)
    else:
        checks.check_window_mask(None)
    assert capsys.readouterr().out.startswith("✗ exercise 3")


def test_llmw_checks_typo_is_refused(monkeypatch):
    from llmwidgets.checks import _core

    monkeypatch.setenv("LLMW_CHECKS", "loud")
    with pytest.raises(ValueError, match="LLMW_CHECKS='loud' is not understood"):
        _core.failures_raise()


def test_when_answered_lets_run_all_go_on_past_a_stub(capsys):
    def stub():
        raise NotImplementedError("exercise 2")

    with checks.when_answered("exercise 2"):
        print(stub())
    assert capsys.readouterr().out == "(this cell shows its result once exercise 2 is answered)\n"
    with pytest.raises(ZeroDivisionError), checks.when_answered():
        print(1 / 0)  # a real error is not hidden
