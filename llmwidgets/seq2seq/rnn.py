"""Encoder-decoder models for chapter 5, and how to decode them.

Every model here is a :class:`Seq2Seq`: ``encode(src)`` returns a *memory* (a dict of
tensors whose first dimension is the batch) and ``decode(memory, tgt_in)`` returns
logits ``(B, T, V)``, where position t predicts ``tgt_out[:, t]`` from ``tgt_in[:, :t+1]``
(teacher forcing: ``tgt_in`` is the target shifted right behind ``<bos>``). Sources are
right-padded with ``pad_id``; padded positions never influence the result.

* :class:`GRUSeq2Seq` - the source document's GRU encoder-decoder, corrected;
* :class:`AttentionGRUSeq2Seq` - the same with a bidirectional encoder and Bahdanau's
  additive attention (:class:`AdditiveAttention`) in the decoder;
* :class:`llmwidgets.seq2seq_transformer.TransformerSeq2Seq` - the Transformer;
* :func:`greedy_decode`, :func:`beam_search` (width k; k = 1 is greedy) and
  the loss is :func:`llmwidgets.training.losses.next_token_loss` (it skips ``IGNORE`` targets).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from llmwidgets.core.validate import check_int
from llmwidgets.nn.modes import eval_mode, model_device

__all__ = [
    "AdditiveAttention",
    "AttentionGRUSeq2Seq",
    "BahdanauDecoder",
    "GRUDecoder",
    "GRUEncoder",
    "GRUSeq2Seq",
    "Seq2Seq",
    "beam_search",
    "beam_search_steps",
    "greedy_decode",
]

Memory = dict[str, Tensor]


class Seq2Seq(nn.Module):
    """Base class: ``forward(src, tgt_in) = decode(encode(src), tgt_in)``."""

    pad_id = 0

    def encode(self, src: Tensor) -> Memory:
        """Check ``src`` (B, S) and encode it; the memory holds ``mask`` (True = real token)."""
        if not isinstance(src, Tensor) or src.dim() != 2 or src.dtype != torch.long:
            got = tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__
            raise ValueError(f"src must be a LongTensor (B, S) of token ids, got {got}")
        mask = src != self.pad_id
        if not mask.any(dim=1).all():
            raise ValueError("every source row needs at least one token that is not padding")
        return self._encode(src, mask)

    def _encode(self, src: Tensor, mask: Tensor) -> Memory:
        raise NotImplementedError

    def decode(
        self, memory: Memory, tgt_in: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits ``(B, T, V)``; with ``return_attention`` also a list of per-layer
        cross-attention weights ``(B, H, T, S)`` (for :class:`llmwidgets.AttentionViewer`)."""
        raise NotImplementedError

    def forward(self, src: Tensor, tgt_in: Tensor, return_attention: bool = False):
        return self.decode(self.encode(src), tgt_in, return_attention)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class GRUEncoder(nn.Module):
    """Embedding + GRU over the real tokens only (packed), batch first.

    With ``bidirectional`` each direction has ``hidden // 2`` units and their outputs are
    concatenated, so outputs are ``(B, S, hidden)`` either way; padded outputs are 0.
    """

    def __init__(self, vocab_size: int, hidden: int, pad_id: int = 0, bidirectional: bool = False):
        super().__init__()
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
        super().__init__()
        self.encoder = GRUEncoder(src_vocab, hidden, self.pad_id)
        self.decoder = GRUDecoder(tgt_vocab, hidden, self.pad_id)

    def _encode(self, src: Tensor, mask: Tensor) -> Memory:
        _, hidden = self.encoder(src, mask)
        return {"hidden": hidden}

    def decode(self, memory: Memory, tgt_in: Tensor, return_attention: bool = False):
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
        super().__init__()
        self.encoder = GRUEncoder(src_vocab, hidden, self.pad_id, bidirectional=True)
        self.decoder = BahdanauDecoder(tgt_vocab, hidden, self.pad_id)

    def _encode(self, src: Tensor, mask: Tensor) -> Memory:
        outputs, hidden = self.encoder(src, mask)
        return {"outputs": outputs, "hidden": hidden, "mask": mask}

    def decode(self, memory: Memory, tgt_in: Tensor, return_attention: bool = False):
        logits, w = self.decoder(tgt_in, memory["hidden"], memory["outputs"], memory["mask"])
        return (logits, [w[:, None]]) if return_attention else logits  # one layer, one head


