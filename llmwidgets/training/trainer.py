"""A small, readable training loop for any next-token model (in the style of minGPT).

The model only has to map token ids to logits: ``model(idx) -> logits (B, T, V)``.
One optimiser step is, in order::

    lr = lr_at(step)                       # warm-up, then cosine decay
    x, y = train_batcher.get_batch()       # a fresh batch every step
    logits = model(x)                      # forward pass INSIDE the loop
    loss = cross_entropy(logits, y)
    scaler.scale(loss).backward()          # gradient scaling only for fp16
    clip_grad_norm_(..., grad_clip)        # after unscaling
    scaler.step(optimizer); scaler.update(); optimizer.zero_grad()

Callbacks (e.g. :class:`llmwidgets.LiveLossPlot`) get ``on_step_end(step, metrics)``
after every step and ``on_train_end()`` at the end. A checkpoint holds everything
needed to continue bit for bit: weights, optimiser, scaler, batcher and RNG states.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llmwidgets.core.device import Precision, pick_device, pick_precision, seed_everything
from llmwidgets.core.validate import check_int
from llmwidgets.nn.optim import adamw
from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.losses import evaluate_loss, model_inputs, next_token_loss

__all__ = ["Trainer", "TrainerConfig", "lr_at"]

#: The ``format`` tag of a checkpoint written by :meth:`Trainer.save_checkpoint`.
CHECKPOINT_FORMAT = "llmwidgets.Trainer/1"


@dataclass
class TrainerConfig:
    """Settings of a training run; every field is checked when the config is made.

    Raises:
        ValueError: naming the first bad value.
    """

    max_steps: int = 1000  # optimiser steps in all; steps are numbered 1..max_steps
    batch_size: int | None = None  # rows per batch; None takes train_batcher.batch_size
    lr: float = 3e-4  # peak learning rate, reached at the end of the warm-up
    min_lr: float = 3e-5  # floor of the cosine decay (lr / 10, as in Chinchilla)
    warmup_steps: int = 100  # linear warm-up from 0 to lr over this many steps
    lr_decay_steps: int | None = None  # step at which the cosine reaches min_lr; None: max_steps
    weight_decay: float = 0.1  # AdamW decay, applied to >= 2-D weights only (GPT-3's value)
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW moment decay rates (GPT-3's values)
    grad_clip: float | None = 1.0  # clip the global gradient norm to this; None: no clipping
    eval_every: int = 100  # validation loss every this many steps, and at the last step
    eval_iters: int = 20  # batches averaged for one validation loss
    seed: int = 1337  # seeds Python, NumPy and torch when the Trainer is made
    device: str | None = None  # "cpu", "cuda", "mps"...; None: pick_device() chooses
    checkpoint_path: str | None = None  # where checkpoints go; None: never save
    checkpoint_every: int = 0  # also save every this many steps; 0: only at the end of fit()

    def __post_init__(self) -> None:
        for name, minimum in (("max_steps", 1), ("warmup_steps", 0), ("eval_every", 1),
                              ("eval_iters", 1), ("seed", 0), ("checkpoint_every", 0)):  # fmt: skip
            check_int(name, getattr(self, name), minimum)
        for name in ("batch_size", "lr_decay_steps"):  # None means "the default"
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        for name in ("lr", "min_lr", "weight_decay", "grad_clip"):  # numbers first...
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                if not (name == "grad_clip" and value is None):
                    raise ValueError(f"{name} must be a number, got {value!r}")
        for name, ok, rule in (  # ...then their ranges
            ("lr", 0 < self.lr < math.inf, "a finite number > 0"),
            ("min_lr", 0 <= self.min_lr <= self.lr, f"a number in [0, lr={self.lr}]"),
            ("weight_decay", 0 <= self.weight_decay < math.inf, "a finite number >= 0"),
            ("grad_clip", self.grad_clip is None or 0 < self.grad_clip < math.inf, "> 0 or None"),
        ):
            if not ok:
                raise ValueError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        if (
            not isinstance(self.betas, (tuple, list))
            or len(self.betas) != 2
            or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in self.betas)
        ):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if self.warmup_steps > self.max_steps:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must be <= max_steps ({self.max_steps})"
            )
        if self.lr_decay_steps is not None and self.lr_decay_steps < self.warmup_steps:
            raise ValueError(
                f"lr_decay_steps ({self.lr_decay_steps}) must be >= warmup_steps "
                f"({self.warmup_steps})"
            )
        if self.checkpoint_path is not None:
            self.checkpoint_path = os.fspath(self.checkpoint_path)


def lr_at(step: int, config: TrainerConfig) -> float:
    """The learning rate of one step: linear warm-up, then cosine decay to ``min_lr``.

    Args:
        step: the step number (1 is the first optimiser step; 0 gives 0 in warm-up).
        config: supplies ``lr``, ``min_lr``, ``warmup_steps`` and ``lr_decay_steps``.

    Returns:
        ``lr * step / warmup_steps`` up to ``warmup_steps``; then
        ``min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2`` with ``progress``
        going from 0 to 1 until ``lr_decay_steps`` (default ``max_steps``); then ``min_lr``.
    """
    warmup = config.warmup_steps
    decay_end = config.lr_decay_steps if config.lr_decay_steps is not None else config.max_steps
    if step < warmup:
        return config.lr * step / warmup
    if step >= decay_end:
        return config.min_lr if decay_end > warmup else config.lr
    progress = (step - warmup) / (decay_end - warmup)
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _make_optimizer(model: nn.Module, config: TrainerConfig, device: torch.device):
    """Use ``model.configure_optimizers`` when the model has one, else AdamW."""
    configure = getattr(model, "configure_optimizers", None)
    if not callable(configure):
        return adamw(model, config.lr, config.weight_decay, config.betas)
    # Pass the settings under the names the method takes (nanoGPT's or torch's);
    # a method with **kwargs also gets weight_decay, lr and betas.
    offered = {
        "weight_decay": config.weight_decay,
        "lr": config.lr,
        "learning_rate": config.lr,
        "betas": config.betas,
        "device_type": device.type,
    }
    params = inspect.signature(configure).parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    defaults = {"weight_decay", "lr", "betas"} if takes_kwargs else set()
    offered = {k: v for k, v in offered.items() if k in params or k in defaults}
    optimizer = configure(**offered)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"model.configure_optimizers() must return a torch.optim.Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    return optimizer


def _callback_hooks(callback: Any) -> tuple[Callable, Callable | None, Callable | None]:
    """(on_step_end, on_train_begin, on_train_end) of an object or a plain callable."""
    step_end = getattr(callback, "on_step_end", None)
    if not callable(step_end):
        if not callable(callback):
            raise ValueError(
                f"callback {callback!r} must have on_step_end(step, metrics) or be callable"
            )
        step_end = callback
    begin = getattr(callback, "on_train_begin", None)
    end = getattr(callback, "on_train_end", None)
    return step_end, begin if callable(begin) else None, end if callable(end) else None


def _takes_an_argument(fn: Callable) -> bool:
    """Whether ``fn`` accepts one positional argument (``on_train_begin(history)``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional or p.kind is p.VAR_POSITIONAL for p in params)


