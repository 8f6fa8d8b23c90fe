"""Bad inputs, one row each: the call, the exception it must raise and words of its message.

A bad input must never crash the kernel or give a silently wrong answer: it raises a clear
error that names the offending value (or both sizes). Each part of the package has its own
section of the table.
"""

import dataclasses
import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from llmwidgets.core.device import setup
from llmwidgets.training import (
    CheckpointError,
    TimeBudget,
    TokenBatcher,
    Trainer,
    TrainerConfig,
    load_model,
    next_token_loss,
    save_model,
    text_data,
)

FILES: Path = Path()  # a folder of damaged files, made once per session (see below)
TOKENS = torch.arange(200) % 8


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {FILES / 'pwned'}",))


@pytest.fixture(autouse=True, scope="module")
def bad_files(tmp_path_factory):
    global FILES
    FILES = tmp_path_factory.mktemp("bad-inputs")
    trainer = _trainer()
    trainer.fit(steps=1)
    good = trainer.save_checkpoint(FILES / "good.pt").read_bytes()
    (FILES / "truncated.pt").write_bytes(good[: len(good) // 2])
    (FILES / "random.pt").write_bytes(bytes(range(256)) * 8)
    (FILES / "evil.pt").write_bytes(pickle.dumps(_Evil()))
    yield
    assert not (FILES / "pwned").exists()  # no file ever ran code


def _trainer(**overrides):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(8, 8), nn.Linear(8, 8))
    settings = dict(max_steps=4, warmup_steps=1, eval_every=2, eval_iters=1, device="cpu")
    config = TrainerConfig(**{**settings, **overrides})
    return Trainer(model, config, TokenBatcher(TOKENS, 8, 2), TokenBatcher(TOKENS, 8, 2, seed=1))


def _change_config_after_building():
    trainer = _trainer()
    trainer.config.max_steps = 100


class _EmptyBatcher(TokenBatcher):
    def get_batch(self):
        return torch.zeros(0, 8, dtype=torch.long), torch.zeros(0, 8, dtype=torch.long)


def _empty_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(8, 8), nn.Linear(8, 8))
    Trainer(model, TrainerConfig(device="cpu"), _EmptyBatcher(TOKENS, 8, 2)).fit(steps=1)


def _resume_into_another_model():
    narrow = nn.Sequential(nn.Embedding(8, 4), nn.Linear(4, 8))
    Trainer(narrow, TrainerConfig(device="cpu"), TokenBatcher(TOKENS, 8, 2)).resume(
        FILES / "good.pt"
    )


CASES = [
    # --- training ---
    ("config changed after the trainer was built", _change_config_after_building,
     dataclasses.FrozenInstanceError, "cannot assign to field 'max_steps'"),
    ("empty batch", _empty_batch, ValueError, r"the batch is empty: targets of shape \(0, 8\)"),
    ("empty targets", lambda: next_token_loss(torch.zeros(2, 0, 5), torch.zeros(2, 0).long()),
     ValueError, "the batch is empty"),
    ("checkpoint: truncated", lambda: _trainer().resume(FILES / "truncated.pt"), CheckpointError,
     r"truncated.pt could not be loaded .*damaged \(e.g. truncated\) or not a trainer checkp"),
    ("checkpoint: random bytes", lambda: _trainer().resume(FILES / "random.pt"), CheckpointError,
     r"random.pt could not be loaded \(2,048 bytes, not a torch file\)"),
    ("checkpoint: malicious pickle", lambda: _trainer().resume(FILES / "evil.pt"),
     CheckpointError, r"evil.pt is unsafe to load and was not loaded: .*\((posix|nt).system\)"),
    ("checkpoint: missing", lambda: _trainer().resume(FILES / "nope.pt"), FileNotFoundError,
     r"nope.pt: no such file \(expected a trainer checkpoint\)"),
    ("checkpoint: a folder", lambda: _trainer().resume(FILES), CheckpointError,
     "is a folder, not a trainer checkpoint"),
    ("checkpoint of another model", _resume_into_another_model, ValueError,
     r"does not fit .* 0.weight \(8, 8\) vs \(8, 4\)"),
    ("checkpoint_every without a path", lambda: TrainerConfig(checkpoint_every=10), ValueError,
     "checkpoint_every=10 needs a checkpoint_path"),
    ("max_seconds=0", lambda: TrainerConfig(max_seconds=0), ValueError,
     "max_seconds must be a finite number > 0, got 0"),
    ("min_lr above lr", lambda: TrainerConfig(lr=1e-3, min_lr=1e-2), ValueError,
     r"min_lr \(0.01\) must be <= lr \(0.001\)"),
    ("seed out of range", lambda: TrainerConfig(seed=2**32), ValueError, "seed must be an int in"),
    ("keep_best without validation", lambda: Trainer(nn.Linear(2, 2),
     TrainerConfig(keep_best=True), TokenBatcher(TOKENS, 8, 2)), ValueError,
     "keep_best=True needs a val_batcher"),
    ("a tensor as batcher", lambda: Trainer(nn.Linear(2, 2), TrainerConfig(), TOKENS),
     ValueError, "train_batcher must be a Batcher .* Tensor has no get_batch"),
    ("fit(steps=0)", lambda: _trainer().fit(steps=0), ValueError, "steps must be an int >= 1"),
    ("restore_best without keep_best", lambda: _trainer().restore_best(), ValueError,
     r"restore_best\(\) needs TrainerConfig\(keep_best=True\)"),
    ("budget of 0 s", lambda: TimeBudget(0), ValueError, "seconds must be a finite number > 0"),
    ("unknown corpus", lambda: text_data("shakespeare", block_size=8, batch_size=2), ValueError,
     r"'shakespeare' is not a known corpus"),
    ("text shorter than a window", lambda: text_data("ab cd", block_size=8, batch_size=2),
     ValueError, r"the training part has 5 tokens \(of 5\), fewer than block_size \+ 1 = 9"),
    ("model name with a folder", lambda: save_model("../x", nn.Linear(2, 2)), ValueError,
     "name must be letters, digits"),
    ("model name empty", lambda: load_model(""), ValueError, "name must not be empty"),
    ("setup with threads=0", lambda: setup(threads=0, report=False), ValueError,
     "threads must be an int >= 1, got 0"),
]  # fmt: skip


@pytest.mark.parametrize("name, call, error, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_error(name, call, error, words):
    with pytest.raises(error, match=words):
        call()
