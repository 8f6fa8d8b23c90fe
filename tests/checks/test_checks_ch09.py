"""Notebook 09's checks (the FAQ): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers

BYTES = {"bfloat16": 2, "int4": 0.5, "training": 16}


def gib_ok(n_params, use):
    return n_params * BYTES[use] / 2**30


def units_ok(loss):
    return math.exp(loss), loss / math.log(2)


def cycle_ok(ids, window):
    seen = {}
    for start in range(len(ids) - window + 1):
        key = tuple(ids[start : start + window])
        if key in seen:
            return start, start - seen[key]
        seen[key] = start
    return None


def cycle_by_search(ids, window):
    """Another correct form: compare every earlier window (quadratic, a list back)."""
    for start in range(len(ids) - window + 1):
        for earlier in range(start - 1, -1, -1):
            if ids[earlier : earlier + window] == ids[start : start + window]:
                return [start, start - earlier]
    return None


def days_ok(n, d, rate):
    return 6 * n * d / rate / 86_400


CHECKS = {
    "model_memory": (checks.check_model_memory, gib_ok),
    "loss_units": (checks.check_loss_units, units_ok),
    "find_cycle": (checks.check_find_cycle, cycle_ok),
    "training_days": (checks.check_training_days, days_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_correct_forms_pass(capsys):
    checks.check_find_cycle(cycle_by_search)
    checks.check_loss_units(lambda loss: [math.exp(loss), math.log2(math.exp(loss))])
    out = capsys.readouterr().out
    assert out.count("✓ correct") == 2, out


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda n, use: gib_ok(n, use) * 2**30 / 1e9, "in GB"),
        (lambda n, use: gib_ok(n, use) * 8, "bits and bytes"),
        (lambda n, use: n * {"bfloat16": 2, "int4": 0.5, "training": 2}[use] / 2**30, "more than"),
        (lambda n, use: n * 3 / 2**30, "how many bytes"),
        (lambda n, use: [1.0, 2.0], "return one number"),
    ],
    ids=["gb", "bits", "training-weights-only", "off", "shape"],
)
def test_memory_hints(answer, hint, capsys):
    assert_fails(checks.check_model_memory, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda loss: (2**loss, loss / math.log(2)), "use e, not 2"),
        (lambda loss: (math.exp(loss), loss * math.log(2)), "divide, not multiply"),
        (lambda loss: (math.exp(loss), loss), "log2(p)"),
        (lambda loss: (loss, loss), "undoes the logarithm"),
        (lambda loss: math.exp(loss), "return (perplexity, bits)"),
    ],
    ids=["base-2", "multiplied", "nats", "no-exp", "not-a-pair"],
)
def test_units_hints(answer, hint, capsys):
    assert_fails(checks.check_loss_units, answer, hint, capsys)


def first_occurrence(ids, window):
    found = cycle_ok(ids, window)
    return None if found is None else (found[0] - found[1], found[1])


def single_ids(ids, window):
    return cycle_ok(ids, 1)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (first_occurrence, "*second* occurrence"),
        (
            lambda ids, w: None if cycle_ok(ids, w) is None else (cycle_ok(ids, w)[0], 1),
            "the start is right",
        ),
        (lambda ids, w: (0, 1), "compare whole windows"),
        (lambda ids, w: None, "does occur twice"),
        (single_ids, "compare whole windows"),
        (lambda ids, w: 3, "return (start, period)"),
    ],
    ids=["first-occurrence", "period", "always", "never", "single-ids", "not-a-pair"],
)
def test_cycle_hints(answer, hint, capsys):
    assert_fails(checks.check_find_cycle, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda n, d, r: days_ok(n, d, r) * 86_400, "not in days"),
        (lambda n, d, r: days_ok(n, d, r) / 3, "backward pass"),
        (lambda n, d, r: n * d / r, "FLOPs needed"),
    ],
    ids=["seconds", "forward-only", "off"],
)
def test_days_hints(answer, hint, capsys):
    assert_fails(checks.check_training_days, answer, hint, capsys)
