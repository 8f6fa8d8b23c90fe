"""The encoder-decoder contract of chapter 5: :class:`Seq2Seq`.

Every model of :mod:`llmwidgets.seq2seq` is a ``Seq2Seq``: ``encode(src)`` returns a
*memory* (a dict of tensors whose first dimension is the batch) and ``decode(memory,
tgt_in)`` returns logits ``(B, T, V)``, where position t predicts ``tgt_out[:, t]`` from
``tgt_in[:, :t+1]`` (teacher forcing: ``tgt_in`` is the target shifted right behind
``<bos>``). Sources are right-padded with ``pad_id``; padded positions never influence
the result.

The public ``encode`` / ``decode`` check their input - ids inside the vocabularies, as
the GPT does, so a bad id is a ``ValueError`` naming it instead of an ``IndexError`` from
``nn.Embedding`` - and call the subclass's ``_encode`` / ``_decode``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmwidgets.core.validate import check_int, check_optional_int
from llmwidgets.nn.token_ids import check_token_ids

__all__ = ["Memory", "Seq2Seq"]

#: What ``encode`` returns: tensors whose first dimension is the batch.
Memory = dict[str, Tensor]


class Seq2Seq(nn.Module):
    """Base class: ``forward(src, tgt_in) = decode(encode(src), tgt_in)``.

    Args:
        src_vocab: size of the source vocabulary (ids ``0..src_vocab - 1``).
        tgt_vocab: size of the target vocabulary.
        block_size: the longest source and target the model takes, or ``None``.
    """

    pad_id = 0

    def __init__(self, src_vocab: int, tgt_vocab: int, block_size: int | None = None) -> None:
        super().__init__()
        self.src_vocab_size = check_int("src_vocab", src_vocab, 1)
        self.tgt_vocab_size = check_int("tgt_vocab", tgt_vocab, 1)
        self.block_size = check_optional_int("block_size", block_size, 1)

    def encode(self, src: Tensor) -> Memory:
        """Check ``src`` (B, S) and encode it; the memory holds ``mask`` (True = real token).

        Raises:
            ValueError: for a non-integer or wrongly shaped ``src``, an id outside the
                source vocabulary, a row that is all padding, or S > ``block_size``.
        """
        src = check_token_ids(src, self.src_vocab_size, name="src", block_size=self.block_size)
        src = src.long()
        mask = src != self.pad_id
        if not mask.any(dim=1).all():
            raise ValueError("every source row needs at least one token that is not padding")
        return self._encode(src, mask)

    def decode(
        self, memory: Memory, tgt_in: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits ``(B, T, V)``; with ``return_attention`` also a list of per-layer
        cross-attention weights ``(B, H, T, S)`` (for :class:`llmwidgets.AttentionViewer`).

        Raises:
            ValueError: for a bad ``tgt_in`` (as for ``src``, against the target
                vocabulary), or a memory that is not this batch's.
        """
        tgt_in = check_token_ids(
            tgt_in, self.tgt_vocab_size, name="tgt_in", block_size=self.block_size
        ).long()
        if not isinstance(memory, dict) or not memory:
            raise ValueError(f"memory must be the dict that encode() returns, got {memory!r:.80}")
        for key, value in memory.items():
            if not isinstance(value, torch.Tensor) or value.shape[0] != tgt_in.shape[0]:
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value)
                raise ValueError(
                    f"memory[{key!r}] has shape {got} but tgt_in has a batch of "
                    f"{tgt_in.shape[0]}; decode with the memory of the same sources"
                )
        return self._decode(memory, tgt_in, return_attention)

    def forward(
        self, src: Tensor, tgt_in: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """``decode(encode(src), tgt_in, return_attention)``."""
        return self.decode(self.encode(src), tgt_in, return_attention)

    def _encode(self, src: Tensor, mask: Tensor) -> Memory:
        raise NotImplementedError

    def _decode(
        self, memory: Memory, tgt_in: Tensor, return_attention: bool
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        raise NotImplementedError

    def num_parameters(self) -> int:
        """The number of parameters, each tensor counted once."""
        return sum(p.numel() for p in self.parameters())
