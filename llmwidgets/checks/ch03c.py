"""Checks of notebook 03c (self-attention): the spread of unscaled scores, what a missing
causal mask leaks, a sliding-window attention, a prefix-LM mask, and the parameters of
the attention layer.

The references are the library's :func:`~llmwidgets.nn.functional.scaled_dot_product_attention`
(with a mask), small formulas, and :class:`~llmwidgets.nn.gpt.CausalSelfAttention` for the
parameter count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import (
    Hint,
    bool_mask,
    call,
    exercise,
    expect_close,
    fixed_seed,
    mask_hint,
    one_number,
)
from llmwidgets.nn.functional import causal_mask, scaled_dot_product_attention
from llmwidgets.nn.gpt import CausalSelfAttention, GPTConfig

__all__ = [
    "check_attention_param_count",
    "check_cheating_fraction",
    "check_prefix_lm_mask",
    "check_score_std",
    "check_sliding_window_attention",
]


@exercise("exercise 1 (the spread of the scores)")
def check_score_std(predicted_score_std: Callable[..., Any]) -> str:
    """Check ``predicted_score_std(d_k, scaled)``: the standard deviation of a score.

    ``q`` and ``k`` have ``d_k`` independent entries of mean 0 and variance 1; the score
    is ``q · k`` (``scaled=False``) or ``q · k / √d_k`` (``scaled=True``).
    """
    for d_k in (1, 4, 16, 64, 256, 1024):
        for scaled in (False, True):
            what = f"d_k={d_k}, scaled={scaled}"
            got = one_number(call(predicted_score_std, d_k, scaled), what)
            want = 1.0 if scaled else math.sqrt(d_k)
            if abs(float(got) - want) <= 1e-6 * max(1.0, want):
                continue
            if not scaled and d_k > 1 and abs(float(got) - d_k) < 1e-6 * d_k:
                raise Hint(
                    f"for {what} you gave a number that grows like d_k itself. A sum of d_k "
                    "independent terms of variance 1 has variance d_k: is that the standard "
                    "deviation, or its square?"
                )
            if scaled and d_k > 1 and abs(float(got) - math.sqrt(d_k)) < 1e-6 * d_k:
                raise Hint(
                    f"for {what}: dividing a number by a constant c divides its standard "
                    "deviation by c too"
                )
            raise Hint(
                f"not right for {what}. Write the score as a sum of d_k products q_i·k_i: "
                "what are the mean and the variance of one product, and of the sum?"
            )
    return "6 sizes of d_k, with and without the scale"


@exercise("exercise 2 (what the causal mask prevents)")
def check_cheating_fraction(cheating_fraction: Callable[..., Any]) -> str:
    """Check ``cheating_fraction(T)``: the share of a window's T positions whose target
    is among the inputs of the window, so that without the mask they could read it."""
    for T in (2, 8, 16, 64, 1024, 1):
        got = float(one_number(call(cheating_fraction, T), f"T={T}"))
        want = (T - 1) / T
        if abs(got - want) <= 1e-9:
            continue
        if abs(got - 1.0) <= 1e-9:
            raise Hint(
                f"for T={T}: look at the last position of the window. Its target is the "
                "token after it: is that token among the window's inputs?"
            )
        if abs(got - 1 / T) <= 1e-9:
            raise Hint(f"for T={T}: that is the share of positions that can NOT read their target")
        raise Hint(
            f"not right for T={T}. Write out a window of 4 inputs x₀..x₃ and their targets "
            "y₀..y₃ (y_t = x_{t+1}) and count the targets that appear among the inputs"
        )
    return "6 window lengths, from 1 to 1024"


def _local_mask(T: int, window: int) -> torch.Tensor:
    """(T, T) bool: query i may attend to keys j with i - window < j <= i."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    return (j <= i) & (j > i - window)


def _attention_with(q, k, v, allowed: torch.Tensor | None, scale: bool = True) -> torch.Tensor:
    if not scale:
        q = q * math.sqrt(q.shape[-1])  # undoes the library's 1/√d
    return scaled_dot_product_attention(q, k, v, mask=allowed)


