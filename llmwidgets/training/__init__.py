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
* :mod:`~llmwidgets.training.trainer` - ``Trainer``, the loop.
"""

from llmwidgets.training.batches import Batcher, TokenBatcher, split_tokens
from llmwidgets.training.budget import TimeBudget
from llmwidgets.training.callbacks import StopTraining
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.files import CheckpointError
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.losses import evaluate_loss, next_token_loss
from llmwidgets.training.schedule import lr_at
from llmwidgets.training.trainer import Trainer

__all__ = [
    "Batcher",
    "CheckpointError",
    "MetricHistory",
    "StopTraining",
    "TimeBudget",
    "TokenBatcher",
    "Trainer",
    "TrainerConfig",
    "evaluate_loss",
    "lr_at",
    "next_token_loss",
    "split_tokens",
]
