"""Tiny models shared by the tests of llmwidgets.apps."""

from __future__ import annotations

import torch
from torch import nn

from llmwidgets.nn.gpt import GPT, GPTConfig


class Config:
    """What the apps read from a model's config."""

    def __init__(self, block_size: int, vocab_size: int) -> None:
        self.block_size, self.vocab_size = block_size, vocab_size


class Counter(nn.Module):
    """A fake language model: after token i it is sure the next is (i + 1) mod V."""

    def __init__(self, vocab_size: int, block_size: int = 16) -> None:
        super().__init__()
        self.config = Config(block_size, vocab_size)
        self.dummy = nn.Parameter(torch.zeros(()))  # so the model has a device
        self.calls = 0

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        nxt = (idx + 1) % self.config.vocab_size  # (B, T)
        return torch.nn.functional.one_hot(nxt, self.config.vocab_size).float() * 10 + self.dummy


def tiny_gpt(vocab_size: int, block_size: int = 32, seed: int = 0, n_embd: int = 16) -> GPT:
    """A 1-layer GPT, seeded."""
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=2,
                       n_embd=n_embd, dropout=0.0)  # fmt: skip
    return GPT(config)
