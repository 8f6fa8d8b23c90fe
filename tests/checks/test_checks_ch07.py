"""Notebook 07's checks (the widget kit): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.nn.sampling import sampling_probs
from llmwidgets.training.history import MetricHistory

# ------------------------------------------------------------------ correct answers


def entropy_ok(probs):
    p = probs[probs > 0]
    return float(-(p * p.log()).sum())


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


def ema_variant(values, alpha, *, debias=True, count_all=False, start_first=False):
    """MetricHistory.smoothed's moving average; each switch changed is a typical slip."""
    out, m, n = [], 0.0, 0
    for x in values:
        if not math.isfinite(x):
            out.append(x)
            n += count_all
            continue
        n += 1
        m = x if start_first and n == 1 else alpha * m + (1 - alpha) * x
        out.append(m / (1 - alpha**n) if debias and not start_first else m)
    return out


def ema_ok(values, alpha):
    return ema_variant(values, alpha)


CHECKS = {
    "entropy": (checks.check_entropy, entropy_ok),
    "top_p_kept": (checks.check_top_p_kept, top_p_kept_ok),
    "sampling_probs": (checks.check_sampling_probs, sampling_probs_ok),
    "ema": (checks.check_ema, ema_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_correct_forms_pass(capsys):
    checks.check_top_p_kept(top_p_mask_ok)  # a bool mask instead of ids
    checks.check_top_p_kept(lambda p, top_p: torch.tensor(top_p_kept_ok(p, top_p)[::-1]))
    checks.check_entropy(lambda p: torch.special.entr(p).sum())  # a 0-dim tensor
    checks.check_sampling_probs(sampling_probs)  # the library itself
    checks.check_ema(lambda v, a: torch.tensor(ema_ok(v, a)))
    out = capsys.readouterr().out
    assert out.count("✓ correct") == 5, out


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda p: float((p * p.log()).nansum()), "check the sign"),
        (lambda p: entropy_ok(p) / math.log(2), "in bits"),
        (lambda p: float(-(p * p.log()).sum()), "0 · log 0"),
        (lambda p: float(-p[p > 0].log().mean()), "weight each -log p"),
        (lambda p: [entropy_ok(p)] * 2, "return one number"),
        (lambda p: entropy_ok(p) + 0.1, "wrong values"),
    ],
    ids=["sign", "bits", "nan", "unweighted", "shape", "off"],
)
def test_entropy_hints(answer, hint, capsys):
    assert_fails(checks.check_entropy, answer, hint, capsys)


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


def ema_nan_spreads(values, alpha):
    out, m, n = [], 0.0, 0
    for x in values:
        n += 1
        m = alpha * m + (1 - alpha) * x
        out.append(m / (1 - alpha**n))
    return out


def ema_drops_nan(values, alpha):
    return [v if math.isfinite(v) else 0.0 for v in ema_ok(values, alpha)]


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda v, a: ema_variant(v, a, debias=False), "bias"),
        (lambda v, a: ema_ok(v, 1 - a) if a > 0 else v, "alpha is the weight of the past"),
        (lambda v, a: ema_variant(v, a, count_all=True), "count only the finite values"),
        (lambda v, a: ema_variant(v, a, start_first=True), "instead of starting from the first"),
        (ema_nan_spreads, "spread into later values"),
        (ema_drops_nan, "return a NaN/inf value as it is"),
        (lambda v, a: ema_ok(v, a)[:-1], "one smoothed value per input value"),
    ],
    ids=["no-debias", "alpha-swapped", "count-all", "start-first", "nan", "drop-nan", "short"],
)
def test_ema_hints(answer, hint, capsys):
    assert_fails(checks.check_ema, answer, hint, capsys)


def test_ema_reference_is_metric_history():
    values = [3.0, 2.5, float("nan"), 2.0, float("inf"), 1.5]
    history = MetricHistory()
    for step, v in enumerate(values):
        history.record(step, {"loss": v})
    got = torch.tensor(ema_ok(values, 0.7))
    expected = torch.tensor(history.smoothed("loss", 0.7)[1])
    torch.testing.assert_close(got, expected, equal_nan=True)
