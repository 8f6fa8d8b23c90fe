"""Checks of notebook 07a (debugging and profiling): where softmax underflows, a batch
checker that catches chapter 5's shape and dtype bugs early, the FLOPs of a GPT's matrix
products as torch's profiler counts them, and forward hooks that find the first module
whose output is NaN or infinite.

The references are measured, not hard-coded: the underflow gap by bisection on
``torch.softmax`` in each dtype, the FLOPs against the closed form that the notebook then
compares with ``torch.profiler`` (and ``tests/checks/test_checks_ch07a.py`` compares with it
too), the first non-finite module with hooks on small models built here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from llmwidgets.checks._core import (
    Hint,
    call,
    exercise,
    fixed_seed,
    one_number,
    pair,
    tiny_gpt_config,
)
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.gpt_config import PRESETS, GPTConfig

__all__ = [
    "check_batch_checker",
    "check_first_nonfinite",
    "check_matmul_flops",
    "check_underflow_gap",
    "linear_flops",
    "underflow_gap",
]


def underflow_gap(dtype: torch.dtype) -> float:
    """The smallest gap ``g`` at which ``torch.softmax([0, -g])[1]`` is exactly 0 in ``dtype``.

    Found by bisection on torch's own softmax (to 0.001), so it is what the hardware and
    the kernel do, rounding of the gap to ``dtype`` included.

    Args:
        dtype: a floating-point dtype (``torch.float32``, ``torch.bfloat16`` ...).

    Returns:
        The gap, in nats (a difference of logits).
    """
    lo, hi = 0.0, 2000.0  # beyond any dtype's range (float64 underflows at about 745)
    while hi - lo > 1e-3:
        mid = (lo + hi) / 2
        p = torch.softmax(torch.tensor([0.0, -mid], dtype=dtype), dim=-1)[1]
        lo, hi = (lo, mid) if p == 0 else (mid, hi)
    return hi


@exercise("exercise 1 (where softmax underflows)")
def check_underflow_gap(predicted_gap: Callable[[torch.dtype], Any]) -> str:
    """Check ``predicted_gap(dtype)``: the smallest logit gap ``g`` at which the softmax
    of ``[0, -g]`` in ``dtype`` gives the second token a probability of exactly 0 (so
    that ``log(softmax(...))`` is ``-inf``), within 0.5.
    """
    dtypes = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
    for dtype in dtypes:
        what = f"dtype={dtype}"
        got = float(one_number(call(predicted_gap, dtype), what))
        want = underflow_gap(dtype)
        if abs(got - want) <= 0.5:
            continue
        info = torch.finfo(dtype)
        if abs(got - -math.log(info.tiny)) <= 0.5:
            raise Hint(
                f"for {what}: below the smallest *normal* number a float is not 0 yet; "
                "the subnormal numbers go further down"
            )
        if abs(got - math.log(info.max)) <= 0.5:
            raise Hint(
                f"for {what}: that is where exp overflows; softmax subtracts the largest "
                "logit first, so the question is how small exp(-g) can get before it is 0"
            )
        if abs(got - -math.log(info.tiny * info.eps)) <= 0.8:
            raise Hint(
                f"for {what}: close. exp(-g) is rounded to the nearest number the dtype "
                "holds: below which value is the nearest one 0?"
            )
        if abs(got - -math.log2(info.tiny * info.eps)) <= 1.5:
            raise Hint(f"for {what}: logits are natural logarithms; use ln, not log2")
        raise Hint(
            f"for {what}: softmax([0, -g])[1] is about exp(-g). What is the smallest positive "
            "number the dtype can hold (torch.finfo), and which g makes exp(-g) round to 0?"
        )
    return f"{len(dtypes)} dtypes (fp32, fp16, bf16, fp64), within 0.5 of torch's softmax"


def _batches(gen: torch.Generator) -> tuple[list, list]:
    """(good, bad) batches ``(x, y, vocab_size, block_size, what)`` for exercise 2."""

    def ids(*shape: int, vocab: int = 10) -> torch.Tensor:
        return torch.randint(vocab, shape, generator=gen)

    x, y = ids(4, 8), ids(4, 8)
    good = [
        (x, y, 10, 8, "a (4, 8) batch"),
        (ids(1, 3), ids(1, 3), 10, 8, "a (1, 3) batch, shorter than block_size"),
        (x.to(torch.int32), y.to(torch.int32), 10, 16, "int32 ids"),
    ]
    high, negative = x.clone(), y.clone()
    high[1, 2], negative[0, 0] = 10, -1
    bad = [
        (x.float(), y, 10, 8, "x as floats"),
        (x, y.float(), 10, 8, "y as floats"),
        (x, y[:, :-1], 10, 8, "y shorter than x"),
        (x, y.T.contiguous(), 10, 8, "y transposed"),
        (x[0], y[0], 10, 8, "1-D x and y (no batch dimension)"),
        (high, y, 10, 8, "an id of 10 in x with vocab_size 10"),
        (x, negative, 10, 8, "an id of -1 in y"),
        (ids(2, 9), ids(2, 9), 10, 8, "T = 9 with block_size 8"),
        (x.bool(), y, 10, 8, "x as bools"),
    ]
    return good, bad


@exercise("exercise 2 (a batch checker)")
def check_batch_checker(check_lm_batch: Callable[..., Any]) -> str:
    """Check ``check_lm_batch(x, y, vocab_size, block_size)``: return quietly for a valid
    batch of a language model (x and y integer ids of the same shape (B, T), T <= block_size,
    every id in [0, vocab_size)), raise ``ValueError`` with a message for anything else.
    """
    with fixed_seed(0):
        good, bad = _batches(torch.Generator().manual_seed(0))
    for x, y, vocab, block, what in good:
        try:
            call(check_lm_batch, x, y, vocab, block)
        except ValueError as err:
            raise Hint(f"{what} is a valid batch, but your function raised: {err}") from err
    for x, y, vocab, block, what in bad:
        try:
            call(check_lm_batch, x, y, vocab, block)
        except ValueError as err:
            if not str(err).strip():
                raise Hint(f"for {what}: say in the ValueError's message what is wrong") from err
            continue
        except AssertionError as err:
            raise Hint(
                f"for {what}: raise ValueError, not assert (Python skips assert statements "
                "when run with -O)"
            ) from err
        except (RuntimeError, IndexError, TypeError) as err:
            raise Hint(
                f"for {what}: your checks let it through and torch failed instead "
                f"({type(err).__name__}); test it before using it"
            ) from err
        raise Hint(f"{what} is not a valid batch, but your function accepted it")
    return f"{len(good)} valid and {len(bad)} broken batches (dtype, shape, ids, length)"


def linear_flops(config: GPTConfig, batch_size: int, seq_len: int) -> tuple[int, int]:
    """FLOPs of the GPT's weight matrix products in one forward and one backward pass.

    Every Linear layer of a block (``c_attn`` C→3C, ``c_proj`` C→C, ``c_fc`` C→4C, the
    MLP's ``c_proj`` 4C→C: 12·C² weights) and the head (C→V), on ``B·T`` rows, at 2 FLOPs
    per multiply-add (what ``torch.profiler``'s ``with_flops=True`` counts); the backward
    pass computes two products of the same size per layer (the gradients of the input and
    of the weight). Attention's own products (QKᵀ, AV) are left out: the fused kernel
    runs them uncounted.

    Returns:
        ``(forward, backward)``.
    """
    c, rows = config.n_embd, batch_size * seq_len
    forward = 2 * rows * (12 * config.n_layer * c * c + c * config.vocab_size)
    return forward, 2 * forward


@exercise("exercise 3 (the FLOPs of a training step)")
def check_matmul_flops(predicted_flops: Callable[[GPTConfig, int, int], Any]) -> str:
    """Check ``predicted_flops(config, batch_size, seq_len)``: the FLOPs that torch's
    profiler counts for the weight matrix products (the Linear layers and the head) of
    the book's GPT, as ``(forward, backward)``.
    """
    cases = [
        (tiny_gpt_config(), 2, 8),
        (tiny_gpt_config(n_layer=3, n_embd=24, vocab_size=50), 4, 5),
        (GPTConfig.preset("shakespeare-char-cpu"), 32, 64),
        (GPTConfig(**PRESETS["gpt2"]), 1, 1024),
    ]
    for config, b, t in cases:
        what = (
            f"L={config.n_layer}, C={config.n_embd}, V={config.vocab_size}, "
            f"batch_size={b}, seq_len={t}"
        )
        got = pair(call(predicted_flops, config, b, t), f"return (forward, backward) for {what}")
        fwd, bwd = (float(one_number(v, what)) for v in got)
        want_fwd, want_bwd = linear_flops(config, b, t)
        rows, c = b * t, config.n_embd
        if abs(fwd - want_fwd) > 1e-6 * want_fwd:
            if abs(fwd - want_fwd / 2) <= 1e-6 * want_fwd:
                raise Hint("a multiply-add counts as 2 FLOPs, as the profiler counts them")
            if abs(fwd - 2 * rows * 12 * config.n_layer * c * c) <= 1e-6 * want_fwd:
                raise Hint(
                    f"for {what}: the blocks are right; which matrix product comes after them?"
                )
            raise Hint(
                f"for {what}: list the Linear layers of one block with their shapes "
                "(in → out); each multiplies B·T rows by its weight matrix"
            )
        if abs(bwd - want_bwd) > 1e-6 * want_bwd:
            raise Hint(
                f"for {what}: in the backward pass each Linear layer needs the gradient of its "
                "input and the gradient of its weight: how many products of its size is that?"
            )
    return f"{len(cases)} sizes, from a tiny GPT to GPT-2 at 1,024 tokens"


class _Log(nn.Module):
    """log(x): NaN for a negative input, -inf at 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


class _Scale(nn.Module):
    """x * s: inf when s is."""

    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.s


def _nonfinite_cases() -> list[tuple[str, nn.Module, torch.Tensor, str | None]]:
    """``(what, model, input, first non-finite module name or None)``."""
    with fixed_seed(0):
        mlp = nn.Sequential(nn.Linear(4, 8), _Log(), nn.Linear(8, 2))
        clean = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        nested = nn.Sequential(nn.Sequential(nn.Linear(4, 4), _Scale(float("inf"))), nn.Tanh())
        gpt = GPT(tiny_gpt_config(n_layer=2)).eval()
        with torch.no_grad():
            gpt.transformer.h[1].mlp.c_fc.weight[0, 0] = float("nan")
        x = torch.randn(3, 4)
        ids = torch.randint(20, (2, 6))
    nan_x = x.clone()
    nan_x[0, 0] = float("nan")
    return [
        ("a log of negative numbers in a Sequential", mlp, x, "1"),
        ("a model without NaN", clean, x, None),
        ("an inf inside a nested Sequential", nested, x, "0.1"),
        ("a NaN weight in the GPT's second block", gpt, ids, "transformer.h.1.mlp.c_fc"),
        ("a NaN already in the input", clean, nan_x, "0"),
    ]


@exercise("exercise 4 (the first module that makes a NaN)")
def check_first_nonfinite(first_nonfinite: Callable[[nn.Module, torch.Tensor], Any]) -> str:
    """Check ``first_nonfinite(model, x)``: run ``model(x)`` once and return the name (as in
    ``model.named_modules()``) of the first module, in the order in which the modules finish
    their forward pass, whose output holds a NaN or an infinite value; ``None`` if none does.
    The hooks must be removed afterwards.
    """
    cases = _nonfinite_cases()
    for what, model, x, want in cases:
        got = call(first_nonfinite, model, x)
        leftover = [
            name for name, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks
        ]
        if leftover:
            raise Hint(
                f"for {what}: hooks are still registered on {leftover[:3]}; keep the handles "
                "that register_forward_hook returns and call .remove() on each"
            )
        if got == want:
            continue
        if want is None:
            raise Hint(f"for {what}: nothing is NaN or infinite, so return None (got {got!r})")
        if got is None:
            raise Hint(
                f"for {what}: a module's output is not finite, but you returned None. Test "
                "the output with torch.isfinite(...).all() in a forward hook on every module"
            )
        if not isinstance(got, str):
            raise Hint(
                f"return the module's name (a str from named_modules()), got {type(got).__name__}"
            )
        if got == "":
            raise Hint(
                f'for {what}: "" is the whole model; hook the submodules, which finish first'
            )
        raise Hint(
            f"for {what}: {got!r} is not the first to finish with a non-finite output. A "
            "forward hook runs when its module finishes; keep the first name only"
        )
    return f"{len(cases)} models (nested modules, a GPT, a clean model, a NaN input)"
