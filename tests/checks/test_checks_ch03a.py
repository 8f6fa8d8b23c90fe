"""Notebook 03a's checks (neural networks): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def numerical_grad_ok(f, x, eps=1e-3):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        old = x.view(-1)[i].item()
        x.view(-1)[i] = old + eps
        f_plus = float(f(x))
        x.view(-1)[i] = old - eps
        f_minus = float(f(x))
        x.view(-1)[i] = old  # put it back
        grad.view(-1)[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def bigram_counts(train, vocab):
    counts = torch.zeros(vocab, vocab)
    for a, b in zip(train[:-1].tolist(), train[1:].tolist(), strict=True):
        counts[a, b] += 1
    return counts


def bigram_loss_ok(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size) + alpha
    probs = counts / counts.sum(dim=1, keepdim=True)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean().item()


def context_windows_ok(ids, k, start_id):
    padded = [start_id] * (k - 1) + ids.tolist()
    return torch.tensor([padded[t : t + k] for t in range(len(ids))], dtype=torch.long)


def mlp_lm_params_ok(vocab_size, context, n_embd, n_hidden):
    return (
        (vocab_size + 1) * n_embd
        + context * n_embd * n_hidden
        + n_hidden
        + (n_hidden * vocab_size + vocab_size)
    )


CHECKS = {
    "numerical_gradient": (checks.check_numerical_gradient, numerical_grad_ok),
    "bigram_loss": (checks.check_bigram_loss, bigram_loss_ok),
    "context_windows": (checks.check_context_windows, context_windows_ok),
    "mlp_lm_params": (checks.check_mlp_lm_params, mlp_lm_params_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ numerical gradient


def forward_difference(f, x, eps=1e-3):
    base, grad = float(f(x)), torch.zeros_like(x)
    for i in range(x.numel()):
        nudged = x.clone()
        nudged.view(-1)[i] += eps
        grad.view(-1)[i] = (float(f(nudged)) - base) / eps
    return grad


def half_step(f, x, eps=1e-3):
    return 2 * numerical_grad_ok(f, x, eps)


def not_restored(f, x, eps=1e-3):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        x.view(-1)[i] += eps
        f_plus = float(f(x))
        x.view(-1)[i] -= 2 * eps
        grad.view(-1)[i] = (f_plus - float(f(x))) / (2 * eps)  # x is left eps too small
    return grad


def wrong_sign(f, x, eps=1e-3):
    return -numerical_grad_ok(f, x, eps)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (forward_difference, "one-sided difference"),
        (half_step, "divide f(x + ε) - f(x - ε) by 2ε"),
        (not_restored, "your function changed x"),
        (wrong_sign, "check the sign"),
        (lambda f, x, eps: torch.zeros(2), "should have shape (3,)"),
    ],
    ids=["forward", "half", "not-restored", "sign", "shape"],
)
def test_numerical_gradient_slips(answer, hint, capsys):
    assert_fails(checks.check_numerical_gradient, answer, hint, capsys)


# ------------------------------------------------------------------ bigram loss


def bigram_columns(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size) + alpha
    probs = counts / counts.sum(dim=0, keepdim=True)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean()


def bigram_no_smoothing(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size)
    probs = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean()


def bigram_alpha_only_on_counts(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size)
    probs = (counts + alpha) / counts.sum(dim=1, keepdim=True).clamp_min(1)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean()


def bigram_sum(train_ids, eval_ids, vocab_size, alpha=1.0):
    n_pairs = len(eval_ids) - 1
    return bigram_loss_ok(train_ids, eval_ids, vocab_size, alpha) * n_pairs


def bigram_log2(train_ids, eval_ids, vocab_size, alpha=1.0):
    return bigram_loss_ok(train_ids, eval_ids, vocab_size, alpha) / math.log(2)


def bigram_reversed_pairs(train_ids, eval_ids, vocab_size, alpha=1.0):
    return bigram_loss_ok(train_ids.flip(0), eval_ids, vocab_size, alpha)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (bigram_columns, "normalise each ROW"),
        (bigram_no_smoothing, "never seen in training has probability 0"),
        (bigram_alpha_only_on_counts, "add α·V to each row total"),
        (bigram_sum, "average over the pairs"),
        (bigram_log2, "natural logarithm"),
        (bigram_reversed_pairs, "reading order"),
        (lambda *a: torch.zeros(3), "return one number"),
    ],
    ids=["columns", "no-smoothing", "alpha-counts-only", "sum", "log2", "reversed", "vector"],
)
def test_bigram_loss_slips(answer, hint, capsys):
    assert_fails(checks.check_bigram_loss, answer, hint, capsys)


# ------------------------------------------------------------------ context windows


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda ids, k, s: context_windows_ok(ids, k, s).flip(1), "oldest token first"),
        (
            lambda ids, k, s: context_windows_ok(torch.cat([torch.tensor([s]), ids[:-1]]), k, s),
            "row t must end with ids[t]",
        ),
        (lambda ids, k, s: context_windows_ok(ids, k, 0), "pad with start_id"),
        (lambda ids, k, s: ids.unfold(0, k, 1), "one row per position"),
        (lambda ids, k, s: context_windows_ok(ids, k, s).float(), "integer ids"),
        (lambda ids, k, s: context_windows_ok(ids, k, s) + 1, "rows [0, 1, 2, 3, 4] are wrong"),
    ],
    ids=["reversed", "shifted", "zero-pad", "no-pad", "float", "other"],
)
def test_context_windows_slips(answer, hint, capsys):
    assert_fails(checks.check_context_windows, answer, hint, capsys)


# ------------------------------------------------------------------ parameter count


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda V, k, d, h: V * d + k * d * h + h + h * V + V, "vocab_size + 1 rows"),
        (lambda V, k, d, h: (V + 1) * d + k * d * h + h * V, "count the biases"),
        (lambda V, k, d, h: (V + 1) * d + d * h + h + h * V + V, "context · n_embd inputs"),
        (
            lambda V, k, d, h: k * (V + 1) * d + k * d * h + h + h * V + V,
            "one embedding table",
        ),
        (lambda V, k, d, h: 1.5, "whole number"),
        (lambda V, k, d, h: mlp_lm_params_ok(V, k, d, h) + 1, "is not the count"),
    ],
    ids=["no-start-row", "no-biases", "hidden-input", "per-position-table", "float", "other"],
)
def test_mlp_lm_params_slips(answer, hint, capsys):
    assert_fails(checks.check_mlp_lm_params, answer, hint, capsys)


def test_fallback_hints_do_not_show_the_answer(capsys):
    """A wrong answer is told what to try, not the reference's result."""
    message = assert_fails(checks.check_mlp_lm_params, lambda *a: 1, "is not the count", capsys)
    assert str(mlp_lm_params_ok(65, 8, 16, 256)) not in message

    def doubled(ids, k, start_id):
        return context_windows_ok(ids, k, start_id) * 2

    message = assert_fails(checks.check_context_windows, doubled, "are wrong", capsys)
    assert str(context_windows_ok(torch.tensor([5, 6, 7, 8, 9]), 3, 0)) not in message


def test_mlp_lm_params_accepts_a_tensor(capsys):
    checks.check_mlp_lm_params(lambda *a: torch.tensor(mlp_lm_params_ok(*a)))
    assert "✓ correct" in capsys.readouterr().out
