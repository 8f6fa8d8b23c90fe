"""A Transformer encoder-decoder built from the book's GPT pieces (:mod:`llmwidgets.nn.gpt`).

Reused as they are: :class:`~llmwidgets.nn.gpt.Block`'s LayerNorms and :class:`MLP`, GPT's
:class:`CausalSelfAttention` (the decoder's self-attention: right-padded targets need no
extra mask, since a position never sees the padding after it), the attention arithmetic
of :mod:`llmwidgets.nn.multihead`, GPT-2's initialisation, and the encoder's pieces of
:mod:`llmwidgets.nn.encoder` (:class:`MultiHeadAttention` - cross- or bidirectional
attention with a key-padding mask - and :class:`EncoderBlock`, imported from there and
re-exported here). New here:

* :class:`DecoderBlock` - a :class:`Block` with cross-attention between its causal
  self-attention and its MLP (pre-LayerNorm, as in GPT-2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from llmwidgets.core.validate import check_int
from llmwidgets.nn.encoder import EncoderBlock, MultiHeadAttention
from llmwidgets.nn.gpt import Block, GPTConfig, init_gpt2_weights
from llmwidgets.seq2seq.base import Memory, Seq2Seq

__all__ = [
    "DecoderBlock",
    "EncoderBlock",
    "MultiHeadAttention",
    "TransformerSeq2Seq",
    "TransformerSeq2SeqConfig",
]


@dataclass(frozen=True)
class TransformerSeq2SeqConfig:
    """Sizes. Frozen, like :class:`~llmwidgets.GPTConfig`, which checks the block sizes."""

    src_vocab: int  # source vocabulary size (ids 0..src_vocab - 1; 0 is <pad>)
    tgt_vocab: int  # target vocabulary size; the output head is tied to its embedding
    block_size: int = 32  # the longest source and target the position embeddings cover
    n_layer: int = 2  # encoder blocks, and as many decoder blocks
    n_head: int = 4  # attention heads in every attention layer
    n_embd: int = 64  # width C of both stacks
    dropout: float = 0.0  # as in GPTConfig
    bias: bool = True  # biases in Linear and LayerNorm layers

    def __post_init__(self) -> None:
        for name in ("src_vocab", "tgt_vocab"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1))
        self.gpt()  # checks the other sizes, with GPTConfig's messages

    def gpt(self) -> GPTConfig:
        """The shared block sizes as a :class:`~llmwidgets.GPTConfig` (vocabulary: target)."""
        return GPTConfig(vocab_size=self.tgt_vocab, block_size=self.block_size,
                         n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd,
                         dropout=self.dropout, bias=self.bias)  # fmt: skip


class DecoderBlock(Block):
    """GPT's block (causal self-attention, MLP) with cross-attention in between."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.ln_x = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.cross = MultiHeadAttention(config)

    def forward(  # type: ignore[override]
        self, x: Tensor, memory: Tensor, key_mask: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        x = x + self.attn(self.ln_1(x))  # the target so far (causal)
        out = self.cross(self.ln_x(x), memory, key_mask, return_attention)  # the source
        out, att = out if return_attention else (out, None)
        x = x + out
        x = x + self.mlp(self.ln_2(x))
        return (x, att) if return_attention else x


class TransformerSeq2Seq(Seq2Seq):
    """Encoder and decoder stacks; the output head is tied to the target embedding."""

    def __init__(self, config: TransformerSeq2SeqConfig) -> None:
        if not isinstance(config, TransformerSeq2SeqConfig):
            raise ValueError(
                f"config must be a TransformerSeq2SeqConfig, got {type(config).__name__}"
            )
        super().__init__(config.src_vocab, config.tgt_vocab, config.block_size)
        self.config = config
        g = config.gpt()
        C = g.n_embd
        self.src_wte = nn.Embedding(config.src_vocab, C)
        self.tgt_wte = nn.Embedding(config.tgt_vocab, C)
        self.wpe = nn.Embedding(g.block_size, C)  # positions, shared by both sides
        self.drop = nn.Dropout(g.dropout)
        self.encoder = nn.ModuleList([EncoderBlock(g) for _ in range(g.n_layer)])
        self.ln_enc = nn.LayerNorm(C, bias=g.bias)
        self.decoder = nn.ModuleList([DecoderBlock(g) for _ in range(g.n_layer)])
        self.ln_f = nn.LayerNorm(C, bias=g.bias)
        self.lm_head = nn.Linear(C, config.tgt_vocab, bias=False)
        self.lm_head.weight = self.tgt_wte.weight
        init_gpt2_weights(self, g.n_layer)  # GPT-2's N(0, 0.02), and the scaled projections

    def _embed(self, wte: nn.Embedding, ids: Tensor) -> Tensor:
        """Token + position embeddings (B, T, C) of ids already checked by the base class."""
        return self.drop(wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device)))

    def _encode(self, src: Tensor, mask: Tensor) -> Memory:
        x = self._embed(self.src_wte, src)
        for block in self.encoder:
            x = block(x, mask)
        return {"outputs": self.ln_enc(x), "mask": mask}

    def _decode(
        self, memory: Memory, tgt_in: Tensor, return_attention: bool
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        x = self._embed(self.tgt_wte, tgt_in)
        attentions = []
        for block in self.decoder:
            x = block(x, memory["outputs"], memory["mask"], return_attention)
            if return_attention:
                x, att = x
                attentions.append(att)
        logits = self.lm_head(self.ln_f(x))
        return (logits, attentions) if return_attention else logits
