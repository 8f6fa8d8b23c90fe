"""Checks of notebook 07 (the widget kit): entropy, the tokens top-p keeps, the sampling
distribution, and the smoothed loss curve.

Each exercise rebuilds a piece of the library, so the library is the reference:
:func:`~llmwidgets.nn.sampling.entropy`, :func:`~llmwidgets.nn.sampling.kept_mask`,
:func:`~llmwidgets.nn.sampling.sampling_probs` and
:meth:`~llmwidgets.training.history.MetricHistory.smoothed`. The typical wrong answers
are derived from the library's results too, so the check holds no second copy of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, one_number, short
from llmwidgets.nn.sampling import entropy, kept_mask, sampling_probs
from llmwidgets.training.history import MetricHistory

__all__ = ["check_ema", "check_entropy", "check_sampling_probs", "check_top_p_kept"]


@exercise("exercise 1 (entropy)")
def check_entropy(my_entropy: Callable[[torch.Tensor], Any]) -> str:
    """Check ``my_entropy(probs)``: the entropy ``-Σ p log p`` of a 1-D distribution, in nats.

    Tokens with probability 0 contribute nothing (``0 · log 0 = 0``), as after a top-k or
    top-p cut.
    """
    gen = torch.Generator().manual_seed(7)
    cases = [
        torch.full((4,), 0.25, dtype=torch.float64),
        torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64),
        torch.tensor([0.7, 0.3, 0.0, 0.0], dtype=torch.float64),
        torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
        torch.softmax(torch.randn(10, generator=gen, dtype=torch.float64), -1),
    ]
    for p in cases:
        what = f"probs={short(p)}"
        got = one_number(call(my_entropy, p), what)
        if (p == 0).any() and not torch.isfinite(got):
            raise Hint(
                f"{what} gives {got.item()}: a zero probability makes 0 · log 0 = 0 · (-inf) "
                "= NaN. Skip the zeros (p[p > 0]) or use torch.special.xlogy(p, p)"
            )
        h = entropy(p)
        wrong = [
            (-h, "check the sign: entropy = -Σ p log p is >= 0"),
            (entropy(p, "bits"), "that is in bits (log base 2); use the natural log for nats"),
            (-torch.log(p[p > 0]).mean(), "weight each -log p by its probability p"),
        ]
        expect_close(got, h, what, wrong)
    return f"{len(cases)} distributions (uniform over 4 gives log 4, one-hot gives 0)"


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


def _smoothed(values: list[float], alpha: float) -> torch.Tensor:
    """:meth:`MetricHistory.smoothed` of ``values`` recorded at steps 0, 1, 2, …"""
    history = MetricHistory()
    for step, v in enumerate(values):
        history.record(step, {"loss": v})
    return torch.tensor(history.smoothed("loss", alpha)[1], dtype=torch.float64)


def _ema_slips(values: list[float], alpha: float) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong moving averages at the finite positions, derived from the library's.

    With ``n`` finite values so far, the library outputs ``m_n / (1 - alpha ** n)``, so
    ``m_n`` (no bias correction) is that times ``1 - alpha ** n``; starting from the
    first value ``x_1`` instead of 0 gives ``m_n + alpha ** n · x_1``.
    """
    x = torch.tensor(values, dtype=torch.float64)
    finite = torch.isfinite(x)
    n = torch.cumsum(finite, 0).to(torch.float64)[finite]  # finite values so far
    n_all = torch.arange(1, len(values) + 1, dtype=torch.float64)[finite]  # all values so far
    m = _smoothed(values, alpha)[finite] * (1 - alpha**n)
    slips = [
        (
            m,
            "divide by 1 - alpha ** n (n = finite values so far): without this bias "
            "correction the curve starts near 0",
        ),
        (m / (1 - alpha**n_all), "count only the finite values in n for the bias correction"),
        (
            m + alpha**n * x[finite][0],
            "start from m = 0 and divide by 1 - alpha ** n (bias correction, as "
            "TensorBoard does) instead of starting from the first value",
        ),
    ]
    if alpha > 0:  # with alpha = 0 the swapped weights would divide by 1 - 1 ** n
        slips.append(
            (
                _smoothed(values, 1 - alpha)[finite],
                "alpha is the weight of the past: m = alpha · m + (1 - alpha) · x",
            )
        )
    return slips


@exercise("exercise 4 (exponential moving average)")
def check_ema(my_ema: Callable[[list, float], Any]) -> str:
    """Check ``my_ema(values, alpha)``: the smoothing of :meth:`MetricHistory.smoothed`.

    ``m = alpha · m + (1 - alpha) · x`` over the finite values in order, starting from
    ``m = 0``, and each output divided by ``1 - alpha ** n`` (``n`` finite values so far)
    so the start is not pulled towards 0. A NaN or inf value is returned as it is at
    its own position and does not enter the average.
    """
    gen = torch.Generator().manual_seed(5)
    noisy = (3 - torch.linspace(0, 1, 20) + 0.2 * torch.randn(20, generator=gen)).tolist()
    nan, inf = float("nan"), float("inf")
    cases = [
        ([4.0, 3.0, 2.5, 2.0], 0.5),
        ([4.0, 3.0, 2.5, 2.0], 0.0),
        (noisy, 0.9),
        ([3.0, 2.8, nan, 2.6, 2.5, inf, 2.4], 0.6),
        ([nan, 2.0, 1.0], 0.5),
    ]
    for values, alpha in cases:
        what = f"values={short(torch.tensor(values))}, alpha={alpha}"
        got = as_tensor(call(my_ema, list(values), alpha), f"the result for {what}")
        got = got.to(torch.float64).flatten()
        expected = _smoothed(values, alpha)
        if got.shape != expected.shape:
            raise Hint(
                f"return one smoothed value per input value: {len(values)} for {what}, "
                f"got {got.numel()}"
            )
        bad = ~torch.isfinite(expected)
        if (~torch.isfinite(got) & ~bad).any():
            raise Hint(
                f"for {what} a NaN/inf spread into later values: skip non-finite values "
                "in the average (keep them as they are, at their own position)"
            )
        same = torch.where(expected.isnan(), got.isnan(), got == expected)
        if not same[bad].all():
            raise Hint(
                f"for {what} return a NaN/inf value as it is at its own position, so the "
                "plot can mark it"
            )
        expect_close(got[~bad], expected[~bad], what, _ema_slips(values, alpha))
    return f"{len(cases)} series (with NaN and inf), same as MetricHistory.smoothed"
