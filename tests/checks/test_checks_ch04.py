"""Notebook 04's checks (the mathematics): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def softmax_ok(logits, temperature=1.0):
    z = logits / temperature
    e = torch.exp(z - z.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


def causal_mask_ok(n):
    return torch.ones(n, n, dtype=torch.bool).tril()


def attention_ok(q, k, v, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        allowed = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def perplexity_ok(probs):
    return math.exp(-torch.log(probs).mean().item())


CHECKS = {
    "softmax": (checks.check_softmax_temperature, softmax_ok),
    "causal_mask": (checks.check_causal_mask, causal_mask_ok),
    "attention": (checks.check_attention, attention_ok),
    "perplexity": (checks.check_perplexity, perplexity_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda z, t=1.0: torch.softmax(z * t, dim=-1), "multiplied"),
        (lambda z, t=1.0: torch.softmax(z, dim=-1), "no effect"),
        (lambda z, t=1.0: torch.exp(z / t) / torch.exp(z / t).sum(-1, keepdim=True), "overflow"),
        (lambda z, t=1.0: torch.exp(z / t - z.max() / t), "sum to 1"),
        (lambda z, t=1.0: torch.softmax(z / t, dim=0), "sum to 1"),
        (lambda z, t=1.0: torch.softmax(z / t, dim=-1)[..., :1], "shape"),
        (lambda z, t=1.0: softmax_ok(z, t).flip(-1), "wrong values"),
    ],
    ids=["times-T", "ignores-T", "overflow", "not-normalised", "wrong-dim", "shape", "other"],
)
def test_softmax_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_softmax_temperature, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda n: torch.ones(n, n, dtype=torch.bool).triu(), "transposed"),
        (lambda n: ~torch.ones(n, n, dtype=torch.bool).tril(), "inverted"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1), "keep the diagonal"),
        (lambda n: torch.ones(n, n).tril(), "bool"),
        (lambda n: torch.ones(n, n + 1, dtype=torch.bool).tril(), "shape"),
        (lambda n: torch.ones(n, n, dtype=torch.bool), "3 of 9 entries are off"),
    ],
    ids=["transposed", "inverted", "no-diagonal", "float", "shape", "all-true"],
)
def test_causal_mask_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_causal_mask, answer, hint, capsys)


def attention_unscaled(q, k, v, causal=False):
    return attention_ok(q * math.sqrt(q.shape[-1]), k, v, causal)


def attention_over_d(q, k, v, causal=False):
    return attention_ok(q / math.sqrt(q.shape[-1]), k, v, causal)


def attention_wrong_dim(q, k, v, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-2) @ v


def attention_no_mask(q, k, v, causal=False):
    return attention_ok(q, k, v, causal=False)


def attention_returns_weights(q, k, v, causal=False):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (attention_unscaled, "divide Q Kᵀ by √d_k"),
        (attention_over_d, "not by d_k"),
        (attention_wrong_dim, "normalise over the keys"),
        (attention_no_mask, "causal=True"),
        (attention_returns_weights, "shape"),
    ],
)
def test_attention_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_attention, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda p: -torch.log(p).mean().item(), "cross-entropy"),
        (lambda p: math.exp(-torch.log(p).sum().item()), "mean, not sum"),
        (lambda p: 1 / p.mean().item(), "geometric"),
        (lambda p: math.exp(torch.log(p).mean().item()), "sign"),
        (lambda p: -torch.log(p), "one number"),
        (lambda p: 4.0, "wrong values"),
    ],
    ids=["cross-entropy", "sum", "arithmetic-mean", "sign", "vector", "constant"],
)
def test_perplexity_wrong_answers(answer, hint, capsys):
    assert_fails(checks.check_perplexity, answer, hint, capsys)


# ------------------------------------------------------------------ other answer forms


def test_answers_may_be_numpy_or_lists(capsys):
    checks.check_perplexity(lambda p: np.float64(perplexity_ok(p)))
    checks.check_causal_mask(lambda n: causal_mask_ok(n).tolist())
    assert capsys.readouterr().out.count("✓ correct") == 2


def test_in_place_edits_cannot_spoil_the_reference(capsys):
    def in_place(logits, temperature=1.0):
        logits /= temperature
        logits -= logits.amax(dim=-1, keepdim=True)
        return logits.exp_() / logits.sum(dim=-1, keepdim=True)

    checks.check_softmax_temperature(in_place)
    assert "✓ correct" in capsys.readouterr().out
