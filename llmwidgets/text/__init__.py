"""Text: tokenizers (characters, sentencepiece BPE/unigram) and token statistics.

* :mod:`~llmwidgets.text.tokenizers` - ``CharTokenizer``, ``SentencePieceTokenizer``,
  ``tokens_per_char``, and the ``SurfaceTokenizer`` protocol (``token_surfaces``);
* :mod:`~llmwidgets.text.sentencepiece_training` - ``train_sentencepiece``: a BPE or
  unigram model trained in memory, newlines kept;
* :mod:`~llmwidgets.text.spans` - ``token_spans``: the pieces of a text as a tokenizer
  cuts it, with their ids (any tokenizer: the book's, tiktoken, Hugging Face, a callable);
* :mod:`~llmwidgets.text.pieces` - the helpers that turn pieces (bytes, ``▁the``,
  ``Ġthe``) back into the text they cover.
"""

from llmwidgets.text.sentencepiece_training import train_sentencepiece
from llmwidgets.text.spans import token_spans
from llmwidgets.text.tokenizers import (
    CharTokenizer,
    SentencePieceTokenizer,
    SurfaceTokenizer,
    tokens_per_char,
)

__all__ = [
    "CharTokenizer",
    "SentencePieceTokenizer",
    "SurfaceTokenizer",
    "token_spans",
    "tokens_per_char",
    "train_sentencepiece",
]
