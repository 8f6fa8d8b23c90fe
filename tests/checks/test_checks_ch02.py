"""Chapter 2's exercise checks: right answers pass, typical slips get their hint."""

from __future__ import annotations

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def prediction_count_ok(n_tokens, bos):
    return n_tokens if bos else n_tokens - 1


def training_pairs_ok(ids, bos_id=None):
    if bos_id is not None:
        ids = torch.cat([torch.tensor([bos_id]), ids])
    return ids[:-1], ids[1:]


def allowed_pairs_ok(n_source, n_target):
    return n_source**2, n_target * (n_target + 1) // 2, n_source * n_target


def changed_positions_ok(n_tokens, k, family):
    return list(range(k if family == "decoder-only" else 0, n_tokens))


def family_ok(task):
    return checks.FAMILY_TASKS[task]


CHECKS = {
    "prediction_count": (checks.check_prediction_count, prediction_count_ok),
    "training_pairs": (checks.check_training_pairs, training_pairs_ok),
    "allowed_pairs": (checks.check_allowed_pairs, allowed_pairs_ok),
    "changed_positions": (checks.check_changed_positions, changed_positions_ok),
    "model_family": (checks.check_model_family, family_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_answer_forms_pass(capsys):
    """Lists, tuples, ranges, floats and tensors are accepted where they mean the same."""
    checks.check_prediction_count(lambda n, bos: float(prediction_count_ok(n, bos)))
    checks.check_prediction_count(lambda n, bos: torch.tensor(prediction_count_ok(n, bos)))
    checks.check_training_pairs(
        lambda ids, bos_id=None: tuple(t.tolist() for t in training_pairs_ok(ids, bos_id))
    )
    checks.check_allowed_pairs(lambda s, t: list(allowed_pairs_ok(s, t)))
    checks.check_changed_positions(lambda n, k, f: range(k if f == "decoder-only" else 0, n))
    checks.check_changed_positions(lambda n, k, f: set(changed_positions_ok(n, k, f)))
    checks.check_model_family(lambda task: family_ok(task).upper().replace("-", " "))
    assert capsys.readouterr().out.count("✓ correct") == 7


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer",
    [
        lambda n, bos: n,  # one per token, start token or not
        lambda n, bos: n + 1 if bos else n - 1,  # the start token counted as a target
        lambda n, bos: n - 1,  # the start token changes nothing
        lambda n, bos: n - 1 if bos else n,  # the two cases swapped
    ],
    ids=["one-per-token", "bos-as-target", "bos-ignored", "swapped"],
)
def test_prediction_count_wrong_answers(answer, capsys):
    message = assert_fails(checks.check_prediction_count, answer, "draw an arrow", capsys)
    # the hint is the same for every wrong count: no direction to search in
    assert "too" not in message and "higher" not in message and "lower" not in message


def test_prediction_count_rejects_non_numbers(capsys):
    assert_fails(checks.check_prediction_count, lambda n, bos: "14", "whole number", capsys)
    assert_fails(checks.check_prediction_count, lambda n, bos: n - 0.5, "whole number", capsys)
    assert_fails(checks.check_prediction_count, lambda n, bos: True, "whole number", capsys)


def bos_at_end(ids, bos_id=None):
    if bos_id is not None:
        ids = torch.cat([ids, torch.tensor([bos_id])])
    return ids[:-1], ids[1:]


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda ids, bos_id=None: (ids, ids), "which token would the last position"),
        (lambda ids, bos_id=None: training_pairs_ok(ids, bos_id)[::-1], "swapped"),
        (lambda ids, bos_id=None: (ids[:-1], ids[:-1]), "the targets equal the inputs"),
        (lambda ids, bos_id=None: ids[1:], "return a pair"),
        (lambda ids, bos_id=None: (ids[:-1], ids[1:]), "the first real token is never a target"),
        (bos_at_end, "never a token to predict"),
        (lambda ids, bos_id=None: (ids[:-1], ids), "one entry per prediction"),
        (lambda ids, bos_id=None: (ids[:-1], ids[1:] + 1), "wrong values"),
    ],
    ids=[
        "unshifted",
        "swapped",
        "same",
        "not-a-pair",
        "bos-ignored",
        "bos-at-end",
        "lengths-differ",
        "off-by-one-ids",
    ],
)
def test_training_pairs_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_training_pairs, answer, hint, capsys)


