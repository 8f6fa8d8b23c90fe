"""Checks of notebook 05 (the translation project): the source's loss fixed, teacher
forcing, beam search, and Chinese numerals read back by rule.

The references are the library's own versions of what the exercises rebuild:
:func:`~llmwidgets.training.losses.next_token_loss` with ``ignore_index``,
:func:`~llmwidgets.seq2seq.number_task.encode_pairs`,
:func:`~llmwidgets.seq2seq.beam_search_steps` and
:func:`~llmwidgets.seq2seq.number_to_chinese`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, pair
from llmwidgets.seq2seq import beam_search_steps, number_to_chinese
from llmwidgets.seq2seq.number_task import encode_pairs
from llmwidgets.training.losses import next_token_loss

#: Exercise 4 reads the numerals of the notebook's default task, 0..9999 (without 万).
MAX_NUMBER = 9999

__all__ = [
    "check_beam_search",
    "check_chinese_to_int",
    "check_seq2seq_loss",
    "check_teacher_forcing",
]


def _padded_batch(seed: int, T: int, B: int, V: int, pad: int):
    """Time-first logits ``(T, B, V)`` and targets ``(T, B)``; sequence b ends after T - b."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(T, B, V, generator=gen, dtype=torch.float64)
    targets = torch.randint(1, V, (T, B), generator=gen)
    targets[targets == pad] = pad + 1  # real tokens are never the pad id...
    for b in range(B):  # ...which fills sequence b after its T - b tokens
        targets[T - b :, b] = pad
    return logits, targets


@exercise("exercise 1 (the source's loss, fixed)")
def check_seq2seq_loss(my_seq2seq_loss: Callable[..., Any]) -> str:
    """Check ``my_seq2seq_loss(logits, targets, pad_id)``: the source's loss, fixed.

    ``logits`` are time-first ``(T, B, V)``, as the source's ``nn.GRU`` (without
    ``batch_first``) produces them, ``targets`` ``(T, B)`` with ``pad_id`` after each
    sequence's end. The answer is the mean cross-entropy over the positions that are not
    padding.
    """
    cases = [(0, 5, 3, 7, 0), (1, 4, 2, 5, 0), (2, 6, 4, 9, 3)]
    for seed, T, B, V, pad in cases:
        logits, targets = _padded_batch(seed, T, B, V, pad)
        expected = next_token_loss(logits.transpose(0, 1), targets.T, ignore_index=pad)
        flat = logits.reshape(-1, V)
        with_pad = F.cross_entropy(flat, targets.reshape(-1))
        mixed = F.cross_entropy(flat, targets.T.reshape(-1), ignore_index=pad)
        mixed_pad = F.cross_entropy(flat, targets.T.reshape(-1))
        what = f"logits {tuple(logits.shape)}, pad_id={pad}"
        got = call(my_seq2seq_loss, logits, targets, pad)
        expect_close(
            got,
            expected,
            what,
            wrong=[
                (with_pad, "skip the padding: positions whose target is pad_id must not "
                 "count (F.cross_entropy's ignore_index)"),
                (mixed, "logits and targets are flattened in different orders: flatten "
                 "both in the same (T, B) order, so row i of the logits belongs to target i"),
                (mixed_pad, "flatten logits and targets in the same (T, B) order, and "
                 "skip the padding positions"),
            ],
        )  # fmt: skip
    return f"{len(cases)} batches, padding skipped"


@exercise("exercise 2 (teacher forcing)")
def check_teacher_forcing(my_teacher_forcing: Callable[..., Any]) -> str:
    """Check ``my_teacher_forcing(seqs, bos, eos, pad) -> (tgt_in, tgt_out)``.

    ``tgt_in`` is ``[bos] + seq`` padded with ``pad``; ``tgt_out`` is ``seq + [eos]`` padded
    with ``-100`` (the id the loss ignores); both ``(B, longest + 1)`` LongTensors.
    """
    cases = [([[5, 6, 7], [8]], 1, 2, 0), ([[3], [4, 5], [6, 7, 8, 9]], 1, 2, 0),
             ([[10, 11]], 7, 8, 9)]  # fmt: skip
    for seqs, bos, eos, pad in cases:
        reference = encode_pairs([([bos], s) for s in seqs], pad=pad, bos=bos, eos=eos)
        exp_in, exp_out = reference.tgt_in, reference.tgt_out
        got = my_teacher_forcing([list(s) for s in seqs], bos, eos, pad)
        got_in, got_out = (
            as_tensor(g, "tgt_in / tgt_out")
            for g in pair(got, "return two tensors: (tgt_in, tgt_out)")
        )
        if got_in.shape != exp_in.shape or got_out.shape != exp_out.shape:
            raise Hint(
                f"for {seqs} both tensors should have shape {tuple(exp_in.shape)} (one "
                f"column more than the longest sequence), got {tuple(got_in.shape)} and "
                f"{tuple(got_out.shape)}"
            )
        if torch.equal(got_in, got_out) or got_in[:, 0].ne(bos).any():
            raise Hint(
                "tgt_in must start with <bos> and be the target shifted one step right; "
                "feeding the target itself (the source's bug) lets the model copy its answer"
            )
        if not torch.equal(got_in, exp_in):
            raise Hint(
                f"for {seqs} tgt_in is {got_in.tolist()}: each row is <bos> then the "
                "sequence, then pad up to the common width"
            )
        if torch.equal(got_out, exp_out):
            continue
        if torch.equal(got_out.masked_fill(got_out == pad, -100), exp_out):
            raise Hint("pad tgt_out with -100, which the loss ignores, not with pad")
        raise Hint(
            f"for {seqs} tgt_out is {got_out.tolist()}: each row is the sequence, then "
            "<eos> (so the model learns to stop), then -100 up to the common width"
        )
    return f"{len(cases)} batches: shifted right behind <bos>, <eos> at the end"


