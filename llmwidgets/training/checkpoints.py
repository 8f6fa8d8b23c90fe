"""Trainer checkpoints: the file's layout, and the checks made before one is loaded.

A checkpoint holds everything needed to continue a run bit for bit. Its ``format`` is
``"llmwidgets.Trainer/1"``, with these keys (unchanged since version 0.1, so every saved
checkpoint still loads):

==================  ==========================================================
``format``          :data:`CHECKPOINT_FORMAT`
``step``            optimiser steps done
``model``           the model's ``state_dict()``
``model_class``     the model's class name (a bare ``__qualname__``, no module)
``model_config``    the model's dataclass ``config`` as a dict, or ``None``
``optimizer``       the optimiser's ``state_dict()``
``scaler``          the gradient scaler's ``state_dict()`` (empty without fp16)
``train_batcher``   the training batcher's ``state_dict()``
``val_batcher``     the validation batcher's ``state_dict()``, or ``None``
``rng``             Python, NumPy, torch and CUDA random states (:func:`rng_state`)
``config``          the :class:`TrainerConfig` as a dict
``precision``       "fp32", "bf16" or "fp16"
``best_val_loss``   the lowest validation loss so far (``inf`` before the first)
``history``         ``MetricHistory.to_dict()``
==================  ==========================================================

Version 0.3 adds one optional key, ``run`` (see :func:`run_state`): the planned last
step, the time budget's state and the best weights. Older files lack it and still load;
older code ignores it.

Everything in the file loads with ``torch.load(weights_only=True)``: NumPy's random state
is stored as a tensor, not as a NumPy array (:mod:`llmwidgets.training.files`).
"""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any

import numpy as np
import torch
from torch import nn

from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.files import CheckpointError, load_file

__all__ = [
    "CHECKPOINT_FORMAT",
    "check_model_fits",
    "config_changes",
    "model_config",
    "read_checkpoint",
    "restore_trainer",
    "rng_state",
    "set_rng_state",
    "trainer_state",
]

#: The ``format`` tag of a checkpoint written by ``Trainer.save_checkpoint``.
CHECKPOINT_FORMAT = "llmwidgets.Trainer/1"

#: The keys every checkpoint of format 1 has.
KEYS = ("format", "step", "model", "model_class", "model_config", "optimizer", "scaler",
        "train_batcher", "val_batcher", "rng", "config", "precision", "best_val_loss",
        "history")  # fmt: skip

#: Settings that leave the training trajectory unchanged: a resumed run may change them
#: without a warning (more steps, other evaluations, another device or checkpoint file).
FREE_SETTINGS = frozenset({"max_steps", "batch_size", "device", "eval_every", "eval_iters",
                           "checkpoint_path", "checkpoint_every", "seed", "max_seconds",
                           "keep_best"})  # fmt: skip


