"""Decoding an encoder-decoder: greedy, and beam search of width k.

* :func:`greedy_decode` - the most probable next token, step by step, for a batch;
* :func:`beam_search_steps` - beam search over any next-token scorer (a function of the
  prefixes), so it can be tested against an exhaustive search on a table;
* :func:`beam_search` - beam search of a :class:`~llmwidgets.seq2seq.base.Seq2Seq` for one
  source (width 1 is greedy decoding, token for token).

Length normalisation. A sum of log-probabilities only falls as a hypothesis grows, so
beam search by raw score favours short outputs: a shorter wrong translation (一千五 for
一千零五十) can beat the right one. The finished hypotheses are therefore ranked by
``log p(Y) / lp(Y)`` with GNMT's length penalty (Wu et al. 2016, "Google's Neural Machine
Translation System", arXiv:1609.08144, section 7)::

    lp(Y) = ((5 + |Y|) / 6) ** alpha        # |Y|: tokens generated, <eos> included

``alpha = 0`` is the raw score; :data:`LENGTH_PENALTY` = 0.6 (the value used with this
formula by Tensor2Tensor and T5) is the default of :func:`beam_search` and
:func:`~llmwidgets.seq2seq.translation.translate`. As in GNMT and Hugging Face's
``generate``, the penalty changes the final ranking only, not which prefixes the search
keeps. :func:`beam_search_steps`, the plain algorithm that notebook 5's exercise
rebuilds, keeps the raw score by default.

The models run in eval mode under ``torch.no_grad()`` and their modes are restored.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from llmwidgets.core.validate import check_index, check_int, check_real
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.seq2seq.base import Seq2Seq

__all__ = ["LENGTH_PENALTY", "beam_search", "beam_search_steps", "gnmt_penalty", "greedy_decode"]

#: The default alpha of GNMT's length penalty in :func:`beam_search` and ``translate``.
LENGTH_PENALTY = 0.6


def gnmt_penalty(length: int, alpha: float) -> float:
    """GNMT's ``lp = ((5 + length) / 6) ** alpha``: 1 for one token or ``alpha = 0``.

    Args:
        length: the tokens of a hypothesis, ``<eos>`` included (>= 0).
        alpha: the strength; 0 leaves scores raw, larger values favour longer outputs.

    Returns:
        The divisor of the hypothesis's log-probability.
    """
    length = check_int("length", length, 0)
    return ((5 + length) / 6) ** check_real("alpha", alpha)


def _check_special_ids(model: Seq2Seq, bos: int, eos: int) -> None:
    """``bos`` and ``eos`` are ids of the model's target vocabulary."""
    if not callable(getattr(model, "encode", None)) or not callable(getattr(model, "decode", None)):
        raise ValueError(f"model must be a Seq2Seq (encode and decode), got {type(model).__name__}")
    size = getattr(model, "tgt_vocab_size", None)
    for name, value in (("bos", bos), ("eos", eos)):
        if size is None:
            check_int(name, value, 0)
        else:
            check_index(name, value, size, "tokens", owner="the model's target vocabulary")


def greedy_decode(model: Seq2Seq, src: Tensor, bos: int, eos: int, max_len: int) -> list[list[int]]:
    """The most probable next token, step by step, for a batch ``src`` (B, S).

    Args:
        model: a :class:`~llmwidgets.seq2seq.base.Seq2Seq`.
        src: right-padded source ids (B, S) (checked by ``model.encode``).
        bos, eos: the start and end ids of the target vocabulary.
        max_len: the most tokens generated per row (``<eos>`` included), >= 1.

    Returns:
        B lists of ids, without ``<bos>`` and cut before the first ``<eos>``.
    """
    max_len = check_int("max_len", max_len, 1)
    _check_special_ids(model, bos, eos)
    with eval_mode(model):
        src = src.to(model_device(model)) if isinstance(src, Tensor) else src
        memory = model.encode(src)
        ys = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            logp = model.decode(memory, ys)[:, -1].float().log_softmax(dim=-1)
            nxt = logp.topk(1, dim=-1).indices[:, 0]  # topk as in beam_search: same ties
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == eos
            if done.all():
                break
    out = []
    for row in ys[:, 1:].tolist():
        out.append(row[: row.index(eos)] if eos in row else row)
    return out