def test_training_pairs_without_the_keyword_is_reported(capsys):
    assert_fails(checks.check_training_pairs, lambda ids: (ids[:-1], ids[1:]), "bos_id", capsys)


def with_count(index, count):
    def answer(n_source, n_target):
        counts = list(allowed_pairs_ok(n_source, n_target))
        counts[index] = count(n_source, n_target)
        return tuple(counts)

    return answer


@pytest.mark.parametrize(
    "answer, hint",
    [
        (with_count(1, lambda s, t: t * t), "may a target position read the positions after"),
        (with_count(1, lambda s, t: t * (t - 1) // 2), "attend to itself"),
        (with_count(0, lambda s, t: s * (s + 1) // 2), "reads its whole input at once"),
        (with_count(2, lambda s, t: s * s), "which sizes does that mask have"),
        (with_count(2, lambda s, t: t * t), "which sizes does that mask have"),
        (with_count(2, lambda s, t: s + t), "draw the cross-attention mask"),
        (lambda s, t: allowed_pairs_ok(s, t)[:2], "return three counts"),
        (lambda s, t: (s * s, "many", s * t), "whole number"),
    ],
    ids=[
        "decoder-full",
        "decoder-no-diagonal",
        "encoder-causal",
        "cross-source-square",
        "cross-target-square",
        "cross-sum",
        "two-counts",
        "not-a-number",
    ],
)
def test_allowed_pairs_wrong_answers(answer, hint, capsys):
    message = assert_fails(checks.check_allowed_pairs, answer, hint, capsys)
    assert "(49, 21, 42)" not in message  # the counts the check wants are never shown


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda n, k, f: list(range(n)), "which positions can see position"),
        (lambda n, k, f: list(range(k, n)), "bidirectional"),
        (lambda n, k, f: list(range(k + 1, n)) if f == "decoder-only" else [], "own output"),
        (lambda n, k, f: list(range(k + 1)) if f == "decoder-only" else list(range(n)), "position"),
        (lambda n, k, f: 3, "return a list of positions"),
    ],
    ids=["all-in-decoder", "causal-in-encoder", "without-k", "backwards", "not-a-list"],
)
def test_changed_positions_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_changed_positions, answer, hint, capsys)


def test_changed_positions_are_measured_not_assumed():
    """The check's reference comes from an attention layer; it matches the rule."""
    from llmwidgets.checks.ch02 import _measured_changes

    for n, k in [(6, 2), (5, 0), (5, 4), (1, 0)]:
        assert _measured_changes(n, k, "decoder-only") == list(range(k, n))
        assert _measured_changes(n, k, "encoder-only") == list(range(n))


@pytest.mark.parametrize(
    "answer, hint, right",
    [
        (lambda task: "decoder-only", "is not a job for decoder-only", "encoder-only"),
        (lambda task: "encoder-only", "is not a job for encoder-only", "decoder-only"),
        (
            lambda task: "decoder-only" if family_ok(task) != "encoder-only" else "encoder-only",
            "is not a job for decoder-only",
            "encoder-decoder",
        ),
        (lambda task: "GPT", "answer one of", None),
    ],
    ids=["always-decoder", "always-encoder", "no-encoder-decoder", "not-a-family"],
)
def test_model_family_wrong_answers(answer, hint, right, capsys):
    message = assert_fails(checks.check_model_family, answer, hint, capsys)
    if right is not None:  # the hint must not hand out the answer it is looking for
        assert right not in message
        assert "does it produce new text" in message


def test_model_family_hints_never_name_the_right_family(capsys):
    """Whatever wrong family is given for a task, the hint names only the given one."""
    for task, right in checks.FAMILY_TASKS.items():
        for given in set(checks.FAMILIES) - {right}:

            def answer(t, task=task, given=given):
                return given if t == task else family_ok(t)

            message = assert_fails(checks.check_model_family, answer, given, capsys)
            assert right not in message, message


def test_model_family_tasks_cover_every_family():
    assert set(checks.FAMILY_TASKS.values()) == set(checks.FAMILIES)


def test_checks_do_not_let_the_answer_spoil_their_cases(capsys):
    def destructive(ids, bos_id=None):
        result = tuple(t.clone() for t in training_pairs_ok(ids, bos_id))
        ids.zero_()  # edits the tensor it was given
        return result

    checks.check_training_pairs(destructive)
    assert capsys.readouterr().out.count("✓ correct") == 1