@exercise("exercise 3 (sliding-window attention)")
def check_sliding_window_attention(my_local_attention: Callable[..., Any]) -> str:
    """Check ``my_local_attention(q, k, v, window)``: causal attention in which query ``i``
    sees only the ``window`` most recent keys ``i - window + 1 .. i``.

    ``q``, ``k``, ``v`` have shape ``(..., T, d)``; the scores are scaled by ``√d``.
    """
    gen = torch.Generator().manual_seed(0)
    cases = [((1, 6, 4), 2), ((2, 3, 7, 8), 3), ((5, 4), 1), ((2, 9, 4), 9), ((1, 2, 8, 2), 4)]
    for shape, window in cases:
        q, k, v = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3))
        T = shape[-2]
        what = f"q, k, v of shape {shape}, window={window}"
        got = call(my_local_attention, q, k, v, window)
        wrong = [
            (
                _attention_with(q, k, v, _local_mask(T, window + 1)),
                "each query sees window + 1 keys: with window=w, query i sees itself and the "
                "w - 1 keys before it",
            ),
            (
                _attention_with(q, k, v, _local_mask(T, window).T),
                "the mask is transposed: row i is query i; it may look back, not ahead",
            ),
            (
                _attention_with(q, k, v, _local_mask(T, window) | _local_mask(T, window).T),
                "the window looks both ways: keep the causal part, no key after the query",
            ),
            (_attention_with(q, k, v, causal_mask(T)), "limit each query to its window of keys"),
            (
                _attention_with(q, k, v, _local_mask(T, window), scale=False),
                "divide the scores by √d (d = the last dimension of q)",
            ),
        ]
        expect_close(got, _attention_with(q, k, v, _local_mask(T, window)), what, wrong)
    return f"{len(cases)} cases: windows of 1 key to the whole sequence, batches and heads"


def _prefix_mask(T: int, prefix: int) -> torch.Tensor:
    """(T, T): the prefix sees itself both ways; everything sees the prefix; causal after."""
    allowed = causal_mask(T)
    allowed[:, :prefix] = True
    return allowed


@exercise("exercise 4 (prefix-LM mask)")
def check_prefix_lm_mask(my_prefix_lm_mask: Callable[..., Any]) -> str:
    """Check ``my_prefix_lm_mask(T, prefix)``: a ``(T, T)`` bool mask, True = may attend.

    The first ``prefix`` positions (the prompt) see each other in both directions; every
    later position sees the whole prompt and, after it, only itself and earlier positions.
    """
    for T, prefix in [(4, 2), (6, 0), (5, 5), (7, 3), (1, 1), (8, 1)]:
        what = f"my_prefix_lm_mask({T}, {prefix})"
        got = bool_mask(call(my_prefix_lm_mask, T, prefix), what, (T, T))
        want = _prefix_mask(T, prefix)
        if torch.equal(got, want):
            continue
        if torch.equal(got, want.T):
            raise Hint(f"{what} is transposed: row i is query i, column j is key j")
        if prefix > 0 and torch.equal(got, causal_mask(T)):
            raise Hint(f"{what} is plain causal: let the prompt positions see each other")
        if torch.equal(got, _prefix_mask(T, prefix + 1)) or torch.equal(
            got, _prefix_mask(T, max(prefix - 1, 0))
        ):
            raise Hint(
                f"{what} is off by one: the prompt is positions 0 .. prefix - 1, "
                "prefix positions in all"
            )
        raise mask_hint(got, want, what)
    return "6 cases, with no prompt, a whole-sequence prompt and in between"


@exercise("exercise 5 (parameters of the attention layer)")
def check_attention_param_count(attention_params: Callable[..., Any]) -> str:
    """Check ``attention_params(C, n_head)``: the parameters of ``CausalSelfAttention``
    (``c_attn`` and ``c_proj``, with biases) for width ``C`` and ``n_head`` heads."""
    for C, n_head in [(16, 1), (16, 4), (48, 3), (64, 8), (768, 12)]:
        what = f"C={C}, n_head={n_head}"
        got = float(one_number(call(attention_params, C, n_head), what))
        with fixed_seed():
            layer = CausalSelfAttention(GPTConfig(n_embd=C, n_head=n_head, block_size=8))
        want = sum(p.numel() for p in layer.parameters())
        if got == want:
            continue
        other = float(one_number(call(attention_params, C, 1), f"C={C}, n_head=1"))
        if n_head > 1 and other != got:
            raise Hint(
                f"your count for C={C} changes with n_head ({other:g} for 1 head, {got:g} "
                f"for {n_head}). Count the parameters of CausalSelfAttention with 1 and with "
                f"{n_head} heads and compare"
            )
        if got == 4 * C * C:
            raise Hint(f"for {what}: nn.Linear has a bias too, one number per output")
        if got in (3 * C * C + 3 * C, 3 * C * C):
            raise Hint(f"for {what}: count the output projection c_proj as well")
        raise Hint(
            f"not right for {what}: list the layer's two nn.Linear layers, with the shape of "
            "each weight and each bias"
        )
    return "5 widths and head counts, up to GPT-2's C = 768 with 12 heads"
