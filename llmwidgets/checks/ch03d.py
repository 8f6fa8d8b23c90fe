"""Checks of notebook 03d (the GPT): the parameter count before building (with and without
biases, tied or not), the size of a KV cache, which logits change when two tokens swap
without position embeddings, a SwiGLU MLP at GPT-2's budget, grouped-query attention.

The references: :func:`~llmwidgets.nn.gpt_config.gpt_param_count`, the cache's formula and
the swap rule (``tests/checks/test_checks_ch03d.py`` measures both on real models),
``F.silu`` and ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from llmwidgets.checks._core import Hint, call, exercise, expect_close
from llmwidgets.nn.gpt import GPTConfig, gpt_param_count

__all__ = [
    "check_gpt_param_count",
    "check_grouped_query_attention",
    "check_kv_cache_bytes",
    "check_swap_without_positions",
    "check_swiglu_hidden",
    "check_swiglu_mlp",
]


def _whole_number(value: Any, what: str) -> int:
    """A learner's count as an int, or a :class:`Hint` (a float must be whole)."""
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise Hint(f"return the count as an int for {what}, got {value!r}") from err
    if isinstance(value, bool) or not math.isfinite(number) or number != int(number):
        raise Hint(f"{what} is a whole number; you returned {value!r}")
    return int(number)


def _compare(got: int, right: int, slips: list[tuple[int, str]], what: str, last: str) -> None:
    """Raise the hint of the first slip that ``got`` matches, else ``last``; pass if right."""
    if got == right:
        return
    for wrong, hint in slips:
        if got == wrong != right:
            raise Hint(f"{hint} (for {what})")
    raise Hint(f"{got:,} is not right for {what}. {last}")


# --------------------------------------------------------------- exercise 1: parameters


def _param_count_slips(cfg: GPTConfig, total: int) -> list[tuple[int, str]]:
    """Typical wrong counts for ``cfg`` (whose right count is ``total``), with their hints."""
    V, T, L, C = cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.n_embd
    norms = 2 * L + 1  # ln_1 and ln_2 per block, ln_f
    off = "bias=False removes"
    slips = [
        (total - T * C, "add the position embeddings wpe: block_size × n_embd"),
        (total - L * 4 * C * C, "the MLP has two 4C-wide matrices (C→4C and 4C→C): 8C² per "
         "block, plus 4C² for attention (Q, K, V and the output projection)"),
        (total + V * C, "with tie_weights=True the output head IS the token embedding: count "
         "its vocab_size × n_embd matrix once") if cfg.tie_weights else
        (total - V * C, "with tie_weights=False the output head lm_head has its own "
         "vocab_size × n_embd matrix"),
    ]  # fmt: skip
    if cfg.bias:
        return slips + [
            (total - 2 * C, "add the final LayerNorm ln_f: a gain and a shift, 2·n_embd"),
            (total - norms * 2 * C, "count the LayerNorms: a gain and a shift of n_embd "
             "each, two per block plus the final one"),
            (total - L * 9 * C, "count the biases of the four Linear layers of a block: "
             "3C (c_attn) + C (attn.c_proj) + 4C (c_fc) + C (mlp.c_proj)"),
            (total + V, "the output head lm_head has no bias, in GPT-2 as here"),
        ]  # fmt: skip
    return slips + [
        (total - norms * C, f"{off} the shifts, not the LayerNorms: each keeps its gain of "
         "n_embd numbers"),
        (total + norms * C, f"{off} the LayerNorms' shifts too (nn.LayerNorm(bias=False)): "
         "only their gains remain"),
        (total + L * 9 * C, f"{off} the biases of the four Linear layers of every block"),
        (total + L * 9 * C + norms * C, f"{off} every bias: those of the Linear layers and "
         "the LayerNorms' shifts (only their gains remain)"),
    ]  # fmt: skip


