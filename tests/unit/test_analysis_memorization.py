"""llmwidgets.analysis.memorization: canaries, exposure and regurgitation, on rigged models."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from llmwidgets.analysis import memorization as mem
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.text.tokenizers import CharTokenizer

TOK = CharTokenizer("abcdefghijklmnopqrstuvwxyz 0123456789\n")


class Bigram(nn.Module):
    """Logits of the next token from the current one: a table (V, V)."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table[idx]  # (B, T, V)


def follows(text: str, strength: float = 10.0) -> Bigram:
    """A bigram model that has memorised ``text``: each character predicts the next one."""
    v = TOK.vocab_size
    table = torch.zeros(v, v)
    ids = TOK.encode(text)
    for a, b in zip(ids, ids[1:], strict=False):
        table[a, b] = strength
    return Bigram(table)


def test_make_canaries_is_seeded_and_distinct():
    canaries = mem.make_canaries(4, seed=3)
    assert canaries == mem.make_canaries(4, seed=3) != mem.make_canaries(4, seed=4)
    assert len(set(canaries)) == 4
    assert all(c.startswith("my pin is ") and c[10:].isdigit() and len(c) == 16 for c in canaries)
    assert mem.make_canaries(2, prefix="", length=2, alphabet="ab") in (
        [a, b] for a in ("aa", "ab", "ba", "bb") for b in ("aa", "ab", "ba", "bb") if a != b
    )


def test_insert_canaries_counts_and_keeps_every_line():
    text = "\n".join(f"line {i}" for i in range(50))
    out = mem.insert_canaries(text, ["my pin is 1", "my pin is 2"], [1, 4], seed=0)
    lines = out.split("\n")
    assert lines.count("my pin is 1") == 1 and lines.count("my pin is 2") == 4
    assert [x for x in lines if x.startswith("line")] == text.split("\n")
    assert len(lines) == 55
    assert out == mem.insert_canaries(text, ["my pin is 1", "my pin is 2"], [1, 4], seed=0)
    head = mem.insert_canaries(text, ["pin"], [20], within=0.1).split("\n")
    assert head.count("pin") == 20 and head.index("line 5") > max(
        i for i, x in enumerate(head) if x == "pin"
    )  # every copy before line 5 of 50


def test_sequence_log_probs_by_hand():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=16, n_layer=1, n_head=2,
                          n_embd=16))  # fmt: skip
    texts = ["pin 12", "pin 34"]
    got = mem.sequence_log_probs(model, TOK, texts, last=2, batch_size=1)
    for text, value in zip(texts, got.tolist(), strict=True):
        ids = torch.tensor([TOK.encode(text)])
        logp = model(ids[:, :-1]).double().log_softmax(-1)[0]
        want = sum(logp[t - 1, ids[0, t]].item() for t in (4, 5))  # the last 2 tokens
        assert value == pytest.approx(want, abs=1e-9)


def test_exposure_of_a_memorised_and_of_an_ignorant_model():
    canary = "my pin is 4729"
    rank, bits, size = mem.exposure(follows(canary), TOK, canary, 4, candidates=255)
    assert (rank, size) == (1, 256) and bits == pytest.approx(8.0)  # log2 256 - log2 1
    uniform = Bigram(torch.zeros(TOK.vocab_size, TOK.vocab_size))
    rank, bits, size = mem.exposure(uniform, TOK, canary, 4, candidates=255)
    assert rank == 256 and bits == 0.0  # every candidate ties: ties count against it
    with pytest.raises(ValueError, match="only 99 other secrets exist"):
        mem.exposure(uniform, TOK, canary, 2, candidates=100)


def test_verbatim_rate_under_greedy_decoding():
    model = follows("abcdefg")
    rate, matched = mem.verbatim_rate(model, TOK, ["ab", "cd", "bc"], ["cde", "ef", "dx"])
    assert matched == [True, True, False] and rate == pytest.approx(2 / 3)
    assert math.isclose(mem.verbatim_rate(model, TOK, ["a"], ["bcdefg"])[0], 1.0)
