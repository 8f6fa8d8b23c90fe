"""Checks of notebook 05b (the translation project): length-normalised ranking of beam
hypotheses, the loss of a free-running decoder, reversed sources, and Chinese numerals
with 万 and 亿 read back by rule.

The references are the library's own pieces: GNMT's penalty
(:func:`~llmwidgets.seq2seq.decoding.gnmt_penalty`, as :func:`~llmwidgets.seq2seq.beam_search`
ranks), :func:`~llmwidgets.training.losses.next_token_loss`, a small
:class:`~llmwidgets.seq2seq.rnn.GRUSeq2Seq`, and
:func:`~llmwidgets.seq2seq.number_to_chinese` (its numbers are read back).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, fixed_seed
from llmwidgets.seq2seq.decoding import gnmt_penalty
from llmwidgets.seq2seq.number_words import MAX_NUMBER, number_to_chinese
from llmwidgets.seq2seq.rnn import GRUSeq2Seq
from llmwidgets.training.losses import next_token_loss

__all__ = [
    "check_chinese_to_int",
    "check_free_running_loss",
    "check_length_normalised_ranking",
    "check_reverse_source",
]

# ------------------------------------------------------------------ exercise 1


def _ranked(hyps: list[tuple[list[int], float]], key: Callable[[list[int], float], float]):
    return [list(ids) for ids, _ in sorted(hyps, key=lambda h: -key(h[0], h[1]))]


#: Finished hypotheses (ids without <bos>/<eos>, summed log-probability), and the alphas.
_RANKING_CASES = [
    ([([4, 5, 6], -1.0), ([4], -1.05), ([4, 5, 6, 7, 8, 9], -3.0)], (1.0,)),
    ([([7, 8, 9], -1.31), ([7, 8], -1.16), ([7, 8, 9, 4], -1.62)], (0.0, 0.6, 1.0)),
    ([([3], -0.70), ([3, 4, 5, 6, 7, 8], -1.50), ([3, 4], -0.90)], (0.0, 0.6, 1.0, 2.0)),
    ([([5, 5], -2.0), ([5, 5, 5], -2.3), ([5], -1.9), ([5, 5, 5, 5], -2.6)], (0.0, 0.3, 0.6)),
    ([([1, 2, 3, 4, 5], -0.5)], (0.6,)),
]


@exercise("exercise 1 (length-normalised ranking)")
def check_length_normalised_ranking(my_rerank: Callable[..., Any]) -> str:
    """Check ``my_rerank(hypotheses, alpha)``: finished beam hypotheses ``(ids, log_p)``
    ranked best first by ``log_p / lp`` with GNMT's ``lp = ((5 + |Y|) / 6) ** alpha``,
    where ``|Y|`` counts the ids and the ``<eos>`` that ended the hypothesis.

    The answer returns the hypotheses (or their ids) in that order.
    """
    n = 0
    for hyps, alphas in _RANKING_CASES:
        for alpha in alphas:
            expected = _ranked(hyps, lambda ids, lp, a=alpha: lp / gnmt_penalty(len(ids) + 1, a))
            got = my_rerank([(list(ids), lp) for ids, lp in hyps], alpha)
            if not isinstance(got, (list, tuple)) or len(got) != len(hyps):
                raise Hint(f"return all {len(hyps)} hypotheses, best first, as a list")
            got = [list(g[0]) if isinstance(g, tuple) else list(g) for g in got]
            n += 1
            if got == expected:
                continue
            slips = [
                (_ranked(hyps, lambda ids, lp, a=alpha: lp / gnmt_penalty(len(ids), a)),
                 "count the <eos> that ended each hypothesis: |Y| = len(ids) + 1"),
                (_ranked(hyps, lambda ids, lp: lp),
                 "with alpha > 0 the ranking must use the normalised score log_p / lp, not "
                 "log_p alone"),
                (_ranked(hyps, lambda ids, lp, a=alpha: lp * gnmt_penalty(len(ids) + 1, a)),
                 "divide the log-probability by lp; multiplying a negative score by lp > 1 "
                 "punishes long hypotheses even more"),
                (_ranked(hyps, lambda ids, lp, a=alpha: lp / (len(ids) + 1) ** a),
                 "use GNMT's penalty ((5 + |Y|) / 6) ** alpha, not |Y| ** alpha"),
                (_ranked(hyps, lambda ids, lp, a=alpha: -lp / gnmt_penalty(len(ids) + 1, a)),
                 "best first: the highest (least negative) normalised score comes first"),
            ]  # fmt: skip
            for order, hint in slips:
                if got == order:
                    raise Hint(hint)
            raise Hint(
                f"for alpha={alpha} your order is not the normalised one: compute "
                "log_p / lp for each hypothesis and print them next to your order"
            )
    return f"{n} rankings of 1 to 4 hypotheses, alpha from 0 to 2"


# ------------------------------------------------------------------ exercise 2


def _free_running_reference(model, src, tgt_in, tgt_out) -> torch.Tensor:
    memory = model.encode(src)
    ys, steps = tgt_in[:, :1], []
    for _ in range(tgt_in.shape[1]):
        logits = model.decode(memory, ys)[:, -1]
        steps.append(logits)
        ys = torch.cat([ys, logits.argmax(-1, keepdim=True)], dim=1)
    return next_token_loss(torch.stack(steps, dim=1), tgt_out)


def _tiny_batch(seed: int, B: int, S: int, T: int, V: int):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(3, V, (B, S), generator=gen)
    tgt = torch.randint(3, V, (B, T - 1), generator=gen)
    lengths = torch.randint(1, T, (B,), generator=gen)
    tgt_in = torch.zeros(B, T, dtype=torch.long)
    tgt_out = torch.full((B, T), -100, dtype=torch.long)
    for b, n in enumerate(lengths.tolist()):
        src[b, max(1, S - b) :] = 0  # right-padded sources of different lengths
        tgt_in[b, : n + 1] = torch.tensor([1, *tgt[b, :n].tolist()])
        tgt_out[b, : n + 1] = torch.tensor([*tgt[b, :n].tolist(), 2])
    return src, tgt_in, tgt_out


@exercise("exercise 2 (free running)")
def check_free_running_loss(my_free_running_loss: Callable[..., Any]) -> str:
    """Check ``my_free_running_loss(model, src, tgt_in, tgt_out)``.

    The decoder starts from ``tgt_in[:, :1]`` (``<bos>``) and reads its own greedy
    prediction at every later position (as at inference), for as many positions as
    ``tgt_in`` has; the answer is the mean cross-entropy of those logits against
    ``tgt_out`` over the positions that are not ``-100``.
    """
    cases = [(0, 3, 5, 6, 9), (1, 4, 4, 5, 12), (2, 2, 6, 8, 7)]
    for seed, B, S, T, V in cases:
        with fixed_seed(seed):
            model = GRUSeq2Seq(V, V, hidden=8).double().eval()
        src, tgt_in, tgt_out = _tiny_batch(seed, B, S, T, V)
        with torch.no_grad():
            expected = _free_running_reference(model, src, tgt_in, tgt_out)
            forced = next_token_loss(model(src, tgt_in), tgt_out)
        got = call(my_free_running_loss, model, src, tgt_in, tgt_out)
        if isinstance(got, torch.Tensor):
            got = got.detach()
        wrong = [(forced, "that is the teacher-forced loss: after <bos> the decoder must read "
                  "its own argmax prediction, not the reference tokens of tgt_in")]  # fmt: skip
        expect_close(got, expected, f"a batch of {B} (T={T})", wrong, atol=1e-8)
    return f"{len(cases)} batches on small random GRU encoder-decoders"


# ------------------------------------------------------------------ exercise 3


def _reverse_reference(src: torch.Tensor, pad_id: int) -> torch.Tensor:
    out = src.clone()
    for b, row in enumerate(src):
        n = int((row != pad_id).sum())
        out[b, :n] = row[:n].flip(0)
    return out


@exercise("exercise 3 (reversed sources)")
def check_reverse_source(my_reverse_source: Callable[..., Any]) -> str:
    """Check ``my_reverse_source(src, pad_id)``: every row's real tokens in reverse order,
    the padding still at the end, ``src`` (B, S) right-padded with ``pad_id``."""
    cases = [
        (torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12], [4, 0, 0, 0, 0]]), 0),
        (torch.tensor([[3, 4]]), 0),
        (torch.tensor([[1, 2, 3, 9, 9, 9], [7, 9, 9, 9, 9, 9]]), 9),
    ]
    for src, pad in cases:
        got = as_tensor(call(my_reverse_source, src, pad), "the reversed sources")
        expected = _reverse_reference(src, pad)
        if tuple(got.shape) != tuple(src.shape):
            raise Hint(f"keep the shape {tuple(src.shape)} of src, got {tuple(got.shape)}")
        if torch.equal(got, expected):
            continue
        if torch.equal(got, src.flip(1)):
            raise Hint(
                "flipping whole rows moves the padding to the front: reverse only the real "
                "tokens of each row and leave the padding where it is"
            )
        if torch.equal(got, src):
            raise Hint("the rows come back unchanged: reverse the real tokens of each row")
        raise Hint(
            f"row by row, the first (number of real tokens) entries must be those tokens "
            f"in reverse order, then {pad} (pad_id) as before: print your result for "
            "torch.tensor([[5, 6, 7, 0]]) and pad_id=0"
        )
    return f"{len(cases)} batches, with full rows, one-token rows and pad_id other than 0"


# ------------------------------------------------------------------ exercise 4

_EDGES = [0, 10, 15, 105, 110, 1005, 1010, 2050, 9999, 10_000, 10_001, 10_010, 15_000,
          100_000, 110_000, 101_000, 1_000_000, 1_000_100, 10_000_000, 10_010_000,
          12_345_678, 20_000_001, 99_999_999, MAX_NUMBER]  # fmt: skip


def _numbers() -> list[int]:
    rng = random.Random(5)
    sample = [rng.randrange(10**d, 10 ** (d + 1)) for d in range(4, 8) for _ in range(500)]
    return [*_EDGES, *range(10_000), *sample]


@exercise("exercise 4 (Chinese numerals with 万 and 亿, by rule)")
def check_chinese_to_int(my_chinese_to_int: Callable[[str], Any]) -> str:
    """Check ``my_chinese_to_int(text)``: Chinese numerals back to an int, for 0..10^8
    (with 万 and 亿)."""
    numbers = _numbers()
    for n in numbers:
        text = number_to_chinese(n)
        got = my_chinese_to_int(text)
        if isinstance(got, bool) or not isinstance(got, int):
            raise Hint(f"return an int for {text}, got {got!r}")
        if got == n:
            continue
        if "亿" in text:
            raise Hint(f"{text} gave {got}: 亿 is 10^8 times the number read before it")
        if "万" in text:
            raise Hint(
                f"{text} gave {got}: 万 multiplies the whole number read since the start "
                "(a section below 10^4, itself with 千, 百 and 十), not only the digit just "
                "before it; then a new section starts"
            )
        if 10 <= n < 20:
            raise Hint(f"{text} gave {got}: a leading 十 stands for 一十")
        if "零" in text and n:
            raise Hint(f"{text} gave {got}: 零 only marks a gap of zeros, it adds nothing")
        raise Hint(
            f"{text} gave {got}, which is not its value: read it as digit-unit pairs "
            "(a digit, then 千, 百 or 十), add them up, then the last digit"
        )
    return (
        f"{len(numbers):,} numbers from 零 to {number_to_chinese(MAX_NUMBER)}: all those below "
        "10^4 and 2,000 up to 10^8"
    )
