"""Batches of token windows for language-model training.

A language model learns to predict token ``t + 1`` from tokens ``0..t``. From one
long 1-D tensor of token ids we cut random windows of ``block_size + 1`` tokens;
the first ``block_size`` are the input ``x`` and the last ``block_size`` (shifted by
one) are the targets ``y``::

    ids    = [5, 9, 2, 7, 3, 8, ...]
    window =    [9, 2, 7, 3]          (block_size = 3, start = 1)
    x      =    [9, 2, 7]
    y      =       [2, 7, 3]

* :func:`split_tokens` - a contiguous train / validation split;
* :class:`TokenBatcher` - random windows drawn with its own ``torch.Generator``,
  whose state is saved in checkpoints so a resumed run sees the same batches;
* :class:`Batcher` - what the Trainer needs from any batcher (``TokenBatcher`` and
  chapter 5's ``Seq2SeqBatcher`` are two), and :func:`check_batcher`.

The loss and the evaluation loop are in :mod:`llmwidgets.training.losses`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from llmwidgets.core.validate import check_int, check_real

__all__ = ["Batcher", "TokenBatcher", "check_batcher", "split_tokens"]


@runtime_checkable
class Batcher(Protocol):
    """What the Trainer and :func:`~llmwidgets.training.losses.evaluate_loss` need.

    A batch is a pair ``(x, y)``: ``x`` is the model's input (one tensor, or a tuple of
    tensors for ``model(*x)``) and ``y`` the ``(B, T)`` target ids.
    """

    batch_size: int  # rows per batch (B)

    def get_batch(self) -> tuple[Any, Tensor]:
        """The next training batch (advances the batcher's own random state)."""
        ...

    def fixed_batches(self, n: int) -> Iterator[tuple[Any, Tensor]]:
        """The same ``n`` batches on every call (for comparable evaluations)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The random state and sizes, for checkpoints."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`, so the next batches repeat exactly."""
        ...


def check_batcher(name: str, value: Any) -> Batcher:
    """Check that ``value`` has every member of :class:`Batcher`.

    Args:
        name: the argument's name, for the message.
        value: what the caller passed.

    Returns:
        ``value``.

    Raises:
        ValueError: naming the missing members.
    """
    members = ("get_batch", "fixed_batches", "state_dict", "load_state_dict")
    missing = [m for m in members if not callable(getattr(value, m, None))]
    if not isinstance(getattr(value, "batch_size", None), int):
        missing.append("batch_size")
    if missing:
        raise ValueError(
            f"{name} must be a Batcher (a TokenBatcher, or any object with get_batch(), "
            f"fixed_batches(n), state_dict(), load_state_dict() and batch_size); "
            f"{type(value).__name__} has no {', '.join(missing)}"
        )
    return value


def _check_ids(ids: Any) -> Tensor:
    """Check that ``ids`` is a 1-D integer tensor of token ids."""
    if not isinstance(ids, Tensor):
        raise ValueError(f"token ids must be a torch.Tensor, got {type(ids).__name__}")
    if ids.dim() != 1:
        raise ValueError(f"token ids must be 1-D, got shape {tuple(ids.shape)}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"token ids must be an integer tensor, got dtype {ids.dtype}")
    return ids


def split_tokens(ids: Tensor, val_fraction: float = 0.1) -> tuple[Tensor, Tensor]:
    """Split token ids into a training part and a validation part that follows it.

    The split is contiguous (the last ``val_fraction`` of the text is held out), so
    no validation window overlaps a training window, except at the one boundary.

    Args:
        ids: 1-D integer tensor of token ids.
        val_fraction: share of the tokens held out for validation, ``0 <= f < 1``.

    Returns:
        ``(train, val)``: views of ``ids``; ``val`` has ``round(len(ids) * f)`` tokens.

    Raises:
        ValueError: for a tensor that is not 1-D integer, or a fraction outside [0, 1).
    """
    ids = _check_ids(ids)
    val_fraction = check_real("val_fraction", val_fraction, 0, 1, max_open=True)
    n_val = round(len(ids) * val_fraction)
    n_train = len(ids) - n_val
    return ids[:n_train], ids[n_train:]


class TokenBatcher:
    """Random windows ``(x, y)`` from a 1-D tensor of token ids.

    Args:
        data: 1-D integer tensor of token ids (any integer dtype; batches are int64).
        block_size: tokens per input row ``T``; windows hold ``T + 1`` tokens.
        batch_size: rows per batch ``B``.
        seed: seed of the batcher's own ``torch.Generator`` (independent of the
            global torch RNG, so dropout and batch order do not disturb each other).

    Raises:
        ValueError: for bad ids, sizes < 1, or data shorter than ``block_size + 1``.
    """

    def __init__(self, data: Tensor, block_size: int, batch_size: int, seed: int = 0) -> None:
        self.data = _check_ids(data)
        self.block_size = check_int("block_size", block_size, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.seed = check_int("seed", seed, 0)
        if len(self.data) < self.block_size + 1:
            raise ValueError(
                f"data has {len(self.data)} tokens, fewer than block_size + 1 = "
                f"{self.block_size + 1}; use a shorter block_size or more text"
            )
        # The generator lives on the CPU: its state is a small byte tensor that
        # can be saved and restored on any machine.
        self.generator = torch.Generator().manual_seed(self.seed)
        self._arange = torch.arange(self.block_size + 1)

    @property
    def num_windows(self) -> int:
        """How many different windows (start positions) the data holds."""
        return len(self.data) - self.block_size

    def _windows(self, starts: Tensor) -> tuple[Tensor, Tensor]:
        # Row i holds tokens starts[i] .. starts[i] + block_size (block_size + 1 of them).
        index = starts[:, None] + self._arange[None, :]
        chunk = self.data[index.to(self.data.device)].long()
        return chunk[:, :-1], chunk[:, 1:]  # x and y, shifted by one token

    def get_batch(self) -> tuple[Tensor, Tensor]:
        """Draw the next random batch (advances the generator).

        Returns:
            ``(x, y)``, two int64 tensors of shape ``(batch_size, block_size)`` on
            the data's device, with ``y[:, t] == x[:, t + 1]``.
        """
        starts = torch.randint(self.num_windows, (self.batch_size,), generator=self.generator)
        return self._windows(starts)

    def fixed_batches(self, n: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The same ``n`` batches on every call, for comparable evaluations.

        They come from a fresh generator seeded with ``seed``, so drawing them
        leaves :meth:`get_batch`'s generator untouched.

        Args:
            n: the number of batches, >= 1.

        Returns:
            An iterator over ``n`` pairs ``(x, y)`` as from :meth:`get_batch`.
        """
        n = check_int("n", n, 1)
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(n):
            yield self._windows(torch.randint(self.num_windows, (self.batch_size,), generator=gen))

    def state_dict(self) -> dict[str, Any]:
        """The batcher's state, for checkpoints.

        Returns:
            ``{"generator": byte tensor, "block_size": T, "batch_size": B, "seed": s}``.
        """
        return {
            "generator": self.generator.get_state(),
            "block_size": self.block_size,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`, so the next batches repeat exactly.

        Args:
            state: a dict from :meth:`state_dict`.

        Raises:
            ValueError: if ``block_size`` or ``batch_size`` differ from this batcher's.
        """
        for key in ("block_size", "batch_size"):
            if state.get(key) != getattr(self, key):
                raise ValueError(
                    f"batcher state has {key}={state.get(key)!r}, but this batcher has "
                    f"{key}={getattr(self, key)}; the batches could not repeat exactly"
                )
        self.seed = int(state.get("seed", self.seed))
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return (
            f"TokenBatcher(tokens={len(self.data)}, block_size={self.block_size}, "
            f"batch_size={self.batch_size}, seed={self.seed})"
        )
