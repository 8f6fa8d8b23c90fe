"""Notebook 08a's checks (scale and compute): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.analysis import count_flops
from llmwidgets.nn.gpt import GPT, GPTConfig

# ------------------------------------------------------------------ correct answers


def flops_per_token_ok(n_layer, n_embd, vocab_size, seq_len, *, head=True, attention=2,
                       backward=True, flops=True):  # fmt: skip
    """Every matrix product per token; each switch changed is a typical slip."""
    blocks, out = 12 * n_layer * n_embd**2, vocab_size * n_embd * head
    forward = 2 * (blocks + out) + 2 * attention * n_layer * seq_len * n_embd
    return forward * (3 if backward else 1) / (1 if flops else 2)


def chinchilla_ok(compute):
    n = math.sqrt(compute / 120)
    return n, 20 * n


def loss_scale_ok(grads, *, tiny=2.0**-14, round_up=True, overflow=True):
    """The smallest power of two that lifts every nonzero |g| to 2**-14; switches: slips."""
    g = grads.abs()[grads != 0].double()
    if len(g) == 0:
        return 1.0
    exponent = math.log2(tiny / float(g.min()))
    k = max(0, math.ceil(exponent) if round_up else math.floor(exponent))
    if overflow and float(g.max()) * 2.0**k > 65504:
        return None
    return 2.0**k


def quantize_rows_ok(w, *, per_row=True, rounding=torch.round, top=127):
    peak = w.abs().amax(dim=1, keepdim=True) if per_row else w.abs().max()
    scale = peak / top
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = rounding(w / scale).clamp(-top, top).to(torch.int8)
    return q, scale if per_row else scale.reshape(1)


CHECKS = {
    "flops_per_token": (checks.check_flops_per_token, flops_per_token_ok),
    "chinchilla_allocation": (checks.check_chinchilla_allocation, chinchilla_ok),
    "loss_scale": (checks.check_loss_scale, loss_scale_ok),
    "quantize_rows": (checks.check_quantize_rows, quantize_rows_ok),
}

TestContract = contract_tests(CHECKS)


def test_the_flops_formula_is_what_torch_counts():
    """The reference per-token count equals FlopCounterMode's count of a real step."""
    config = GPTConfig(vocab_size=11, block_size=12, n_layer=2, n_head=2, n_embd=16)
    torch.manual_seed(0)
    idx = torch.randint(11, (3, 12))
    counted = count_flops(GPT(config), idx)
    assert counted == flops_per_token_ok(2, 16, 11, 12) * 3 * 12


def test_the_loss_scale_keeps_fp16_gradients_normal():
    """What the reference promises, measured in fp16: no nonzero gradient underflows."""
    grads = torch.tensor([-3e-7, 5e-5, 0.0, 0.2])
    scale = loss_scale_ok(grads)
    scaled = (grads * scale).half()
    assert scale == 2.0**8 and (scaled[grads != 0].abs() >= 2.0**-14).all()
    assert ((grads * scale / 2).half()[0].abs() < 2.0**-14).item()  # half the scale is short


def test_other_correct_forms_pass(capsys):
    checks.check_flops_per_token(lambda *a: torch.tensor(flops_per_token_ok(*a)))
    checks.check_chinchilla_allocation(lambda c: list(chinchilla_ok(c)))
    checks.check_quantize_rows(lambda w: (quantize_rows_ok(w)[0], quantize_rows_ok(w)[1][:, 0]))
    out = capsys.readouterr().out
    assert out.count("✓ correct") == 3, out


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "switch, hint",
    [
        ({"head": False, "attention": 0}, "that is Kaplan's 6·N"),
        ({"head": False}, "the output head"),
        ({"attention": 0}, "attention's Q·Kᵀ"),
        ({"attention": 1}, "count the full T x T scores"),
        ({"backward": False}, "that is the forward pass"),
        ({"flops": False}, "2 per multiply-add"),
    ],
    ids=["6N", "no-head", "no-attention", "causal-half", "forward", "multiply-adds"],
)
def test_flops_hints(switch, hint, capsys):
    assert_fails(checks.check_flops_per_token,
                 lambda *a: flops_per_token_ok(*a, **switch), hint, capsys)  # fmt: skip


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda c: (20 * math.sqrt(c / 120), math.sqrt(c / 120)), "swapped"),
        (lambda c: (math.sqrt(c / 20), 20 * math.sqrt(c / 20)), "6·N·D, not N·D"),
        (lambda c: (math.sqrt(c / 40), 20 * math.sqrt(c / 40)), "2·N·D is the forward"),
        (lambda c: (math.sqrt(c / 60), 10 * math.sqrt(c / 60)), "not 20 times"),
        (lambda c: math.sqrt(c / 120), "return (n_params, tokens)"),
    ],
    ids=["swapped", "no-6", "forward", "ratio", "one-number"],
)
def test_chinchilla_hints(answer, hint, capsys):
    assert_fails(checks.check_chinchilla_allocation, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda g: loss_scale_ok(g, tiny=2.0**-24), "smallest *normal* one"),
        (lambda g: loss_scale_ok(g, round_up=False), "round the exponent up"),
        (lambda g: loss_scale_ok(g, overflow=False), "return None"),
        (lambda g: loss_scale_ok(g) if loss_scale_ok(g) != 1.0 else None, "does work"),
        (lambda g: (loss_scale_ok(g) or 1.0) * 4, "wrong values"),
    ],
    ids=["subnormal", "round-down", "no-overflow-test", "none", "off"],
)
def test_loss_scale_hints(answer, hint, capsys):
    assert_fails(checks.check_loss_scale, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda w: quantize_rows_ok(w, per_row=False), "one scale per output row"),
        (lambda w: quantize_rows_ok(w, rounding=torch.trunc), "round to the nearest"),
        (lambda w: (quantize_rows_ok(w)[0].float(), quantize_rows_ok(w)[1]), "torch.int8"),
        (
            lambda w: (
                torch.round(w / (w.abs().amax(1, keepdim=True).clamp(min=1e-12) / 128)).to(
                    torch.int8
                ),
                w.abs().amax(1, keepdim=True) / 128,
            ),
            "-128 appears",
        ),
        (lambda w: quantize_rows_ok(w.T)[0], "return (q, scale)"),
    ],
    ids=["per-tensor", "truncate", "float", "overflow", "one-value"],
)
def test_quantize_hints(answer, hint, capsys):
    assert_fails(checks.check_quantize_rows, answer, hint, capsys)
