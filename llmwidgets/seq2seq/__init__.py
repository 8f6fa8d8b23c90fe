"""Chapter 5: translating number words between English and Chinese with encoder-decoders.

The task:

* :mod:`~llmwidgets.seq2seq.number_words` - numbers 0..10^8 in English words and Chinese
  numerals (with 万 and 亿), and :mod:`~llmwidgets.seq2seq.number_parser`, which reads
  exactly those forms back (a parser of the task's grammar);
* :mod:`~llmwidgets.seq2seq.number_splits` - held-out ranges, samples even over digit
  counts;
* :mod:`~llmwidgets.seq2seq.number_task` - the task over a range (0..9999 by default),
  vocabularies, padded datasets, batches;
* :mod:`~llmwidgets.seq2seq.translation` - ``translate``, the scores, and accuracy by
  input length.

The models and decoding:

* :mod:`~llmwidgets.seq2seq.base` - the ``Seq2Seq`` contract (``encode`` / ``decode``,
  with the ids checked);
* :mod:`~llmwidgets.seq2seq.rnn` - GRU encoder-decoders (plain and with Bahdanau attention);
* :mod:`~llmwidgets.seq2seq.transformer` - a Transformer encoder-decoder from the GPT's pieces;
* :mod:`~llmwidgets.seq2seq.decoding` - greedy decoding and beam search.
"""

from llmwidgets.seq2seq.base import Seq2Seq
from llmwidgets.seq2seq.decoding import beam_search, beam_search_steps, greedy_decode
from llmwidgets.seq2seq.number_parser import chinese_to_number, english_to_number, parse_number
from llmwidgets.seq2seq.number_splits import make_splits
from llmwidgets.seq2seq.number_task import NumberTask, Seq2SeqBatcher, make_pairs
from llmwidgets.seq2seq.number_words import number_to_chinese, number_to_english
from llmwidgets.seq2seq.rnn import AdditiveAttention, AttentionGRUSeq2Seq, GRUSeq2Seq
from llmwidgets.seq2seq.transformer import (
    DecoderBlock,
    EncoderBlock,
    MultiHeadAttention,
    TransformerSeq2Seq,
    TransformerSeq2SeqConfig,
)
from llmwidgets.seq2seq.translation import (
    LengthAccuracy,
    accuracy_by_length,
    score_translations,
    translate,
    translate_split,
)

__all__ = [
    "AdditiveAttention",
    "AttentionGRUSeq2Seq",
    "DecoderBlock",
    "LengthAccuracy",
    "EncoderBlock",
    "GRUSeq2Seq",
    "MultiHeadAttention",
    "NumberTask",
    "Seq2Seq",
    "Seq2SeqBatcher",
    "TransformerSeq2Seq",
    "TransformerSeq2SeqConfig",
    "accuracy_by_length",
    "beam_search",
    "beam_search_steps",
    "chinese_to_number",
    "english_to_number",
    "greedy_decode",
    "make_pairs",
    "make_splits",
    "number_to_chinese",
    "number_to_english",
    "parse_number",
    "score_translations",
    "translate",
    "translate_split",
]
