"""Using a trained encoder-decoder on the number task: :func:`translate` and the scores.

* :func:`translate` - one text through :meth:`NumberTask.encode_source` (which refuses,
  with the reason, anything that is not a number of the task), greedy decoding or beam
  search, and back to text;
* :func:`translate_split` - a whole split, in batches (greedy) or one by one (beam);
* :func:`score_translations` - exact match, chrF and BLEU (sacrebleu);
* :func:`accuracy_by_length` - exact match per number of digits or per source length,
  ready to plot: on 0..10^8 a GRU encoder-decoder without attention, which must squeeze
  the whole source into one vector, falls behind the attention models as inputs grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from llmwidgets.core.validate import check_choice, check_int, check_optional_int, check_real
from llmwidgets.seq2seq.base import Seq2Seq
from llmwidgets.seq2seq.decoding import LENGTH_PENALTY, beam_search, greedy_decode
from llmwidgets.seq2seq.number_splits import digit_count
from llmwidgets.seq2seq.number_task import NumberTask
from llmwidgets.seq2seq.number_words import LANGS, tokenize

__all__ = [
    "LengthAccuracy",
    "accuracy_by_length",
    "score_translations",
    "translate",
    "translate_split",
]


def check_model_fits_task(model: Seq2Seq, task: NumberTask) -> None:
    """Refuse a model whose vocabularies are not the task's (a model of another task).

    Args:
        model: a :class:`~llmwidgets.seq2seq.base.Seq2Seq`.
        task: the :class:`NumberTask` it should translate.

    Raises:
        ValueError: naming both sizes.
    """
    if not isinstance(task, NumberTask):
        raise ValueError(f"task must be a NumberTask, got {type(task).__name__}")
    if not isinstance(model, Seq2Seq):
        raise ValueError(f"model must be a Seq2Seq, got {type(model).__name__}")
    for side, name, ours, theirs in (
        ("source", "src_vocab", model.src_vocab_size, len(task.src_vocab)),
        ("target", "tgt_vocab", model.tgt_vocab_size, len(task.tgt_vocab)),
    ):
        if ours != theirs:
            raise ValueError(
                f"the model's {side} vocabulary has {ours} ids but the task's has {theirs}: "
                f"build the model for this task, with len(task.{name}) = {theirs}"
            )


def translate(
    model: Seq2Seq, task: NumberTask, text: str, beam_width: int = 1, max_len: int | None = None,
    length_penalty: float = LENGTH_PENALTY,
) -> str:  # fmt: skip
    """Translate one text: greedy decoding for ``beam_width=1``, else beam search.

    Args:
        model: a :class:`~llmwidgets.seq2seq.base.Seq2Seq` built for ``task``.
        task: the :class:`NumberTask` (its direction and vocabularies).
        text: a number of the task in the source language.
        beam_width: 1 for greedy decoding, k > 1 for beam search.
        max_len: the most target tokens; ``None`` = the task's longest target + 1.
        length_penalty: GNMT's alpha for beam search (see
            :mod:`~llmwidgets.seq2seq.decoding`; 0 ranks by raw log-probability).

    Returns:
        The translation.

    Raises:
        ValueError: for input that is not a number of the task (empty, unknown
            characters or words, too long, outside the grammar or the task's range;
            see :meth:`NumberTask.encode_source`), a model built for other vocabularies,
            or bad settings (``max_len=0`` included).
    """
    check_model_fits_task(model, task)
    beam_width = check_int("beam_width", beam_width, 1)
    max_len = check_optional_int("max_len", max_len, 1)
    alpha = check_real("length_penalty", length_penalty)
    src = torch.tensor([task.encode_source(text)])
    return _decode_rows(model, task, src, beam_width, max_len, alpha, 1)[0]


def _decode_rows(
    model: Seq2Seq, task: NumberTask, src: torch.Tensor, beam_width: int,
    max_len: int | None, alpha: float, batch_size: int,
) -> list[str]:  # fmt: skip
    """Translations of source rows (N, S): greedy in batches, or beam search row by row."""
    max_len = task.max_tgt_len + 1 if max_len is None else max_len
    v, out = task.tgt_vocab, []
    for start in range(0, src.shape[0], batch_size):
        rows = src[start : start + batch_size]
        if beam_width == 1:
            out += greedy_decode(model, rows, v.bos, v.eos, max_len)
        else:
            out += [beam_search(model, row, v.bos, v.eos, beam_width, max_len, alpha)[0][0]
                    for row in rows]  # fmt: skip
    return [task.decode_target(ids) for ids in out]


def translate_split(
    model: Seq2Seq, task: NumberTask, split: str = "test", beam_width: int = 1,
    max_len: int | None = None, length_penalty: float = LENGTH_PENALTY, batch_size: int = 256,
) -> list[str]:  # fmt: skip
    """Translate every source of a split, in the order of ``task.pairs(split)``.

    Args:
        model, task, beam_width, max_len, length_penalty: as in :func:`translate`.
        split: "train", "val" or "test".
        batch_size: sources per greedy batch (beam search takes them one at a time).

    Returns:
        The translations.
    """
    check_model_fits_task(model, task)
    check_choice("split", split, sorted(task.splits))
    beam_width = check_int("beam_width", beam_width, 1)
    max_len = check_optional_int("max_len", max_len, 1)
    alpha = check_real("length_penalty", length_penalty)
    batch_size = check_int("batch_size", batch_size, 1)
    src = task.dataset(split).src
    return _decode_rows(model, task, src, beam_width, max_len, alpha, batch_size)


@dataclass(frozen=True)
class LengthAccuracy:
    """Exact match per length, as :func:`accuracy_by_length` returns it (ready to plot:
    ``go.Scatter(x=r.lengths, y=r.accuracy)``)."""

    by: str  # "digits" (of the number) or "tokens" (of the source text)
    lengths: list[int]  # the lengths present in the split, ascending
    accuracy: list[float]  # exact match in % (0..100) of the numbers of each length
    count: list[int]  # how many numbers of the split have each length
    beam_width: int  # 1: greedy decoding; k > 1: beam search of width k

    @property
    def overall(self) -> float:
        """Exact match in % over the whole split."""
        right = sum(a * c for a, c in zip(self.accuracy, self.count, strict=True))
        return right / sum(self.count)


def accuracy_by_length(
    model: Seq2Seq, task: NumberTask, split: str = "test", by: str = "digits",
    beam_width: int = 1, length_penalty: float = LENGTH_PENALTY, batch_size: int = 256,
) -> LengthAccuracy:  # fmt: skip
    """Exact-match accuracy of a split per number of digits or per source length.

    Args:
        model: a :class:`~llmwidgets.seq2seq.base.Seq2Seq` built for ``task``.
        task: the :class:`NumberTask`; its test split holds numbers of 4 digits and more
            (shorter ones always train), so ``by="tokens"`` spans more lengths on 0..9999.
        split: "train", "val" or "test".
        by: "digits" (of the number) or "tokens" (of the source text).
        beam_width, length_penalty, batch_size: as in :func:`translate_split`.

    Returns:
        A :class:`LengthAccuracy`.
    """
    by = check_choice("by", by, ("digits", "tokens"))
    hyps = translate_split(model, task, split, beam_width, None, length_penalty, batch_size)
    pairs = task.pairs(split)
    if by == "digits":
        lengths = [digit_count(n) for n in task.splits[split]]
    else:
        lengths = [len(tokenize(s, task.src_lang)) for s, _ in pairs]
    right: dict[int, list[bool]] = {}
    for length, hyp, (_, ref) in zip(lengths, hyps, pairs, strict=True):
        right.setdefault(length, []).append(hyp == ref)
    keys = sorted(right)
    return LengthAccuracy(
        by=by,
        lengths=keys,
        accuracy=[100.0 * sum(right[k]) / len(right[k]) for k in keys],
        count=[len(right[k]) for k in keys],
        beam_width=beam_width,
    )


def score_translations(
    hypotheses: Sequence[str], references: Sequence[str], tgt_lang: str
) -> dict[str, float]:
    """Exact match (%), chrF and BLEU (sacrebleu; BLEU with its "zh" tokenizer for Chinese).

    Args:
        hypotheses: the model's translations.
        references: the right translations, as many.
        tgt_lang: "en" or "zh".

    Returns:
        ``{"exact_match": float, "chrF": float, "BLEU": float}``, all in 0..100.
    """
    import sacrebleu

    check_choice("tgt_lang", tgt_lang, LANGS)
    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    exact = (
        100.0 * sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(references)
    )
    tok = "zh" if tgt_lang == "zh" else "13a"
    bleu = sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize=tok)
    chrf = sacrebleu.corpus_chrf(list(hypotheses), [list(references)])
    return {"exact_match": exact, "chrF": chrf.score, "BLEU": bleu.score}
