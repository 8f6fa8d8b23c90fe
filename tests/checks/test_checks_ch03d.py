"""Notebook 03d's checks (the GPT): right answers pass, typical slips get their hint, and
the claims behind the predictions hold on real models."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.checks.ch03d import swap_changes
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.nn.kv_cache import KVCache

# ------------------------------------------------------------------ correct answers


def param_count_ok(config):
    C, L, V, T = config.n_embd, config.n_layer, config.vocab_size, config.block_size
    norms = 2 * L + 1  # ln_1, ln_2 per block, ln_f
    if config.bias:
        linear = L * (3 * C * C + 3 * C + C * C + C + 4 * C * C + 4 * C + 4 * C * C + C)
        norm = norms * 2 * C
    else:
        linear, norm = L * 12 * C * C, norms * C
    total = V * C + T * C + linear + norm
    return total if config.tie_weights else total + V * C


def kv_bytes_ok(config, batch_size, n_tokens, bytes_per_number):
    per_layer = 2 * batch_size * n_tokens * config.n_embd  # keys and values
    return config.n_layer * per_layer * bytes_per_number


def changed_ok(T, i, j, n_layer, positions):
    if positions or n_layer > 1:
        return list(range(i, T))
    return list(range(i, j + 1))


def swiglu_hidden_ok(n_embd, multiple_of):
    h = (8 * n_embd) // 3
    return math.ceil(h / multiple_of) * multiple_of


def swiglu_ok(x, w_gate, w_up, w_down):
    return (F.silu(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T


def gqa_ok(q, k, v):
    H, G, T = q.shape[1], k.shape[1], q.shape[2]
    k = k.repeat_interleave(H // G, dim=1)
    v = v.repeat_interleave(H // G, dim=1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v


CHECKS = {
    "gpt_param_count": (checks.check_gpt_param_count, param_count_ok),
    "kv_cache_bytes": (checks.check_kv_cache_bytes, kv_bytes_ok),
    "swap_without_positions": (checks.check_swap_without_positions, changed_ok),
    "swiglu_hidden": (checks.check_swiglu_hidden, swiglu_hidden_ok),
    "swiglu_mlp": (checks.check_swiglu_mlp, swiglu_ok),
    "grouped_query_attention": (checks.check_grouped_query_attention, gqa_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_correct_answers_pass(capsys):
    checks.check_swap_without_positions(lambda *a: set(changed_ok(*a)))  # any iterable
    checks.check_swap_without_positions(lambda *a: torch.tensor(changed_ok(*a)))
    checks.check_gpt_param_count(lambda c: float(param_count_ok(c)))  # a whole float
    checks.check_grouped_query_attention(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    )
    assert capsys.readouterr().out.count("✓ correct") == 4


# ------------------------------------------------ the claims, measured on real models


@pytest.mark.parametrize(
    "config",
    [
        GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=16),
        GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=16, bias=False),
        GPTConfig(vocab_size=30, block_size=16, n_layer=3, n_head=2, n_embd=8, tie_weights=False),
        GPTConfig(
            vocab_size=30,
            block_size=8,
            n_layer=1,
            n_head=1,
            n_embd=8,
            bias=False,
            tie_weights=False,
        ),
    ],
)
def test_param_count_oracle_matches_a_built_model(config):
    assert param_count_ok(config) == GPT(config).num_parameters()


@pytest.mark.parametrize("dtype, nbytes", [(torch.float32, 4), (torch.float16, 2)])
def test_kv_cache_bytes_match_a_real_cache(dtype, nbytes):
    config = GPTConfig(vocab_size=30, block_size=32, n_layer=3, n_head=4, n_embd=16)
    model = GPT(config).to(dtype).eval()
    cache = KVCache()
    with torch.no_grad():
        model(torch.randint(30, (2, 11)), cache=cache)
        model(torch.randint(30, (2, 1)), cache=cache)  # one decode step
    held = sum(t.nbytes for layer in cache.layers for t in (layer.k, layer.v))
    assert held == kv_bytes_ok(config, 2, 12, nbytes)


@pytest.mark.parametrize(
    "T, i, j, n_layer, positions",
    [(10, 2, 5, 1, False), (10, 2, 5, 2, False), (10, 2, 5, 1, True), (9, 0, 8, 1, False),
     (9, 3, 4, 3, False), (7, 1, 2, 2, True)],
)  # fmt: skip
def test_swap_rule_holds_on_real_models(T, i, j, n_layer, positions):
    torch.manual_seed(n_layer)
    config = GPTConfig(vocab_size=20, block_size=T, n_layer=n_layer, n_head=2, n_embd=16)
    model = GPT(config).double().eval()
    with torch.no_grad():
        for p in model.parameters():  # larger weights than GPT-2's: changes far above rounding
            p.normal_(0, 0.5)
        if not positions:
            model.transformer.wpe.weight.zero_()
        ids = torch.randperm(20)[:T][None]  # distinct tokens
        swapped = ids.clone()
        swapped[0, [i, j]] = ids[0, [j, i]]
        diff = (model(ids) - model(swapped)).abs().amax(-1)[0]
    measured = [t for t in range(T) if diff[t] > 1e-9]
    assert measured == swap_changes(T, i, j, n_layer, positions)
    assert all(diff[t] < 1e-12 for t in range(T) if t not in measured)


def test_llama_widths():
    assert swiglu_hidden_ok(4096, 256) == 11008  # LLaMA-7B
    assert swiglu_hidden_ok(5120, 256) == 13824  # LLaMA-13B
    assert 3 * 768 * swiglu_hidden_ok(768, 256) == 8 * 768 * 768  # GPT-2's budget, exactly


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda c: param_count_ok(c) - c.block_size * c.n_embd, "position embeddings"),
        (lambda c: param_count_ok(c) - 2 * c.n_embd, "final LayerNorm"),
        (lambda c: param_count_ok(c) - (2 * c.n_layer + 1) * 2 * c.n_embd, "LayerNorms"),
        (lambda c: param_count_ok(c) - c.n_layer * 9 * c.n_embd, "biases"),
        (lambda c: param_count_ok(c) - c.n_layer * 4 * c.n_embd**2, "8C²"),
        (lambda c: param_count_ok(c) + c.vocab_size * c.n_embd, "IS the token embedding"),
        (lambda c: param_count_ok(c) + c.vocab_size, "no bias"),
        (lambda c: param_count_ok(c) + 1, "is not the count of GPT(config)"),
        (lambda c: "many", "as an int"),
        (lambda c: 1.5, "whole number"),
    ],
)
def test_param_count_slips(slip, hint, capsys):
    assert_fails(checks.check_gpt_param_count, slip, hint, capsys)


def _ignores_bias_flag(config):
    return param_count_ok(dataclasses.replace(config, bias=True))


def _drops_layernorms(config):
    total = param_count_ok(config)
    return total if config.bias else total - (2 * config.n_layer + 1) * config.n_embd


def _keeps_linear_biases(config):
    total = param_count_ok(config)
    return total if config.bias else total + 9 * config.n_layer * config.n_embd


@pytest.mark.parametrize(
    "slip, hint",
    [
        (_ignores_bias_flag, "removes every bias"),
        (_drops_layernorms, "keeps its gain"),
        (_keeps_linear_biases, "four Linear layers"),
    ],
)
def test_param_count_bias_false_slips(slip, hint, capsys):
    message = assert_fails(checks.check_gpt_param_count, slip, hint, capsys)
    assert "bias=False" in message


def test_param_count_untied_head_forgotten(capsys):
    def forgot_untied_head(config):
        total = param_count_ok(config)
        return total if config.tie_weights else total - config.vocab_size * config.n_embd

    assert_fails(checks.check_gpt_param_count, forgot_untied_head, "its own", capsys)


def test_param_count_hint_does_not_show_the_count(capsys):
    message = assert_fails(checks.check_gpt_param_count, lambda c: 7, "is not the count", capsys)
    right = param_count_ok(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128))
    assert f"{right:,}" not in message and str(right) not in message


def _kv(factor_num, factor_den=1, **changes):
    def answer(config, batch_size, n_tokens, bytes_per_number):
        args = dict(
            config=config, batch_size=batch_size, n_tokens=n_tokens, nbytes=bytes_per_number
        )
        args.update({k: v(args) for k, v in changes.items()})
        right = kv_bytes_ok(args["config"], args["batch_size"], args["n_tokens"], args["nbytes"])
        return right * factor_num // factor_den

    return answer


@pytest.mark.parametrize(
    "slip, hint",
    [
        (_kv(1, 2), "the keys and the values"),
        (_kv(3, 2), "query is used once"),
        (_kv(1, 1, batch_size=lambda a: 1), "every sequence of the batch"),
        (_kv(1, 1, nbytes=lambda a: 1), "in bytes"),
        (_kv(1, 1, n_tokens=lambda a: a["config"].block_size), "not with block_size"),
        (lambda c, b, t, n: 2 * b * t * c.n_embd * n, "every attention layer"),
        (lambda c, b, t, n: 2 * c.n_layer * b * t * c.head_dim * n, "all heads together"),
        (lambda c, b, t, n: kv_bytes_ok(c, b, t, n) + 1, "(B, H, T_seen, D)"),
        (lambda c, b, t, n: "a lot", "as an int"),
    ],
)
def test_kv_cache_bytes_slips(slip, hint, capsys):
    assert_fails(checks.check_kv_cache_bytes, slip, hint, capsys)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda T, i, j, n, p: list(range(i, j + 1)) if p else changed_ok(T, i, j, n, p),
         "where it stands"),
        (lambda T, i, j, n, p: list(range(i, T)), "as a collection"),
        (lambda T, i, j, n, p: list(range(i, j + 1)), "depends on"),
        (lambda T, i, j, n, p: list(range(T)), "causal mask"),
        (lambda T, i, j, n, p: changed_ok(T, i, j, n, p)[1:], "own queries"),
        (lambda T, i, j, n, p: list(range(i, j + 1)) if not p else changed_ok(T, i, j, n, p),
         "first layer's"),
        (lambda T, i, j, n, p: j - i, "as a list of ints"),
        (lambda T, i, j, n, p: ["a", "b"], "list of ints"),
    ],
)  # fmt: skip
def test_swap_slips(slip, hint, capsys):
    printed = assert_fails(checks.check_swap_without_positions, slip, hint, capsys)
    assert "changed_positions(" in printed or "list of ints" in printed


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda c, m: 4 * c, "three matrices"),
        (lambda c, m: 8 * c / 3, "whole number"),
        (lambda c, m: (8 * c) // 3 + (1 if m > 1 and (8 * c) // 3 % m else 0), "multiple of"),
        (lambda c, m: (8 * c) // 3 // m * m, "not down"),
        (lambda c, m: swiglu_hidden_ok(c, m) + m, "solve for h"),
        (lambda c, m: None, "as an int"),
    ],
)
def test_swiglu_hidden_slips(slip, hint, capsys):
    assert_fails(checks.check_swiglu_hidden, slip, hint, capsys)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda x, g, u, d: (x @ g.T * F.silu(x @ u.T)) @ d.T, "gate branch"),
        (lambda x, g, u, d: (torch.sigmoid(x @ g.T) * (x @ u.T)) @ d.T, "original GLU"),
        (lambda x, g, u, d: (F.gelu(x @ g.T) * (x @ u.T)) @ d.T, "GEGLU"),
        (lambda x, g, u, d: F.silu(x @ g.T) @ d.T, "element by element"),
        (lambda x, g, u, d: x, "shape"),
    ],
)
def test_swiglu_mlp_slips(slip, hint, capsys):
    assert_fails(checks.check_swiglu_mlp, slip, hint, capsys)


def _gqa_with(**kwargs):
    def answer(q, k, v):
        r = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1)
        return F.scaled_dot_product_attention(q, k, v, **(dict(is_causal=True) | kwargs))

    return answer


@pytest.mark.parametrize(
    "slip, hint",
    [
        (
            lambda q, k, v: F.scaled_dot_product_attention(
                q, *(t.repeat(1, q.shape[1] // k.shape[1], 1, 1) for t in (k, v)), is_causal=True
            ),
            "repeat_interleave",
        ),
        (_gqa_with(is_causal=False), "causal mask"),
        (_gqa_with(scale=1.0), "divide the scores"),
        (
            lambda q, k, v: _gqa_with(scale=1 / math.sqrt(k.shape[1] * q.shape[-1]))(q, k, v),
            "size of one head",
        ),
        (lambda q, k, v: q, "wrong values"),
    ],
)
def test_grouped_query_attention_slips(slip, hint, capsys):
    assert_fails(checks.check_grouped_query_attention, slip, hint, capsys)
