"""Chapter 5: translating number words between English and Chinese with encoder-decoders.

* :mod:`~llmwidgets.seq2seq.number_task` - the task: number words, splits, vocabularies,
  batches, ``translate`` and the scores;
* :mod:`~llmwidgets.seq2seq.rnn` - GRU encoder-decoders (plain and with Bahdanau
  attention), greedy decoding and beam search;
* :mod:`~llmwidgets.seq2seq.transformer` - a Transformer encoder-decoder from the GPT's pieces.
"""

from llmwidgets.seq2seq.number_task import (
    NumberTask,
    Seq2SeqBatcher,
    number_to_chinese,
    number_to_english,
    score_translations,
    translate,
)
from llmwidgets.seq2seq.rnn import (
    AttentionGRUSeq2Seq,
    GRUSeq2Seq,
    Seq2Seq,
    beam_search,
    beam_search_steps,
    greedy_decode,
)
from llmwidgets.seq2seq.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig

__all__ = [
    "AttentionGRUSeq2Seq",
    "GRUSeq2Seq",
    "NumberTask",
    "Seq2Seq",
    "Seq2SeqBatcher",
    "TransformerSeq2Seq",
    "TransformerSeq2SeqConfig",
    "beam_search",
    "beam_search_steps",
    "greedy_decode",
    "number_to_chinese",
    "number_to_english",
    "score_translations",
    "translate",
]
