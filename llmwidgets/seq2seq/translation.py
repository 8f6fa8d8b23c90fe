"""Using a trained encoder-decoder on the number task: :func:`translate` and the scores.

* :func:`translate` - one text through :meth:`NumberTask.encode_source` (which refuses,
  with the reason, anything that is not a number of the task), greedy decoding or beam
  search, and back to text;
* :func:`score_translations` - exact match, chrF and BLEU (sacrebleu).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llmwidgets.core.validate import check_choice, check_int, check_optional_int
from llmwidgets.seq2seq.base import Seq2Seq
from llmwidgets.seq2seq.decoding import beam_search, greedy_decode
from llmwidgets.seq2seq.number_task import NumberTask
from llmwidgets.seq2seq.number_words import LANGS

__all__ = ["score_translations", "translate"]


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
    model: Seq2Seq, task: NumberTask, text: str, beam_width: int = 1, max_len: int | None = None
) -> str:
    """Translate one text: greedy decoding for ``beam_width=1``, else beam search.

    Args:
        model: a :class:`~llmwidgets.seq2seq.base.Seq2Seq` built for ``task``.
        task: the :class:`NumberTask` (its direction and vocabularies).
        text: a number of the task in the source language.
        beam_width: 1 for greedy decoding, k > 1 for beam search.
        max_len: the most target tokens; ``None`` = the task's longest target + 1.

    Returns:
        The translation.

    Raises:
        ValueError: for input that is not a number of the task (empty, unknown
            characters or words, too long, outside the grammar or the range 0..9999;
            see :meth:`NumberTask.encode_source`), a model built for other vocabularies,
            or bad settings (``max_len=0`` included).
    """
    check_model_fits_task(model, task)
    beam_width = check_int("beam_width", beam_width, 1)
    max_len = check_optional_int("max_len", max_len, 1)
    src = torch.tensor([task.encode_source(text)])
    max_len = task.max_tgt_len + 1 if max_len is None else max_len
    v = task.tgt_vocab
    if beam_width == 1:
        ids = greedy_decode(model, src, v.bos, v.eos, max_len)[0]
    else:
        ids = beam_search(model, src[0], v.bos, v.eos, beam_width, max_len)[0][0]
    return task.decode_target(ids)


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