# ----------------------------------------------------------------------------- decoding


def greedy_decode(model: Seq2Seq, src: Tensor, bos: int, eos: int, max_len: int) -> list[list[int]]:
    """The most probable next token, step by step, for a batch ``src`` (B, S).

    Returns:
        B lists of ids, without ``<bos>`` and cut before the first ``<eos>``.
    """
    max_len = check_int("max_len", max_len, 1)
    with eval_mode(model):
        src = src.to(model_device(model))
        memory = model.encode(src)
        ys = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            logp = model.decode(memory, ys)[:, -1].float().log_softmax(dim=-1)
            nxt = logp.topk(1, dim=-1).indices[:, 0]  # topk as in beam_search: same ties
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == eos
            if done.all():
                break
    out = []
    for row in ys[:, 1:].tolist():
        out.append(row[: row.index(eos)] if eos in row else row)
    return out


def beam_search_steps(
    step: Callable[[Tensor], Tensor], bos: int, eos: int, beam_width: int, max_len: int,
    length_penalty: float = 0.0,
) -> list[tuple[list[int], float]]:  # fmt: skip
    """Beam search over any next-token scorer.

    Args:
        step: prefixes (n, t) LongTensor starting with ``bos`` -> log-probs (n, V).
        bos, eos: the start and end ids.
        beam_width: k, the hypotheses kept after every step (k = 1 is greedy decoding).
        max_len: the most tokens generated (``<eos>`` included).
        length_penalty: alpha in the final ranking ``score / len^alpha`` (0: raw log-prob).

    Returns:
        Up to k ``(ids, log-prob)`` pairs, best first; ids exclude ``<bos>`` / ``<eos>``.
        Finished hypotheses stay in the beam and compete with the unfinished ones; the
        search stops when all k are finished (or at ``max_len``).
    """
    k = check_int("beam_width", beam_width, 1)
    max_len = check_int("max_len", max_len, 1)
    beam: list[tuple[list[int], float, bool]] = [([], 0.0, False)]  # (ids, log-prob, done)
    for _ in range(max_len):
        alive = [h for h in beam if not h[2]]
        if not alive:
            break
        logp = step(torch.tensor([[bos, *h[0]] for h in alive]))
        top_lp, top_tok = logp.topk(min(k, logp.shape[-1]), dim=-1)
        candidates = [h for h in beam if h[2]]
        for h, lps, toks in zip(alive, top_lp.tolist(), top_tok.tolist(), strict=True):
            for lp, tok in zip(lps, toks, strict=True):
                ended = tok == eos
                candidates.append((h[0] if ended else [*h[0], tok], h[1] + lp, ended))
        beam = sorted(candidates, key=lambda h: -h[1])[:k]  # stable: ties keep their order

    def rank(h: tuple[list[int], float, bool]) -> float:
        return h[1] / (len(h[0]) + h[2]) ** length_penalty if length_penalty else h[1]

    return [(h[0], h[1]) for h in sorted(beam, key=lambda h: -rank(h))]


def beam_search(
    model: Seq2Seq, src: Tensor, bos: int, eos: int, beam_width: int, max_len: int,
    length_penalty: float = 0.0,
) -> list[tuple[list[int], float]]:  # fmt: skip
    """Beam search of width k for one source ``src`` (S,) or (1, S); see
    :func:`beam_search_steps` for the result."""
    src = src[None] if src.dim() == 1 else src
    if src.shape[0] != 1:
        raise ValueError(f"beam_search translates one source at a time, got {src.shape[0]}")
    with eval_mode(model):
        src = src.to(model_device(model))
        memory = model.encode(src)

        def step(prefixes: Tensor) -> Tensor:
            n = prefixes.shape[0]
            mem = {key: v.expand(n, *v.shape[1:]) for key, v in memory.items()}
            logits = model.decode(mem, prefixes.to(src.device))[:, -1]
            return logits.float().log_softmax(dim=-1).cpu()

        return beam_search_steps(step, bos, eos, beam_width, max_len, length_penalty)
