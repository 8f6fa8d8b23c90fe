"""llmwidgets.nn.multihead: the one attention computation of the GPT and the seq2seq Transformer.

The fused path, the explicit path and chapter 4's from-scratch formula give the same numbers,
and the weights are checked against a softmax written out by hand.
"""

from __future__ import annotations

import math

import pytest
import torch

from llmwidgets.nn import functional as lf
from llmwidgets.nn.multihead import attend, merge_heads, split_heads

B, H, T, S, D = 2, 3, 5, 4, 8


def qkv(seed: int = 0, t: int = T, s: int = S):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, n, D, generator=g) for n in (t, s, s))


def test_split_and_merge_heads_are_inverse_and_slice_the_channels():
    x = torch.arange(B * T * H * D, dtype=torch.float32).reshape(B, T, H * D)
    heads = split_heads(x, H)
    assert heads.shape == (B, H, T, D)
    assert torch.equal(heads[1, 2, 3], x[1, 3, 2 * D : 3 * D])  # head 2 = channels 16..23
    assert torch.equal(merge_heads(heads), x)


KEY_MASK = torch.tensor([[True, True, True, True], [True, True, False, False]])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_equals_explicit_equals_by_hand(causal, masked):
    t = S if causal else T  # causal self-attention is square
    q, k, v = qkv(t=t)
    key_mask = KEY_MASK if masked else None
    fused = attend(q, k, v, causal=causal, key_mask=key_mask)
    explicit, weights = attend(q, k, v, causal=causal, key_mask=key_mask, return_weights=True)
    torch.testing.assert_close(fused, explicit)
    # By hand: scores, -inf where not allowed, softmax, weighted sum.
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    allowed = torch.ones(B, 1, t, S, dtype=torch.bool)
    if causal:
        allowed &= torch.ones(t, S, dtype=torch.bool).tril()
    if masked:
        allowed &= KEY_MASK[:, None, None, :]
    expected = torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(explicit, expected @ v)
    assert torch.all(weights[~allowed.expand_as(weights)] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, t))


def test_agrees_with_chapter_4s_formula():
    q, k, v = qkv(t=S)
    out, weights = attend(q, k, v, causal=True, return_weights=True)
    ref_out, ref_weights = lf.scaled_dot_product_attention(
        q, k, v, causal=True, return_weights=True
    )
    torch.testing.assert_close(weights, ref_weights)
    torch.testing.assert_close(out, ref_out)


def test_dropout_drops_after_the_weights_are_returned():
    q, k, v = qkv()
    torch.manual_seed(0)
    out, weights = attend(q, k, v, dropout_p=0.5, return_weights=True)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, T))  # before dropout
    torch.manual_seed(0)
    dropped = torch.nn.functional.dropout(weights, 0.5)
    torch.testing.assert_close(out, dropped @ v)
    assert not torch.allclose(out, weights @ v)
