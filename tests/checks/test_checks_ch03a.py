"""Notebook 03a's checks (neural networks): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def initial_loss_ok(vocab_size):
    return math.log(vocab_size)


def mlp_lm_params_ok(vocab_size, context, n_embd, n_hidden, n_layers=1):
    return (
        (vocab_size + 1) * n_embd
        + context * n_embd * n_hidden
        + n_hidden
        + (n_layers - 1) * (n_hidden * n_hidden + n_hidden)
        + (n_hidden * vocab_size + vocab_size)
    )


def context_windows_ok(ids, k, start_id):
    padded = [start_id] * (k - 1) + ids.tolist()
    return torch.tensor([padded[t : t + k] for t in range(len(ids))], dtype=torch.long)


def cross_entropy_ok(logits, targets):
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    log_sum = torch.log(torch.exp(shifted).sum(dim=-1))
    picked = shifted.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (log_sum - picked).mean()


def gap_with_data_ok(fraction, steps):
    """Stands in for the experiment: less text, a larger gap."""
    return 0.2 + 1.5 * (1 - fraction)


CHECKS = {
    "initial_loss": (checks.check_initial_loss, initial_loss_ok),
    "mlp_lm_params": (checks.check_mlp_lm_params, mlp_lm_params_ok),
    "context_windows": (checks.check_context_windows, context_windows_ok),
    "cross_entropy": (checks.check_cross_entropy, cross_entropy_ok),
    "gap_with_data": (checks.check_gap_with_data, gap_with_data_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ initial loss


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda V: 1 / V, "probability of each token"),
        (lambda V: V, "perplexity"),
        (lambda V: math.log2(V), "natural log"),
        (lambda V: math.log10(V), "natural log"),
        (lambda V: -math.log(V), "check the sign"),
        (lambda V: 0.0, "does not know the next token"),
        (lambda V: math.log(V + 1), "think of the probability"),
        (lambda V: [math.log(V)] * 2, "return one number"),
    ],
    ids=["probability", "perplexity", "log2", "log10", "sign", "zero", "other", "list"],
)
def test_initial_loss_slips(answer, hint, capsys):
    assert_fails(checks.check_initial_loss, answer, hint, capsys)


def test_initial_loss_accepts_a_close_estimate(capsys):
    checks.check_initial_loss(lambda V: math.log(V) + 0.005)
    assert "✓ correct" in capsys.readouterr().out


# ------------------------------------------------------------------ parameter count


def _count(V, k, d, h, n, **drop):
    """The parameter count with some terms left out or changed (typical slips)."""
    emb = (V if drop.get("start_row") else V + 1) * d
    first = (d if drop.get("hidden_input") else k * d) * h + (0 if drop.get("biases") else h)
    later = (n - 1) * (h * h + (0 if drop.get("biases") else h))
    if drop.get("later_read_embeddings"):
        later = (n - 1) * (k * d * h + h)
    if drop.get("ignore_layers"):
        later = 0
    out = h * V + (0 if drop.get("biases") else V)
    if drop.get("per_position_table"):
        emb *= k
    return emb + first + later + out


@pytest.mark.parametrize(
    "slip, hint",
    [
        ("start_row", "vocab_size + 1 rows"),
        ("biases", "count the biases"),
        ("hidden_input", "context · n_embd inputs"),
        ("per_position_table", "one embedding table"),
        ("ignore_layers", "each hidden layer after the first"),
        ("later_read_embeddings", "the later ones read the n_hidden outputs"),
    ],
)
def test_mlp_lm_params_slips(slip, hint, capsys):
    def answer(V, k, d, h, n):
        return _count(V, k, d, h, n, **{slip: True})

    assert_fails(checks.check_mlp_lm_params, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda V, k, d, h, n: 1.5, "whole number"),
        (lambda V, k, d, h, n: mlp_lm_params_ok(V, k, d, h, n) + 1, "is not the count"),
    ],
    ids=["float", "other"],
)
def test_mlp_lm_params_other_slips(answer, hint, capsys):
    assert_fails(checks.check_mlp_lm_params, answer, hint, capsys)


def test_mlp_lm_params_accepts_a_tensor(capsys):
    checks.check_mlp_lm_params(lambda *a: torch.tensor(mlp_lm_params_ok(*a)))
    assert "✓ correct" in capsys.readouterr().out


def test_mlp_lm_params_matches_a_model():
    """The reference formula counts what torch builds."""
    V, k, d, h = 30, 3, 4, 7
    for n in (1, 2, 3):
        layers = [torch.nn.Linear(k * d, h)] + [torch.nn.Linear(h, h) for _ in range(n - 1)]
        model = torch.nn.ModuleList([torch.nn.Embedding(V + 1, d), *layers, torch.nn.Linear(h, V)])
        assert sum(p.numel() for p in model.parameters()) == mlp_lm_params_ok(V, k, d, h, n)


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


# ------------------------------------------------------------------ cross-entropy


def ce_through_probabilities(logits, targets):
    p = torch.softmax(logits, dim=-1)
    return -torch.log(p.gather(-1, targets.unsqueeze(-1))).mean()


def ce_naive_exp(logits, targets):
    e = torch.exp(logits)
    return -torch.log(e.gather(-1, targets.unsqueeze(-1)).squeeze(-1) / e.sum(-1)).mean()


@pytest.mark.parametrize(
    "answer, hint",
    [
        (ce_through_probabilities, "never compute the probability"),
        (ce_naive_exp, "never compute the probability"),
        (lambda z, y: cross_entropy_ok(z, y) * y.numel(), "mean"),
        (lambda z, y: -cross_entropy_ok(z, y), "check the sign"),
        (lambda z, y: cross_entropy_ok(z, y) / math.log(2), "natural logarithm"),
        (lambda z, y: torch.logsumexp(z, -1).mean(), "subtract the logit of the target"),
        (lambda z, y: cross_entropy_ok(z, (y + 1) % z.shape[-1]), "wrong values"),
        (lambda z, y: torch.zeros(y.shape), "return one number"),
    ],
    ids=["probabilities", "naive-exp", "sum", "sign", "log2", "no-target", "other", "vector"],
)
def test_cross_entropy_slips(answer, hint, capsys):
    assert_fails(checks.check_cross_entropy, answer, hint, capsys)


def test_cross_entropy_reference_is_the_library(capsys):
    """torch's own cross-entropy is a right answer too (the check compares values)."""

    def torch_ce(logits, targets):
        flat = logits.reshape(-1, logits.shape[-1])
        return torch.nn.functional.cross_entropy(flat, targets.reshape(-1))

    checks.check_cross_entropy(torch_ce)
    assert "✓ correct" in capsys.readouterr().out


