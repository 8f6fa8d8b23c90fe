"""Notebook 07b's checks (the widget kit): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.nn.sampling import sampling_probs
from llmwidgets.training.history import MetricHistory

# ------------------------------------------------------------------ correct answers


def entropy_limit_ok(vocab_size, top_k, limit):
    if limit == "cold":
        return 0.0
    return math.log(min(top_k or vocab_size, vocab_size))


def top_p_kept_ok(probs, top_p):
    order = torch.sort(probs, descending=True, stable=True).indices
    kept, total = [], 0.0
    for i in order.tolist():
        kept.append(i)
        total += float(probs[i])
        if total >= top_p:
            break
    return kept


def top_p_mask_ok(probs, top_p):
    mask = torch.zeros(len(probs), dtype=torch.bool)
    mask[top_p_kept_ok(probs, top_p)] = True
    return mask


def sampling_probs_ok(
    logits,
    temperature=1.0,
    top_k=None,
    top_p=1.0,
    *,
    renormalise_top_k=True,
    keep_crossing=True,
    final_renormalise=True,
):
    """Temperature → top-k → top-p; each switch set to False is a typical slip."""
    if temperature == 0:
        out = torch.zeros_like(logits)
        out[logits.argmax()] = 1
        return out
    p = torch.softmax(logits / temperature, -1)
    order = torch.argsort(p, descending=True, stable=True)
    keep = torch.zeros(len(p), dtype=torch.bool)
    keep[order[: top_k or len(p)]] = True
    if top_p < 1:
        q = p * keep / (p * keep).sum() if renormalise_top_k else p * keep
        total = 0.0
        top_p_keep = torch.zeros_like(keep)
        for rank, i in enumerate(order.tolist()):
            total += float(q[i])
            if not keep[i] or (not keep_crossing and total > top_p and rank > 0):
                break
            top_p_keep[i] = True
            if total >= top_p:
                break
        keep &= top_p_keep
    out = p * keep
    return out / out.sum() if final_renormalise else out


def steps_to_settle_ok(alpha, tolerance):
    n = 1
    while alpha**n > tolerance:
        n += 1
    return n


CHECKS = {
    "entropy_limits": (checks.check_entropy_limits, entropy_limit_ok),
    "top_p_kept": (checks.check_top_p_kept, top_p_kept_ok),
    "sampling_probs": (checks.check_sampling_probs, sampling_probs_ok),
    "smoothing_lag": (checks.check_smoothing_lag, steps_to_settle_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_correct_forms_pass(capsys):
    checks.check_top_p_kept(top_p_mask_ok)  # a bool mask instead of ids
    checks.check_top_p_kept(lambda p, top_p: torch.tensor(top_p_kept_ok(p, top_p)[::-1]))
    checks.check_entropy_limits(lambda v, k, limit: torch.tensor(entropy_limit_ok(v, k, limit)))
    checks.check_sampling_probs(sampling_probs)  # the library itself
    checks.check_smoothing_lag(  # the closed form, rounded up
        lambda a, tol: 1 if a == 0 else max(1, math.ceil(math.log(tol) / math.log(a) - 1e-9))
    )
    out = capsys.readouterr().out
    assert out.count("✓ correct") == 5, out


# ------------------------------------------------------------------ typical wrong answers


def hot_ignores_top_k(vocab_size, top_k, limit):
    return 0.0 if limit == "cold" else math.log(vocab_size)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda v, k, limit: 0.0 if limit == "cold" else min(k or v, v), "not n"),
        (lambda v, k, limit: 0.0 if limit == "cold" else math.log2(min(k or v, v)), "in bits"),
        (hot_ignores_top_k, "top-k cuts before sampling"),
        (lambda v, k, limit: entropy_limit_ok(v, k, "hot"), "as T shrinks"),
        (lambda v, k, limit: 0.0, "as T grows"),
        (lambda v, k, limit: [0.0, 1.0], "return one number"),
    ],
    ids=["not-log", "bits", "ignores-top-k", "cold-uniform", "hot-zero", "shape"],
)
def test_entropy_limit_hints(answer, hint, capsys):
    assert_fails(checks.check_entropy_limits, answer, hint, capsys)


def drops_crossing(probs, top_p):
    order = torch.sort(probs, descending=True, stable=True).indices
    kept = [order[0].item()]
    total = float(probs[order[0]])
    for i in order[1:].tolist():
        total += float(probs[i])
        if total > top_p:
            break
        kept.append(i)
    return kept


def unsorted(probs, top_p):
    before = torch.cumsum(probs, 0) - probs
    return torch.nonzero(before < top_p).flatten().tolist()


@pytest.mark.parametrize(
    "answer, hint",
    [
        (drops_crossing, "keep the token that makes the sum reach top_p"),
        (unsorted, "sort the probabilities first"),
        (lambda p, top_p: p * top_p_mask_ok(p, top_p), "not probabilities"),
        (lambda p, top_p: torch.ones(len(p) + 1, dtype=torch.bool), "should have shape"),
        (lambda p, top_p: [0], "top-p does not keep the ids [0]"),
    ],
    ids=["drops-crossing", "unsorted", "probabilities", "mask-shape", "wrong-ids"],
)
def test_top_p_hints(answer, hint, capsys):
    assert_fails(checks.check_top_p_kept, answer, hint, capsys)


def top_p_before_renormalising(logits, temperature=1.0, top_k=None, top_p=1.0):
    return sampling_probs_ok(logits, temperature, top_k, top_p, renormalise_top_k=False)


def greedy_by_division(logits, temperature=1.0, top_k=None, top_p=1.0):
    if temperature == 0:
        return torch.softmax(logits / temperature, -1)
    return sampling_probs_ok(logits, temperature, top_k, top_p)


def multiplied(logits, temperature=1.0, top_k=None, top_p=1.0):
    if temperature == 0:
        return sampling_probs_ok(logits, 0)
    return sampling_probs_ok(logits * temperature, 1.0, top_k, top_p)


def not_renormalised(logits, temperature=1.0, top_k=None, top_p=1.0):
    return sampling_probs_ok(logits, temperature, top_k, top_p, final_renormalise=False)


def drops_crossing_token(logits, temperature=1.0, top_k=None, top_p=1.0):
    return sampling_probs_ok(logits, temperature, top_k, top_p, keep_crossing=False)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (top_p_before_renormalising, "apply top-p to the distribution left after top-k"),
        (greedy_by_division, "treat it as greedy decoding"),
        (multiplied, "you multiplied"),
        (not_renormalised, "renormalise the kept probabilities"),
        (drops_crossing_token, "keep the token that makes the running sum reach top_p"),
        (lambda logits, *args: torch.softmax(logits, -1)[:-1], "should have shape"),
    ],
    ids=["top-p-order", "greedy-nan", "multiplied", "no-renormalisation", "drops", "shape"],
)
def test_sampling_probs_hints(answer, hint, capsys):
    assert_fails(checks.check_sampling_probs, answer, hint, capsys)


def test_slip_switches_change_the_result():
    """Each wrong variant really differs from the right one on a case the check tries."""
    z = torch.tensor([2.0, 1.0, 0.1, -1.0, 0.5], dtype=torch.float64)
    skewed = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64))
    right = sampling_probs(skewed, 1.0, 2, 0.5)
    assert not torch.allclose(top_p_before_renormalising(skewed, 1.0, 2, 0.5), right)
    assert not torch.allclose(
        not_renormalised(z, 1.0, None, 0.8), sampling_probs(z, 1.0, None, 0.8)
    )
    assert not torch.allclose(
        drops_crossing_token(z, 1.0, None, 0.8), sampling_probs(z, 1.0, None, 0.8)
    )


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda a, tol: steps_to_settle_ok(1 - a, tol) if a > 0 else 1, "weight of the past"),
        (lambda a, tol: steps_to_settle_ok(a, tol) + 1, "off by one"),
        (lambda a, tol: steps_to_settle_ok(a, tol) - 0.5, "whole steps"),
        (lambda a, tol: 3 * steps_to_settle_ok(a, tol), "how much weight"),
        (lambda a, tol: [1, 2], "return one number"),
    ],
    ids=["alpha-swapped", "off-by-one", "fraction", "off", "shape"],
)
def test_smoothing_lag_hints(answer, hint, capsys):
    assert_fails(checks.check_smoothing_lag, answer, hint, capsys)


def test_smoothing_lag_reference_is_metric_history():
    """After a long flat run, the smoothed curve n steps past a unit drop is alpha ** n."""
    history = MetricHistory()
    for step in range(1, 3001):
        history.record(step, {"loss": 1.0 if step <= 2000 else 0.0})
    after = history.smoothed("loss", 0.9)[1][2000:]
    torch.testing.assert_close(
        torch.tensor(after[:30], dtype=torch.float64),
        0.9 ** torch.arange(1, 31, dtype=torch.float64),
    )
