"""A tiny bigram model, its data and a trainer factory, shared by the trainer's test files.

Each token of ``TOKENS`` determines the next one (0 1 2 ... 7 0 1 ...), so the model can
learn it in a few dozen steps on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.callbacks import StopTraining
from llmwidgets.training.trainer import Trainer, TrainerConfig

VOCAB = 8
TOKENS = torch.arange(400) % VOCAB


@dataclass
class BigramConfig:
    vocab: int = VOCAB
    dim: int = 16
    dropout: float = 0.1


class Bigram(nn.Module):
    def __init__(self, config: BigramConfig | None = None) -> None:
        super().__init__()
        self.config = config or BigramConfig()
        self.emb = nn.Embedding(self.config.vocab, self.config.dim)
        self.drop = nn.Dropout(self.config.dropout)  # uses the global torch RNG
        self.head = nn.Linear(self.config.dim, self.config.vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.emb(idx)))


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Ticking(Bigram):
    """A bigram model whose forward pass advances a fake clock: seconds per step or batch."""

    def __init__(self, clock: FakeClock, train_cost: float = 1.0, eval_cost: float = 0.25):
        super().__init__()
        self.clock, self.train_cost, self.eval_cost = clock, train_cost, eval_cost

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        self.clock.now += self.train_cost if self.training else self.eval_cost
        return super().forward(idx)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: one thread is faster than two, and fairer on a shared machine.

    A test module that imports it runs with one torch thread.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class StopAt:
    """A callback that stops training at one step (``StopTraining(reason)``)."""

    def __init__(self, step: int, reason: str = "enough") -> None:
        self.step, self.reason = step, reason

    def on_step_end(self, step: int, metrics: dict) -> None:
        if step == self.step:
            raise StopTraining(self.reason)


class Recorder:
    """A callback that records what it is told."""

    def __init__(self) -> None:
        self.steps, self.metrics, self.events = [], [], []

    def on_train_begin(self) -> None:
        self.events.append("begin")

    def on_step_end(self, step: int, metrics: dict) -> None:
        self.steps.append(step)
        self.metrics.append(metrics)

    def on_train_end(self) -> None:
        self.events.append("end")


def make(
    seed=0, model=None, callbacks=(), precision=None, clock=None, validate=True, **overrides
) -> Trainer:
    """A model (built after ``torch.manual_seed(seed)``), batchers and a Trainer.

    ``overrides`` are TrainerConfig fields; ``config_seed`` is the config's ``seed``.
    """
    if "config_seed" in overrides:
        overrides["seed"] = overrides.pop("config_seed")
    torch.manual_seed(seed)
    model = model or Bigram()
    settings = dict(max_steps=20, lr=1e-2, min_lr=1e-3, warmup_steps=2, eval_every=5, eval_iters=2)
    settings.update(overrides)
    config = TrainerConfig(device="cpu", **settings)
    train = TokenBatcher(TOKENS[:320], block_size=8, batch_size=4, seed=seed)
    val = (
        TokenBatcher(TOKENS[320:], block_size=8, batch_size=4, seed=seed + 1) if validate else None
    )
    return Trainer(model, config, train, val, callbacks=callbacks, precision=precision, clock=clock)


def states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
