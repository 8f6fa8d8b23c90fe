"""Notebook 05b's checks (the translation project): right answers pass, typical slips get
their hint, and the claims behind them hold for the library."""

from __future__ import annotations

import pytest
import torch
from _helpers import contract_tests, expect_hint, zh_to_int

import llmwidgets as lw
from llmwidgets import checks
from llmwidgets.seq2seq import beam_search_steps
from llmwidgets.seq2seq.number_words import number_to_chinese

# ------------------------------------------------------------------ correct answers


def rerank_ok(hypotheses, alpha):
    def score(h):
        return h[1] / ((5 + len(h[0]) + 1) / 6) ** alpha

    return sorted(hypotheses, key=score, reverse=True)


def free_running_ok(model, src, tgt_in, tgt_out):
    memory = model.encode(src)
    ys, logits = tgt_in[:, :1], []
    for _ in range(tgt_in.shape[1]):
        step = model.decode(memory, ys)[:, -1]
        logits.append(step)
        ys = torch.cat([ys, step.argmax(-1, keepdim=True)], dim=1)
    return lw.next_token_loss(torch.stack(logits, dim=1), tgt_out)


def reverse_ok(src, pad_id=0):
    rows = []
    for row in src.tolist():
        real = [t for t in row if t != pad_id]
        rows.append(real[::-1] + [pad_id] * (len(row) - len(real)))
    return torch.tensor(rows)


CHECKS = {
    "rerank": (checks.check_length_normalised_ranking, rerank_ok),
    "free_running": (checks.check_free_running_loss, free_running_ok),
    "reverse": (checks.check_reverse_source, reverse_ok),
    "chinese_to_int": (checks.check_chinese_to_int, zh_to_int),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ typical slips


def _rerank(length=lambda ids: len(ids) + 1, op="div", gnmt=True, best_first=True):
    def answer(hyps, alpha):
        def score(h):
            n = length(h[0])
            lp = ((5 + n) / 6) ** alpha if gnmt else n**alpha
            return h[1] / lp if op == "div" else h[1] * lp

        return sorted(hyps, key=score, reverse=best_first)

    return answer


@pytest.mark.parametrize(
    "answer, words",
    [
        (_rerank(length=len), ["<eos>"]),
        (_rerank(op="mul"), ["divide"]),
        (_rerank(gnmt=False), ["GNMT's penalty"]),
        (_rerank(best_first=False), ["best first"]),
        (lambda hyps, alpha: sorted(hyps, key=lambda h: -h[1]), ["log_p alone"]),
        (lambda hyps, alpha: hyps[:1], ["return all"]),
    ],
    ids=["eos not counted", "multiplied", "|Y|**alpha", "worst first", "raw", "one"],
)
def test_rerank_hints(answer, words, capsys):
    expect_hint(checks.check_length_normalised_ranking, answer, words, capsys)


def test_rerank_matches_the_library_beam_search():
    """The ranking the exercise asks for is beam_search_steps' final ranking."""
    table = {(): [0, 0, 0.3, 0.68, 0.02], (3,): [0, 0, 0.5, 0.3, 0.2],
             (3, 3): [0, 0, 0.6, 0.2, 0.2]}  # fmt: skip

    def step(prefixes):
        rows = [table.get(tuple(p[1:]), [0, 0, 0.9, 0.05, 0.05]) for p in prefixes.tolist()]
        return torch.tensor(rows, dtype=torch.float64).log()

    for alpha in (0.0, 0.6, 2.0):
        ranked = beam_search_steps(step, 1, 2, 3, 5, length_penalty=alpha)
        assert [h[0] for h in rerank_ok(ranked, alpha)] == [h[0] for h in ranked]


def _teacher_forced(model, src, tgt_in, tgt_out):
    return lw.next_token_loss(model(src, tgt_in), tgt_out)


@pytest.mark.parametrize(
    "answer, words",
    [
        (_teacher_forced, ["teacher-forced"]),
        (lambda m, s, i, o: torch.tensor(0.0), ["wrong values"]),
        (lambda m, s, i, o: torch.zeros(2), ["shape"]),
    ],
    ids=["teacher forcing", "constant", "shape"],
)
def test_free_running_hints(answer, words, capsys):
    expect_hint(checks.check_free_running_loss, answer, words, capsys)


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda src, pad=0: src.flip(1), ["padding to the front"]),
        (lambda src, pad=0: src, ["unchanged"]),
        (lambda src, pad=0: src[:, :1], ["keep the shape"]),
        (lambda src, pad=0: reverse_ok(src, 0), ["padding to the front"]),
    ],
    ids=["whole rows", "unchanged", "shape", "pad 0 assumed"],
)
def test_reverse_hints(answer, words, capsys):
    expect_hint(checks.check_reverse_source, answer, words, capsys)


def _wan_as_unit(text):
    """万 read as a unit of the digit before it (十一万 -> 10 + 10000)."""
    total, digit = 0, None
    units = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8}
    for ch in text:
        if ch in units:
            total += (1 if digit is None else digit) * units[ch]
            digit = None
        else:
            digit = "零一二三四五六七八九".index(ch)
    return total + (digit or 0)


def _ignores_leading_ten(text):
    return zh_to_int(text) - (10 if text.startswith("十") and len(text) <= 2 else 0)


def _zero_counts(text):
    return zh_to_int(text) + text.count("零") * (len(text) > 1)


@pytest.mark.parametrize(
    "answer, words",
    [
        (_wan_as_unit, ["万 multiplies the whole number"]),
        (_ignores_leading_ten, ["十", "一十"]),
        (_zero_counts, ["零 only marks a gap"]),
        (lambda text: str(zh_to_int(text)), ["return an int", "got '0'"]),
        (lambda t: zh_to_int(t) + (t == "九千九百九十九"), ["九千九百九十九 gave 10000"]),
        (lambda t: zh_to_int(t) + (t == "一亿"), ["亿 is 10^8"]),
    ],
    ids=["万 as a unit", "leading 十", "零 adds", "returns str", "other", "亿"],
)
def test_chinese_to_int_hints(answer, words, capsys):
    expect_hint(checks.check_chinese_to_int, answer, words, capsys)


def test_hints_do_not_show_the_answer(capsys):
    message = expect_hint(checks.check_chinese_to_int, lambda t: -1, ["零 gave -1"], capsys)
    assert " 0" not in message
    message = expect_hint(checks.check_reverse_source, lambda s, p=0: s * 0 + 1, ["row by row"],
                          capsys)  # fmt: skip
    assert "[7, 6, 5" not in message


def test_checks_do_not_depend_on_the_answer_mutating_inputs(capsys):
    def mutating(src, pad_id=0):
        out = reverse_ok(src, pad_id)
        src.zero_()
        return out

    checks.check_reverse_source(mutating)
    assert capsys.readouterr().out.startswith("✓")
    assert number_to_chinese(15) == "十五"
