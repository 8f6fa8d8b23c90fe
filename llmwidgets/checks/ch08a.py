"""Checks of notebook 08a (scale and compute): the FLOPs of a training step per token,
Chinchilla's split of a compute budget, the KV cache with grouped-query attention, and int8
absmax quantisation of a weight matrix row by row.

The references are the library's where it has one
(:func:`~llmwidgets.analysis.compute.training_flops`,
:func:`~llmwidgets.analysis.memory.inference_memory`); the typical wrong answers are built
from the same pieces, so the check holds no second copy of a formula the library has.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.analysis.compute import training_flops
from llmwidgets.analysis.memory import inference_memory
from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, one_number, pair
from llmwidgets.nn.gpt_config import GPTConfig

__all__ = [
    "check_chinchilla_allocation",
    "check_flops_per_token",
    "check_kv_cache_bytes",
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


@exercise("exercise 3 (the KV cache with grouped-query attention)")
def check_kv_cache_bytes(my_kv_cache_bytes: Callable[..., Any]) -> str:
    """Check ``my_kv_cache_bytes(n_layer, n_kv_heads, head_dim, seq_len, batch_size,
    bytes_per_value)``: the bytes of the keys and values a model keeps while generating.

    Every layer keeps a key and a value vector of ``head_dim`` numbers per key-value head,
    for every token of every sequence. For ordinary multi-head attention (as many
    key-value heads as heads) this is :func:`~llmwidgets.analysis.inference_memory`'s cache.
    """
    cases = [(4, 4, 24, 64, 1, 4), (32, 32, 128, 4096, 1, 2), (32, 8, 128, 8192, 1, 2),
             (80, 8, 128, 4096, 8, 2), (2, 1, 16, 10, 3, 1)]  # fmt: skip
    for L, kv, hd, T, B, size in cases:
        what = (f"n_layer={L}, n_kv_heads={kv}, head_dim={hd}, seq_len={T}, "
                f"batch_size={B}, bytes_per_value={size}")  # fmt: skip
        got = one_number(call(my_kv_cache_bytes, L, kv, hd, T, B, size), what)
        expected = _kv_bytes(L, kv, hd, T, B, size)
        wrong = [
            (torch.tensor(expected / 2.0), "keep the keys *and* the values: two vectors per "
             "head, token and layer"),
            (torch.tensor(expected / B), "every sequence of the batch has its own cache"),
            (torch.tensor(expected / size), "multiply by the bytes per stored number"),
        ]  # fmt: skip
        expect_close(got, torch.tensor(float(expected)), what, wrong, atol=0.5)
    return f"{len(cases)} models, multi-head and grouped-query, batch and precision"


def _kv_bytes(n_layer: int, kv: int, head_dim: int, seq_len: int, batch: int, size: int) -> int:
    """The library's multi-head cache for ``kv`` heads of ``head_dim``: with grouped-query
    attention only the key-value heads are kept, so it is the cache of a model with that
    many heads."""
    config = GPTConfig(vocab_size=8, block_size=seq_len, n_layer=n_layer, n_head=kv,
                       n_embd=kv * head_dim)  # fmt: skip
    dtype = {1: "int8", 2: "bfloat16", 4: "float32"}[size]
    return int(inference_memory(config, batch, seq_len, dtype).activations)


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
