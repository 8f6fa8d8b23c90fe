"""The contract every exercise check keeps, shared by the tests/test_checks*.py files.

A right answer prints "✓ correct"; an unanswered exercise (``None``, or a function that
raises ``NotImplementedError`` as the student versions do) fails with "not answered yet";
every check is exported from :mod:`llmwidgets.checks`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llmwidgets import checks


def unanswered(*args, **kwargs):
    raise NotImplementedError("exercise N")


def contract_tests(table: dict[str, tuple[Callable, object]]) -> tuple[Callable, ...]:
    """The three contract tests for ``{name: (check, right_answer)}``; assign them in a module."""

    @pytest.mark.parametrize("name", table)
    def test_correct_answer_passes(name, capsys):
        check, answer = table[name]
        check(answer)
        assert capsys.readouterr().out.startswith("✓ correct")

    @pytest.mark.parametrize("name", table)
    @pytest.mark.parametrize("answer", [None, unanswered], ids=["None", "NotImplementedError"])
    def test_unanswered_exercise_fails_with_clear_message(name, answer, capsys):
        check, _ = table[name]
        with pytest.raises(AssertionError, match="not answered yet"):
            check(answer)
        assert "not answered yet" in capsys.readouterr().out

    @pytest.mark.parametrize("name", table)
    def test_exported(name):
        check, _ = table[name]
        assert check.__name__ in checks.__all__
        assert getattr(checks, check.__name__) is check

    return (
        test_correct_answer_passes,
        test_unanswered_exercise_fails_with_clear_message,
        test_exported,
    )
