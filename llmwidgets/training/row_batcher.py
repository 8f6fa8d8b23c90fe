"""Batches of rows of prebuilt tensors: the Batcher of every dataset of examples.

A language model trains on random windows of one long text (:class:`~llmwidgets.training.
batches.TokenBatcher`); a model of examples - chapter 5's number pairs, chapter 6's
records, questions, chat turns, labelled lines, sessions - trains on rows of tensors made
once, padded to one width. :class:`RowBatcher` draws such rows at random with its own
generator (saved in checkpoints, so a resumed run sees the same batches) and gives fixed
evaluation batches, in the form :class:`llmwidgets.Trainer` takes: ``(x, y)``, where ``x``
is a tensor or a tuple of tensors (the Trainer then calls ``model(*x)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from llmwidgets.core.validate import check_int

__all__ = ["RowBatcher"]


class RowBatcher:
    """Random rows of ``(x, y)`` tensors, in the form :class:`llmwidgets.Trainer` takes.

    Args:
        x: the inputs, a tensor ``(N, ...)`` or a tuple of them (``model(*x)``, e.g.
            ``(src, tgt_in)`` or ``(ids, lengths)``).
        y: the targets ``(N, ...)``: ``(N, T)`` next-token targets, ``(N, 1)`` labels ...
        batch_size: rows per batch.
        seed: seed of the batcher's own generator.

    Raises:
        ValueError: for tensors with different numbers of rows, no rows, or bad sizes.
    """

    def __init__(self, x: Tensor | tuple[Tensor, ...], y: Tensor, batch_size: int, seed: int = 0):
        parts = tuple(x) if isinstance(x, (tuple, list)) else (x,)
        if not parts or not all(isinstance(p, Tensor) for p in (*parts, y)):
            raise ValueError("x must be a tensor or a tuple of tensors, and y a tensor")
        sizes = {p.shape[0] if p.dim() else 0 for p in (*parts, y)}
        if len(sizes) != 1 or 0 in sizes:
            shapes = [tuple(p.shape) for p in (*parts, y)]
            raise ValueError(f"x and y must have the same number of rows (>= 1), got {shapes}")
        self.x, self.y, self._tuple = parts, y, isinstance(x, (tuple, list))
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.seed = check_int("seed", seed, 0)
        self.generator = torch.Generator().manual_seed(self.seed)

    def __len__(self) -> int:
        return self.y.shape[0]

    def _rows(self, rows: Tensor) -> tuple[Any, Tensor]:
        x = tuple(p[rows] for p in self.x)
        return (x if self._tuple else x[0]), self.y[rows]

    def get_batch(self) -> tuple[Any, Tensor]:
        """The next random batch (rows drawn with replacement)."""
        return self._rows(torch.randint(len(self), (self.batch_size,), generator=self.generator))

    def fixed_batches(self, n: int) -> Iterator[tuple[Any, Tensor]]:
        """The same ``n`` batches on every call: consecutive rows, wrapping around."""
        for i in range(check_int("n", n, 1)):
            start = i * self.batch_size
            yield self._rows(torch.arange(start, start + self.batch_size) % len(self))

    def state_dict(self) -> dict[str, Any]:
        """The random state and sizes, for checkpoints."""
        return {"generator": self.generator.get_state(), "batch_size": self.batch_size,
                "seed": self.seed}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`, so the next batches repeat exactly.

        Raises:
            ValueError: if the state was saved with another batch size.
        """
        if state.get("batch_size") != self.batch_size:
            raise ValueError(
                f"batcher state has batch_size={state.get('batch_size')!r}, this batcher "
                f"{self.batch_size}"
            )
        self.seed = int(state["seed"])
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        name, size = type(self).__name__, self.batch_size
        return f"{name}(rows={len(self)}, batch_size={size}, seed={self.seed})"