def _model_config(model: nn.Module) -> dict[str, Any] | None:
    """The model's ``config`` as a dict, when it is a dataclass (as in minGPT)."""
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return None


class Trainer:
    """Train a next-token model with AdamW, a cosine schedule, AMP and checkpoints.

    Args:
        model: any ``nn.Module`` with ``model(idx) -> logits (B, T, V)``. It is moved
            to the config's device.
        config: a :class:`TrainerConfig`.
        train_batcher: gives ``(x, y)`` batches (a :class:`TokenBatcher`).
        val_batcher: batches for the validation loss; ``None`` skips validation.
        callbacks: objects with ``on_step_end(step, metrics)`` (and optionally
            ``on_train_begin(history)`` - it receives the trainer's one
            :class:`MetricHistory` - or ``on_train_begin()``, and ``on_train_end()``), or
            callables ``f(step, metrics)``.
        precision: autocast and loss scaling; ``None`` uses :func:`pick_precision`
            (bf16 on CUDA >= 8.0, fp16 + GradScaler below, fp32 on CPU/MPS).

    Raises:
        ValueError: for a bad model, batcher, callback or a batch size mismatch.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainerConfig,
        train_batcher: TokenBatcher,
        val_batcher: TokenBatcher | None = None,
        callbacks: Iterable[Any] = (),
        precision: Precision | None = None,
    ) -> None:
        if not isinstance(model, nn.Module) or not any(True for _ in model.parameters()):
            raise ValueError(f"model must be an nn.Module with parameters, got {model!r}")
        if not isinstance(config, TrainerConfig):
            raise ValueError(f"config must be a TrainerConfig, got {type(config).__name__}")
        for name, b in (("train_batcher", train_batcher), ("val_batcher", val_batcher)):
            if b is not None and not callable(getattr(b, "get_batch", None)):
                raise ValueError(f"{name} must have get_batch() (a TokenBatcher), got {b!r}")
        if train_batcher is None:
            raise ValueError("train_batcher must be a TokenBatcher, got None")
        if config.batch_size is not None and config.batch_size != train_batcher.batch_size:
            raise ValueError(
                f"config.batch_size ({config.batch_size}) differs from "
                f"train_batcher.batch_size ({train_batcher.batch_size}); set one of them"
            )
        self.config = config
        self.device = pick_device(config.device)
        self.precision = precision if precision is not None else pick_precision(self.device)
        self.model = model.to(self.device)
        self.train_batcher = train_batcher
        self.val_batcher = val_batcher
        self.callbacks = [_callback_hooks(cb) for cb in callbacks]
        seed_everything(config.seed)  # dropout and any other global randomness
        self.optimizer = _make_optimizer(self.model, config, self.device)
        self.scaler = self.precision.grad_scaler()  # disabled (a pass-through) unless fp16
        self.step = 0  # optimiser steps done so far
        self.best_val_loss = math.inf
        self.history = MetricHistory()

    def evaluate(self) -> float:
        """The validation loss now (mean over ``eval_iters`` fixed batches)."""
        if self.val_batcher is None:
            raise ValueError("evaluate() needs a val_batcher; none was given")
        return evaluate_loss(self.model, self.val_batcher, self.config.eval_iters, self.precision)

    def _notify(self, step: int, metrics: dict[str, float]) -> None:
        for on_step_end, _, _ in self.callbacks:
            on_step_end(step, dict(metrics))  # a copy each: a callback cannot alter another's

    def fit(self, steps: int | None = None) -> MetricHistory:
        """Train from the current step until ``max_steps`` (or for ``steps`` more steps).

        Args:
            steps: how many steps to run now; ``None`` runs to ``config.max_steps``.

        Returns:
            The :class:`~llmwidgets.history.MetricHistory` of the whole run, with
            ``train_loss``, ``lr``, ``tokens_per_sec``, ``grad_norm`` each step and
            ``val_loss`` every ``eval_every`` steps and at ``max_steps``.

        Raises:
            FloatingPointError: when the loss becomes NaN or inf (callbacks see it first).
        """
        cfg = self.config
        last = cfg.max_steps
        if steps is not None:
            last = min(cfg.max_steps, self.step + check_int("steps", steps, 1))
        for _, on_train_begin, _ in self.callbacks:
            if on_train_begin is not None:  # the trainer's one history, to callbacks that want it
                on_train_begin(self.history) if _takes_an_argument(
                    on_train_begin
                ) else on_train_begin()
        self.model.train()
        try:
            for step in range(self.step + 1, last + 1):
                t0 = time.perf_counter()
                # 1. The learning rate of this step, written into every parameter group.
                lr = lr_at(step, cfg)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                # 2. A fresh batch, moved to the model's device.
                x, y = self.train_batcher.get_batch()
                x = model_inputs(x, self.device)  # one tensor, or (src, tgt_in) for seq2seq
                y = y.to(self.device, non_blocking=True)
                # 3. Forward pass INSIDE the loop: the logits must come from the current
                #    weights, so they are recomputed at every step.
                with self.precision.autocast():
                    logits = self.model(*x)
                loss = next_token_loss(logits, y)  # cross-entropy over (B*T, V), in fp32
                train_loss = loss.item()
                metrics = {"train_loss": train_loss, "lr": lr}
                # 4. Stop on NaN/inf before it reaches the weights; callbacks see it first.
                if not math.isfinite(train_loss):
                    self.history.record(step, metrics)
                    self._notify(step, metrics)
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
                metrics["tokens_per_sec"] = y.numel() / max(time.perf_counter() - t0, 1e-9)
                # 8. Validation loss every eval_every steps and at the last step.
                if self.val_batcher is not None and (
                    step % cfg.eval_every == 0 or step == cfg.max_steps
                ):
                    metrics["val_loss"] = self.evaluate()
                    self.best_val_loss = min(self.best_val_loss, metrics["val_loss"])
                # 9. Record, tell the callbacks, save a checkpoint when one is due.
                self.history.record(step, metrics)
                self._notify(step, metrics)
                if (
                    cfg.checkpoint_path
                    and cfg.checkpoint_every
                    and step % cfg.checkpoint_every == 0
                ):
                    self.save_checkpoint()
        finally:
            self.history.stop()  # freeze the elapsed time until training resumes
            for _, _, on_train_end in self.callbacks:
                if on_train_end is not None:
                    on_train_end()
        if cfg.checkpoint_path:
            self.save_checkpoint()
        return self.history

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
        path = Path(path)
        np_state = np.random.get_state()
        state = {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "model": self.model.state_dict(),
            "model_class": type(self.model).__qualname__,
            "model_config": _model_config(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "train_batcher": self.train_batcher.state_dict(),
            "val_batcher": None if self.val_batcher is None else self.val_batcher.state_dict(),
            "rng": {
                "python": random.getstate(),
                # NumPy's uint32 key array as an int64 tensor: loadable with weights_only.
                "numpy": (
                    np_state[0],
                    torch.from_numpy(np_state[1].astype(np.int64)),
                    *np_state[2:],
                ),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
            "config": dataclasses.asdict(self.config),
            "precision": self.precision.name,
            "best_val_loss": self.best_val_loss,
            "history": self.history.to_dict(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path

    def _check_model_fits(self, ckpt: dict[str, Any], path: Path) -> None:
        """Raise a readable ValueError when the checkpoint's weights do not fit the model."""
        saved, ours = ckpt["model"], self.model.state_dict()
        problems = []
        saved_cfg, our_cfg = ckpt.get("model_config"), _model_config(self.model)
        if saved_cfg is not None and our_cfg is not None and saved_cfg != our_cfg:
            keys = sorted(
                k for k in set(saved_cfg) | set(our_cfg) if saved_cfg.get(k) != our_cfg.get(k)
            )
            diff = ", ".join(f"{k}={saved_cfg.get(k)!r} vs {our_cfg.get(k)!r}" for k in keys)
            problems.append(f"model config (checkpoint vs model): {diff}")
        if set(saved) != set(ours):
            problems.append(
                f"missing in checkpoint: {sorted(set(ours) - set(saved))}; "
                f"not in model: {sorted(set(saved) - set(ours))}"
            )
        common = sorted(k for k in set(saved) & set(ours) if saved[k].shape != ours[k].shape)
        if common:
            shapes = ", ".join(
                f"{k} {tuple(saved[k].shape)} vs {tuple(ours[k].shape)}" for k in common
            )
            problems.append(f"shapes (checkpoint vs model): {shapes}")
        if problems:
            raise ValueError(
                f"checkpoint {path} (a {ckpt.get('model_class')}) does not fit this model "
                f"({type(self.model).__qualname__}): " + "; ".join(problems)
            )

    def resume(self, path: str | os.PathLike[str]) -> int:
        """Load a checkpoint into this trainer, so :meth:`fit` continues exactly.

        The model, optimiser, scaler, batchers, RNGs, step, best validation loss
        and history are restored. The trainer keeps its own config; differences
        from the saved one (other than max_steps, evaluation, device, checkpointing) are
        warned about, because the run is then no longer an exact continuation.

        Args:
            path: a file written by :meth:`save_checkpoint`.

        Returns:
            The step the checkpoint was saved at.

        Raises:
            ValueError: for a file that is not a trainer checkpoint, weights (or a
                model config) that do not fit this model, or batchers that differ.
        """
        path = Path(path)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a checkpoint written by Trainer.save_checkpoint()")
        self._check_model_fits(ckpt, path)
        ours = dataclasses.asdict(self.config)
        # Settings that leave the training trajectory unchanged.
        free = {"max_steps", "batch_size", "device", "eval_every", "eval_iters"}
        free |= {"checkpoint_path", "checkpoint_every"}
        changed = [
            f"{k}: {ckpt['config'].get(k)!r} -> {v!r}"
            for k, v in ours.items()
            if k not in free and ckpt["config"].get(k) != v
        ]
        if ckpt.get("precision") != self.precision.name:
            changed.append(f"precision: {ckpt.get('precision')} -> {self.precision.name}")
        if changed:
            warnings.warn(
                "resuming with a different config, so not an exact continuation: "
                + ", ".join(changed),
                stacklevel=2,
            )
        # Batchers first: they refuse other sizes before anything else has changed.
        self.train_batcher.load_state_dict(ckpt["train_batcher"])
        if self.val_batcher is not None and ckpt["val_batcher"] is not None:
            self.val_batcher.load_state_dict(ckpt["val_batcher"])
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])  # moves state to the params' device
        if ckpt["scaler"]:  # empty when saved without fp16: keep this trainer's fresh scaler
            self.scaler.load_state_dict(ckpt["scaler"])
        rng = ckpt["rng"]
        random.setstate(rng["python"])
        name, keys, *rest = rng["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.step = int(ckpt["step"])
        self.best_val_loss = float(ckpt["best_val_loss"])
        self.history.load_dict(ckpt["history"])  # in place: whoever holds it sees the run
        return self.step
