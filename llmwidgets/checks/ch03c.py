"""Checks of notebook 03c (self-attention): splitting and merging heads, causal weights,
and the whole multi-head layer.

The whole layer is checked against the library's
:class:`~llmwidgets.nn.gpt.CausalSelfAttention` loaded with the same weights. Splitting
and merging heads are one line each inside that class, not functions of their own, so
:func:`_split_heads` and :func:`_merge_heads` spell them out here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, fixed_seed
from llmwidgets.nn.functional import causal_mask, scaled_dot_product_attention
from llmwidgets.nn.gpt import CausalSelfAttention, GPTConfig

__all__ = [
    "check_causal_attention_weights",
    "check_merge_heads",
    "check_multihead_attention",
    "check_split_heads",
]


def _split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, n_head, T, head_dim)


def _merge_heads(y: torch.Tensor) -> torch.Tensor:
    B, H, T, D = y.shape
    return y.transpose(1, 2).reshape(B, T, H * D)  # (B, T, H·D)


@exercise("exercise 1 (split heads)")
def check_split_heads(my_split_heads: Callable[..., Any]) -> str:
    """Check ``my_split_heads(x, n_head)``: ``(B, T, C)`` -> ``(B, n_head, T, C // n_head)``.

    Head ``h`` gets the consecutive features ``h·D .. (h+1)·D - 1`` of every position.
    """
    gen = torch.Generator().manual_seed(0)
    cases = [((2, 5, 12), 3), ((1, 4, 8), 2), ((3, 2, 6), 1), ((2, 3, 16), 4)]
    for shape, n_head in cases:
        x = torch.randn(shape, generator=gen)
        B, T, C = shape
        D = C // n_head
        what = f"x of shape {shape}, n_head={n_head}"
        got = as_tensor(call(my_split_heads, x, n_head), f"the result for {what}")
        if tuple(got.shape) == (B, T, n_head, D) and T != n_head:
            raise Hint(
                "that is (B, T, n_head, head_dim): move the heads next to the batch by "
                "swapping the T and head axes, giving (B, n_head, T, head_dim)"
            )
        wrong = [
            (
                x.reshape(B, n_head, T, D),
                "a plain view(B, n_head, T, head_dim) mixes positions: first split each "
                "position's features into heads, then move the head axis",
            ),
            (
                x.view(B, T, D, n_head).permute(0, 3, 1, 2),
                "head h gets consecutive features h·head_dim … (h+1)·head_dim - 1: when you "
                "split C, the head axis comes before the feature axis",
            ),
        ]
        expect_close(got, _split_heads(x, n_head), what, wrong, atol=0.0)
    return f"{len(cases)} shapes, 1 to 4 heads"


@exercise("exercise 2 (merge heads)")
def check_merge_heads(my_merge_heads: Callable[..., Any]) -> str:
    """Check ``my_merge_heads(y)``: ``(B, H, T, D)`` -> ``(B, T, H·D)``, undoing the split."""
    gen = torch.Generator().manual_seed(0)
    cases = [(2, 3, 5, 4), (1, 2, 4, 4), (3, 1, 2, 6), (2, 4, 3, 2)]
    for shape in cases:
        y = torch.randn(shape, generator=gen)
        B, H, T, D = shape
        what = f"y of shape {shape}"
        got = as_tensor(call(my_merge_heads, y), f"the result for {what}")
        if tuple(got.shape) == (B, T, H, D) and H != T:
            raise Hint("the heads are side by side now; reshape (B, T, H, D) to (B, T, H·D)")
        wrong = [
            (
                y.reshape(B, T, H * D),
                "reshaping (B, H, T, D) directly mixes heads and positions: bring the "
                "positions next to the batch first, then join the heads' features",
            ),
            (
                y.permute(0, 2, 3, 1).reshape(B, T, H * D),
                "keep each head's features together: (B, T, H, D) -> (B, T, H·D), "
                "head 0's D features first",
            ),
        ]
        expect_close(got, _merge_heads(y), what, wrong, atol=0.0)
    return f"{len(cases)} shapes; merge(split(x)) gives x back"


def _masked_softmax(scores: torch.Tensor, allowed: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=dim)


@exercise("exercise 3 (causal attention weights)")
def check_causal_attention_weights(my_causal_weights: Callable[..., Any]) -> str:
    """Check ``my_causal_weights(scores)``: causal softmax weights for ``(B, H, T, T)`` scores.

    Query ``i`` (row) gets weight 0 on every key ``j > i`` and its weights sum to 1, for
    every batch entry and head.
    """
    gen = torch.Generator().manual_seed(0)
    shapes = [(1, 1, 4, 4), (2, 3, 5, 5), (1, 2, 1, 1), (2, 4, 7, 7)]
    for shape in shapes:
        scores = 2 * torch.randn(shape, generator=gen)
        what = f"scores of shape {shape}"
        got = as_tensor(call(my_causal_weights, scores), f"the result for {what}")
        allowed = causal_mask(shape[-1])
        if tuple(got.shape) == shape and not torch.isfinite(got).all():
            raise Hint(
                "NaN in the weights: a row whose scores are all -inf has no softmax. "
                "Keep the diagonal: query i may attend to key i itself"
            )
        wrong = [
            (
                _masked_softmax(scores, allowed.T),
                "the mask is transposed: query i (row i) may see keys 0..i, so keep "
                "the lower triangle and hide the upper one",
            ),
            (
                torch.softmax(scores.masked_fill(~allowed, 0.0), dim=-1),
                "a masked score of 0 still gets weight e⁰ > 0: fill the hidden scores "
                "with float('-inf')",
            ),
            (
                torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0),
                "the rows no longer sum to 1: mask the scores (with -inf) BEFORE the "
                "softmax, not the weights after it",
            ),
            (
                _masked_softmax(scores, allowed, dim=-2),
                "normalise over the keys (dim=-1): each query's weights sum to 1",
            ),
            (torch.softmax(scores, dim=-1), "apply the causal mask: key j > i is the future"),
        ]
        expect_close(got, _masked_softmax(scores, allowed), what, wrong)
    return f"{len(shapes)} shapes, up to 2 batches × 4 heads, one (T, T) mask for all"


def _library_layer(w_qkv, b_qkv, w_out, b_out, n_head: int) -> CausalSelfAttention:
    """The library's layer (float64, eval mode) holding the exercise's weights."""
    config = GPTConfig(n_embd=w_out.shape[0], n_head=n_head, block_size=64, dropout=0.0)
    layer = CausalSelfAttention(config).double().eval()
    weights = {"c_attn.weight": w_qkv, "c_attn.bias": b_qkv}
    layer.load_state_dict({**weights, "c_proj.weight": w_out, "c_proj.bias": b_out})
    return layer


def _mha_slip(x, w_qkv, b_qkv, w_out, b_out, n_head, scale_by_c=False, causal=True):
    """Multi-head attention from the library's functions, with one step done wrong."""
    C = x.shape[-1]
    q, k, v = (_split_heads(t, n_head) for t in (x @ w_qkv.T + b_qkv).split(C, dim=-1))
    if scale_by_c:  # the library divides by √head_dim; this makes it √C
        q = q * math.sqrt((C // n_head) / C)
    y = _merge_heads(scaled_dot_product_attention(q, k, v, causal=causal))
    return y @ w_out.T + b_out


@exercise("exercise 4 (multi-head causal self-attention)")
def check_multihead_attention(my_mha: Callable[..., Any]) -> str:
    """Check ``my_mha(x, w_qkv, b_qkv, w_out, b_out, n_head)``: causal multi-head attention.

    The weights are those of ``llmwidgets.nn.gpt.CausalSelfAttention`` (``c_attn`` and
    ``c_proj``, in ``nn.Linear``'s layout ``(out_features, in_features)``), and the
    reference is that layer.
    """
    gen = torch.Generator().manual_seed(0)
    cases = [(1, 4, 8, 2), (2, 6, 12, 3), (2, 5, 16, 4), (1, 3, 6, 1)]
    for B, T, C, n_head in cases:
        x = torch.randn(B, T, C, generator=gen, dtype=torch.float64)
        w_qkv = torch.randn(3 * C, C, generator=gen, dtype=torch.float64) / math.sqrt(C)
        b_qkv = 0.1 * torch.randn(3 * C, generator=gen, dtype=torch.float64)
        w_out = torch.randn(C, C, generator=gen, dtype=torch.float64) / math.sqrt(C)
        b_out = 0.1 * torch.randn(C, generator=gen, dtype=torch.float64)
        weights = (w_qkv, b_qkv, w_out, b_out)
        what = f"x of shape {(B, T, C)}, n_head={n_head}"
        got = call(my_mha, x, *weights, n_head)
        with torch.no_grad(), fixed_seed():  # building a layer draws random weights
            expected = _library_layer(*weights, n_head)(x)
            # Without the output projection: the same layer with an identity c_proj.
            unprojected = _library_layer(w_qkv, b_qkv, torch.eye(C), torch.zeros(C), n_head)(x)
        wrong = [
            (
                unprojected,
                "finish with the output projection w_out, b_out, which mixes the merged heads "
                "(nn.Linear's layout: weight is (out_features, in_features))",
            ),
            (
                _mha_slip(x, *weights, n_head, causal=False),
                "apply the causal mask: position t may not see positions after t",
            ),
        ]
        if n_head > 1:
            wrong.append(
                (
                    _mha_slip(x, *weights, n_head, scale_by_c=True),
                    "scale by √head_dim (the size of one head, C / n_head), not by √C",
                )
            )
        expect_close(got, expected, what, wrong)
    return f"{len(cases)} cases, 1 to 4 heads, same output as CausalSelfAttention"
