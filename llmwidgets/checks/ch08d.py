"""Checks of notebook 08d (hallucination and ethics): the expected calibration error, the
ECE of a model that is right inside its range and wrong outside, the energy of a training
run, and answering only when confident.

The reference of the first two is the library's
:func:`~llmwidgets.analysis.calibration.expected_calibration_error`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.analysis.calibration import expected_calibration_error
from llmwidgets.checks._core import Hint, call, exercise, expect_close, one_number, pair

__all__ = [
    "check_ece",
    "check_mixture_ece",
    "check_selective_answers",
    "check_training_energy",
]


def _unbinned(conf: torch.Tensor, right: torch.Tensor) -> float:
    return abs(float(right.double().mean() - conf.mean()))


def _unweighted(conf: torch.Tensor, right: torch.Tensor, m: int) -> float:
    which = torch.bucketize(conf, torch.arange(1, m, dtype=torch.float64) / m)
    gaps = [abs(float(right[which == b].double().mean() - conf[which == b].mean()))
            for b in range(m) if (which == b).any()]  # fmt: skip
    return sum(gaps) / len(gaps)


def _left_closed(conf: torch.Tensor, right: torch.Tensor, m: int) -> float:
    which = torch.clamp((conf * m).floor().long(), max=m - 1)  # [e, e + 1/m)
    total = sum(abs(float((right[which == b].double() - conf[which == b]).sum())) for b in range(m))
    return total / len(conf)


@exercise("exercise 1 (the expected calibration error)")
def check_ece(my_ece: Callable[..., Any]) -> str:
    """Check ``my_ece(confidences, correct, n_bins)``: Guo et al.'s ECE with ``n_bins``
    equal-width bins ``((m-1)/M, m/M]`` (confidence 0 goes to the first bin), each bin's
    gap ``|accuracy - mean confidence|`` weighted by its share of the answers."""
    gen = torch.Generator().manual_seed(2)
    conf = torch.rand(200, generator=gen, dtype=torch.float64)
    right = torch.rand(200, generator=gen, dtype=torch.float64) < conf**2  # over-confident
    edges = torch.tensor([0.0, 0.1, 0.2, 0.2, 0.5, 0.7, 1.0, 1.0], dtype=torch.float64)
    edge_right = torch.tensor([True, False, False, True, True, False, True, True])
    cases = [
        (conf, right, 10),
        (conf, right, 4),
        (edges, edge_right, 10),
        (torch.full((5,), 0.9, dtype=torch.float64), torch.ones(5, dtype=torch.bool), 10),
    ]
    for c, r, m in cases:  # fmt: skip
        what = f"{len(c)} answers, n_bins={m}"
        got = one_number(call(my_ece, c.clone(), r.clone(), m), what)
        wrong = [
            (torch.tensor(_unweighted(c, r, m)), "weight each bin's gap by its share of "
             "the answers, not every non-empty bin equally"),
            (torch.tensor(_unbinned(c, r)), "that is one gap for all answers: group them in "
             "bins of confidence first"),
            (torch.tensor(_left_closed(c, r, m)), "a bin holds the confidences in ((m-1)/M, "
             "m/M], closed on the right: 0.2 belongs to the second of ten bins"),
        ]  # fmt: skip
        expected = torch.tensor(expected_calibration_error(c, r, m))
        expect_close(got, expected, what, wrong, atol=1e-9)
    return f"{len(cases)} sets of answers, with confidences on the bin edges and empty bins"


def _mixture(n_right: int, conf_right: float, n_wrong: int, conf_wrong: float,
             n_bins: int) -> float:  # fmt: skip
    conf = torch.tensor([conf_right] * n_right + [conf_wrong] * n_wrong, dtype=torch.float64)
    right = torch.tensor([True] * n_right + [False] * n_wrong)
    return expected_calibration_error(conf, right, n_bins)


@exercise("exercise 2 (right inside, wrong outside: the ECE)")
def check_mixture_ece(my_predicted_ece: Callable[..., Any]) -> str:
    """Check ``my_predicted_ece(n_right, conf_right, n_wrong, conf_wrong, n_bins)``: the
    ECE of answers of which ``n_right`` are right, each with confidence ``conf_right``, and
    ``n_wrong`` are wrong, each with confidence ``conf_wrong``."""
    cases = [
        (900, 0.999, 100, 0.6, 10),
        (900, 0.999, 100, 0.95, 10),
        (50, 0.55, 50, 0.95, 10),
        (300, 0.97, 700, 0.93, 10),
        (300, 0.97, 700, 0.93, 20),
        (10, 0.8, 0, 0.5, 10),
    ]
    for n_r, c_r, n_w, c_w, m in cases:  # fmt: skip
        what = (f"n_right={n_r}, conf_right={c_r}, n_wrong={n_w}, conf_wrong={c_w}, "
                f"n_bins={m}")  # fmt: skip
        got = one_number(call(my_predicted_ece, n_r, c_r, n_w, c_w, m), what)
        separate = (n_r * (1 - c_r) + n_w * c_w) / (n_r + n_w)
        expected = _mixture(n_r, c_r, n_w, c_w, m)
        wrong = []
        if abs(separate - expected) > 1e-9:
            wrong.append(
                (
                    torch.tensor(separate),
                    "check which bin each group of answers "
                    "falls in: the ECE compares accuracy and confidence bin by bin",
                )
            )
        expect_close(got, torch.tensor(expected), what, wrong, atol=1e-9)  # fmt: skip
    return f"{len(cases)} mixtures, in separate bins and in one"


@exercise("exercise 3 (the energy of a training run)")
def check_training_energy(my_training_energy: Callable[..., Any]) -> str:
    """Check ``my_training_energy(n_params, tokens, peak_flops, utilisation, watts)``: the
    kWh of training a dense model (6·N·D FLOPs) on accelerators of ``peak_flops`` FLOP/s
    each that reach ``utilisation`` of their peak and draw ``watts`` each."""
    cases = [(1.75e11, 3e11, 3.12e14, 0.4, 400.0), (7e9, 2e12, 9.89e14, 0.5, 700.0),
             (8e5, 4e6, 1e11, 0.25, 15.0)]  # fmt: skip
    for n, d, peak, util, watts in cases:
        what = f"N={n:.3g}, D={d:.3g}, peak={peak:.3g} FLOP/s, utilisation={util}, {watts} W"
        got = one_number(call(my_training_energy, n, d, peak, util, watts), what)
        kwh = 6 * n * d / (peak * util) * watts / 3.6e6
        wrong = [
            (torch.tensor(kwh * 3.6e6), "that is in joules (watt-seconds): 1 kWh is 3.6 million"),
            (torch.tensor(kwh * 1000), "that is in Wh: divide by 1,000 more for kWh"),
            (torch.tensor(kwh * util), "the accelerators reach only `utilisation` of their "
             "peak: the run takes longer, not shorter"),
            (torch.tensor(kwh * util * util), "divide by the utilisation: the run takes 1 / "
             "utilisation times longer than at peak"),
            (torch.tensor(kwh / 3), "2·N·D is the forward pass; training costs 6·N·D"),
        ]  # fmt: skip
        expect_close(got, torch.tensor(kwh), what, wrong, atol=0.0)
    return f"{len(cases)} runs, from GPT-3's size to the book's character model"


@exercise("exercise 4 (answering only when confident)")
def check_selective_answers(my_selective: Callable[..., Any]) -> str:
    """Check ``my_selective(confidences, correct, threshold)``: ``(coverage, accuracy)``
    when the model answers only where its confidence is at least ``threshold``: the share
    of questions answered, and the share of the answered ones that are right (NaN when
    none is answered)."""
    gen = torch.Generator().manual_seed(9)
    conf = torch.rand(50, generator=gen, dtype=torch.float64)
    right = torch.rand(50, generator=gen, dtype=torch.float64) < conf
    conf[:3] = 0.8  # answers exactly at a threshold
    cases = [(conf, right, 0.5), (conf, right, 0.8), (conf, right, 0.0), (conf, right, 1.01)]
    for c, r, t in cases:
        what = f"{len(c)} answers, threshold={t}"
        cov, acc = pair(call(my_selective, c.clone(), r.clone(), t),
                        f"return (coverage, accuracy) for {what}")  # fmt: skip
        cov, acc = one_number(cov, what), one_number(acc, what)
        kept = c >= t
        coverage = kept.double().mean()
        if float(cov) == float(kept.sum()) and kept.sum() > 1:
            raise Hint("coverage is the share of questions answered, not their number")
        expect_close(cov, coverage, f"the coverage for {what}",
                     [((c > t).double().mean(), "answer when the confidence is at least the "
                       "threshold (>=), not only above it")], atol=1e-12)  # fmt: skip
        if not kept.any():
            if not math.isnan(float(acc)):
                raise Hint(f"for {what} nothing is answered: return NaN as the accuracy")
            continue
        expected = r[kept].double().mean()
        wrong = [(r.double().mean(), "the accuracy counts the answered questions only"),
                 ((r & kept).double().mean(), "divide by the number of answered questions, "
                  "not by all")]  # fmt: skip
        expect_close(acc, expected, f"the accuracy for {what}", wrong, atol=1e-12)
    return f"{len(cases)} thresholds, including one that answers nothing"
