"""Checks of notebook 08a (scale and compute): the FLOPs of a training step per token,
Chinchilla's split of a compute budget, a loss scale that keeps fp16 gradients in range,
and int8 absmax quantisation of a weight matrix row by row.

The FLOPs are checked against the library's
:func:`~llmwidgets.analysis.compute.training_flops`, and their typical wrong answers are
built from the same pieces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.analysis.compute import training_flops
from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    call,
    exercise,
    expect_close,
    one_number,
    pair,
    short,
)
from llmwidgets.nn.gpt_config import GPTConfig

__all__ = [
    "check_chinchilla_allocation",
    "check_flops_per_token",
    "check_loss_scale",
    "check_quantize_rows",
]

#: Hoffmann et al. (2022): about 20 training tokens per parameter at the compute optimum.
TOKENS_PER_PARAM = 20


def _config(n_layer: int, n_embd: int, vocab_size: int, seq_len: int) -> GPTConfig:
    return GPTConfig(vocab_size=vocab_size, block_size=seq_len, n_layer=n_layer, n_head=1,
                     n_embd=n_embd)  # fmt: skip


@exercise("exercise 1 (the FLOPs of a training step, per token)")
def check_flops_per_token(my_flops_per_token: Callable[[int, int, int, int], Any]) -> str:
    """Check ``my_flops_per_token(n_layer, n_embd, vocab_size, seq_len)``.

    The FLOPs (2 per multiply-add) of the matrix products of one training step (forward and
    backward) of the book's GPT, divided by the tokens of the batch: the Linear layers of
    the blocks, the output head, and attention's ``Q·Kᵀ`` and ``weights·V`` over the full
    ``T x T`` scores; the backward pass costs twice the forward.
    """
    cases = [(4, 96, 65, 64), (2, 32, 65, 64), (12, 768, 50257, 1024), (1, 16, 10, 8),
             (6, 384, 65, 256)]  # fmt: skip
    for L, C, V, T in cases:
        what = f"n_layer={L}, n_embd={C}, vocab_size={V}, seq_len={T}"
        got = one_number(call(my_flops_per_token, L, C, V, T), what)
        per_token = training_flops(_config(L, C, V, T), 1, T) / T
        blocks, head, attention = 6 * 12 * L * C * C, 6 * V * C, 12 * L * T * C
        wrong = [
            (torch.tensor(blocks + 0.0), "that is Kaplan's 6·N: the output head and attention "
             "are matrix products too"),
            (torch.tensor(blocks + attention + 0.0), "the output head (C -> V for every "
             "token) is a matrix product too"),
            (torch.tensor(blocks + head + 0.0), "attention's Q·Kᵀ and weights·V are matrix "
             "products too, and their cost grows with seq_len"),
            (torch.tensor(blocks + head + attention / 2), "count the full T x T scores: the "
             "kernels compute them all, and a causal mask saves nothing"),
            (torch.tensor(per_token / 3), "that is the forward pass: the backward pass costs "
             "twice as much again"),
            (torch.tensor(per_token / 2), "count FLOPs, 2 per multiply-add"),
        ]  # fmt: skip
        expect_close(got, torch.tensor(per_token), what, wrong, atol=0.5)
    return f"{len(cases)} GPTs, from 1 layer to GPT-2 small at 1,024 tokens"


@exercise("exercise 2 (Chinchilla's split of a compute budget)")
def check_chinchilla_allocation(my_allocation: Callable[[float], Any]) -> str:
    """Check ``my_allocation(compute)``: ``(n_params, tokens)`` for a budget in FLOPs.

    ``compute = 6 · n_params · tokens`` and, at the compute optimum of Hoffmann et al.
    (2022), ``tokens = 20 · n_params``.
    """
    budgets = [1e15, 3.2e17, 1e21, 5.76e23]
    for c in budgets:
        what = f"compute={c:.3g} FLOPs"
        n_got, d_got = pair(call(my_allocation, c), f"return (n_params, tokens) for {what}")
        n_got, d_got = one_number(n_got, what), one_number(d_got, what)
        n = math.sqrt(c / (6 * TOKENS_PER_PARAM))
        if n_got > 0 and abs(float(d_got / n_got) - 1 / TOKENS_PER_PARAM) < 1e-6:
            raise Hint("tokens and parameters are swapped: about 20 *tokens* per parameter")
        if n_got > 0 and abs(float(d_got / n_got) - TOKENS_PER_PARAM) > 1e-3:
            raise Hint(f"for {what} the tokens are not 20 times the parameters")
        wrong = [(torch.tensor(math.sqrt(c / TOKENS_PER_PARAM)), "the compute of training is "
                  "6·N·D, not N·D"),
                 (torch.tensor(math.sqrt(c / (2 * TOKENS_PER_PARAM))), "2·N·D is the forward "
                  "pass; training costs 6·N·D")]  # fmt: skip
        expect_close(n_got, torch.tensor(n), f"n_params for {what}", wrong, atol=0.0)
    return f"{len(budgets)} budgets, up to Chinchilla's own (70B parameters, 1.4T tokens)"


#: fp16's smallest normal number and its largest finite one.
FP16_TINY, FP16_MAX = 2.0**-14, 65504.0


def _loss_scale(grads: torch.Tensor) -> float | None:
    """The smallest power of two that lifts every nonzero |g| to fp16's normal range."""
    g = grads.abs().double()
    g = g[g > 0]
    if len(g) == 0:
        return 1.0
    k = max(0, math.ceil(math.log2(FP16_TINY / float(g.min()))))
    return None if float(g.max()) * 2.0**k > FP16_MAX else 2.0**k


