"""Notebook 03c's checks (self-attention): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.nn.gpt import CausalSelfAttention, GPTConfig

# ------------------------------------------------------------------ correct answers


def score_std_ok(d_k, scaled):
    return 1.0 if scaled else math.sqrt(d_k)


def cheating_fraction_ok(T):
    return (T - 1) / T


def local_attention(q, k, v, window, *, extra=0, both_ways=False, scale=True):
    """From scratch; each keyword set to another value is a slip."""
    T, d = q.shape[-2], q.shape[-1]
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    allowed = (j <= i) & (j > i - window - extra)
    if both_ways:
        allowed = allowed | allowed.T
    scores = q @ k.transpose(-2, -1) / (math.sqrt(d) if scale else 1.0)
    return torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1) @ v


def local_attention_ok(q, k, v, window):
    return local_attention(q, k, v, window)


def prefix_mask_ok(T, prefix):
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    allowed[:prefix, :prefix] = True
    return allowed


def param_count_ok(C, n_head):
    return 4 * C * C + 4 * C


CHECKS = {
    "score_std": (checks.check_score_std, score_std_ok),
    "cheating_fraction": (checks.check_cheating_fraction, cheating_fraction_ok),
    "sliding_window": (checks.check_sliding_window_attention, local_attention_ok),
    "prefix_lm_mask": (checks.check_prefix_lm_mask, prefix_mask_ok),
    "attention_param_count": (checks.check_attention_param_count, param_count_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ independent oracles


def test_score_std_is_what_random_vectors_give():
    gen = torch.Generator().manual_seed(0)
    for d in (4, 256):
        q, k = torch.randn(2, 20_000, d, generator=gen, dtype=torch.float64)
        scores = (q * k).sum(-1)
        assert abs(scores.std().item() / score_std_ok(d, False) - 1) < 0.03
        assert abs((scores / math.sqrt(d)).std().item() - score_std_ok(d, True)) < 0.03


def test_param_count_is_the_layers():
    for C, H in [(16, 4), (48, 3)]:
        layer = CausalSelfAttention(GPTConfig(n_embd=C, n_head=H, block_size=8))
        assert sum(p.numel() for p in layer.parameters()) == param_count_ok(C, H)


def test_window_as_long_as_the_sequence_is_causal_attention():
    q, k, v = torch.randn(3, 2, 5, 4)
    got = local_attention_ok(q, k, v, 5)
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(got, want)


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda d, s: 1.0 if s else float(d), "is that the standard deviation, or its square"),
        (lambda d, s: math.sqrt(d), "divides its standard deviation by c"),
        (lambda d, s: 1.0, "sum of d_k products"),
        (lambda d, s: [1.0, 2.0], "return one number"),
    ],
    ids=["variance", "scale-ignored", "constant", "not-a-number"],
)
def test_score_std_slips(answer, hint, capsys):
    assert_fails(checks.check_score_std, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda T: 1.0, "look at the last position"),
        (lambda T: 1 / T, "can NOT read"),
        (lambda T: (T - 2) / T, "Write out a window"),
    ],
    ids=["all", "complement", "other"],
)
def test_cheating_fraction_slips(answer, hint, capsys):
    assert_fails(checks.check_cheating_fraction, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda q, k, v, w: local_attention(q, k, v, w, extra=1), "window + 1 keys"),
        (lambda q, k, v, w: local_attention(q, k, v, w, both_ways=True), "both ways"),
        (lambda q, k, v, w: local_attention(q, k, v, w, scale=False), "divide the scores by √d"),
        (
            lambda q, k, v, w: torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True
            ),
            "limit each query to its window",
        ),
        (lambda q, k, v, w: q, "wrong values"),
    ],
    ids=["off-by-one", "both-ways", "no-scale", "plain-causal", "other"],
)
def test_sliding_window_slips(answer, hint, capsys):
    assert_fails(checks.check_sliding_window_attention, answer, hint, capsys)


def test_sliding_window_transposed_mask(capsys):
    def transposed(q, k, v, w):
        T = q.shape[-2]
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        allowed = ((j <= i) & (j > i - w)).T
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1) @ v

    assert_fails(checks.check_sliding_window_attention, transposed, "transposed", capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda T, p: prefix_mask_ok(T, p).T, "transposed"),
        (lambda T, p: torch.ones(T, T, dtype=torch.bool).tril(), "plain causal"),
        (lambda T, p: prefix_mask_ok(T, p + 1), "off by one"),
        (lambda T, p: prefix_mask_ok(T, p).int(), "return a bool tensor"),
        (lambda T, p: torch.ones(T, T, dtype=torch.bool), "entries are off"),
        (lambda T, p: torch.ones(T, T + 1, dtype=torch.bool), "does not fit"),
    ],
    ids=["transposed", "causal", "off-by-one", "int", "all-true", "shape"],
)
def test_prefix_mask_slips(answer, hint, capsys):
    assert_fails(checks.check_prefix_lm_mask, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda C, H: 4 * C * C // H + 4 * C, "changes with n_head"),
        (lambda C, H: 4 * C * C, "has a bias too"),
        (lambda C, H: 3 * C * C + 3 * C, "output projection"),
        (lambda C, H: 2 * C * C, "two nn.Linear"),
    ],
    ids=["per-head", "no-bias", "no-proj", "other"],
)
def test_param_count_slips(answer, hint, capsys):
    assert_fails(checks.check_attention_param_count, answer, hint, capsys)
