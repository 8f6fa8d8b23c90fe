"""A small, readable training loop for any next-token model (in the style of minGPT).

The model only has to map token ids to logits: ``model(idx) -> logits (B, T, V)`` (or
``model(*x)`` when a batch's input is a tuple, as for an encoder-decoder). One optimiser
step is, in order::

    lr = lr_at(step, config, last_step)    # warm-up, then cosine decay
    x, y = train_batcher.get_batch()       # a fresh batch every step
    logits = model(x)                      # forward pass INSIDE the loop
    loss = cross_entropy(logits, y)
    scaler.scale(loss).backward()          # gradient scaling only for fp16
    clip_grad_norm_(..., grad_clip)        # after unscaling
    scaler.step(optimizer); scaler.update(); optimizer.zero_grad()

Around it: the validation loss every ``eval_every`` steps and at the last step, the
metrics recorded in one :class:`MetricHistory` and given to the callbacks
(:mod:`~llmwidgets.training.callbacks`, which can also stop the run), checkpoints
(:mod:`~llmwidgets.training.checkpoints`), an optional time budget that plans the last
step (:mod:`~llmwidgets.training.budget`) and an optional copy of the best weights.

The settings are a frozen :class:`TrainerConfig` (:mod:`~llmwidgets.training.config`);
the schedule is :func:`lr_at` (:mod:`~llmwidgets.training.schedule`).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from llmwidgets.core.device import Precision, pick_device, pick_precision, seed_everything
from llmwidgets.core.validate import check_callable, check_int
from llmwidgets.training.batches import Batcher, check_batcher
from llmwidgets.training.budget import TimeBudget
from llmwidgets.training.callbacks import Callbacks, StopTraining
from llmwidgets.training.checkpoints import (
    CHECKPOINT_FORMAT,
    check_model_fits,
    config_changes,
    read_checkpoint,
    restore_trainer,
    trainer_state,
)
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.files import save_file
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.losses import evaluate_loss, model_inputs, next_token_loss
from llmwidgets.training.optimizer import make_optimizer
from llmwidgets.training.schedule import lr_at

__all__ = ["CHECKPOINT_FORMAT", "StopTraining", "Trainer", "TrainerConfig", "lr_at"]


class Trainer:
    """Train a next-token model with AdamW, a cosine schedule, AMP and checkpoints.

    The constructor changes no global state: it does not seed (see ``TrainerConfig.seed``).

    Args:
        model: any ``nn.Module`` with ``model(idx) -> logits (B, T, V)``; moved to the
            config's device.
        config: a :class:`TrainerConfig` (frozen: the trainer's settings cannot drift).
        train_batcher: a :class:`~llmwidgets.training.batches.Batcher` (a ``TokenBatcher``).
        val_batcher: batches for the validation loss; ``None`` skips validation.
        callbacks: see :mod:`llmwidgets.training.callbacks`.
        precision: autocast and loss scaling; ``None`` uses :func:`pick_precision`
            (bf16 on CUDA >= 8.0, fp16 + GradScaler below, fp32 on CPU/MPS).
        clock: seconds for the time budget and ``tokens_per_sec``;
            ``time.perf_counter`` unless a test passes a fake one.

    Raises:
        ValueError: for a bad model, batcher, callback, a batch size mismatch, or
            ``keep_best`` without a ``val_batcher``.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainerConfig,
        train_batcher: Batcher,
        val_batcher: Batcher | None = None,
        callbacks: Iterable[Any] = (),
        precision: Precision | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module) or not any(True for _ in model.parameters()):
            raise ValueError(f"model must be an nn.Module with parameters, got {model!r}")
        if not isinstance(config, TrainerConfig):
            raise ValueError(f"config must be a TrainerConfig, got {type(config).__name__}")
        check_batcher("train_batcher", train_batcher)
        if val_batcher is not None:
            check_batcher("val_batcher", val_batcher)
        if config.batch_size is not None and config.batch_size != train_batcher.batch_size:
            raise ValueError(
                f"config.batch_size ({config.batch_size}) differs from "
                f"train_batcher.batch_size ({train_batcher.batch_size}); set one of them"
            )
        if config.keep_best and val_batcher is None:
            raise ValueError("keep_best=True needs a val_batcher: 'best' means lowest val_loss")
        if precision is not None and not isinstance(precision, Precision):
            raise ValueError(f"precision must be a Precision or None, got {precision!r}")
        self._config = config
        self.clock = check_callable("clock", clock) if clock is not None else time.perf_counter
        self.device = pick_device(config.device)
        self.precision = precision if precision is not None else pick_precision(self.device)
        self.model = model.to(self.device)
        self.train_batcher = train_batcher
        self.val_batcher = val_batcher
        self.callbacks = Callbacks(callbacks)
        self.optimizer = make_optimizer(self.model, config, self.device)
        self.scaler = self.precision.grad_scaler()  # disabled (a pass-through) unless fp16
        self.step = 0  # optimiser steps done so far
        self.last_step = config.max_steps  # the run's last step; a time budget plans it
        self.budget = TimeBudget(config.max_seconds) if config.max_seconds else None
        self.best_val_loss = math.inf
        self.best_step: int | None = None  # the step of best_val_loss
        self.best_state: dict[str, torch.Tensor] | None = None  # with keep_best: CPU copy
        self.stop_reason: str | None = None  # why the last fit() ended early, or None
        self.history = MetricHistory()

    @property
    def config(self) -> TrainerConfig:
        """The run's settings (read-only; build a new trainer for other ones)."""
        return self._config

    def evaluate(self) -> float:
        """The validation loss now (mean over ``eval_iters`` fixed batches)."""
        if self.val_batcher is None:
            raise ValueError("evaluate() needs a val_batcher; none was given")
        return evaluate_loss(self.model, self.val_batcher, self.config.eval_iters, self.precision)

    def fit(self, steps: int | None = None) -> MetricHistory:
        """Train from the current step to the last one (or for ``steps`` more steps).

        The run ends at ``max_steps``; under ``max_seconds`` at the last step that fits
        (planned from the measured speed) or when the time is spent, whichever is first.
        A callback can end it early by raising :class:`StopTraining`.

        Args:
            steps: how many steps to run now; ``None`` runs to the last step.

        Returns:
            The :class:`MetricHistory` of the whole run, with ``train_loss``, ``lr``,
            ``tokens_per_sec``, ``grad_norm`` each step and ``val_loss`` every
            ``eval_every`` steps and at the last step. ``stop_reason`` says why the
            run ended early (``None`` when it did not).

        Raises:
            FloatingPointError: when the loss becomes NaN or inf (callbacks see it first).
        """
        cfg = self.config
        stop_at = math.inf if steps is None else self.step + check_int("steps", steps, 1)
        self.stop_reason = None
        if cfg.seed is not None and self.step == 0:
            seed_everything(cfg.seed)  # asked for in the config: a fresh run starts seeded
        self.callbacks.train_begin(self.history)
        self.model.train()
        try:
            while self.step < min(self.last_step, stop_at) and self.stop_reason is None:
                self._one_step()
        finally:
            self.history.stop()  # freeze the elapsed time until training resumes
            self.callbacks.train_end()
        if cfg.checkpoint_path:
            self.save_checkpoint()
        return self.history

    def _one_step(self) -> None:
        """One optimiser step with its evaluation, records, callbacks and bookkeeping."""
        cfg, step = self.config, self.step + 1
        if self.budget is not None and self.budget.expired:
            self.stop_reason = f"time budget of {self.budget.seconds:g} s spent"
            return
        t0 = self.clock()
        metrics, tokens = self._train_step(step)
        metrics["tokens_per_sec"] = tokens / max(self.clock() - t0, 1e-9)
        eval_seconds = None
        if self.val_batcher is not None and (step % cfg.eval_every == 0 or step == self.last_step):
            t_eval = self.clock()
            metrics["val_loss"] = self.evaluate()
            eval_seconds = self.clock() - t_eval
            self._track_best(step, metrics["val_loss"])
        self.history.record(step, metrics)
        reason = self.callbacks.step_end(step, metrics)
        if reason is not None:
            self.stop_reason = f"StopTraining at step {step}: {reason}"
        if cfg.checkpoint_path and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            self.save_checkpoint()
        if self.budget is not None:
            self.budget.add(self.clock() - t0 - (eval_seconds or 0.0), eval_seconds)
            every = cfg.eval_every if self.val_batcher is not None else None
            # The planned last step, once reached, ends the run: its evaluation was the
            # final one and the cosine is at its end, so time left over is not re-planned.
            planned = None
            if step < self.last_step:
                planned = self.budget.replan(
                    step, cfg.warmup_steps, eval_seconds is not None, every, cfg.eval_iters
                )
            if planned is not None:  # the cosine and the final evaluation end on time
                self.last_step = min(cfg.max_steps, planned)
            if self.budget.expired and self.stop_reason is None and step < self.last_step:
                self.stop_reason = f"time budget of {self.budget.seconds:g} s spent"

    def _train_step(self, step: int) -> tuple[dict[str, float], int]:
        """Forward, backward, clip, update; returns the metrics and the tokens trained on."""
        cfg = self.config
        # 1. The learning rate of this step, written into every parameter group.
        lr = lr_at(step, cfg, self.last_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # 2. A fresh batch, moved to the model's device.
        batch = self.train_batcher.get_batch()
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"train_batcher.get_batch() must return (x, y), got {batch!r:.80}")
        x = model_inputs(batch[0], self.device)  # one tensor, or (src, tgt_in) for seq2seq
        y = batch[1].to(self.device, non_blocking=True)
        # 3. Forward pass INSIDE the loop: the logits must come from the current weights.
        with self.precision.autocast():
            logits = self.model(*x)
        loss = next_token_loss(logits, y)  # cross-entropy over (B*T, V), in fp32
        train_loss = loss.item()
        metrics = {"train_loss": train_loss, "lr": lr}
        # 4. Stop on NaN/inf before it reaches the weights; callbacks see it first.
        if not math.isfinite(train_loss):
            self.history.record(step, metrics)
            self.callbacks.step_end(step, metrics)
            raise FloatingPointError(
                f"train_loss is {train_loss} at step {step} (lr {lr:.3g}); the weights "
                f"are those after step {step - 1}. Try a smaller lr or grad_clip"
            )
        # 5. Backward pass; the scaler multiplies the loss only in fp16.
        self.scaler.scale(loss).backward()
        # 6. Unscale, then clip the global gradient norm (inf: measure only).
        self.scaler.unscale_(self.optimizer)
        clip = cfg.grad_clip if cfg.grad_clip is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        # 7. Optimiser step (skipped by the scaler if fp16 gradients overflowed).
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step = step
        metrics["grad_norm"] = grad_norm.item()
        return metrics, y.numel()

    def _track_best(self, step: int, val_loss: float) -> None:
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.best_step = val_loss, step
            if self.config.keep_best:
                state = self.model.state_dict()
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}

    def restore_best(self) -> int:
        """Load the weights with the lowest validation loss (needs ``keep_best=True``).

        Returns:
            The step those weights come from.

        Raises:
            ValueError: without ``keep_best``, or before the first validation loss.
        """
        if not self.config.keep_best:
            raise ValueError("restore_best() needs TrainerConfig(keep_best=True)")
        if self.best_state is None:
            raise ValueError(
                "no best weights yet: no validation loss was computed with keep_best=True "
                "(a checkpoint written before version 0.3 holds none)"
            )
        self.model.load_state_dict(self.best_state)
        return self.best_step

    def save_checkpoint(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Save everything needed to continue exactly where training stands.

        Args:
            path: the file; ``None`` uses ``config.checkpoint_path``.

        Returns:
            The path written (atomically: a temporary file, then a rename).
        """
        path = path if path is not None else self.config.checkpoint_path
        if path is None:
            raise ValueError("save_checkpoint() needs a path (or config.checkpoint_path)")
        return save_file(trainer_state(self), path)

    def resume(self, path: str | os.PathLike[str]) -> int:
        """Load a checkpoint into this trainer, so :meth:`fit` continues exactly.

        The model, optimiser, scaler, batchers, global RNG states, step, best validation
        loss (and weights) and history are restored. The trainer keeps its own config;
        differences from the saved one that change the trajectory are warned about.

        Args:
            path: a file written by :meth:`save_checkpoint` (any version).

        Returns:
            The step the checkpoint was saved at.

        Raises:
            FileNotFoundError: when there is no such file.
            ValueError: (``CheckpointError``) for a damaged or unsafe file or one that is
                not a trainer checkpoint; for weights or a model config that do not fit
                this model; for batchers of other sizes. Nothing is changed then.
        """
        ckpt = read_checkpoint(path)
        check_model_fits(ckpt, self.model, path)
        changed = config_changes(ckpt, self.config, self.precision.name)
        if changed:
            warnings.warn(
                "resuming with a different config, so not an exact continuation: "
                + ", ".join(changed),
                stacklevel=2,
            )
        restore_trainer(self, ckpt)
        return self.step
