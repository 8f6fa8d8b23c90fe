"""Checks of notebook 03d (the GPT): parameter count, LayerNorm, the pre-LN block and
weight tying. The references are the library's :mod:`llmwidgets.nn.gpt` and torch's
``F.layer_norm``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from llmwidgets.checks._core import (
    Hint,
    call,
    exercise,
    expect_close,
    fixed_seed,
    tiny_gpt_config,
)
from llmwidgets.nn.gpt import GPT, Block, GPTConfig, gpt_param_count

__all__ = [
    "check_gpt_param_count",
    "check_layer_norm",
    "check_pre_ln_block",
    "check_weight_tying",
]


def _param_count_slips(cfg: GPTConfig, total: int) -> list[tuple[int, str]]:
    """Typical wrong counts for ``cfg`` (whose right count is ``total``), with their hints."""
    V, T, L, C = cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.n_embd
    slips = [
        (total - T * C, "add the position embeddings wpe: block_size × n_embd"),
        (total - 2 * C, "add the final LayerNorm ln_f: a gain and a shift, 2·n_embd"),
        (
            total - L * 4 * C - 2 * C,
            "count the LayerNorms: a gain and a shift of n_embd each, two per block "
            "plus the final one",
        ),
        (
            total - L * 9 * C,
            "count the biases of the four Linear layers of a block: "
            "3C (c_attn) + C (attn.c_proj) + 4C (c_fc) + C (mlp.c_proj)",
        ),
        (
            total - L * 4 * C * C,
            "the MLP has two 4C-wide matrices (C→4C and 4C→C): 8C² per block, plus "
            "4C² for attention (Q, K, V and the output projection)",
        ),
    ]
    if cfg.tie_weights:
        slips.append(
            (
                total + V * C,
                "with tie_weights=True the output head IS the token embedding: "
                "count its vocab_size × n_embd matrix once",
            )
        )
    else:
        slips.append(
            (
                total - V * C,
                "with tie_weights=False the output head lm_head has its own "
                "vocab_size × n_embd matrix",
            )
        )
    return slips


@exercise("exercise 1 (parameter count)")
def check_gpt_param_count(my_param_count: Callable[[Any], Any]) -> str:
    """Check ``my_param_count(config)``: the parameters of ``GPT(config)``, by formula.

    Biases and LayerNorms are on (``bias=True``, as in GPT-2); ``config.tie_weights``
    says whether the output head shares the token embedding.
    """
    cases = [
        GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),
        GPTConfig.preset("gpt2"),
        GPTConfig(vocab_size=100, block_size=16, n_layer=2, n_head=2, n_embd=8),
        GPTConfig(vocab_size=65, block_size=32, n_layer=3, n_head=2, n_embd=32, tie_weights=False),
        GPTConfig.preset("gpt2-medium"),
    ]
    for cfg in cases:
        what = (
            f"V={cfg.vocab_size}, T={cfg.block_size}, L={cfg.n_layer}, C={cfg.n_embd}, "
            f"tie_weights={cfg.tie_weights}"
        )
        got = my_param_count(cfg)
        try:
            got = int(got)
        except (TypeError, ValueError) as err:
            raise Hint(f"return the count as an int for {what}, got {got!r}") from err
        total = gpt_param_count(cfg)
        if got == total:
            continue
        for wrong, hint in _param_count_slips(cfg, total):
            if got == wrong:
                raise Hint(f"{hint} (for {what})")
        raise Hint(
            f"{got:,} is not the count of GPT(config) for {what}. Build a small GPT and "
            "compare your terms with the parameters it lists, module by module: "
            "[(name, p.numel()) for name, p in model.named_parameters()]"
        )
    return f"{len(cases)} configurations, GPT-2 small (124,439,808) and medium among them"


@exercise("exercise 2 (LayerNorm)")
def check_layer_norm(my_layer_norm: Callable[..., Any]) -> str:
    """Check ``my_layer_norm(x, weight, bias, eps=1e-5)`` over the last dimension.

    ``(x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance (divide
    by C), as ``torch.nn.LayerNorm`` computes it.
    """
    gen = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    cases = [
        (randn(2, 5, 4) * 3 + 1, 4, 1e-5),  # small C: the biased variance matters
        (randn(3, 16), 16, 1e-5),
        (randn(4, 8) * 1e-3, 8, 1e-5),  # tiny variance: where eps goes matters
        (randn(2, 3, 6), 6, 0.1),
    ]
    for x, c, eps in cases:
        weight, bias = 1 + 0.5 * randn(c), 0.5 * randn(c)
        what = f"x of shape {tuple(x.shape)}, eps={eps}"
        got = call(my_layer_norm, x, weight, bias, eps=eps)
        mean = x.mean(-1, keepdim=True)
        var_b = x.var(-1, unbiased=False, keepdim=True)
        var_u = x.var(-1, unbiased=True, keepdim=True)
        wrong = [
            (
                (x - mean) / torch.sqrt(var_u + eps) * weight + bias,
                "use the biased variance, dividing by C (not C − 1): "
                "x.var(dim=-1, unbiased=False, keepdim=True), as nn.LayerNorm does",
            ),
            (
                (x - mean) / (torch.sqrt(var_b) + eps) * weight + bias,
                "add eps inside the square root: (x − mean) / sqrt(var + eps)",
            ),
            (
                (x - mean) / torch.sqrt(var_b + eps),
                "after normalising, scale by weight and add bias (the learned gain and shift)",
            ),
            (
                (x - x.mean(0, keepdim=True))
                / torch.sqrt(x.var(0, unbiased=False, keepdim=True) + eps)
                * weight
                + bias,
                "normalise each position over its own features: mean and variance along "
                "the LAST dimension (dim=-1, keepdim=True), not over the batch",
            ),
        ]
        expect_close(got, F.layer_norm(x, (c,), weight, bias, eps), what, wrong)
    return f"{len(cases)} cases (small C, tiny variance, eps=0.1, batched)"


def _block_slips(x, ln_1, attn, ln_2, mlp) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong blocks, built from the block's own sub-layers, with their hints."""
    h = x + attn(ln_1(x))
    post = ln_1(x + attn(x))
    n = ln_1(x)
    n = n + attn(n)
    return [
        (
            ln_2(post + mlp(post)),
            "that is the original Transformer's post-LN order, LayerNorm(x + sublayer(x)); "
            "GPT-2 normalises only the INPUT of each sub-layer and adds the sub-layer's "
            "output to the stream as it is",
        ),
        (
            mlp(ln_2(attn(ln_1(x)))),
            "add each sub-layer's output to its input (the residual connection): "
            "the stream goes x → x + attention branch → that + MLP branch",
        ),
        (
            ln_2(n) + mlp(ln_2(n)),
            "normalise only what goes INTO attn and mlp; the residual stream "
            "x itself passes through unchanged",
        ),
        (
            x + attn(ln_1(x)) + mlp(ln_2(x)),
            "the MLP reads the stream AFTER the attention output has been added to it, "
            "not the block's input x",
        ),
        (h + mlp(ln_1(h)), "the MLP has its own LayerNorm, ln_2; ln_1 belongs to attention"),
        (h, "add the MLP branch too, with its own LayerNorm, after the attention branch"),
    ]


@exercise("exercise 3 (pre-LN block)")
def check_pre_ln_block(my_block: Callable[..., Any]) -> str:
    """Check ``my_block(x, ln_1, attn, ln_2, mlp)``: one pre-LayerNorm transformer block.

    ``x + attn(ln_1(x))``, then ``+ mlp(ln_2(·))`` of that, as in GPT-2
    (:class:`llmwidgets.nn.gpt.Block` is the reference).
    """
    sizes = [(2, 5, 16, 2), (1, 8, 24, 3)]  # (B, T, C, H)
    with fixed_seed(0), torch.no_grad():
        for B, T, C, H in sizes:
            block = Block(tiny_gpt_config(n_embd=C, n_head=H)).eval()
            for ln in (block.ln_1, block.ln_2):  # random gains and shifts: not identities
                ln.weight.normal_(1.0, 0.3)
                ln.bias.normal_(0.0, 0.3)
            x = torch.randn(B, T, C)
            layers = (block.ln_1, block.attn, block.ln_2, block.mlp)
            got = my_block(x.clone(), *layers)
            expect_close(got, block(x), f"x of shape {(B, T, C)}", _block_slips(x, *layers))
    return f"{len(sizes)} blocks with random LayerNorm gains"


@exercise("exercise 4 (weight tying)")
def check_weight_tying(my_tie_weights: Callable[[Any], Any]) -> str:
    """Check ``my_tie_weights(model)``: make ``lm_head`` share the token embedding's weight.

    ``model`` is a :class:`llmwidgets.GPT` built with ``tie_weights=False``; afterwards
    ``model.lm_head.weight`` must be the very same Parameter as
    ``model.transformer.wte.weight``. The function may return the model or None.
    """
    configs = [
        tiny_gpt_config(tie_weights=False),
        tiny_gpt_config(vocab_size=33, n_embd=8, tie_weights=False),
    ]
    with fixed_seed(0):
        for cfg in configs:
            model = GPT(cfg)
            before = model.num_parameters()
            out = my_tie_weights(model)
            if out is not None and out is not model:
                if not isinstance(out, GPT):
                    raise Hint(f"return the model (or None), got {type(out).__name__}")
                model = out
            head, wte = model.lm_head.weight, model.transformer.wte.weight
            if head is wte:
                saved = cfg.vocab_size * cfg.n_embd
                if model.num_parameters() != before - saved:
                    raise Hint(
                        f"the model has {model.num_parameters():,} parameters; tying should "
                        f"save exactly vocab_size × n_embd = {saved:,}"
                    )
                idx = torch.randint(cfg.vocab_size, (2, cfg.block_size))
                model(idx).sum().backward()  # one gradient, from both uses
                if head.grad is None:
                    raise Hint("the shared weight gets no gradient: keep it trainable")
                continue
            if head.data_ptr() == wte.data_ptr():
                raise Hint(
                    "the two layers share memory but are two different Parameter objects: "
                    "the optimiser sees two parameters and gives each only its own "
                    "gradient. Give lm_head the embedding's Parameter object itself, not a "
                    "new Parameter around its data"
                )
            if head.shape == wte.shape and torch.equal(head, wte):
                raise Hint(
                    "you copied the values: the two matrices drift apart after the first "
                    "optimiser step. Make lm_head use the same Parameter object as wte"
                )
            raise Hint(
                "lm_head.weight and transformer.wte.weight are still two separate "
                "matrices: one of the two layers must end up holding the other's "
                "Parameter object"
            )
    return f"{len(configs)} models: one shared Parameter, vocab_size × n_embd saved"
