"""Token ids going into a model: one check for every model of the package.

``nn.Embedding`` fails on a bad id with ``IndexError: index out of range in self`` on the
CPU, and with a device-side assert that kills the process on a GPU. :func:`check_token_ids`
refuses such input first, naming the id, its position and the vocabulary size; the GPT
and the seq2seq models call it in ``forward``. :func:`as_token_ids` turns a prompt
(a list, a 1-D or a 2-D tensor) into the ``(B, T)`` batch that models take.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["as_token_ids", "check_token_ids"]

# torch.compiler.is_compiling arrived in torch 2.3; the package supports torch >= 2.1.
_is_compiling = getattr(torch.compiler, "is_compiling", lambda: False)


def check_token_ids(
    ids: Any, vocab_size: int, *, name: str = "idx", block_size: int | None = None
) -> Tensor:
    """Check a batch of token ids against a vocabulary (and a context length).

    Args:
        ids: an integer tensor ``(B, T)`` with B >= 1 and T >= 1.
        vocab_size: ids must lie in ``0..vocab_size - 1``.
        name: the argument's name, for the messages.
        block_size: if given, the most positions allowed (T <= block_size).

    Returns:
        ``ids``, as int64 or int32 (the two dtypes ``nn.Embedding`` takes).

    Raises:
        ValueError: for a non-tensor, a float/bool/complex dtype, a shape other than
            ``(B, T)``, an empty batch or sequence, a sequence longer than
            ``block_size``, or an id outside the vocabulary (its position named).
    """
    if not isinstance(ids, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(f"{name} must have shape (B, T) with T >= 1, got {tuple(ids.shape)}")
    if ids.shape[0] == 0:
        raise ValueError(
            f"{name} is an empty batch, shape {tuple(ids.shape)}: give at least one sequence"
        )
    if block_size is not None and ids.shape[1] > block_size:
        raise ValueError(
            f"sequence length {ids.shape[1]} exceeds the context size block_size={block_size}"
        )
    if not _is_compiling():  # a data-dependent branch would split a compiled graph
        lo, hi = torch.stack(ids.aminmax()).tolist()  # one device sync, not two
        if lo < 0 or hi >= vocab_size:
            b, t = ((ids < 0) | (ids >= vocab_size)).nonzero()[0].tolist()
            bad = int(ids[b, t])
            where = "is negative" if bad < 0 else f"is outside the vocabulary of size {vocab_size}"
            raise ValueError(f"token id {bad} at position ({b}, {t}) {where}")
    return ids if ids.dtype in (torch.int32, torch.int64) else ids.long()


def as_token_ids(ids: Any, name: str = "ids") -> Tensor:
    """A prompt as a ``(B, T)`` LongTensor: a list or a 1-D tensor becomes one row.

    Args:
        ids: token ids: a list of ints, a 1-D ``(T,)`` or a 2-D ``(B, T)`` integer tensor.
        name: the argument's name, for the messages.

    Returns:
        A LongTensor ``(B, T)``, on the device ``ids`` were on.

    Raises:
        ValueError: for empty or non-integer ids, or another number of dimensions.
    """
    try:
        idx = torch.as_tensor(ids)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be token ids (ints), got {type(ids).__name__}") from err
    if idx.numel() == 0:
        raise ValueError(f"{name} is empty: the prompt needs at least one token id")
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise ValueError(f"{name} must be integers shaped (T,) or (B, T), got {idx.dtype}")
    if idx.dim() not in (1, 2):
        raise ValueError(
            f"{name} must be integers shaped (T,) or (B, T), got shape {tuple(idx.shape)}"
        )
    return (idx[None] if idx.dim() == 1 else idx).long()
