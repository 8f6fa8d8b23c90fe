"""Recurrent encoder-decoders for chapter 5 (each a :class:`~llmwidgets.seq2seq.base.Seq2Seq`).

* :class:`GRUSeq2Seq` - the source document's GRU encoder-decoder, corrected;
* :class:`AttentionGRUSeq2Seq` - the same with a bidirectional encoder and Bahdanau's
  additive attention (:class:`AdditiveAttention`) in the decoder.

The Transformer is :mod:`~llmwidgets.seq2seq.transformer`; decoding (greedy, beam search)
is :mod:`~llmwidgets.seq2seq.decoding`; the loss is
:func:`llmwidgets.training.losses.next_token_loss` (it skips ``IGNORE`` targets).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from llmwidgets.core.validate import check_int
from llmwidgets.seq2seq.base import Memory, Seq2Seq

__all__ = [
    "AdditiveAttention",
    "AttentionGRUSeq2Seq",
    "BahdanauDecoder",
    "GRUDecoder",
    "GRUEncoder",
    "GRUSeq2Seq",
]


class GRUEncoder(nn.Module):
    """Embedding + GRU over the real tokens only (packed), batch first.

    With ``bidirectional`` each direction has ``hidden // 2`` units and their outputs are
    concatenated, so outputs are ``(B, S, hidden)`` either way; padded outputs are 0.
    """

    def __init__(self, vocab_size: int, hidden: int, pad_id: int = 0, bidirectional: bool = False):
        super().__init__()
        hidden = check_int("hidden", hidden, 1)
        if bidirectional and hidden % 2:
            raise ValueError(f"a bidirectional encoder needs an even hidden size, got {hidden}")
        self.embedding = nn.Embedding(vocab_size, hidden, padding_idx=pad_id)
        size = hidden // 2 if bidirectional else hidden
        self.gru = nn.GRU(hidden, size, batch_first=True, bidirectional=bidirectional)

    def forward(self, src: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``src`` (B, S) -> outputs (B, S, H) and the final state (B, H) of the real tokens."""
        lengths = mask.sum(dim=1).cpu()  # pack_padded_sequence wants them on the CPU
        packed = pack_padded_sequence(
            self.embedding(src), lengths, batch_first=True, enforce_sorted=False
        )
        out, h = self.gru(packed)  # h: (directions, B, H / directions)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return out, h.transpose(0, 1).reshape(src.shape[0], -1)


class GRUDecoder(nn.Module):
    """The source's decoder, fixed: ``nn.Embedding(vocab_size, hidden)`` (not the reverse)."""

    def __init__(self, vocab_size: int, hidden: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden, padding_idx=pad_id)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, vocab_size)

    def forward(self, tgt_in: Tensor, hidden: Tensor) -> Tensor:
        """``tgt_in`` (B, T), initial state (B, H) -> logits (B, T, V)."""
        out, _ = self.gru(self.embedding(tgt_in), hidden[None].contiguous())
        return self.fc(out)


class GRUSeq2Seq(Seq2Seq):
    """The corrected source model: the encoder's last state starts the decoder."""

    def __init__(self, src_vocab: int, tgt_vocab: int, hidden: int = 128):
        super().__init__(src_vocab, tgt_vocab)
        self.encoder = GRUEncoder(src_vocab, hidden, self.pad_id)
        self.decoder = GRUDecoder(tgt_vocab, hidden, self.pad_id)

    def _encode(self, src: Tensor, mask: Tensor) -> Memory:
        _, hidden = self.encoder(src, mask)
        return {"hidden": hidden}

    def _decode(self, memory: Memory, tgt_in: Tensor, return_attention: bool) -> Tensor:
        if return_attention:
            raise ValueError("GRUSeq2Seq has no attention to return")
        return self.decoder(tgt_in, memory["hidden"])


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015): ``score(s, h_j) = vᵀ tanh(W_q s + W_k h_j)``, softmax over j."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor, projected_keys: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``query`` (B, Dq), ``keys`` (B, S, Dk), ``mask`` (B, S) -> context (B, Dk) and
        weights (B, S).

        ``projected_keys`` = ``W_k(keys)`` may be passed in, computed once per sequence.
        """
        pk = self.W_k(keys) if projected_keys is None else projected_keys
        scores = self.v(torch.tanh(self.W_q(query)[:, None, :] + pk)).squeeze(-1)  # (B, S)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights[:, None, :], keys).squeeze(1), weights


class BahdanauDecoder(nn.Module):
    """A GRU cell that reads ``[embedding of y_{t-1}; context_t]``; the context is attention
    over the encoder outputs with the previous state as the query."""

    def __init__(self, vocab_size: int, hidden: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden, padding_idx=pad_id)
        self.attention = AdditiveAttention(hidden, hidden, hidden)
        self.cell = nn.GRUCell(2 * hidden, hidden)
        self.fc = nn.Linear(3 * hidden, vocab_size)  # from [state; context; embedding]

    def forward(
        self, tgt_in: Tensor, hidden: Tensor, keys: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """-> logits (B, T, V) and attention weights (B, T, S)."""
        emb = self.embedding(tgt_in)  # (B, T, H)
        pk = self.attention.W_k(keys)  # once, not at every step
        outs, weights = [], []
        for t in range(tgt_in.shape[1]):
            context, w = self.attention(hidden, keys, mask, pk)
            hidden = self.cell(torch.cat([emb[:, t], context], dim=-1), hidden)
            outs.append(torch.cat([hidden, context, emb[:, t]], dim=-1))
            weights.append(w)
        return self.fc(torch.stack(outs, dim=1)), torch.stack(weights, dim=1)


class AttentionGRUSeq2Seq(Seq2Seq):
    """Bidirectional GRU encoder + Bahdanau attention decoder."""

    def __init__(self, src_vocab: int, tgt_vocab: int, hidden: int = 128):
        super().__init__(src_vocab, tgt_vocab)
        self.encoder = GRUEncoder(src_vocab, hidden, self.pad_id, bidirectional=True)
        self.decoder = BahdanauDecoder(tgt_vocab, hidden, self.pad_id)

    def _encode(self, src: Tensor, mask: Tensor) -> Memory:
        outputs, hidden = self.encoder(src, mask)
        return {"outputs": outputs, "hidden": hidden, "mask": mask}

    def _decode(
        self, memory: Memory, tgt_in: Tensor, return_attention: bool
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        logits, w = self.decoder(tgt_in, memory["hidden"], memory["outputs"], memory["mask"])
        return (logits, [w[:, None]]) if return_attention else logits  # one layer, one head