@exercise("exercise 1 (count before you build)")
def check_gpt_param_count(my_param_count: Callable[[Any], Any]) -> str:
    """Check ``my_param_count(config)``: the parameters of ``GPT(config)``, by formula.

    ``config.bias`` says whether the Linear layers and LayerNorms have biases (shifts);
    ``config.tie_weights`` whether the output head shares the token embedding.
    """
    small = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    cases = [
        GPTConfig(**small),
        GPTConfig(**small, bias=False),
        GPTConfig.preset("gpt2", bias=False, tie_weights=False),
        GPTConfig(vocab_size=100, block_size=16, n_layer=2, n_head=2, n_embd=8),
        GPTConfig(vocab_size=65, block_size=32, n_layer=3, n_head=2, n_embd=32, tie_weights=False),
        GPTConfig.preset("gpt2-medium"),
    ]
    for cfg in cases:
        what = (
            f"V={cfg.vocab_size}, T={cfg.block_size}, L={cfg.n_layer}, C={cfg.n_embd}, "
            f"bias={cfg.bias}, tie_weights={cfg.tie_weights}"
        )
        got = _whole_number(my_param_count(cfg), f"the count for {what}")
        total = gpt_param_count(cfg)
        _compare(got, total, _param_count_slips(cfg, total), what, (
            "It is not the count of GPT(config): build a small GPT with the same bias and "
            "tie_weights and compare your terms with the parameters it lists, module by "
            "module: [(name, p.numel()) for name, p in model.named_parameters()]"
        ))  # fmt: skip
    return (
        f"{len(cases)} configurations, with and without biases, tied and untied, "
        "GPT-2 medium among them"
    )


# ---------------------------------------------------------------- exercise 2: the cache


