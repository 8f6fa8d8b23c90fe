"""Notebook 08d's checks (hallucination, ethics): right answers pass, slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.analysis import expected_calibration_error

# ------------------------------------------------------------------ correct answers


def ece_ok(confidences, correct, n_bins, *, weighted=True, right_closed=True):
    conf = torch.as_tensor(confidences, dtype=torch.float64)
    right = torch.as_tensor(correct, dtype=torch.float64)
    gaps, weights = [], []
    for m in range(n_bins):
        lo, hi = m / n_bins, (m + 1) / n_bins
        if right_closed:
            inside = (conf > lo) & (conf <= hi) if m else (conf <= hi)
        else:
            inside = (conf >= lo) & (conf < hi) if m < n_bins - 1 else (conf >= lo)
        if inside.any():
            gaps.append(abs(right[inside].mean() - conf[inside].mean()).item())
            weights.append(inside.sum().item() / len(conf))
    if not weighted:
        return sum(gaps) / len(gaps)
    return sum(g * w for g, w in zip(gaps, weights, strict=True))


def mixture_ok(n_right, conf_right, n_wrong, conf_wrong, n_bins):
    conf = [conf_right] * n_right + [conf_wrong] * n_wrong
    return ece_ok(conf, [1] * n_right + [0] * n_wrong, n_bins)


def energy_ok(n_params, tokens, peak_flops, utilisation, watts, *, train=6, unit=3.6e6):
    return train * n_params * tokens / (peak_flops * utilisation) * watts / unit


def selective_ok(confidences, correct, threshold, *, strict=False, all_answers=False):
    kept = confidences > threshold if strict else confidences >= threshold
    if all_answers:
        return kept.double().mean().item(), correct.double().mean().item()
    accuracy = correct[kept].double().mean().item() if kept.any() else float("nan")
    return kept.double().mean().item(), accuracy


CHECKS = {
    "ece": (checks.check_ece, ece_ok),
    "mixture_ece": (checks.check_mixture_ece, mixture_ok),
    "training_energy": (checks.check_training_energy, energy_ok),
    "selective_answers": (checks.check_selective_answers, selective_ok),
}

TestContract = contract_tests(CHECKS)


def test_the_hand_written_ece_is_the_librarys():
    gen = torch.Generator().manual_seed(0)
    conf = torch.rand(300, generator=gen, dtype=torch.float64)
    conf[:4] = torch.tensor([0.0, 0.3, 0.5, 1.0], dtype=torch.float64)
    right = torch.rand(300, generator=gen) < 0.6
    for m in (1, 7, 10):
        assert math.isclose(ece_ok(conf, right, m), expected_calibration_error(conf, right, m),
                            abs_tol=1e-12)  # fmt: skip


def test_one_bin_hides_what_two_bins_show():
    """The reason exercise 2 has cases in one bin: right and wrong answers cancel there."""
    same_bin = mixture_ok(300, 0.97, 700, 0.93, 10)  # both in (0.9, 1]
    apart = (300 * (1 - 0.97) + 700 * 0.93) / 1000
    assert same_bin < apart - 0.01
    assert math.isclose(mixture_ok(300, 0.97, 700, 0.93, 20), apart)  # (0.95, 1], (0.9, 0.95]


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda c, r, m: ece_ok(c, r, m, weighted=False), "weight each bin's gap"),
        (lambda c, r, m: ece_ok(c, r, 1), "group them in bins"),
        (lambda c, r, m: ece_ok(c, r, m, right_closed=False), "closed on the right"),
    ],
    ids=["unweighted", "one-bin", "left-closed"],
)
def test_ece_hints(answer, hint, capsys):
    assert_fails(checks.check_ece, answer, hint, capsys)


def separate_bins(n_right, conf_right, n_wrong, conf_wrong, n_bins):
    return (n_right * (1 - conf_right) + n_wrong * conf_wrong) / (n_right + n_wrong)


@pytest.mark.parametrize(
    "answer, hint", [(separate_bins, "which bin each group"), (lambda *a: 0.5, "wrong values")],
    ids=["separate", "constant"],
)  # fmt: skip
def test_mixture_hints(answer, hint, capsys):
    assert_fails(checks.check_mixture_ece, answer, hint, capsys)


@pytest.mark.parametrize(
    "switch, hint",
    [
        ({"unit": 1.0}, "in joules"),
        ({"unit": 3.6e3}, "that is in Wh"),
        ({"train": 2}, "2·N·D is the forward pass"),
    ],
    ids=["joules", "Wh", "forward"],
)
def test_energy_hints(switch, hint, capsys):
    assert_fails(checks.check_training_energy, lambda *a: energy_ok(*a, **switch), hint, capsys)


def times_utilisation(n, d, peak, util, watts):
    return 6 * n * d / peak * util * watts / 3.6e6


def test_energy_utilisation_hint(capsys):
    assert_fails(checks.check_training_energy, times_utilisation, "utilisation", capsys)


def counts_not_shares(c, r, t):
    kept = c >= t
    return float(kept.sum()), selective_ok(c, r, t)[1]


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda c, r, t: selective_ok(c, r, t, strict=True), "at least the threshold"),
        (lambda c, r, t: selective_ok(c, r, t, all_answers=True), "answered questions only"),
        (counts_not_shares, "not their number"),
        (
            lambda c, r, t: (selective_ok(c, r, t)[0], 0.0 if t > 1 else selective_ok(c, r, t)[1]),
            "return NaN",
        ),
        (lambda c, r, t: selective_ok(c, r, t)[0], "return (coverage, accuracy)"),
    ],
    ids=["strict", "all", "count", "nan", "one-value"],
)
def test_selective_hints(answer, hint, capsys):
    assert_fails(checks.check_selective_answers, answer, hint, capsys)
