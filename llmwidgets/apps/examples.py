"""Supervised examples: token ids with the positions that count, padded, and their batcher.

Chapter 6's tasks are not one long text but many short examples - a record and its
report, a question and its answer, an English number and its Chinese numerals, a chat
turn. Each is a sequence of token ids of which only some positions are trained on (the
answer side): the others get the target :data:`IGNORE`, which
:func:`~llmwidgets.training.losses.next_token_loss` skips (its ``ignore_index``)::

    ids     = [p0, p1, p2, a0, a1, a2]          prompt p, answer a (ending with a stop token)
    x       = [p0, p1, p2, a0, a1]              the model reads these
    y       = [ -100, -100, a0, a1, a2]         and is trained to predict only the answer

* :func:`masked_example` / :func:`prompt_answer_example` - one example as ``(x, y)`` lists;
* :func:`pad_examples` - many examples as two ``(N, T)`` tensors (``x`` padded with
  ``pad_id``, ``y`` with :data:`IGNORE`), refusing an example longer than the context;
* the tensors go to :class:`~llmwidgets.training.row_batcher.RowBatcher` (re-exported
  here): random rows, fixed evaluation batches and a saved random state, the Batcher
  :class:`llmwidgets.Trainer` takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from llmwidgets.core.validate import check_int, check_optional_int
from llmwidgets.training.row_batcher import RowBatcher

__all__ = ["IGNORE", "RowBatcher", "masked_example", "pad_examples", "prompt_answer_example"]

#: The target id the loss skips (``F.cross_entropy``'s default ``ignore_index``).
IGNORE = -100


def _check_ids(name: str, ids: Any) -> list[int]:
    ids = ids.tolist() if isinstance(ids, Tensor) else ids
    if not isinstance(ids, (list, tuple)) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids
    ):
        raise ValueError(f"{name} must be a list of token ids (ints >= 0), got {ids!r:.60}")
    return list(ids)


def masked_example(ids: Sequence[int], trained: Sequence[bool]) -> tuple[list[int], list[int]]:
    """One training example: the input, and the targets of the positions trained on.

    Args:
        ids: the whole sequence, at least 2 token ids.
        trained: one flag per id: True where the model must learn to produce that token
            (the answer, a reply and its end token), False where it only reads it.

    Returns:
        ``(x, y)``: ``x = ids[:-1]`` and ``y[t] = ids[t + 1]`` if ``trained[t + 1]`` else
        :data:`IGNORE`; both of length ``len(ids) - 1``.

    Raises:
        ValueError: for fewer than 2 ids, flags of another length, or no trained position.
    """
    ids = _check_ids("ids", ids)
    if len(ids) < 2:
        raise ValueError(f"an example needs at least 2 token ids, got {len(ids)}")
    if len(trained) != len(ids):
        raise ValueError(f"trained has {len(trained)} flags but ids has {len(ids)} tokens")
    if not any(trained[1:]):
        raise ValueError("no position is trained on: at least one token after the first must be")
    y = [nxt if keep else IGNORE for nxt, keep in zip(ids[1:], trained[1:], strict=True)]
    return ids[:-1], y


def prompt_answer_example(
    prompt_ids: Sequence[int], answer_ids: Sequence[int]
) -> tuple[list[int], list[int]]:
    """:func:`masked_example` of ``prompt + answer``, trained on the answer only.

    Args:
        prompt_ids: the ids the model reads (at least one).
        answer_ids: the ids it must produce, stop token included (at least one).

    Returns:
        ``(x, y)`` as in :func:`masked_example`.
    """
    prompt_ids, answer_ids = (
        _check_ids("prompt_ids", prompt_ids),
        _check_ids("answer_ids", answer_ids),
    )
    if not prompt_ids or not answer_ids:
        raise ValueError(
            f"prompt and answer must each hold at least one token, got {len(prompt_ids)} and "
            f"{len(answer_ids)}"
        )
    flags = [False] * len(prompt_ids) + [True] * len(answer_ids)
    return masked_example(prompt_ids + answer_ids, flags)


def pad_examples(
    examples: Sequence[tuple[Sequence[int], Sequence[int]]],
    pad_id: int = 0,
    length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Stack examples into two ``(N, T)`` int64 tensors, padded on the right.

    Args:
        examples: ``(x, y)`` pairs of equal-length lists (from :func:`masked_example`).
        pad_id: the id written into ``x`` after an example's end (any valid id: its
            targets are :data:`IGNORE` and a causal model never looks forward).
        length: T, the model's context (``block_size``); ``None``: the longest example.

    Returns:
        ``(x, y)``.

    Raises:
        ValueError: for no examples, mismatched pairs, or an example longer than ``length``
            (a prompt longer than the context), naming it and both sizes.
    """
    if not examples:
        raise ValueError("pad_examples needs at least one example")
    pad_id = check_int("pad_id", pad_id, 0)
    length = check_optional_int("length", length, 1)
    longest = max(len(x) for x, _ in examples)
    width = longest if length is None else length
    xs = torch.full((len(examples), width), pad_id, dtype=torch.long)
    ys = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for i, (x, y) in enumerate(examples):
        if len(x) != len(y) or not x:
            raise ValueError(f"example {i} has {len(x)} inputs and {len(y)} targets")
        if len(x) > width:
            raise ValueError(
                f"example {i} has {len(x)} tokens, more than the context length {width}: "
                "shorten the prompt or use a model with a larger block_size"
            )
        xs[i, : len(x)] = torch.tensor(x)
        ys[i, : len(y)] = torch.tensor(y)
    return xs, ys
