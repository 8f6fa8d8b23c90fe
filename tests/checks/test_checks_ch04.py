"""Notebook 04's checks (the mathematics): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def score_std_ok(d_k, sigma):
    return sigma**2


def mixed_perplexity_ok(fraction, p_right, vocab_size):
    loss = -(fraction * math.log(p_right) + (1 - fraction) * math.log(1 / vocab_size))
    return math.exp(loss)


def window_mask_ok(n, window):
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return (j <= i) & (i - j < window)


def ce_grad_ok(logits, targets, temperature=1.0):
    z = logits / temperature
    p = torch.exp(z - z.amax(dim=-1, keepdim=True))
    p = p / p.sum(dim=-1, keepdim=True)
    p[torch.arange(len(targets)), targets] -= 1
    return p / (temperature * len(targets))


CHECKS = {
    "score_std": (checks.check_scaled_score_spread, score_std_ok),
    "mixed_perplexity": (checks.check_mixed_perplexity, mixed_perplexity_ok),
    "window_mask": (checks.check_window_mask, window_mask_ok),
    "ce_grad": (checks.check_ce_grad, ce_grad_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda d, s: s, "variance of such a product"),
        (lambda d, s: s**4, "that is a variance"),
        (lambda d, s: s**2 * math.sqrt(d), "spread of the raw score"),
        (lambda d, s: d * s**4, "variance of the raw score"),
        (lambda d, s: 1.0, "only when the entries have variance 1"),
        (lambda d, s: s**2 / math.sqrt(d), "write Var(q·k) as a sum"),
        (lambda d, s: torch.full((2,), s**2), "return one number"),
    ],
    ids=["sigma", "variance", "raw-std", "raw-variance", "one", "other", "vector"],
)
def test_score_std_slips(answer, hint, capsys):
    assert_fails(checks.check_scaled_score_spread, answer, hint, capsys)


def test_score_std_matches_a_simulation():
    """The reference formula is what random vectors give."""
    gen = torch.Generator().manual_seed(0)
    for d, s in [(64, 0.5), (16, 2.0)]:
        q = s * torch.randn(20_000, d, generator=gen, dtype=torch.float64)
        k = s * torch.randn(20_000, d, generator=gen, dtype=torch.float64)
        std = ((q * k).sum(-1) / math.sqrt(d)).std().item()
        assert abs(std - score_std_ok(d, s)) < 0.03 * score_std_ok(d, s)


def arithmetic(f, p, V):
    return 1 / (f * p + (1 - f) / V)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda f, p, V: math.log(mixed_perplexity_ok(f, p, V)), "that is the cross-entropy"),
        (arithmetic, "geometric mean"),
        (lambda f, p, V: f / p + (1 - f) * V, "perplexities do not average"),
        (lambda f, p, V: 1 / mixed_perplexity_ok(f, p, V), "check the sign"),
        (lambda f, p, V: float(V), "wrong values"),
    ],
    ids=["cross-entropy", "arithmetic", "average-perplexities", "sign", "constant"],
)
def test_mixed_perplexity_slips(answer, hint, capsys):
    assert_fails(checks.check_mixed_perplexity, answer, hint, capsys)


def test_mixed_perplexity_matches_the_library():
    """The formula is what lw.perplexity measures on logits built for the case."""
    from llmwidgets import perplexity

    f, p, V, n = 0.5, 0.9, 65, 1000
    sure = torch.full((V,), math.log((1 - p) / (V - 1)), dtype=torch.float64)
    sure[0] = math.log(p)
    logits = torch.zeros(n, V, dtype=torch.float64)
    logits[: int(f * n)] = sure
    targets = torch.zeros(n, dtype=torch.long)
    assert math.isclose(perplexity(logits, targets).item(), mixed_perplexity_ok(f, p, V))


def band(n, w):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (i - j).abs() < w


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda n, w: window_mask_ok(n, w).T, "transposed"),
        (lambda n, w: ~window_mask_ok(n, w), "inverted"),
        (band, "may not look ahead"),
        (lambda n, w: window_mask_ok(n, w + 1), "one more"),
        (lambda n, w: window_mask_ok(n, w - 1) if w > 1 else window_mask_ok(n, w).T, "one fewer"),
        (lambda n, w: window_mask_ok(n, w) & ~torch.eye(n, dtype=torch.bool), "itself"),
        (lambda n, w: window_mask_ok(n, w).int(), "bool"),
        (lambda n, w: window_mask_ok(n + 1, w), "does not fit"),
        (lambda n, w: torch.ones(n, n, dtype=torch.bool).tril(), "entries are off"),
    ],
    ids=[
        "transposed",
        "inverted",
        "band",
        "one-more",
        "one-fewer",
        "no-diagonal",
        "int",
        "shape",
        "causal",
    ],
)
def test_window_mask_slips(answer, hint, capsys):
    assert_fails(checks.check_window_mask, answer, hint, capsys)


def test_window_mask_of_a_wide_window_is_causal():
    assert torch.equal(window_mask_ok(5, 5), torch.ones(5, 5, dtype=torch.bool).tril())


def no_mean(logits, targets, temperature=1.0):
    return ce_grad_ok(logits, targets, temperature) * len(targets)


def no_temperature(logits, targets, temperature=1.0):
    return ce_grad_ok(logits, targets, temperature) * temperature


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda z, y, t=1.0: -ce_grad_ok(z, y, t), "check the sign"),
        (no_mean, "divide by N"),
        (no_temperature, "the chain rule adds 1/T"),
        (lambda z, y, t=1.0: ce_grad_ok(z, y, t) * t * t, "not T"),
        (
            lambda z, y, t=1.0: torch.softmax(z / t, -1) / (t * len(y)),
            "the target's own term",
        ),
        (lambda z, y, t=1.0: ce_grad_ok(z, y, t)[:, :-1], "shape"),
        (lambda z, y, t=1.0: ce_grad_ok(z, (y + 1) % z.shape[-1], t), "wrong values"),
    ],
    ids=["sign", "no-mean", "no-temperature", "times-T", "no-onehot", "shape", "other"],
)
def test_ce_grad_slips(answer, hint, capsys):
    assert_fails(checks.check_ce_grad, answer, hint, capsys)


# ------------------------------------------------------------------ other answer forms


def test_answers_may_be_numpy_or_lists(capsys):
    checks.check_scaled_score_spread(lambda d, s: np.float64(s**2))
    checks.check_window_mask(lambda n, w: window_mask_ok(n, w).tolist())
    checks.check_ce_grad(lambda z, y, t=1.0: ce_grad_ok(z, y, t).numpy())
    assert capsys.readouterr().out.count("✓ correct") == 3


def test_in_place_edits_cannot_spoil_the_reference(capsys):
    def in_place(logits, targets, temperature=1.0):
        logits /= temperature
        logits -= logits.amax(dim=-1, keepdim=True)
        logits.exp_()
        logits /= logits.sum(dim=-1, keepdim=True)
        logits[torch.arange(len(targets)), targets] -= 1
        return logits / (temperature * len(targets))

    checks.check_ce_grad(in_place)
    assert "✓ correct" in capsys.readouterr().out