# ------------------------------------------------------------------ the overfitting experiment


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda f, s: 0.3, "same gap"),
        (lambda f, s: 0.2 + f, "do not show what the chapter's overfitting experiment"),
        (lambda f, s: -0.5, "below 0"),
        (lambda f, s: float("nan"), "diverged"),
        (lambda f, s: (0.1, 0.2), "return one number"),
    ],
    ids=["constant", "reversed", "negative", "nan", "pair"],
)
def test_gap_with_data_slips(answer, hint, capsys):
    assert_fails(checks.check_gap_with_data, answer, hint, capsys)


def test_gap_with_data_hint_does_not_give_the_direction(capsys):
    message = assert_fails(checks.check_gap_with_data, lambda f, s: 0.2 + f, "Check that", capsys)
    assert "larger" not in message and "smaller" not in message


def test_gap_with_data_is_called_with_the_check_steps():
    seen = []

    def answer(fraction, steps):
        seen.append((fraction, steps))
        return gap_with_data_ok(fraction, steps)

    checks.check_gap_with_data(answer)
    assert sorted(seen) == [(0.25, checks.ch03a.GAP_STEPS), (1.0, checks.ch03a.GAP_STEPS)]


def test_fallback_hints_do_not_show_the_answer(capsys):
    """A wrong answer is told what to try, not the reference's result."""
    message = assert_fails(checks.check_mlp_lm_params, lambda *a: 1, "is not the count", capsys)
    assert str(mlp_lm_params_ok(65, 8, 16, 256)) not in message

    def doubled(ids, k, start_id):
        return context_windows_ok(ids, k, start_id) * 2

    message = assert_fails(checks.check_context_windows, doubled, "are wrong", capsys)
    assert str(context_windows_ok(torch.tensor([5, 6, 7, 8, 9]), 3, 0)) not in message
    message = assert_fails(checks.check_initial_loss, lambda V: 3.0, "think of", capsys)
    assert f"{math.log(2):.4f}" not in message
