"""The training objective and the evaluation loss, for any model that returns logits.

* :func:`next_token_loss` - mean cross-entropy of ``(B, T, V)`` logits against ``(B, T)``
  target ids, skipping ``ignore_index`` (padding, or a prompt whose tokens are not
  trained on). It is the loss of every model in the book: the GPT, the bigram and MLP
  language models, and chapter 5's encoder-decoders.
* :func:`model_inputs` / :func:`run_model` - a batch's input is one tensor ``x`` (a
  language model: ``model(x)``) or a tuple of tensors (an encoder-decoder:
  ``model(src, tgt_in)``);
* :func:`evaluate_loss` - the mean loss over a batcher's fixed batches, in eval mode.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmwidgets.core.device import Precision, pick_precision
from llmwidgets.core.validate import check_int
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.training.batches import Batcher

__all__ = ["evaluate_loss", "model_inputs", "next_token_loss", "run_model"]


def next_token_loss(
    logits: Tensor | tuple[Tensor, ...], targets: Tensor, ignore_index: int = -100
) -> Tensor:
    """Mean cross-entropy of next-token logits against the target ids.

    Args:
        logits: ``(B, T, V)`` scores from the model. A tuple (as minGPT and nanoGPT
            return ``(logits, loss)``) is accepted; its first item is used.
        targets: ``(B, T)`` integer ids of the tokens to predict.
        ignore_index: targets equal to this id do not count (padding, prompt tokens).

    Returns:
        A scalar tensor: the mean over the counted positions, computed in fp32 (NaN when
        no position counts, as ``F.cross_entropy`` gives).

    Raises:
        ValueError: if the shapes do not fit together, the batch is empty or the targets
            are not integers.
    """
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    if not isinstance(logits, Tensor) or logits.dim() != 3:
        got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"the model must return logits of shape (B, T, V), got {got}")
    if not isinstance(targets, Tensor) or targets.is_floating_point() or targets.is_complex():
        got = targets.dtype if isinstance(targets, Tensor) else type(targets).__name__
        raise ValueError(f"targets must be an integer tensor of token ids, got {got}")
    if logits.shape[:2] != targets.shape:
        raise ValueError(
            f"logits have shape {tuple(logits.shape)} but targets {tuple(targets.shape)}; "
            "the model must return one row of logits per target position (B, T, V)"
        )
    if targets.numel() == 0:  # the mean of nothing would be a silent NaN
        raise ValueError(
            f"the batch is empty: targets of shape {tuple(targets.shape)}; a batch needs at "
            "least one row and one position"
        )
    # Flatten to (B*T, V) rows and (B*T,) targets; fp32 keeps the log-softmax exact.
    flat = logits.reshape(-1, logits.size(-1)).float()
    return F.cross_entropy(flat, targets.reshape(-1).long(), ignore_index=ignore_index)


def model_inputs(x: Tensor | tuple[Tensor, ...], device: torch.device | str) -> tuple[Tensor, ...]:
    """A batch's input as a tuple of tensors on ``device``.

    Args:
        x: one tensor (``model(x)``) or a tuple/list of tensors (``model(*x)``).
        device: where the model's parameters are.

    Returns:
        A tuple of tensors.
    """
    parts = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    if not parts or not all(isinstance(p, Tensor) for p in parts):
        kinds = [type(p).__name__ for p in parts]
        raise ValueError(f"a batch's input must be a tensor or a tuple of tensors, got {kinds}")
    return tuple(p.to(device, non_blocking=True) for p in parts)


def run_model(model: Any, x: Tensor | tuple[Tensor, ...]) -> Tensor:
    """``model(x)`` or ``model(*x)``, on the model's device.

    Args:
        model: the model.
        x: one tensor or a tuple of tensors (see :func:`model_inputs`).

    Returns:
        Whatever the model returns (usually the logits).
    """
    return model(*model_inputs(x, model_device(model)))


def evaluate_loss(
    model: nn.Module,
    batcher: Batcher,
    iters: int,
    precision: Precision | None = None,
    ignore_index: int = -100,
) -> float:
    """Mean next-token loss over ``iters`` fixed batches, without gradients.

    The model is put in eval mode (no dropout) and then back in the mode it was in.
    The batches are ``batcher.fixed_batches(iters)``, so two evaluations of the same
    weights give the same number.

    Args:
        model: a module whose forward takes a batch's input (see :func:`run_model`).
        batcher: a :class:`~llmwidgets.training.batches.Batcher`; only its
            ``fixed_batches(n)``, giving ``(x, y)`` pairs, is used.
        iters: the number of batches to average, >= 1.
        precision: autocast settings; ``None`` picks them for the model's device.
        ignore_index: as in :func:`next_token_loss`.

    Returns:
        The mean loss as a Python float.
    """
    iters = check_int("iters", iters, 1)
    if not callable(getattr(batcher, "fixed_batches", None)):
        raise ValueError(f"batcher must have fixed_batches(n) (a TokenBatcher), got {batcher!r}")
    device = model_device(model)
    if precision is None:
        precision = pick_precision(device)
    total = torch.zeros((), device=device)
    with eval_mode(model):
        for x, y in batcher.fixed_batches(iters):
            with precision.autocast():
                logits = run_model(model, x)
            total += next_token_loss(logits, y.to(device), ignore_index)
    return total.item() / iters  # one device sync for all batches
