"""AdamW with weight decay on the matrices only: the GPT-2 / nanoGPT parameter groups.

Every parameter with two or more dimensions - Linear weights and embedding tables (a
tied output head is the same tensor as the token embedding, listed once) - is decayed;
biases and LayerNorm gains and shifts (1-D) are not: shrinking them towards 0 does not
regularise anything. This is the package's one implementation: ``GPT.configure_optimizers``,
the ``Trainer`` and the benchmarks all use it.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from llmwidgets.core.validate import check_real

__all__ = ["adamw", "decay_groups"]


def decay_groups(
    params: nn.Module | Iterable[torch.nn.Parameter], weight_decay: float
) -> list[dict]:
    """Split trainable parameters into a decayed group (>= 2-D) and a non-decayed one.

    Args:
        params: a module or an iterable of parameters; frozen ones
            (``requires_grad=False``) are left out, a shared tensor is listed once.
        weight_decay: the decay of the >= 2-D group, a finite number >= 0.

    Returns:
        One or two optimizer parameter groups (empty groups are dropped).

    Raises:
        ValueError: for a bad ``weight_decay`` or no trainable parameter at all.
    """
    weight_decay = check_real("weight_decay", weight_decay, 0)
    found = params.parameters() if isinstance(params, nn.Module) else params
    unique: dict[int, torch.nn.Parameter] = {}
    for p in found:
        if p.requires_grad:
            unique.setdefault(id(p), p)
    if not unique:
        raise ValueError("there are no trainable parameters (requires_grad=True) to optimise")
    kept = list(unique.values())
    groups = [
        {"params": [p for p in kept if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in kept if p.dim() < 2], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def adamw(
    params: nn.Module | Iterable[torch.nn.Parameter],
    lr: float,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
) -> torch.optim.AdamW:
    """AdamW over :func:`decay_groups`; the fused kernel when every parameter is on CUDA.

    Args:
        params: a module or an iterable of parameters.
        lr: the learning rate, a finite number > 0.
        weight_decay: decay of the >= 2-D parameters (GPT-3 used 0.1).
        betas: the moment decay rates (GPT-3 used (0.9, 0.95)).

    Returns:
        A ``torch.optim.AdamW``.
    """
    lr = check_real("lr", lr, 0, min_open=True)
    groups = decay_groups(params, weight_decay)
    on_cuda = all(p.is_cuda for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True if on_cuda else None)
