"""The learning-rate schedule: a linear warm-up, then a cosine decay to a floor.

::

    lr
     |      ____
     |     /    ‾‾--__
     |    /           ‾-__
     |   /                ‾-__ ________ min_lr
     |  /
     +--+------+----------------+--------> step
     0  warmup                decay end (the run's last step, or lr_decay_steps)

This is GPT-3's and nanoGPT's schedule. The decay's end is the run's last step unless
``lr_decay_steps`` says otherwise; under a time budget the trainer plans that last step
from its measured speed (:mod:`llmwidgets.training.budget`) and passes it here.
"""

from __future__ import annotations

import math

from llmwidgets.core.validate import check_int, check_optional_int
from llmwidgets.training.config import TrainerConfig

__all__ = ["lr_at"]


def lr_at(step: int, config: TrainerConfig, last_step: int | None = None) -> float:
    """The learning rate of one step: linear warm-up, then cosine decay to ``min_lr``.

    Args:
        step: the step number (1 is the first optimiser step; 0 gives 0 in warm-up).
        config: supplies ``lr``, ``min_lr``, ``warmup_steps``, ``lr_decay_steps`` and
            ``max_steps``.
        last_step: the run's last step when it is not ``config.max_steps`` (a time
            budget plans it); ``None`` uses ``max_steps``.

    Returns:
        ``lr * step / warmup_steps`` up to ``warmup_steps``; then
        ``min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2`` with ``progress``
        going from 0 to 1 until the decay's end (``lr_decay_steps``, else the last
        step); then ``min_lr``.

    Raises:
        ValueError: for a negative step, a config that is not a ``TrainerConfig``, or a
            ``last_step`` < 1.
    """
    step = check_int("step", step, 0)
    if not isinstance(config, TrainerConfig):
        raise ValueError(f"config must be a TrainerConfig, got {type(config).__name__}")
    last_step = check_optional_int("last_step", last_step, 1)
    warmup = config.warmup_steps
    if config.lr_decay_steps is not None:
        decay_end = config.lr_decay_steps
    else:
        decay_end = last_step if last_step is not None else config.max_steps
    if step < warmup:
        return config.lr * step / warmup
    if step >= decay_end:
        return config.min_lr if decay_end > warmup else config.lr
    progress = (step - warmup) / (decay_end - warmup)
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
