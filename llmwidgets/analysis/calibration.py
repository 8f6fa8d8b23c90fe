"""Calibration: is a model's confidence the probability that it is right?

A model is *calibrated* when, of all the answers it gives with confidence 0.8, 80% are
right. Guo et al. (2017) measure it with a **reliability diagram** - answers grouped in M
equal-width bins of confidence, ``B_m = ((m-1)/M, m/M]``, the accuracy of each bin against
its mean confidence - and the **expected calibration error**::

    ECE = sum over bins of |B_m| / n · |accuracy(B_m) - confidence(B_m)|

For chapter 5's translator a translation's confidence is the probability the model gives
to the whole output it chose: the product of the chosen tokens' probabilities, ``<eos>``
included (:func:`translation_confidence`; ``per_token=True`` takes their geometric mean).
Inside its training range the translator is right and sure; outside it, it can be wrong
and just as sure - a small, measurable picture of hallucination.

* :func:`translation_confidence` - greedy translations, their confidences and correctness;
* :func:`reliability` - the bins of a reliability diagram and the ECE
  (:class:`Reliability`); :func:`expected_calibration_error` - the ECE alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from llmwidgets.core.validate import check_bool, check_int
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.seq2seq.base import Seq2Seq
from llmwidgets.seq2seq.decoding import greedy_decode

__all__ = [
    "Reliability",
    "expected_calibration_error",
    "reliability",
    "translation_confidence",
]


@dataclass(frozen=True)
class Reliability:
    """The bins of a reliability diagram (M equal-width bins of confidence)."""

    edges: Tensor  # (M + 1,) float64: 0, 1/M, ..., 1; bin m is (edges[m], edges[m+1]]
    counts: Tensor  # (M,) int64: answers in each bin
    confidence: Tensor  # (M,) float64: mean confidence of each bin (NaN when empty)
    accuracy: Tensor  # (M,) float64: share of right answers in each bin (NaN when empty)
    ece: float  # expected calibration error, in [0, 1]


def _as_pairs(confidences: Any, correct: Any) -> tuple[Tensor, Tensor]:
    conf = torch.as_tensor(confidences, dtype=torch.float64).flatten()
    right = torch.as_tensor(correct).flatten()
    if conf.numel() == 0 or conf.shape != right.shape:
        raise ValueError(
            f"confidences ({conf.numel()}) and correct ({right.numel()}) must be as many, >= 1"
        )
    if conf.isnan().any() or (conf < 0).any() or (conf > 1).any():
        raise ValueError("confidences must be probabilities in [0, 1]")
    if right.dtype != torch.bool and not ((right == 0) | (right == 1)).all():
        raise ValueError("correct must hold booleans (or 0 and 1)")
    return conf, right.to(torch.float64)


def reliability(confidences: Any, correct: Any, n_bins: int = 10) -> Reliability:
    """Group answers by confidence; accuracy and mean confidence of each bin, and the ECE.

    Args:
        confidences: the model's confidence in each answer, in [0, 1].
        correct: whether each answer was right (bools or 0/1).
        n_bins: M, equal-width bins; confidence 0 goes to the first.

    Returns:
        A :class:`Reliability`.
    """
    conf, right = _as_pairs(confidences, correct)
    m = check_int("n_bins", n_bins, 1)
    edges = torch.arange(m + 1, dtype=torch.float64) / m
    which = torch.bucketize(conf, edges[1:-1], right=False)  # (e[i-1], e[i]] -> i
    counts = torch.bincount(which, minlength=m)
    sum_conf = torch.zeros(m, dtype=torch.float64).index_add_(0, which, conf)
    sum_right = torch.zeros(m, dtype=torch.float64).index_add_(0, which, right)
    n = counts.to(torch.float64)
    mean_conf, accuracy = sum_conf / n, sum_right / n  # NaN for empty bins (0 / 0)
    ece = float((sum_right - sum_conf).abs().sum() / conf.numel())  # = sum n_m/n |acc - conf|
    return Reliability(edges, counts, mean_conf, accuracy, ece)


def expected_calibration_error(confidences: Any, correct: Any, n_bins: int = 10) -> float:
    """The ECE of Guo et al. (2017): :func:`reliability` ``(...).ece``.

    Args:
        confidences, correct, n_bins: as in :func:`reliability`.

    Returns:
        A number in [0, 1]; 0 for a perfectly calibrated model (at this binning).
    """
    return reliability(confidences, correct, n_bins).ece


def translation_confidence(
    model: Seq2Seq, task: Any, sources: Sequence[str], references: Sequence[str],
    per_token: bool = False, max_len: int | None = None,
) -> tuple[Tensor, Tensor, list[str]]:  # fmt: skip
    """Translate greedily; the confidence of each translation and whether it is right.

    Args:
        model: a trained :class:`~llmwidgets.seq2seq.base.Seq2Seq`.
        task: its :class:`~llmwidgets.seq2seq.number_task.NumberTask` (``encode_source``,
            ``tgt_vocab``, ``decode_target``, ``max_tgt_len``).
        sources: texts in the source language (numbers of the task).
        references: their right translations.
        per_token: the geometric mean of the chosen tokens' probabilities instead of
            their product.
        max_len: the most target tokens; ``None`` = the task's longest target + 1.

    Returns:
        ``(confidence, correct, translations)``: ``(N,)`` float64 in [0, 1], ``(N,)``
        bool, and the N translated texts.
    """
    if not isinstance(model, Seq2Seq):
        raise ValueError(f"model must be a Seq2Seq, got {type(model).__name__}")
    if len(sources) != len(references) or not sources:
        raise ValueError(f"{len(sources)} sources but {len(references)} references")
    check_bool("per_token", per_token)
    max_len = check_int("max_len", task.max_tgt_len + 1 if max_len is None else max_len, 1)
    bos, eos = task.tgt_vocab.bos, task.tgt_vocab.eos
    ids = [task.encode_source(s) for s in sources]
    src = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)  # right-padded: <pad> = 0
    for i, row in enumerate(ids):
        src[i, : len(row)] = torch.tensor(row)
    hyps = greedy_decode(model, src, bos, eos, max_len)
    # The chosen tokens, <eos> included when it was chosen (not when max_len cut the row).
    chosen = [h + [eos] if len(h) < max_len else h for h in hyps]
    width = max(map(len, chosen))
    tgt_in = torch.zeros(len(ids), width, dtype=torch.long)
    picked = torch.full((len(ids), width), -1, dtype=torch.long)  # -1: no token there
    for i, row in enumerate(chosen):
        tgt_in[i, : len(row)] = torch.tensor([bos, *row[:-1]])
        picked[i, : len(row)] = torch.tensor(row)
    with eval_mode(model):
        device = model_device(model)
        logp = model(src.to(device), tgt_in.to(device)).double().log_softmax(-1).cpu()
    keep = picked >= 0
    token_logp = logp.gather(-1, picked.clamp(min=0)[..., None])[..., 0] * keep  # (N, W)
    total = token_logp.sum(-1)
    confidence = (total / keep.sum(-1) if per_token else total).exp()
    texts = [task.decode_target(h) for h in hyps]
    correct = torch.tensor([t == r for t, r in zip(texts, references, strict=True)])
    return confidence, correct, texts
