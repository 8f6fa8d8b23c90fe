"""``TrainerConfig``: every setting of a training run, checked once and then frozen.

The config is a frozen dataclass: once a :class:`~llmwidgets.training.trainer.Trainer` is
built from it, nobody can change it under the trainer's feet (``config.max_steps = 5``
raises ``FrozenInstanceError``). Make a changed copy, checked again, with
``dataclasses.replace(config, max_steps=5)`` and build a new trainer.

The defaults are GPT-3's optimiser settings (AdamW, betas (0.9, 0.95), weight decay 0.1,
clipping at 1.0) with a learning rate that is safe for the book's small models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from llmwidgets.core.validate import (
    check_bool,
    check_int,
    check_optional_int,
    check_real,
    check_str,
)

__all__ = ["TrainerConfig"]


@dataclass(frozen=True)
class TrainerConfig:
    """Settings of a training run; every field is checked when the config is made.

    Raises:
        ValueError: naming the first bad value.
    """

    # --- How long: steps, and optionally seconds.
    # Optimiser steps in all, numbered 1..max_steps. Under a time budget it is an upper
    # bound. 1000: a few minutes of the book's small models on a laptop CPU.
    max_steps: int = 1000
    # Rows per batch. None (the default) takes train_batcher.batch_size, the one place the
    # batch size is set; a number is only checked against it (a mismatch is an error).
    batch_size: int | None = None
    # --- The learning-rate schedule (see llmwidgets.training.schedule.lr_at).
    # Peak learning rate, reached at the end of the warm-up. 3e-4: safe for AdamW on small
    # transformers; the book's character models train well with up to 5e-3.
    lr: float = 3e-4
    # Floor of the cosine decay. lr / 10, as in Chinchilla.
    min_lr: float = 3e-5
    # Steps of linear warm-up from 0 to lr. 100: long enough for Adam's moment estimates
    # to settle before the full learning rate is applied.
    warmup_steps: int = 100
    # The step at which the cosine reaches min_lr (and stays there). None (the default):
    # the run's last step, so the decay ends when training does (max_steps, or the last
    # step planned under max_seconds).
    lr_decay_steps: int | None = None
    # --- The optimiser: AdamW (llmwidgets.nn.optim.adamw) unless the model brings its own.
    # Decoupled weight decay of the >= 2-D weights (biases and LayerNorms are not decayed).
    # 0.1: GPT-3's value.
    weight_decay: float = 0.1
    # AdamW's moment decay rates. (0.9, 0.95): GPT-3's; the second, lower than torch's
    # 0.999, lets the step size react faster to a loss spike.
    betas: tuple[float, float] = (0.9, 0.95)
    # Clip the global gradient norm to this; None: measure it, never clip. 1.0: GPT-3's.
    grad_clip: float | None = 1.0
    # --- Evaluation.
    # Validation loss every this many steps and at the last step. 100: often enough for
    # a smooth curve, rare enough to cost a few % of the time.
    eval_every: int = 100
    # Fixed validation batches averaged for one validation loss. 20: a stable estimate.
    eval_iters: int = 20
    # --- Randomness, device, checkpoints.
    # None (the default): the trainer never seeds; seed yourself before building the model
    # (lw.setup(seed=...) or lw.seed_everything), so one seed fixes the whole run. An int:
    # fit() seeds Python, NumPy and torch with it once, before the first step of a fresh
    # run (never in the constructor, never on resume): dropout then depends on the config
    # alone, whatever ran in between. The batchers have their own seeds.
    seed: int | None = None
    # "cpu", "cuda", "cuda:1", "mps"...; None: pick_device() chooses (LLMW_DEVICE, else
    # CUDA, then MPS, then the CPU).
    device: str | None = None
    # Where checkpoints go; None: never save one.
    checkpoint_path: str | None = None
    # Also save every this many steps; 0 (the default): only at the end of each fit().
    checkpoint_every: int = 0
    # --- Added in 0.3: a time budget and the best weights.
    # Seconds the whole run may take, evaluations and callbacks included (time between
    # fit() calls does not count). The trainer measures its speed and plans the last step
    # so that the cosine and the final evaluation end on time, then stops. None: no budget.
    max_seconds: float | None = None
    # Keep a CPU copy of the weights with the lowest validation loss (Trainer.best_state,
    # Trainer.restore_best()). Off by default: it costs one copy of the weights.
    keep_best: bool = False

    def __post_init__(self) -> None:
        for name, minimum in (("max_steps", 1), ("warmup_steps", 0), ("eval_every", 1),
                              ("eval_iters", 1), ("checkpoint_every", 0)):  # fmt: skip
            check_int(name, getattr(self, name), minimum)
        check_optional_int("batch_size", self.batch_size, 1)
        check_optional_int("lr_decay_steps", self.lr_decay_steps, 1)
        check_optional_int("seed", self.seed, 0, 2**32 - 1)
        check_real("lr", self.lr, 0, min_open=True)
        check_real("min_lr", self.min_lr, 0)
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) must be <= lr ({self.lr})")
        check_real("weight_decay", self.weight_decay, 0)
        if self.grad_clip is not None:
            check_real("grad_clip", self.grad_clip, 0, min_open=True)
        if self.max_seconds is not None:
            check_real("max_seconds", self.max_seconds, 0, min_open=True)
        check_bool("keep_best", self.keep_best)
        betas = self.betas
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        for i, beta in enumerate(betas):
            check_real(f"betas[{i}]", beta, 0, 1, max_open=True)
        # Normalise in place: a frozen dataclass needs object.__setattr__ for that.
        object.__setattr__(self, "betas", (float(betas[0]), float(betas[1])))
        if isinstance(self.device, torch.device):
            object.__setattr__(self, "device", str(self.device))
        elif self.device is not None:
            check_str("device", self.device)
        if isinstance(self.checkpoint_path, os.PathLike):
            object.__setattr__(self, "checkpoint_path", os.fspath(self.checkpoint_path))
        elif self.checkpoint_path is not None:
            check_str("checkpoint_path", self.checkpoint_path)
        if self.warmup_steps > self.max_steps:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must be <= max_steps ({self.max_steps})"
            )
        if self.lr_decay_steps is not None and self.lr_decay_steps < self.warmup_steps:
            raise ValueError(
                f"lr_decay_steps ({self.lr_decay_steps}) must be >= warmup_steps "
                f"({self.warmup_steps})"
            )
        if self.checkpoint_every and self.checkpoint_path is None:
            raise ValueError(
                f"checkpoint_every={self.checkpoint_every} needs a checkpoint_path "
                "(where to save); set one, or checkpoint_every=0"
            )