def rng_state() -> dict[str, Any]:
    """The global random states: Python, NumPy, torch (CPU) and every CUDA device.

    Returns:
        ``{"python", "numpy", "torch", "cuda"}``; NumPy's uint32 key array is stored as
        an int64 tensor, so the dict loads with ``weights_only=True``.
    """
    name, keys, *rest = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), *rest),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state` (the CUDA states only where CUDA is available).

    Args:
        state: a dict from :func:`rng_state`.

    Returns:
        None.
    """
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_config(model: nn.Module) -> dict[str, Any] | None:
    """The model's ``config`` as a dict, when it is a dataclass (as in minGPT).

    Args:
        model: any module.

    Returns:
        ``dataclasses.asdict(model.config)``, or ``None``.
    """
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return None


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint file and check that it is one.

    Args:
        path: a file written by ``Trainer.save_checkpoint``.

    Returns:
        The checkpoint dict (tensors on the CPU).

    Raises:
        FileNotFoundError: when the file does not exist.
        CheckpointError: (a ``ValueError``) for a damaged or unsafe file, or one that is
            not a trainer checkpoint; the message names the path.
    """
    ckpt = load_file(path, "a trainer checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        got = (
            f"a dict with keys {sorted(ckpt)[:8]}"
            if isinstance(ckpt, dict)
            else (f"a {type(ckpt).__name__}")
        )
        raise CheckpointError(
            f"{path} is not a checkpoint written by Trainer.save_checkpoint(): it holds {got}"
        )
    missing = [k for k in KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is a damaged trainer checkpoint: it lacks {missing}")
    return ckpt


def check_model_fits(ckpt: dict[str, Any], model: nn.Module, path: Any) -> None:
    """Raise a readable ValueError when the checkpoint's weights do not fit ``model``.

    Args:
        ckpt: a checkpoint from :func:`read_checkpoint`.
        model: the model that should receive the weights.
        path: the checkpoint's path, for the message.

    Raises:
        ValueError: listing the config values, missing or extra names and shapes that differ.
    """
    saved, ours = ckpt["model"], model.state_dict()
    problems = []
    saved_cfg, our_cfg = ckpt.get("model_config"), model_config(model)
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
        shapes = ", ".join(f"{k} {tuple(saved[k].shape)} vs {tuple(ours[k].shape)}" for k in common)
        problems.append(f"shapes (checkpoint vs model): {shapes}")
    if problems:
        raise ValueError(
            f"checkpoint {path} (a {ckpt.get('model_class')}) does not fit this model "
            f"({type(model).__qualname__}): " + "; ".join(problems)
        )


def config_changes(ckpt: dict[str, Any], config: TrainerConfig, precision: str) -> list[str]:
    """The settings that differ from the checkpoint's and change the trajectory.

    Args:
        ckpt: a checkpoint from :func:`read_checkpoint`.
        config: the resuming trainer's config.
        precision: the resuming trainer's precision name.

    Returns:
        ``["lr: 0.0003 -> 0.01", ...]``; empty for an exact continuation. A setting the
        checkpoint predates counts as its default.
    """
    saved = ckpt["config"]
    changed = []
    for field in dataclasses.fields(config):
        ours = getattr(config, field.name)
        theirs = saved.get(field.name, field.default)
        if isinstance(theirs, list):  # betas may come back as a list
            theirs = tuple(theirs)
        if field.name not in FREE_SETTINGS and theirs != ours:
            changed.append(f"{field.name}: {theirs!r} -> {ours!r}")
    if ckpt.get("precision") != precision:
        changed.append(f"precision: {ckpt.get('precision')} -> {precision}")
    return changed


def trainer_state(trainer: Any) -> dict[str, Any]:
    """Everything a :class:`~llmwidgets.training.trainer.Trainer` needs to continue exactly.

    Args:
        trainer: the trainer.

    Returns:
        The checkpoint dict (format :data:`CHECKPOINT_FORMAT`; the keys of the module
        docstring), ready for :func:`llmwidgets.training.files.save_file`.
    """
    return {
        "format": CHECKPOINT_FORMAT,
        "step": trainer.step,
        "model": trainer.model.state_dict(),
        "model_class": type(trainer.model).__qualname__,
        "model_config": model_config(trainer.model),
        "optimizer": trainer.optimizer.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "train_batcher": trainer.train_batcher.state_dict(),
        "val_batcher": None if trainer.val_batcher is None else trainer.val_batcher.state_dict(),
        "rng": rng_state(),
        "config": dataclasses.asdict(trainer.config),
        "precision": trainer.precision.name,
        "best_val_loss": trainer.best_val_loss,
        "history": trainer.history.to_dict(),
        "run": {  # added in 0.3 (see llmwidgets.training.checkpoints)
            "last_step": trainer.last_step,
            "budget": None if trainer.budget is None else trainer.budget.state_dict(),
            "best_step": trainer.best_step,
            "best_model": trainer.best_state,
        },
    }


def restore_trainer(trainer: Any, ckpt: dict[str, Any]) -> None:
    """Put a checked checkpoint (:func:`read_checkpoint`) back into a trainer.

    Batchers first: they refuse other sizes before anything else has changed.

    Args:
        trainer: the trainer to restore into (its model already checked to fit).
        ckpt: the checkpoint dict.

    Returns:
        None.
    """
    trainer.train_batcher.load_state_dict(ckpt["train_batcher"])
    if trainer.val_batcher is not None and ckpt["val_batcher"] is not None:
        trainer.val_batcher.load_state_dict(ckpt["val_batcher"])
    trainer.model.load_state_dict(ckpt["model"])
    trainer.optimizer.load_state_dict(ckpt["optimizer"])  # moves state to the params' device
    if ckpt["scaler"]:  # empty when saved without fp16: keep this trainer's fresh scaler
        trainer.scaler.load_state_dict(ckpt["scaler"])
    set_rng_state(ckpt["rng"])
    trainer.step = int(ckpt["step"])
    trainer.best_val_loss = float(ckpt["best_val_loss"])
    trainer.history.load_dict(ckpt["history"])  # in place: whoever holds it sees the run
    run = ckpt.get("run") or {}  # absent in checkpoints of version 0.2 and before
    trainer.best_step = run.get("best_step")
    trainer.best_state = run.get("best_model") if trainer.config.keep_best else None
    if trainer.budget is not None and run.get("budget") is not None:
        trainer.budget.load_state_dict(run["budget"])
    planned = trainer.budget is not None and run.get("last_step") is not None
    trainer.last_step = trainer.config.max_steps
    if planned:  # continue the planned schedule until the budget plans again
        trainer.last_step = min(trainer.config.max_steps, int(run["last_step"]))
