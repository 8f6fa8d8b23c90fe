"""Notebook 03d's checks (the GPT): right answers pass, typical slips get their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def param_count_ok(config):
    C, L, V, T = config.n_embd, config.n_layer, config.vocab_size, config.block_size
    per_block = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (4 * C * C + 4 * C)
    per_block += 4 * C * C + C
    total = V * C + T * C + L * per_block + 2 * C
    return total if config.tie_weights else total + V * C


def layer_norm_ok(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def block_ok(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_2(x))


def tie_ok(model):
    model.lm_head.weight = model.transformer.wte.weight


def tie_other_way_ok(model):
    model.transformer.wte.weight = model.lm_head.weight
    return model


CHECKS = {
    "gpt_param_count": (checks.check_gpt_param_count, param_count_ok),
    "layer_norm": (checks.check_layer_norm, layer_norm_ok),
    "pre_ln_block": (checks.check_pre_ln_block, block_ok),
    "weight_tying": (checks.check_weight_tying, tie_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_correct_answers_pass(capsys):
    checks.check_weight_tying(tie_other_way_ok)
    checks.check_layer_norm(lambda x, w, b, eps=1e-5: F.layer_norm(x, (x.shape[-1],), w, b, eps))
    assert capsys.readouterr().out.count("✓ correct") == 2


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda c: param_count_ok(c) - c.block_size * c.n_embd, "position embeddings"),
        (lambda c: param_count_ok(c) - 2 * c.n_embd, "final LayerNorm"),
        (lambda c: param_count_ok(c) - c.n_layer * 4 * c.n_embd - 2 * c.n_embd, "LayerNorms"),
        (lambda c: param_count_ok(c) - c.n_layer * 9 * c.n_embd, "biases"),
        (lambda c: param_count_ok(c) - c.n_layer * 4 * c.n_embd**2, "8C²"),
        (lambda c: param_count_ok(c) + c.vocab_size * c.n_embd, "IS the token embedding"),
        (lambda c: param_count_ok(c) + 1, "809,857 is not the count of GPT(config)"),
        (lambda c: "many", "as an int"),
    ],
)
def test_param_count_slips(slip, hint, capsys):
    assert_fails(checks.check_gpt_param_count, slip, hint, capsys)


def test_param_count_hint_does_not_show_the_count(capsys):
    message = assert_fails(checks.check_gpt_param_count, lambda c: 7, "is not the count", capsys)
    assert "809,856" not in message and "809856" not in message


def test_param_count_untied_head_forgotten(capsys):
    def forgot_untied_head(config):
        total = param_count_ok(config)
        return total if config.tie_weights else total - config.vocab_size * config.n_embd

    assert_fails(checks.check_gpt_param_count, forgot_untied_head, "its own", capsys)


def _ln(x, weight, bias, eps, var, eps_inside=True, dim=-1, affine=True):
    mean = x.mean(dim, keepdim=True)
    denom = torch.sqrt(var(x, dim) + eps) if eps_inside else torch.sqrt(var(x, dim)) + eps
    out = (x - mean) / denom
    return out * weight + bias if affine else out


def biased(x, dim):
    return x.var(dim, unbiased=False, keepdim=True)


def unbiased(x, dim):
    return x.var(dim, keepdim=True)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, unbiased), "biased variance"),
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, biased, eps_inside=False), "inside the"),
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, biased, affine=False), "scale by weight"),
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, biased, dim=0), "LAST dimension"),
        (lambda x, w, b, eps=1e-5: x, "wrong values"),
        (lambda x, w, b, eps=1e-5: x[..., :-1], "shape"),
    ],
)
def test_layer_norm_slips(slip, hint, capsys):
    assert_fails(checks.check_layer_norm, slip, hint, capsys)


def post_ln(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def no_residual(x, ln_1, attn, ln_2, mlp):
    return mlp(ln_2(attn(ln_1(x))))


def normalised_stream(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x)
    x = x + attn(x)
    x = ln_2(x)
    return x + mlp(x)


def parallel(x, ln_1, attn, ln_2, mlp):
    return x + attn(ln_1(x)) + mlp(ln_2(x))


def same_ln(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_1(x))


def attention_only(x, ln_1, attn, ln_2, mlp):
    return x + attn(ln_1(x))


@pytest.mark.parametrize(
    "slip, hint",
    [
        (post_ln, "post-LN"),
        (no_residual, "residual connection"),
        (normalised_stream, "passes through unchanged"),
        (parallel, "AFTER the attention"),
        (same_ln, "its own LayerNorm"),
        (attention_only, "MLP branch"),
        (lambda x, *modules: x * 2, "wrong values"),
    ],
)
def test_pre_ln_block_slips(slip, hint, capsys):
    assert_fails(checks.check_pre_ln_block, slip, hint, capsys)


def copy_values(model):
    with torch.no_grad():
        model.lm_head.weight.copy_(model.transformer.wte.weight)


def new_parameter_same_memory(model):
    model.lm_head.weight = torch.nn.Parameter(model.transformer.wte.weight.data)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (copy_values, "copied the values"),
        (new_parameter_same_memory, "share memory but are two different Parameter"),
        (lambda model: None, "still two separate"),
        (lambda model: "tied", "return the model"),
    ],
)
def test_weight_tying_slips(slip, hint, capsys):
    assert_fails(checks.check_weight_tying, slip, hint, capsys)
