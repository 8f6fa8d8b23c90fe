"""Text: tokenizers (characters, sentencepiece BPE/unigram) and token statistics.

* :mod:`~llmwidgets.text.tokenizers` - ``CharTokenizer``, ``SentencePieceTokenizer``,
  ``train_sentencepiece`` (newlines kept), ``tokens_per_char``.
"""

from llmwidgets.text.tokenizers import (
    CharTokenizer,
    SentencePieceTokenizer,
    tokens_per_char,
    train_sentencepiece,
)

__all__ = ["CharTokenizer", "SentencePieceTokenizer", "tokens_per_char", "train_sentencepiece"]
