"""Checks of notebook 07b (the widget kit): the entropy of the sampling distribution at
the temperature limits, the tokens top-p keeps, the sampling distribution, and how far the
smoothed loss curve lags behind a sudden drop.

Exercises 2 and 3 rebuild a piece of the library, so the library is the reference
(:func:`~llmwidgets.nn.sampling.kept_mask`, :func:`~llmwidgets.nn.sampling.sampling_probs`);
their typical wrong answers are derived from the library's results too, so the check holds
no second copy of them. Exercises 1 and 4 are predictions, checked against the
library on made-up logits (:func:`~llmwidgets.nn.sampling.entropy`) and against
:meth:`~llmwidgets.training.history.MetricHistory.smoothed`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, one_number, short
from llmwidgets.nn.sampling import entropy, kept_mask, sampling_probs
from llmwidgets.training.history import MetricHistory

__all__ = [
    "check_entropy_limits",
    "check_sampling_probs",
    "check_smoothing_lag",
    "check_top_p_kept",
]


#: Temperatures that stand for the limits T -> 0 and T -> infinity in exercise 1.
COLD, HOT = 1e-4, 1e6


def _entropy_at(vocab_size: int, top_k: int | None, temperature: float) -> float:
    """The entropy of the sampling distribution of made-up logits at one temperature."""
    gen = torch.Generator().manual_seed(vocab_size)
    logits = torch.randn(vocab_size, generator=gen, dtype=torch.float64)
    return float(entropy(sampling_probs(logits, temperature, top_k)))


@exercise("exercise 1 (the entropy at the temperature limits)")
def check_entropy_limits(entropy_limit: Callable[[int, int | None, str], Any]) -> str:
    """Check ``entropy_limit(vocab_size, top_k, limit)``: the entropy, in nats, of the
    sampling distribution of a model with ``vocab_size`` tokens (distinct logits) as the
    temperature goes to 0 (``limit="cold"``) or to infinity (``limit="hot"``), with top-k
    at ``top_k`` (``None``: off) and no top-p.
    """
    cases = [(65, None), (65, 10), (50_257, None), (1000, 1), (8, 20)]
    for vocab_size, top_k in cases:
        for limit, temperature in (("cold", COLD), ("hot", HOT)):
            what = f"vocab_size={vocab_size}, top_k={top_k}, limit={limit!r}"
            got = float(one_number(call(entropy_limit, vocab_size, top_k, limit), what))
            want = _entropy_at(vocab_size, top_k, temperature)
            if abs(got - want) <= 1e-3 + 1e-3 * want:
                continue
            left = min(top_k or vocab_size, vocab_size)  # the tokens top-k leaves
            if limit == "cold":
                raise Hint(
                    f"for {what}: as T shrinks, what happens to the probability of the token "
                    "with the largest logit compared with the others?"
                )
            if left > 1 and abs(got - left) < 1e-6:
                raise Hint(
                    f"for {what}: the entropy of a uniform choice among n tokens is not n "
                    "but a logarithm of it"
                )
            if left > 1 and abs(got - math.log2(left)) < 1e-6:
                raise Hint(f"for {what}: that is in bits; use the natural logarithm (nats)")
            if top_k is not None and left < vocab_size and abs(got - math.log(vocab_size)) < 1e-6:
                raise Hint(
                    f"for {what}: top-k cuts before sampling; which tokens are left to "
                    "share the probability?"
                )
            raise Hint(
                f"for {what}: as T grows, logits / T all tend to 0; what distribution does "
                "the softmax of equal logits give over the tokens that are kept?"
            )
    return f"{len(cases)} vocabularies and top-k settings, at both limits"


def _drop_crossing(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """The usual top-p slip, as a mask: the token whose probability makes the running
    sum reach ``top_p`` is dropped instead of kept (the top token still stays)."""
    order = torch.sort(probs, descending=True, stable=True).indices
    keep = torch.cumsum(probs[order], 0) <= top_p
    keep[0] = True
    return torch.zeros_like(keep).scatter(0, order, keep)


def _as_ids(got: Any, vocab: int, what: str) -> list[int]:
    """A learner's kept tokens (ids in any order, or a bool mask) as sorted ids."""
    t = as_tensor(got, f"the result for {what}")
    if t.dtype == torch.bool:
        if tuple(t.shape) != (vocab,):
            raise Hint(f"a mask for {what} should have shape ({vocab},), got {tuple(t.shape)}")
        return sorted(torch.nonzero(t).flatten().tolist())
    if t.is_floating_point() and not torch.equal(t.round(), t):
        raise Hint(f"return the kept ids (or a bool mask) for {what}, not probabilities")
    return sorted(int(i) for i in t.flatten().tolist())