@exercise("exercise 3 (a loss scale for fp16)")
def check_loss_scale(my_loss_scale: Callable[[torch.Tensor], Any]) -> str:
    """Check ``my_loss_scale(grads)``: the smallest power of two ``s = 2**k`` (``k >= 0``)
    such that ``|g| · s`` is at least fp16's smallest normal number, ``2**-14``, for every
    nonzero gradient ``g``; ``None`` if that ``s`` would push the largest ``|g| · s`` above
    fp16's largest number, 65504. Gradients of 0 need no scale."""
    cases = [
        torch.tensor([0.5, -0.01, 3.0]),
        torch.tensor([1e-6, -0.1, 0.0, 2e-3]),
        torch.tensor([-3e-7, 5e-5, 0.0]),
        torch.tensor([1e-9, 1.0]),
        torch.tensor([2.0**-14, 0.25]),
        torch.tensor([0.0, 0.0]),
    ]
    for grads in cases:
        what = f"grads={short(grads)}"
        got = call(my_loss_scale, grads.clone())
        expected = _loss_scale(grads)
        if expected is None:
            if got is not None:
                raise Hint(f"for {what} no power of two works: the scale that saves the "
                           "smallest gradient overflows the largest; return None")  # fmt: skip
            continue
        if got is None:
            raise Hint(f"for {what} a power of two does work: check your overflow test")
        got = one_number(got, what)
        nonzero = grads.abs()[grads != 0]
        wrong = []
        if len(nonzero) and float(nonzero.min()) < FP16_TINY:
            need = 2.0**-24 / float(nonzero.min())
            sub = 2.0 ** max(0, math.ceil(math.log2(need)))
            wrong += [(torch.tensor(sub), "that keeps the gradients above fp16's smallest "
                       "subnormal number; ask for the smallest *normal* one, 2**-14, below "
                       "which fp16 loses precision"),
                      (torch.tensor(expected / 2), "round the exponent up: a scale just "
                       "below the need leaves the smallest gradient under 2**-14")]  # fmt: skip
        expect_close(got, torch.tensor(expected), what, wrong, atol=0.0)
    return f"{len(cases)} sets of gradients: some need no scale, one cannot be saved"


def _weights(seed: int, rows: int, cols: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=gen) * torch.logspace(-3, 0, rows)[:, None]
    w[rows // 2] = 0.0  # a row of zeros must not divide by zero
    return w


@exercise("exercise 4 (int8 absmax quantisation, row by row)")
def check_quantize_rows(my_quantize_rows: Callable[[torch.Tensor], Any]) -> str:
    """Check ``my_quantize_rows(w)``: ``(q, scale)`` for a float weight matrix ``(out, in)``.

    One scale per output row, ``scale = max |w_row| / 127``; ``q = round(w / scale)`` as
    ``torch.int8`` in -127..127, so that ``q * scale`` is within ``scale / 2`` of ``w``. A
    row of zeros gets ``q = 0``, never NaN.
    """
    cases = [(0, 6, 5), (1, 16, 32), (2, 3, 100)]
    for seed, rows, cols in cases:
        w = _weights(seed, rows, cols)
        what = f"a ({rows}, {cols}) weight matrix"
        q, scale = pair(call(my_quantize_rows, w), f"return (q, scale) for {what}")
        q, scale = as_tensor(q, f"q for {what}"), as_tensor(scale, f"scale for {what}")
        if q.dtype != torch.int8:
            raise Hint(f"q should have dtype torch.int8 (1 byte per weight), got {q.dtype}")
        if tuple(q.shape) != (rows, cols):
            raise Hint(f"q should have the shape of w, {(rows, cols)}, got {tuple(q.shape)}")
        if scale.numel() == 1 and rows > 1:
            raise Hint("use one scale per output row, not one for the whole matrix: rows of "
                       "small weights would lose all their precision")  # fmt: skip
        if scale.numel() != rows:
            raise Hint(f"give one scale per row: {rows} numbers, got shape {tuple(scale.shape)}")
        scale = scale.reshape(rows, 1).to(torch.float64)
        if not torch.isfinite(scale).all():
            raise Hint("a row of zeros gave a NaN or infinite scale: handle max |w_row| = 0")
        if (q == -128).any():
            raise Hint("-128 appears: the scale must map max |w_row| to 127, the largest int8")
        nonzero = w.abs().amax(1) > 0
        expected = torch.where(nonzero, w.abs().amax(1).double() / 127, scale[:, 0])
        expect_close(scale[:, 0], expected, f"the scales of {what}", atol=1e-12,
                     next_step="scale = max |w_row| / 127, one per row")  # fmt: skip
        error = (q.double() * scale - w.double()).abs()
        if (error > scale / 2 + 1e-9).any():
            raise Hint("q * scale is further from w than half a step: round to the nearest "
                       "integer (torch.round), do not truncate")  # fmt: skip
        if (q[~nonzero] != 0).any():
            raise Hint("a row of zeros must quantise to zeros")
    return f"{len(cases)} matrices, rows of very different sizes and a row of zeros"