@exercise("exercise 2 (the size of a KV cache)")
def check_kv_cache_bytes(kv_cache_bytes: Callable[..., Any]) -> str:
    """Check ``kv_cache_bytes(config, batch_size, n_tokens, bytes_per_number)``: the memory
    a :class:`~llmwidgets.nn.kv_cache.KVCache` holds after the model has seen ``n_tokens``
    positions of each of ``batch_size`` sequences, in bytes."""
    cases = [
        (GPTConfig(vocab_size=65, block_size=64, n_layer=3, n_head=6, n_embd=48), 5, 17, 4),
        (GPTConfig.preset("shakespeare-char-cpu"), 5, 40, 4),
        (GPTConfig.preset("gpt2"), 1, 1024, 2),
        (GPTConfig.preset("gpt2-xl"), 8, 1000, 2),
    ]
    for cfg, batch, tokens, nbytes in cases:
        what = (
            f"n_layer={cfg.n_layer}, n_head={cfg.n_head}, n_embd={cfg.n_embd}, "
            f"batch_size={batch}, n_tokens={tokens}, bytes_per_number={nbytes}"
        )
        got = _whole_number(
            call(kv_cache_bytes, cfg, batch, tokens, nbytes), f"the bytes for {what}"
        )
        right = 2 * cfg.n_layer * batch * tokens * cfg.n_embd * nbytes
        slips = [
            (right // 2, "the cache holds two tensors per layer: the keys and the values"),
            (right * 3 // 2, "only keys and values are kept: a position's query is used "
             "once, in the step that computes it, and never again"),
            (right // cfg.n_layer, "every attention layer keeps its own keys and values"),
            (right // batch, "every sequence of the batch has its own keys and values"),
            (right // nbytes, "the question is in bytes: each number takes bytes_per_number"),
            (right // cfg.n_head, "all heads together: n_head heads of n_embd / n_head numbers"),
            (right // tokens * cfg.block_size, "the cache grows with the positions seen "
             "(n_tokens), not with block_size"),
        ]  # fmt: skip
        _compare(got, right, slips, what, (
            "Write down the shape of one layer's keys, (B, H, T_seen, D), and count the "
            "tensors of that shape"
        ))  # fmt: skip
    return f"{len(cases)} caches, from a tiny GPT to GPT-2 XL with 8 sequences"


# ------------------------------------------------------- exercise 3: order without wpe


def swap_changes(T: int, i: int, j: int, n_layer: int, positions: bool) -> list[int]:
    """The positions whose logits change when the distinct tokens at i < j swap places.

    Before i nothing changes (causal mask). With position embeddings, every position from
    i on sees other vectors. Without them a token's vector is the same everywhere and
    attention sees its inputs as a set: in one layer only i..j change (their sets or their
    own token changed; after j the set is the same); from the second layer on, the
    positions after j read first-layer outputs at i..j, which changed.
    """
    return list(range(i, T if positions or n_layer >= 2 else j + 1))


def _swap_hint(got: list[int], T: int, i: int, j: int, n_layer: int, positions: bool) -> str:
    """The hint for a wrong list of changed positions."""
    if any(p < i for p in got):
        return (f"a position before {i} sees neither swapped token (the causal mask), so "
                "nothing it computes can change")  # fmt: skip
    if any(p >= T for p in got):
        return f"the positions are 0 .. {T - 1}"
    if i not in got or j not in got:
        return (
            f"positions {i} and {j} now hold other tokens, so their own queries (and "
            "the vectors they add to the stream) differ"
        )
    if positions:
        return (
            "with position embeddings the vector of a token depends on where it stands. "
            "Does a position after the swap see the same vectors as before?"
        )
    if n_layer == 1:
        return (
            "without position embeddings a token's vector is the same wherever it stands, "
            "and a weighted sum does not depend on the order of its terms. Compare what "
            "a position after j sees, as a collection, before and after the swap"
        )
    return ("from the second layer on, a position reads the first layer's outputs, not the "
            "tokens. Which of those outputs changed?")  # fmt: skip


@exercise("exercise 3 (swapping two tokens without position embeddings)")
def check_swap_without_positions(changed_positions: Callable[..., Any]) -> str:
    """Check ``changed_positions(T, i, j, n_layer, positions)``: the positions (0-based,
    in increasing order) whose logits change when the two different tokens at ``i < j``
    swap places, in a GPT with ``n_layer`` blocks, with (``positions=True``) or without
    position embeddings."""
    cases = [(10, 2, 5, 1, False), (10, 2, 5, 1, True), (10, 2, 5, 2, False), (12, 4, 9, 1, False),
             (8, 0, 7, 1, False), (8, 3, 4, 3, False), (6, 1, 2, 4, True)]  # fmt: skip
    for case in cases:
        what = "changed_positions({}, {}, {}, n_layer={}, positions={})".format(*case)
        got = changed_positions(*case)
        got = got.tolist() if isinstance(got, torch.Tensor) else got
        try:
            if isinstance(got, (str, bytes)):
                raise TypeError
            got = sorted({int(p) for p in got})
        except (TypeError, ValueError) as err:
            raise Hint(f"return the changed positions as a list of ints for {what}") from err
        if got != swap_changes(*case):
            raise Hint(f"for {what}: {_swap_hint(got, *case)}")
    return f"{len(cases)} cases, one to four layers, with and without position embeddings"


# --------------------------------------------------------------- exercise 4: SwiGLU


@exercise("exercise 4 (SwiGLU's hidden width)")
def check_swiglu_hidden(swiglu_hidden: Callable[[int, int], Any]) -> str:
    """Check ``swiglu_hidden(n_embd, multiple_of)``: the hidden width h at which a SwiGLU
    MLP (three C × h matrices, no biases) has as many weights as GPT-2's MLP (two of
    C × 4C), rounded down to an integer, then up to a multiple of ``multiple_of``."""
    cases = [(768, 256), (4096, 256), (5120, 256), (1000, 8), (96, 1), (100, 64)]
    for n_embd, m in cases:
        what = f"swiglu_hidden({n_embd}, {m})"
        got = _whole_number(swiglu_hidden(n_embd, m), what)
        right = m * math.ceil(int(8 * n_embd / 3) / m)  # 3·C·h = 8·C², LLaMA's rounding
        if got == right:
            continue
        if got in (4 * n_embd, m * math.ceil(4 * n_embd / m)):
            raise Hint(
                f"for {what}: with h = 4·n_embd a SwiGLU MLP holds 3 · 4C² = 12C² weights, "
                "half as many again as GPT-2's 8C²: it has three matrices, not two"
            )
        if got % m:
            raise Hint(f"for {what}: round h up to a multiple of {m}")
        if got < right:
            raise Hint(f"for {what}: round up to the next multiple, not down")
        raise Hint(
            f"for {what}: count the weights of GPT-2's MLP (c_fc and c_proj, without biases) "
            "and of the SwiGLU MLP (w_gate, w_up and w_down), set them equal and solve for h"
        )
    return (
        f"{len(cases)} widths, among them LLaMA-7B's 11,008 (n_embd 4,096) and LLaMA-13B's "
        "13,824 (n_embd 5,120)"
    )


@exercise("exercise 4 (a SwiGLU MLP)")
def check_swiglu_mlp(my_swiglu: Callable[..., Any]) -> str:
    """Check ``my_swiglu(x, w_gate, w_up, w_down)``: ``(SiLU(x W_gateᵀ) ⊙ x W_upᵀ) W_downᵀ``
    for ``x`` (..., C), ``w_gate`` and ``w_up`` (h, C), ``w_down`` (C, h): nn.Linear's
    layout, no biases."""
    gen = torch.Generator().manual_seed(0)
    shapes = [((2, 5, 8), 12), ((3, 16), 40), ((1, 4, 6), 16)]
    for x_shape, h in shapes:
        c = x_shape[-1]
        x, w_gate, w_up, w_down = (
            torch.randn(*s, generator=gen, dtype=torch.float64)
            for s in (x_shape, (h, c), (h, c), (c, h))
        )
        x, w_down = 2 * x, w_down / 3
        gate, up = x @ w_gate.T, x @ w_up.T
        wrong = [
            ((gate * F.silu(up)) @ w_down.T, "the SiLU acts on the gate branch (x W_gateᵀ); "
             "the up branch stays linear"),
            ((torch.sigmoid(gate) * up) @ w_down.T, "that is the original GLU, with a sigmoid "
             "gate; SwiGLU's gate is SiLU(z) = z · sigmoid(z)"),
            ((F.gelu(gate) * up) @ w_down.T, "GELU gives GEGLU; SwiGLU uses SiLU (Swish with "
             "β = 1), F.silu"),
            (F.silu(gate) @ w_down.T, "multiply the gate by the up branch (x W_upᵀ), element "
             "by element"),
        ]  # fmt: skip
        got = call(my_swiglu, x, w_gate, w_up, w_down)
        expect_close(got, (F.silu(gate) * up) @ w_down.T, f"x of shape {x_shape}, h = {h}", wrong)
    return f"{len(shapes)} cases, against (F.silu(x W_gateᵀ) · x W_upᵀ) W_downᵀ"


# ------------------------------------------------------------------ exercise 5: GQA


@exercise("exercise 5 (grouped-query attention)")
def check_grouped_query_attention(my_gqa: Callable[..., Any]) -> str:
    """Check ``my_gqa(q, k, v)``: causal attention with ``q`` (B, H, T, D) and ``k``, ``v``
    (B, G, T, D), G dividing H; query heads ``g·H/G .. (g+1)·H/G - 1`` share key/value
    head g. The reference is ``F.scaled_dot_product_attention(..., is_causal=True,
    enable_gqa=True)``."""
    gen = torch.Generator().manual_seed(0)
    sdpa = F.scaled_dot_product_attention
    sizes = [(2, 4, 2, 5, 3), (1, 6, 3, 7, 4), (2, 4, 1, 6, 2), (1, 4, 4, 5, 3)]  # B H G T D
    for B, H, G, T, D in sizes:
        q, k, v = (torch.randn(B, n, T, D, generator=gen, dtype=torch.float64) for n in (H, G, G))
        r = H // G
        ki, vi = k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1)
        wrong = [
            (sdpa(q, k.repeat(1, r, 1, 1), v.repeat(1, r, 1, 1), is_causal=True),
             "query heads share keys and values in consecutive groups: heads 0 .. H/G − 1 "
             "use key/value head 0, the next H/G head 1, and so on (repeat_interleave, not "
             "repeat)"),
            (sdpa(q, ki, vi), "apply the causal mask: query t sees keys 0 .. t only"),
            (sdpa(q, ki, vi, is_causal=True, scale=1 / math.sqrt(G * D)),
             "scale the scores by √D, the size of one head"),
            (sdpa(q, ki, vi, is_causal=True, scale=1.0),
             "divide the scores by √D before the softmax"),
        ]  # fmt: skip
        what = f"{H} query heads, {G} key/value heads (B={B}, T={T}, D={D})"
        expect_close(call(my_gqa, q, k, v), sdpa(q, ki, vi, is_causal=True), what, wrong)
    return f"{len(sizes)} cases, multi-query (G = 1) and plain multi-head (G = H) among them"
