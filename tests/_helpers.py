"""What the tests of the exercise checks share (``tests/checks/test_checks_*.py``).

* :func:`contract_tests`: the contract every check keeps. A right answer prints
  "✓ correct"; an unanswered exercise (``None``, or a function that raises
  ``NotImplementedError`` as the student versions do) fails with "not answered yet";
  a value that is not a function, or a function that crashes, fails with a message
  that says so; a check leaves torch's global RNG as it found it; every check is
  exported from :mod:`llmwidgets.checks`.
* :func:`assert_fails` and :func:`expect_hint`: a wrong answer fails with its hint.
* :func:`zh_to_int`: an independent oracle for Chinese numerals (0 to 10^8, with 万 and 亿).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
import torch

from llmwidgets import checks


def unanswered(*args, **kwargs):
    raise NotImplementedError("exercise N")


def crashes(*args, **kwargs):
    raise RuntimeError("boom")


def contract_tests(table: dict[str, tuple[Callable, object]]) -> type:
    """The contract tests for ``{name: (check, right_answer)}``, as a test class.

    Use it as ``TestContract = contract_tests(CHECKS)`` in a test module.
    """

    class Contract:
        @pytest.mark.parametrize("name", table)
        def test_correct_answer_passes(self, name, capsys):
            check, answer = table[name]
            check(answer)
            assert capsys.readouterr().out.startswith("✓ correct")

        @pytest.mark.parametrize("name", table)
        @pytest.mark.parametrize("answer", [None, unanswered], ids=["None", "NotImplementedError"])
        def test_unanswered_exercise_fails_with_clear_message(self, name, answer, capsys):
            check, _ = table[name]
            with pytest.raises(AssertionError, match="not answered yet"):
                check(answer)
            assert "not answered yet" in capsys.readouterr().out

        @pytest.mark.parametrize("name", table)
        def test_non_function_and_crash_are_reported(self, name):
            check, _ = table[name]
            with pytest.raises(AssertionError, match="expected a function, got int"):
                check(42)
            with pytest.raises(AssertionError, match="RuntimeError: boom"):
                check(crashes)

        @pytest.mark.parametrize("name", table)
        def test_global_rng_is_left_alone(self, name):
            check, answer = table[name]
            torch.manual_seed(123)
            expected = torch.rand(3)
            torch.manual_seed(123)
            check(answer)
            assert torch.equal(torch.rand(3), expected)

        @pytest.mark.parametrize("name", table)
        def test_exported(self, name):
            check, _ = table[name]
            assert check.__name__ in checks.__all__
            assert getattr(checks, check.__name__) is check

    return Contract


def expect_hint(
    check: Callable, answer: object, words: Iterable[str], capsys, prefix: str = "Hint:"
) -> str:
    """Assert that ``check(answer)`` fails, printing ``prefix`` and every one of ``words``.

    Returns:
        The failure message, for further asserts.
    """
    with pytest.raises(AssertionError) as err:
        check(answer)
    printed = capsys.readouterr().out
    assert printed.startswith("✗") and prefix in printed, printed
    for word in words:
        assert word in printed and word in str(err.value), printed
    return str(err.value)


def assert_fails(check: Callable, answer: object, hint: str, capsys) -> str:
    """Assert that ``check(answer)`` fails with a message that contains ``hint``."""
    return expect_hint(check, answer, [hint], capsys, prefix="✗")


_ZH_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_GROUPS = {"万": 10**4, "亿": 10**8}


def zh_to_int(text: str) -> int:
    """Chinese numerals (零 to 一亿) back to an int, by rule: an oracle for tests.

    Digit-unit pairs add up to a group below 10^4; 万 or 亿 multiplies the group read so
    far and starts the next; 零 adds nothing; a unit without a digit before it is 一 unit.
    """
    total, group, digit = 0, 0, None
    for ch in text:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            group += (1 if digit is None else digit) * _ZH_UNITS[ch]  # a leading 十 is 一十
            digit = None
        else:
            total += (group + (digit or 0)) * _ZH_GROUPS[ch]
            group, digit = 0, None
    return total + group + (digit or 0)
