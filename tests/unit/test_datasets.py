"""text_data: the corpus -> tokenizer -> ids -> split -> batchers chain."""

import pytest
import torch

from llmwidgets.core.data import load_text
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.datasets import TextData, text_data

TEXT = "the cat sat on the mat.\n" * 20  # 480 characters


def test_a_text_chain_by_hand_and_in_one_call():
    data = text_data(TEXT, block_size=8, batch_size=4)
    tok = CharTokenizer(TEXT)
    ids = torch.tensor(tok.encode(TEXT))
    assert data.name is None and data.text == TEXT and data.vocab_size == tok.vocab_size == 12
    assert torch.equal(data.train_ids, ids[:432]) and torch.equal(data.val_ids, ids[432:])
    assert data.train_ids.dtype == torch.long
    by_hand = TokenBatcher(ids[:432], 8, 4, seed=1), TokenBatcher(ids[432:], 8, 4, seed=2)
    for ours, theirs in zip((data.train_batcher, data.val_batcher), by_hand, strict=True):
        assert torch.equal(ours.get_batch()[0], theirs.get_batch()[0])
    assert repr(data).startswith("TextData(a text of 480 characters, vocab_size=12, train=432")


def test_a_corpus_keeps_its_whole_vocabulary_under_a_limit():
    data = text_data("tinyshakespeare", block_size=16, batch_size=2, limit=2000)
    assert data.name == "tinyshakespeare" and data.vocab_size == 65  # all of the text's
    assert data.text == load_text("tinyshakespeare")[:2000]
    assert len(data.train_ids) == 1800 and len(data.val_ids) == 200
    assert data.tokenizer.decode(data.train_ids[:9]) == "First Cit"


def test_another_tokenizer_and_no_validation():
    class Bytes:
        vocab_size = 256

        def encode(self, text):
            return list(text.encode("utf-8"))

    data = text_data(
        "学而时习之，不亦说乎？" * 10, Bytes(), block_size=4, batch_size=2, val_fraction=0
    )
    assert data.vocab_size == 256 and len(data.train_ids) == 330 and data.val_batcher is None
    assert isinstance(data, TextData) and len(data.val_ids) == 0


@pytest.mark.parametrize(
    "args, kwargs, words",
    [
        (("tinyshakespear",), {}, r"'tinyshakespear' is not a known corpus \(\['lunyu'"),
        (("",), {}, "source must not be empty"),
        ((TEXT, "bpe"), {}, "tokenizer must be 'char' or a tokenizer object, got 'bpe'"),
        ((TEXT, 3), {}, "tokenizer must be 'char' or have encode"),
        ((TEXT,), {"block_size": 0}, "block_size must be an int >= 1, got 0"),
        ((TEXT,), {"val_fraction": 1.0}, r"val_fraction must be .* in \[0, 1\), got 1.0"),
        ((TEXT,), {"limit": 0}, "limit must be an int >= 1, got 0"),
        ((TEXT,), {"block_size": 60}, r"the validation part has 48 tokens \(of 480\), fewer than "
                                      r"block_size \+ 1 = 61"),
        ((TEXT,), {"limit": 5}, r"the training part has 5 tokens \(of 5\)"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_value(args, kwargs, words):
    settings = {"block_size": 8, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=words):
        text_data(*args, **settings)