def _ids(mask: torch.Tensor) -> list[int]:
    return torch.nonzero(mask).flatten().tolist()


@exercise("exercise 2 (which tokens top-p keeps)")
def check_top_p_kept(my_top_p_kept: Callable[[torch.Tensor, float], Any]) -> str:
    """Check ``my_top_p_kept(probs, top_p)``: the ids top-p (nucleus) sampling keeps.

    Sort the tokens from most to least probable and keep the smallest set whose
    probabilities add up to at least ``top_p``; the most probable token always stays.
    The answer may be a list (or tensor) of ids in any order, or a bool mask over the
    vocabulary.
    """
    gen = torch.Generator().manual_seed(3)
    cases = [
        (torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64), 0.9),
        (torch.tensor([0.1, 0.6, 0.05, 0.25], dtype=torch.float64), 0.7),
        (torch.tensor([0.1, 0.6, 0.05, 0.25], dtype=torch.float64), 0.5),
        (torch.tensor([0.3, 0.3, 0.2, 0.2], dtype=torch.float64), 0.65),
        (torch.softmax(2 * torch.randn(12, generator=gen, dtype=torch.float64), -1), 0.9),
    ]
    for probs, top_p in cases:
        what = f"probs={short(probs)}, top_p={top_p}"
        got = _as_ids(call(my_top_p_kept, probs, top_p), len(probs), what)
        # Log-probabilities are logits whose softmax gives `probs` back.
        if got == _ids(kept_mask(torch.log(probs), top_p=top_p)):
            continue
        if got == _ids(_drop_crossing(probs, top_p)):
            raise Hint(
                f"for {what} keep the token that makes the sum reach top_p too: keep a "
                "token while the probability of the tokens *before* it is below top_p"
            )
        low_first = torch.sort(probs, stable=True).indices
        if got == sorted(low_first[torch.cumsum(probs[low_first], 0) <= top_p].tolist()):
            raise Hint("sort from the most probable token down (descending=True)")
        if got == _ids(torch.cumsum(probs, 0) - probs < top_p):
            raise Hint("sort the probabilities first: top-p adds up the most probable tokens")
        raise Hint(
            f"for {what} top-p does not keep the ids {got}: sort the tokens from the most "
            "probable down, add up their probabilities, and stop after the token that "
            "makes the sum reach top_p"
        )
    return f"{len(cases)} distributions (unsorted, ties, the top token alone)"


def _sampling_slips(
    logits: torch.Tensor, t: float, k: int | None, p: float
) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong sampling distributions, built from the library's pieces."""
    if t == 0:
        return []  # greedy: nothing is cut, so nothing can be cut wrongly
    probs = sampling_probs(logits, t)  # temperature only
    top_k = kept_mask(logits, t, k)  # the top-k cut alone

    def renormalised(mask: torch.Tensor) -> torch.Tensor:
        return probs * mask / (probs * mask).sum()

    # Top-p that drops the crossing token (at p = 1 nothing is cut: rounding could
    # otherwise make the running sum pass 1 and drop the last token).
    dropped = top_k & _drop_crossing(renormalised(top_k), p) if p < 1 else top_k
    return [
        (
            renormalised(top_k & kept_mask(logits, t, top_p=p)),
            "apply top-p to the distribution left after top-k, renormalised to sum "
            "to 1 (the order is temperature → top-k → top-p)",
        ),
        (probs * kept_mask(logits, t, k, p), "renormalise the kept probabilities so they sum to 1"),
        (
            renormalised(dropped),
            "keep the token that makes the running sum reach top_p too: keep a token "
            "while the probability before it is below top_p",
        ),
        (
            sampling_probs(logits * t, 1.0, k, p),
            "divide the logits by the temperature; you multiplied",
        ),
    ]


