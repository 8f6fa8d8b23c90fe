"""Notebook 03c's checks (self-attention): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.nn.gpt import CausalSelfAttention, GPTConfig

# ------------------------------------------------------------------ correct answers


def split_heads_ok(x, n_head):
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads_ok(y):
    B, H, T, D = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * D)


def causal_weights_ok(scores):
    T = scores.shape[-1]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)


def mha_variant(scale_by_c=False, causal=True, project=True):
    """Multi-head attention from scratch; each flag set to its other value is a slip."""

    def answer(x, w_qkv, b_qkv, w_out, b_out, n_head):
        B, T, C = x.shape
        q, k, v = (split_heads_ok(t, n_head) for t in (x @ w_qkv.T + b_qkv).split(C, dim=-1))
        d = C if scale_by_c else C // n_head
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        weights = causal_weights_ok(scores) if causal else torch.softmax(scores, -1)
        y = merge_heads_ok(weights @ v)
        return y @ w_out.T + b_out if project else y

    return answer


mha_ok = mha_variant()


CHECKS = {
    "split_heads": (checks.check_split_heads, split_heads_ok),
    "merge_heads": (checks.check_merge_heads, merge_heads_ok),
    "causal_attention_weights": (checks.check_causal_attention_weights, causal_weights_ok),
    "multihead_attention": (checks.check_multihead_attention, mha_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ split / merge heads


@pytest.mark.parametrize(
    "answer, hint",
    [
        (
            lambda x, H: x.view(x.shape[0], x.shape[1], H, -1),
            "move the heads next to the batch",
        ),
        (
            lambda x, H: x.reshape(x.shape[0], H, x.shape[1], -1),
            "a plain view(B, n_head, T, head_dim) mixes positions",
        ),
        (
            lambda x, H: x.view(x.shape[0], x.shape[1], -1, H).permute(0, 3, 1, 2),
            "consecutive features",
        ),
    ],
    ids=["no-transpose", "plain-view", "interleaved"],
)
def test_split_heads_slips(answer, hint, capsys):
    assert_fails(checks.check_split_heads, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda y: y.transpose(1, 2), "reshape (B, T, H, D) to (B, T, H·D)"),
        (
            lambda y: y.reshape(y.shape[0], y.shape[2], -1),
            "reshaping (B, H, T, D) directly mixes heads and positions",
        ),
        (
            lambda y: y.permute(0, 2, 3, 1).reshape(y.shape[0], y.shape[2], -1),
            "keep each head's features together",
        ),
        (lambda y: y.transpose(1, 2).view(y.shape[0], y.shape[2], -1), "raised RuntimeError"),
    ],
    ids=["no-reshape", "no-transpose", "interleaved", "view-not-contiguous"],
)
def test_merge_heads_slips(answer, hint, capsys):
    assert_fails(checks.check_merge_heads, answer, hint, capsys)


def test_split_then_merge_is_the_identity():
    x = torch.randn(2, 5, 12)
    torch.testing.assert_close(merge_heads_ok(split_heads_ok(x, 3)), x)


# ------------------------------------------------------------------ causal weights


def _mask(T, diagonal):
    return torch.ones(T, T, dtype=torch.bool).triu(diagonal)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (
            lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 1).T, -math.inf), -1),
            "the mask is transposed",
        ),
        (lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 1), 0.0), -1), "e⁰ > 0"),
        (
            lambda s: torch.softmax(s, -1).masked_fill(_mask(s.shape[-1], 1), 0.0),
            "BEFORE the softmax",
        ),
        (
            lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 1), -math.inf), -2),
            "normalise over the keys",
        ),
        (lambda s: torch.softmax(s, -1), "apply the causal mask"),
        (
            lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 0), -math.inf), -1),
            "Keep the diagonal",
        ),
    ],
    ids=["transposed", "zero-fill", "mask-after", "wrong-dim", "no-mask", "no-diagonal"],
)
def test_causal_weights_slips(answer, hint, capsys):
    assert_fails(checks.check_causal_attention_weights, answer, hint, capsys)


# ------------------------------------------------------------------ multi-head attention


def test_mha_from_scratch_matches_the_library():
    """The check's reference is the library's layer; the oracle here is independent."""
    gen = torch.Generator().manual_seed(3)
    x, w_qkv = (torch.randn(s, generator=gen, dtype=torch.float64) for s in [(2, 5, 8), (24, 8)])
    b_qkv, w_out, b_out = (torch.randn(s, dtype=torch.float64) for s in [(24,), (8, 8), (8,)])
    layer = CausalSelfAttention(GPTConfig(n_embd=8, n_head=2, block_size=64)).double()
    layer.load_state_dict(
        {"c_attn.weight": w_qkv, "c_attn.bias": b_qkv, "c_proj.weight": w_out, "c_proj.bias": b_out}
    )
    with torch.no_grad():
        torch.testing.assert_close(mha_ok(x, w_qkv, b_qkv, w_out, b_out, 2), layer(x))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (mha_variant(scale_by_c=True), "not by √C"),
        (mha_variant(causal=False), "apply the causal mask"),
        (mha_variant(project=False), "output projection"),
        (lambda x, *rest: x @ rest[0], "raised RuntimeError"),
    ],
    ids=["scale-C", "no-mask", "no-projection", "crash"],
)
def test_mha_slips(answer, hint, capsys):
    assert_fails(checks.check_multihead_attention, answer, hint, capsys)
