"""The book's recipes: the character-level GPT that chapter 3 trains and later chapters reuse.

Chapter 3e builds the training loop and trains the **CPU recipe** (:data:`CPU_RECIPE`): the
preset ``shakespeare-char-cpu`` on tinyshakespeare, one token per character, AdamW with a
warm-up and a cosine schedule, for 2,000 steps (about 3 minutes on a quiet 2-core CPU). A
fixed number of steps, not a time budget, so that the book's model is the same on every
machine; ``benchmarks/cpu_recipe.py`` races the same recipe against the clock instead.
Chapter 3e saves the result in the model store (:mod:`llmwidgets.training.store`) as
``"shakespeare-char"``. Every later
chapter that needs a trained character model calls :func:`char_model`, which loads it - and
trains it with the same recipe only when it is missing (a fresh machine, or Colab)::

    saved = lw.char_model()            # SavedModel: .model, .tokenizer, .metadata
    model, tok = saved.model, saved.tokenizer

In quick mode (CI) the recipe shrinks to seconds and the store keeps quick models apart, so
a quick run never stands in for the real model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from llmwidgets.core.quick import is_quick, pick
from llmwidgets.core.validate import check_real
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.gpt_config import GPTConfig
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.datasets import text_data
from llmwidgets.training.store import SavedModel, load_model, save_model
from llmwidgets.training.trainer import Trainer

__all__ = ["CPU_RECIPE", "CHAR_MODEL", "CharRecipe", "char_model", "train_char_model"]

#: The store name of chapter 3's trained character model.
CHAR_MODEL = "shakespeare-char"


@dataclass(frozen=True)
class CharRecipe:
    """How chapter 3 trains its character-level GPT (the defaults are the CPU recipe)."""

    corpus: str = "tinyshakespeare"  # the text; one token per character (65 for Shakespeare)
    preset: str = "shakespeare-char-cpu"  # GPTConfig preset: 4 layers, 4 heads, 96 channels, T=64
    batch_size: int = 32  # rows per step; with T = 64, 2,048 tokens a step
    lr: float = 5e-3  # peak learning rate: high, because the model is small
    min_lr: float = 5e-4  # floor of the cosine decay (lr / 10)
    warmup_steps: int = 100  # linear warm-up from 0 to lr
    weight_decay: float = 0.1  # AdamW decay on the matrices (GPT-3's value)
    max_steps: int = 2000  # about 3 minutes on a quiet 2-core CPU, seconds on a GPU
    max_seconds: float | None = None  # a wall-time budget instead (the cosine ends on time)
    eval_every: int = 100  # validation loss every this many steps
    eval_iters: int = 25  # fixed validation batches per evaluation
    seed: int = 1337  # seeds the initial weights and dropout


#: The recipe chapter 3e trains (benchmarks/cpu_recipe.py measures it).
CPU_RECIPE = CharRecipe()


def train_char_model(
    recipe: CharRecipe = CPU_RECIPE,
    *,
    max_seconds: float | None = None,
    callbacks: Iterable[Any] = (),
    save_as: str | None = CHAR_MODEL,
) -> tuple[GPT, Any, Trainer]:
    """Train a character-level GPT with ``recipe`` and (by default) save it to the store.

    Quick mode shrinks the text to 50,000 characters and the run to 20 steps. With a time
    budget that runs out before the first evaluation (a very busy machine), the final
    weights are kept and evaluated.

    Args:
        recipe: the settings (:data:`CPU_RECIPE` by default).
        max_seconds: a wall-time budget (seconds > 0) instead of the recipe's own.
        callbacks: training callbacks, e.g. a :class:`llmwidgets.LiveLossPlot`.
        save_as: the store name (``None``: do not save).

    Returns:
        ``(model, tokenizer, trainer)``; the model holds the best weights by validation
        loss and is in eval mode.
    """
    if not isinstance(recipe, CharRecipe):
        raise ValueError(f"recipe must be a CharRecipe, got {type(recipe).__name__}")
    budget = recipe.max_seconds if max_seconds is None else max_seconds
    if budget is not None:
        budget = pick(check_real("max_seconds", budget, 0, min_open=True), min(budget, 6.0))
    model_config = GPTConfig.preset(recipe.preset)
    data = text_data(
        recipe.corpus,
        block_size=model_config.block_size,
        batch_size=pick(recipe.batch_size, 8),
        limit=50_000 if is_quick() else None,
    )
    if data.vocab_size != model_config.vocab_size:
        model_config = dataclasses.replace(model_config, vocab_size=data.vocab_size)
    torch.manual_seed(recipe.seed)
    model = GPT(model_config)
    config = TrainerConfig(
        max_steps=pick(recipe.max_steps, 20),
        max_seconds=budget,
        lr=recipe.lr,
        min_lr=recipe.min_lr,
        warmup_steps=pick(recipe.warmup_steps, 2),
        weight_decay=recipe.weight_decay,
        eval_every=pick(recipe.eval_every, 5),
        eval_iters=pick(recipe.eval_iters, 2),
        keep_best=True,
    )
    trainer = Trainer(model, config, data.train_batcher, data.val_batcher, callbacks=callbacks)
    trainer.fit()
    if trainer.best_step is not None:
        trainer.restore_best()
    else:  # the budget ran out before the first evaluation (a very busy machine)
        trainer.best_val_loss, trainer.best_step = trainer.evaluate(), trainer.step
    model.eval()
    if save_as is not None:
        facts = {
            "corpus": recipe.corpus,
            "recipe": dataclasses.asdict(recipe),
            "val_loss": trainer.best_val_loss,
            "best_step": trainer.best_step,
            "steps": trainer.step,
            "seconds": trainer.history.elapsed(),
        }
        save_model(save_as, model, data.tokenizer, facts)
    return model, data.tokenizer, trainer


def char_model(name: str = CHAR_MODEL, *, train_if_missing: bool = True) -> SavedModel | None:
    """Chapter 3's trained character model, from the store; trained first if missing.

    Args:
        name: the store name (``"shakespeare-char"``: what chapter 3e saves).
        train_if_missing: train it with :data:`CPU_RECIPE` (about 3 minutes on a CPU,
            seconds in quick mode) when it is not in the store; else return ``None``.

    Returns:
        A :class:`~llmwidgets.training.store.SavedModel` (``.model``, ``.tokenizer``,
        ``.metadata``), or ``None``.
    """
    saved = load_model(name)
    if saved is None and train_if_missing:
        print(f"{name!r} is not in the model store yet: training it with the CPU recipe")
        train_char_model(save_as=name)
        saved = load_model(name)
    return saved