# Toy next-token tables over 0 pad, 1 bos, 2 eos, 3, 4: the prefix (after <bos>) -> probs.
_TABLES = [
    {(): [0, 0, 0.1, 0.5, 0.4], (3,): [0, 0, 0.5, 0.25, 0.25], (4,): [0, 0, 0.9, 0.05, 0.05]},
    {(): [0, 0, 0.3, 0.68, 0.02], (3,): [0, 0, 0.9, 0.06, 0.04]},  # stopping early loses
    {(): [0, 0, 0.05, 0.55, 0.4], (3,): [0, 0, 0.2, 0.45, 0.35], (4,): [0, 0, 0.1, 0.85, 0.05],
     (4, 3): [0, 0, 0.95, 0.03, 0.02], (3, 3): [0, 0, 0.32, 0.4, 0.28]},
]  # fmt: skip


def _step(table: dict, prefix: list[int]) -> torch.Tensor:
    probs = torch.tensor(table.get(tuple(prefix[1:]), [0, 0, 0.5, 0.3, 0.2]), dtype=torch.float64)
    return torch.log(probs)  # log 0 = -inf: that token is impossible


def _best(table: dict, width: int) -> list[int]:
    """The library's beam search (bos 1, eos 2, at most 5 tokens) on a toy table."""

    def batched(prefixes: torch.Tensor) -> torch.Tensor:
        return torch.stack([_step(table, p) for p in prefixes.tolist()])

    return beam_search_steps(batched, 1, 2, width, 5)[0][0]


@exercise("exercise 3 (beam search)")
def check_beam_search(my_beam_search: Callable[..., Any]) -> str:
    """Check ``my_beam_search(step, bos, eos, beam_width, max_len) -> list[int]``.

    ``step(prefix)`` takes a list of ids starting with ``bos`` and returns the next-token
    log-probabilities (a 1-D tensor). The answer is the best hypothesis found with
    ``beam_width`` hypotheses kept per step, ranked by total log-probability, without
    ``bos`` and ``eos``; a hypothesis ends at ``eos`` or after ``max_len`` tokens.
    """
    n = 0
    for table in _TABLES:

        def step(prefix: Any, table: dict = table) -> torch.Tensor:
            return _step(table, [int(i) for i in prefix])

        greedy = _best(table, 1)
        for width in (1, 2, 4):
            got = my_beam_search(step, 1, 2, width, 5)
            got = [int(i) for i in (got.tolist() if isinstance(got, torch.Tensor) else got)]
            n += 1
            if got == _best(table, width):
                continue
            if got[:1] == [1] or got[-1:] == [2]:
                raise Hint("return the tokens between <bos> and <eos>, without them")
            if width == 1:
                raise Hint(
                    f"with beam_width=1 the search is greedy, but it returned {got}: keep "
                    "the single best prefix each step and follow step()'s most probable token"
                )
            if got == greedy:
                raise Hint(
                    f"beam_width={width} returned greedy's answer {got}; keep the "
                    f"{width} best prefixes each step, scored by their SUM of log-probs"
                )
            if got == []:
                raise Hint(
                    "do not stop at the first finished hypothesis: a longer one can "
                    "still score higher; stop when all the kept ones have ended"
                )
            raise Hint(
                f"with beam_width={width} your search returned {got}, which is not the best "
                "hypothesis: print the kept prefixes and their summed log-probs at each step"
            )
    return f"{n} searches (widths 1, 2, 4) on 3 toy models"


@exercise("exercise 4 (the reverse direction by rule)")
def check_chinese_to_int(my_chinese_to_int: Callable[[str], Any]) -> str:
    """Check ``my_chinese_to_int(text)``: Chinese numerals back to an int, for 0..9999."""
    for n in (0, 10, 15, 105, 110, 1005, 1010, 2050, 9999, *range(MAX_NUMBER + 1)):
        text = number_to_chinese(n)
        got = my_chinese_to_int(text)
        if isinstance(got, bool) or not isinstance(got, int):
            raise Hint(f"return an int for {text}, got {got!r}")
        if got == n:
            continue
        if 10 <= n < 20:
            raise Hint(f"{text} gave {got}: a leading 十 stands for 一十")
        if "零" in text and n:
            raise Hint(f"{text} gave {got}: 零 only marks a gap of zeros, it adds nothing")
        raise Hint(
            f"{text} gave {got}, which is not its value: read it as digit-unit pairs "
            "(a digit, then 千, 百 or 十), add them up, then the last digit"
        )
    return f"all {MAX_NUMBER + 1} numbers from 零 to {number_to_chinese(MAX_NUMBER)}"