@exercise("exercise 3 (temperature → top-k → top-p)")
def check_sampling_probs(my_sampling_probs: Callable[..., Any]) -> str:
    """Check ``my_sampling_probs(logits, temperature, top_k, top_p)`` for 1-D logits.

    The reference is :func:`llmwidgets.sampling_probs`: softmax of ``logits / T``
    (``T = 0``: greedy, one-hot on the largest logit), keep the ``top_k`` most probable
    tokens (``None``: no cut), renormalise, keep the smallest most-probable set whose
    probability reaches ``top_p`` (``1.0``: no cut), and renormalise what is kept.
    """
    z = torch.tensor([2.0, 1.0, 0.1, -1.0, 0.5], dtype=torch.float64)
    skewed = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64))
    cases = [
        (z, 1.0, None, 1.0),
        (z, 0.5, None, 1.0),
        (z, 0.0, None, 1.0),
        (z, 1.0, 2, 1.0),
        (z, 1.0, None, 0.8),
        (z, 1.0, 10, 1.0),  # top_k larger than the vocabulary keeps every token
        (skewed, 1.0, 2, 0.5),  # top-p on the renormalised top-k distribution
        (z, 1.5, 3, 0.7),
    ]
    for logits, t, k, p in cases:
        what = f"logits={short(logits)}, temperature={t}, top_k={k}, top_p={p}"
        got = as_tensor(call(my_sampling_probs, logits, t, k, p), f"the result for {what}")
        if t == 0 and got.shape == logits.shape and not torch.isfinite(got).all():
            raise Hint(
                "temperature 0 divides by zero: treat it as greedy decoding and return "
                "a one-hot vector on the largest logit"
            )
        expected = sampling_probs(logits, t, k, p)
        expect_close(got, expected, what, _sampling_slips(logits, t, k, p))
    return f"{len(cases)} settings (greedy, top-k, top-p, both), same as llmwidgets"


def _settle_steps(alpha: float, tolerance: float) -> int:
    """Steps after a drop until :meth:`MetricHistory.smoothed` is within ``tolerance``.

    5,000 steps at 1.0 (long enough for the bias correction to vanish), then 0.0: the
    smoothed value n steps after the drop is ``alpha ** n``; the answer is the first n at
    which it is <= ``tolerance`` (the drop is 1).
    """
    history = MetricHistory()
    before = 5000
    for step in range(1, 2 * before + 1):
        history.record(step, {"loss": 1.0 if step <= before else 0.0})
    after = history.smoothed("loss", alpha)[1][before:]
    return next(n for n, value in enumerate(after, start=1) if value <= tolerance * (1 + 1e-9))


@exercise("exercise 4 (how far the smoothed curve lags)")
def check_smoothing_lag(steps_to_settle: Callable[[float, float], Any]) -> str:
    """Check ``steps_to_settle(alpha, tolerance)``: a loss that was constant for a long time
    drops by ``d`` at one step and stays at its new level. With the loss plot's smoothing
    weight ``alpha``, after how many steps at the new level is the smoothed curve within
    ``tolerance * d`` of it for the first time? A whole number of steps, at least 1.
    """
    cases = [(0.9, 0.1), (0.9, 0.01), (0.5, 0.25), (0.99, 0.05), (0.6, 0.3), (0.0, 0.5)]
    for alpha, tolerance in cases:
        what = f"alpha={alpha}, tolerance={tolerance}"
        got = one_number(call(steps_to_settle, alpha, tolerance), what).item()
        want = _settle_steps(alpha, tolerance)
        if got == want:
            continue
        if got != round(got):
            raise Hint(f"for {what}: count whole steps (the smoothed curve moves once a step)")
        if alpha > 0 and got == _settle_steps(1 - alpha, tolerance):
            raise Hint("alpha is the weight of the past: m = alpha · m + (1 - alpha) · x")
        if abs(got - want) == 1:
            raise Hint(
                f"for {what}: off by one step. After n steps at the new level the old "
                "level's weight is alpha ** n; the answer is the first n where that is small "
                "enough (round the right way)"
            )
        raise Hint(
            f"for {what}: after n steps at the new level, how much weight does the old "
            "level still have in m = alpha · m + (1 - alpha) · x?"
        )
    return f"{len(cases)} smoothing weights and tolerances, same as MetricHistory.smoothed"
