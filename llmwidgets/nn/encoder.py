"""Bidirectional attention: the Transformer encoder's pieces, built from the GPT's.

GPT's attention is causal (position t sees 0..t). An encoder - chapter 5's translator, a
Vision Transformer over image patches (:mod:`llmwidgets.nn.vit`) - lets every position see
every other one, and masks only padding:

* :class:`MultiHeadAttention` - queries from one sequence, keys and values from another
  (cross-attention) or the same one (self-attention), with an optional key-padding mask
  and no causal mask;
* :class:`EncoderBlock` - GPT's :class:`~llmwidgets.nn.gpt.Block` (pre-LayerNorm, the same
  MLP and residuals) with that attention in place of the causal one.

The arithmetic of the heads is :mod:`llmwidgets.nn.multihead`, shared with the GPT. The
decoder's block (causal self-attention, then cross-attention) is chapter 5's own:
:class:`llmwidgets.seq2seq.transformer.DecoderBlock`.
"""

from __future__ import annotations

from torch import Tensor, nn

from llmwidgets.nn.gpt import Block, GPTConfig
from llmwidgets.nn.multihead import attend, merge_heads, split_heads

__all__ = ["EncoderBlock", "MultiHeadAttention"]


class MultiHeadAttention(nn.Module):
    """softmax(Q Kᵀ / √D) V per head, Q from ``x`` and K, V from ``memory``; masked keys get 0."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.q_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.kv_proj = nn.Linear(config.n_embd, 2 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        key_mask: Tensor | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``x`` (B, T, C), ``memory`` (B, S, C), ``key_mask`` (B, S) True = real (``None``:
        every key is real) -> (B, T, C); with ``return_attention`` also the weights
        (B, H, T, S)."""
        q = split_heads(self.q_proj(x), self.n_head)  # (B, H, T, D)
        k, v = (split_heads(t, self.n_head) for t in self.kv_proj(memory).split(self.n_embd, 2))
        p = self.dropout if self.training else 0.0  # k, v: (B, H, S, D)
        out = attend(q, k, v, key_mask=key_mask, dropout_p=p, return_weights=return_attention)
        y, att = out if return_attention else (out, None)  # (B, H, T, D), (B, H, T, S)
        y = self.resid_dropout(self.c_proj(merge_heads(y)))  # (B, T, C)
        return (y, att) if return_attention else y


class EncoderBlock(Block):
    """GPT's block with bidirectional self-attention (padding masked when a mask is given)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.attn = MultiHeadAttention(config)  # replaces the causal one

    def forward(  # type: ignore[override]
        self, x: Tensor, key_mask: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """(B, T, C) -> (B, T, C); with ``return_attention`` also the (B, H, T, T) weights.

        Args:
            x: the sequence.
            key_mask: (B, T) bool, True for real positions; ``None``: all are real.
            return_attention: also return the attention weights.
        """
        h = self.ln_1(x)
        out = self.attn(h, h, key_mask, return_attention)
        out, att = out if return_attention else (out, None)
        x = x + out  # every position sees every (real) position...
        x = x + self.mlp(self.ln_2(x))  # ...then each one is processed alone
        return (x, att) if return_attention else x