def beam_search_steps(
    step: Callable[[Tensor], Tensor], bos: int, eos: int, beam_width: int, max_len: int,
    length_penalty: float = 0.0,
) -> list[tuple[list[int], float]]:  # fmt: skip
    """Beam search over any next-token scorer.

    Args:
        step: prefixes (n, t) LongTensor starting with ``bos`` -> log-probs (n, V).
        bos, eos: the start and end ids.
        beam_width: k, the hypotheses kept after every step (k = 1 is greedy decoding).
        max_len: the most tokens generated (``<eos>`` included).
        length_penalty: alpha of GNMT's penalty in the final ranking, ``log p / lp``
            with ``lp = ((5 + len) / 6) ** alpha``; 0 (the default here) ranks by log p.

    Returns:
        Up to k ``(ids, log-prob)`` pairs, best first by ``log-prob / lp``; the log-prob
        is the raw sum; ids exclude ``<bos>`` / ``<eos>``.
        Finished hypotheses stay in the beam and compete with the unfinished ones; the
        search stops when all k are finished (or at ``max_len``).
    """
    k = check_int("beam_width", beam_width, 1)
    max_len = check_int("max_len", max_len, 1)
    alpha = check_real("length_penalty", length_penalty)
    beam: list[tuple[list[int], float, bool]] = [([], 0.0, False)]  # (ids, log-prob, done)
    for _ in range(max_len):
        alive = [h for h in beam if not h[2]]
        if not alive:
            break
        logp = step(torch.tensor([[bos, *h[0]] for h in alive]))
        top_lp, top_tok = logp.topk(min(k, logp.shape[-1]), dim=-1)
        candidates = [h for h in beam if h[2]]
        for h, lps, toks in zip(alive, top_lp.tolist(), top_tok.tolist(), strict=True):
            for lp, tok in zip(lps, toks, strict=True):
                ended = tok == eos
                candidates.append((h[0] if ended else [*h[0], tok], h[1] + lp, ended))
        beam = sorted(candidates, key=lambda h: -h[1])[:k]  # stable: ties keep their order

    def rank(h: tuple[list[int], float, bool]) -> float:
        return h[1] / gnmt_penalty(len(h[0]) + h[2], alpha)  # <eos> counts as a token

    return [(h[0], h[1]) for h in sorted(beam, key=lambda h: -rank(h))]


def beam_search(
    model: Seq2Seq, src: Tensor, bos: int, eos: int, beam_width: int, max_len: int,
    length_penalty: float = LENGTH_PENALTY,
) -> list[tuple[list[int], float]]:  # fmt: skip
    """Beam search of width k for one source, length-normalised by default.

    Args:
        model: a :class:`~llmwidgets.seq2seq.base.Seq2Seq`.
        src: one source, (S,) or (1, S).
        bos, eos, beam_width, max_len: as in :func:`beam_search_steps`.
        length_penalty: GNMT's alpha (default :data:`LENGTH_PENALTY`; 0 ranks by log p).

    Returns:
        See :func:`beam_search_steps`.
    """
    _check_special_ids(model, bos, eos)
    if not isinstance(src, Tensor):
        raise ValueError(f"src must be a tensor of token ids, got {type(src).__name__}")
    src = src[None] if src.dim() == 1 else src
    if src.dim() != 2 or src.shape[0] != 1:
        raise ValueError(f"beam_search translates one source at a time, got {tuple(src.shape)}")
    with eval_mode(model):
        src = src.to(model_device(model))
        memory = model.encode(src)

        def step(prefixes: Tensor) -> Tensor:
            n = prefixes.shape[0]
            mem = {key: v.expand(n, *v.shape[1:]) for key, v in memory.items()}
            logits = model.decode(mem, prefixes.to(src.device))[:, -1]
            return logits.float().log_softmax(dim=-1).cpu()

        return beam_search_steps(step, bos, eos, beam_width, max_len, length_penalty)
