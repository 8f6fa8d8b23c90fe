"""Chapter 2's exercise checks: right answers pass, typical slips get their hint."""

from __future__ import annotations

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def attention_masks_ok(n_source, n_target):
    i, j = torch.arange(n_target)[:, None], torch.arange(n_target)[None, :]
    return (
        torch.ones(n_source, n_source, dtype=torch.bool),
        j <= i,
        torch.ones(n_target, n_source, dtype=torch.bool),
    )


def next_token_probs_ok(logits):
    return torch.softmax(logits[:, -1], dim=-1)


def training_pairs_ok(ids):
    return ids[:-1], ids[1:]


def family_ok(task):
    return checks.FAMILY_TASKS[task]


CHECKS = {
    "attention_masks": (checks.check_attention_masks, attention_masks_ok),
    "next_token_probs": (checks.check_next_token_probs, next_token_probs_ok),
    "training_pairs": (checks.check_training_pairs, training_pairs_ok),
    "model_family": (checks.check_model_family, family_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_answer_forms_pass(capsys):
    """Lists instead of tensors, and families written loosely, are accepted."""
    checks.check_training_pairs(lambda ids: (ids.tolist()[:-1], ids.tolist()[1:]))
    checks.check_model_family(lambda task: family_ok(task).upper().replace("-", " "))
    checks.check_attention_masks(lambda s, t: list(attention_masks_ok(s, t)))
    assert capsys.readouterr().out.count("✓ correct") == 3


# ------------------------------------------------------------------ typical wrong answers


def masks_with(index, replace):
    """The right masks, with mask number ``index`` replaced by ``replace(n_source, n_target)``."""

    def answer(n_source, n_target):
        masks = list(attention_masks_ok(n_source, n_target))
        masks[index] = replace(n_source, n_target)
        return tuple(masks)

    return answer


def full(rows, cols):
    return torch.ones(rows, cols, dtype=torch.bool)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (masks_with(0, lambda s, t: full(s, s).tril()), "reads the whole input at once"),
        (masks_with(1, lambda s, t: full(t, t)), "may only see target positions 0..i"),
        (masks_with(1, lambda s, t: full(t, t).triu()), "transposed"),
        (masks_with(2, lambda s, t: full(t, s).tril()), "needs no causal mask"),
        (masks_with(2, lambda s, t: full(s, t)), "the transpose of"),
        (masks_with(2, lambda s, t: full(t, s).int()), "return a bool tensor"),
        (masks_with(2, lambda s, t: full(t, t)), "one row per query"),
        (lambda s, t: attention_masks_ok(s, t)[:2], "a tuple of three masks"),
        (masks_with(1, lambda s, t: ~full(t, t).tril()), "is inverted"),
        (masks_with(0, lambda s, t: full(s, s).fill_diagonal_(False)), "wrong encoder self-att"),
    ],
    ids=[
        "causal-encoder",
        "bidirectional-decoder",
        "transposed-decoder",
        "causal-cross",
        "cross-transposed",
        "int-dtype",
        "cross-square",
        "two-masks",
        "inverted",
        "no-diagonal",
    ],
)
def test_attention_masks_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_attention_masks, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda lg: torch.softmax(lg[:, 0], dim=-1), "sits at the last position"),
        (lambda lg: lg[:, -1], "raw logits"),
        (lambda lg: torch.softmax(lg, dim=1)[:, -1], "not over the positions"),
        (lambda lg: torch.softmax(lg, dim=-1), "keep only the last position"),
        (lambda lg: torch.softmax(lg[:, -1] * 2, dim=-1), "wrong values"),
    ],
    ids=["first-position", "logits", "softmax-over-positions", "all-positions", "scaled"],
)
def test_next_token_probs_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_next_token_probs, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda ids: (ids, ids), "How many pairs does that leave?"),
        (lambda ids: (ids[1:], ids[:-1]), "swapped"),
        (lambda ids: (ids[:-1], ids[:-1]), "shifted by one"),
        (lambda ids: ids[1:], "return a pair"),
        (lambda ids: (ids[:-1], ids[1:] + 1), "wrong values"),
    ],
    ids=["unshifted", "swapped", "same", "not-a-pair", "off-by-one-ids"],
)
def test_training_pairs_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_training_pairs, answer, hint, capsys)


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
    def destructive(logits):
        result = next_token_probs_ok(logits)
        logits.zero_()  # edits the tensor it was given
        return result

    checks.check_next_token_probs(destructive)
    assert capsys.readouterr().out.count("✓ correct") == 1
