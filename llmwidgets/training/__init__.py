"""Training: batches, the loss and evaluation, the metric history and the trainer.

* :mod:`~llmwidgets.training.batches` - ``TokenBatcher`` (seeded windows), ``split_tokens``,
  the ``Batcher`` protocol;
* :mod:`~llmwidgets.training.losses` - ``next_token_loss``, ``evaluate_loss``;
* :mod:`~llmwidgets.training.history` - ``MetricHistory``, the recorded metrics of a run;
* :mod:`~llmwidgets.training.config` - ``TrainerConfig``, every setting of a run (frozen);
* :mod:`~llmwidgets.training.schedule` - ``lr_at``, warm-up then cosine decay;
* :mod:`~llmwidgets.training.budget` - ``TimeBudget``, the last step that fits in the time;
* :mod:`~llmwidgets.training.callbacks` - the callback hooks, ``StopTraining``;
* :mod:`~llmwidgets.training.optimizer` - the model's own optimiser, else AdamW;
* :mod:`~llmwidgets.training.files` / :mod:`~llmwidgets.training.checkpoints` - safe torch
  files (``CheckpointError``) and the checkpoint layout;
* :mod:`~llmwidgets.training.trainer` - ``Trainer``, the loop;
* :mod:`~llmwidgets.training.datasets` - ``text_data``: corpus -> tokenizer -> ids -> split
  -> batchers in one call (``TextData``);
* :mod:`~llmwidgets.training.store` - ``save_model`` / ``load_model``: trained models kept
  by name in the cache, for later chapters;
* :mod:`~llmwidgets.training.recipes` - the CPU recipe and ``char_model()``: chapter 3's
  trained character model, loaded (or trained once) by every later chapter.
"""

from llmwidgets.training.batches import Batcher, TokenBatcher, split_tokens
from llmwidgets.training.budget import TimeBudget
from llmwidgets.training.callbacks import StopTraining
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.datasets import TextData, text_data
from llmwidgets.training.files import CheckpointError
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.losses import evaluate_loss, next_token_loss
from llmwidgets.training.recipes import CPU_RECIPE, CharRecipe, char_model, train_char_model
from llmwidgets.training.schedule import lr_at
from llmwidgets.training.store import SavedModel, load_model, save_model, saved_models
from llmwidgets.training.trainer import Trainer

__all__ = [
    "CPU_RECIPE",
    "CharRecipe",
    "char_model",
    "train_char_model",
    "Batcher",
    "CheckpointError",
    "MetricHistory",
    "SavedModel",
    "StopTraining",
    "TextData",
    "TimeBudget",
    "TokenBatcher",
    "Trainer",
    "TrainerConfig",
    "evaluate_loss",
    "load_model",
    "lr_at",
    "next_token_loss",
    "save_model",
    "saved_models",
    "split_tokens",
    "text_data",
]
