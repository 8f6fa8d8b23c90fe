"""Training: batches, the loss and evaluation, the metric history and the trainer.

* :mod:`~llmwidgets.training.batches` - ``TokenBatcher`` (seeded windows), ``split_tokens``;
* :mod:`~llmwidgets.training.losses` - ``next_token_loss``, ``evaluate_loss``;
* :mod:`~llmwidgets.training.history` - ``MetricHistory``, the recorded metrics of a run;
* :mod:`~llmwidgets.training.trainer` - ``Trainer``, ``TrainerConfig``, ``lr_at``.
"""

from llmwidgets.training.batches import TokenBatcher, split_tokens
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.losses import evaluate_loss, next_token_loss
from llmwidgets.training.trainer import Trainer, TrainerConfig, lr_at

__all__ = [
    "MetricHistory",
    "TokenBatcher",
    "Trainer",
    "TrainerConfig",
    "evaluate_loss",
    "lr_at",
    "next_token_loss",
    "split_tokens",
]
