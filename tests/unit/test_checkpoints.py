"""Checkpoints: exact resume, files of version 0.2, and files that must not load.

``data/trainer_v1.pt`` was written by the code at commit aa1c142 (before the trainer was
split into modules); ``data/trainer_v1.json`` holds how that code continued the run.
"""

import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path

import pytest
import torch
from _tiny_training import (
    TOKENS,
    Bigram,
    BigramConfig,
    make,
    one_thread,  # noqa: F401 - an autouse fixture: one torch thread
    states_equal,
)
from torch import nn

from llmwidgets.core.device import Precision
from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.checkpoints import CHECKPOINT_FORMAT, KEYS
from llmwidgets.training.files import CheckpointError, load_file
from llmwidgets.training.trainer import Trainer, TrainerConfig

DATA = Path(__file__).resolve().parent / "data"


# ------------------------------------------------------------- exact resume
def test_resume_is_exact(tmp_path):
    straight = make(seed=3, max_steps=16, eval_every=4)
    straight.fit()

    first = make(seed=3, max_steps=16, eval_every=4)
    first.fit(steps=8)
    path = first.save_checkpoint(tmp_path / "ckpt.pt")
    torch.manual_seed(1234)  # disturb every RNG the run relies on
    torch.rand(100)
    resumed = make(seed=99, max_steps=16, eval_every=4)  # new model, optimiser, batchers
    assert resumed.resume(path) == 8
    resumed.fit()

    states_equal(straight.model.state_dict(), resumed.model.state_dict())
    for name in ("train_loss", "val_loss", "lr", "grad_norm"):
        assert straight.history.series(name) == resumed.history.series(name), name
    assert straight.best_val_loss == resumed.best_val_loss
    opt_a, opt_b = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for i in opt_a["state"]:
        states_equal(opt_a["state"][i], opt_b["state"][i])
    assert torch.equal(
        straight.train_batcher.generator.get_state(), resumed.train_batcher.generator.get_state()
    )


def test_checkpoint_every_and_at_the_end(tmp_path):
    path = tmp_path / "run" / "last.pt"
    trainer = make(max_steps=6, checkpoint_path=str(path), checkpoint_every=4)
    saves = []
    original = trainer.save_checkpoint
    trainer.save_checkpoint = lambda p=None: saves.append(trainer.step) or original(p)
    trainer.fit()
    assert saves == [4, 6] and path.is_file()
    assert make(max_steps=6).resume(path) == 6


def test_resume_rejects_another_model(tmp_path):
    trainer = make(max_steps=2)
    trainer.fit()
    path = trainer.save_checkpoint(tmp_path / "small.pt")
    bigger = make(model=Bigram(BigramConfig(dim=32)))
    with pytest.raises(ValueError, match=r"dim=16 vs 32.*emb.weight \(8, 16\) vs \(8, 32\)"):
        bigger.resume(path)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other.pt is not a checkpoint .* \['weights'\]"):
        bigger.resume(tmp_path / "other.pt")


def test_resume_warns_about_a_changed_config(tmp_path):
    trainer = make(max_steps=2)
    trainer.fit()
    path = trainer.save_checkpoint(tmp_path / "c.pt")
    with pytest.warns(UserWarning, match=r"lr: 0.01 -> 0.02"):
        make(max_steps=4, lr=2e-2).resume(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(max_steps=40).resume(path)  # more steps: still an exact continuation


def test_resume_across_precisions_and_batch_sizes(tmp_path):
    trainer = make(max_steps=2)
    trainer.fit()
    path = trainer.save_checkpoint(tmp_path / "fp32.pt")
    fp16 = Precision("cpu", torch.float16, True, "test: fp16 + GradScaler on the CPU")
    other = make(max_steps=4, precision=fp16)
    with pytest.warns(UserWarning, match="precision: fp32 -> fp16"):
        other.resume(path)  # the fp32 run had no scaler state: a fresh scaler is kept
    assert other.scaler.get_scale() == 2.0**16 and other.step == 2
    other.fit()
    # a batcher with another batch size is refused before anything is loaded
    wide = Trainer(Bigram(), trainer.config, TokenBatcher(TOKENS, 8, 6))
    before = {k: v.clone() for k, v in wide.model.state_dict().items()}
    with pytest.raises(ValueError, match="batch_size=4, but this batcher has batch_size=6"):
        wide.resume(path)
    states_equal(before, wide.model.state_dict())
    assert wide.step == 0


# ------------------------------------------------------ files of version 0.2
def _weights_sha256(model):
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def test_a_checkpoint_of_version_0_2_resumes_exactly():
    expected = json.loads((DATA / "trainer_v1.json").read_text())
    ckpt = torch.load(DATA / "trainer_v1.pt", weights_only=True)
    assert ckpt["format"] == CHECKPOINT_FORMAT and set(ckpt) == set(KEYS)  # the old layout
    torch.manual_seed(123)  # other weights: the checkpoint must replace them
    model = nn.Sequential(nn.Embedding(8, 16), nn.Dropout(0.1), nn.Linear(16, 8))
    config = TrainerConfig(
        max_steps=8, lr=1e-2, min_lr=1e-3, warmup_steps=2, eval_every=2, eval_iters=2,
        device="cpu", seed=0,
    )  # fmt: skip
    trainer = Trainer(
        model, config,
        TokenBatcher(TOKENS[:320], block_size=8, batch_size=4, seed=5),
        TokenBatcher(TOKENS[320:], block_size=8, batch_size=4, seed=6),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same settings: no "different config" warning
        assert trainer.resume(DATA / "trainer_v1.pt") == 4
    assert trainer.best_state is None and trainer.best_step is None  # not in old files
    history = trainer.fit()
    for name in ("train_loss", "val_loss", "grad_norm", "lr"):
        assert [v.hex() for v in history.series(name)[1]] == expected[name], name
    assert _weights_sha256(trainer.model) == expected["weights_sha256"]
    assert trainer.best_val_loss.hex() == expected["best_val_loss"] and trainer.best_step == 8


def test_a_new_checkpoint_keeps_every_old_key(tmp_path):
    trainer = make(max_steps=2)
    trainer.fit()
    ckpt = torch.load(trainer.save_checkpoint(tmp_path / "new.pt"), weights_only=True)
    assert set(ckpt) == set(KEYS) | {"run"} and ckpt["format"] == "llmwidgets.Trainer/1"
    assert ckpt["run"] == {"last_step": 2, "budget": None, "best_step": 2, "best_model": None}


def test_keep_best_travels_in_the_checkpoint(tmp_path):
    trainer = make(max_steps=10, keep_best=True)
    trainer.fit()
    path = trainer.save_checkpoint(tmp_path / "best.pt")
    other = make(seed=5, max_steps=10, keep_best=True)
    other.resume(path)
    assert other.best_step == trainer.best_step == 10
    states_equal(other.best_state, trainer.best_state)


# ------------------------------------------------------ files that must not load
def _damaged_files(folder, good):
    data = good.read_bytes()

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {folder / 'pwned'}",))

    files = {
        "truncated": data[: len(data) // 3],
        "random": os.urandom(4000),
        "empty": b"",
        "text": b"step,loss\n1,2.3\n",
        "pickle": pickle.dumps(Evil()),
    }
    for name, content in files.items():
        (folder / f"{name}.pt").write_bytes(content)
    torch.save({"format": CHECKPOINT_FORMAT, "evil": Evil()}, folder / "evil_zip.pt")
    return folder


@pytest.mark.parametrize(
    "name, words",
    [
        ("truncated", r"truncated.pt could not be loaded \(.* bytes, a damaged torch archive\): "
                      r"it is damaged \(e.g. truncated\) or not a trainer checkpoint"),
        ("random", r"random.pt could not be loaded \(4,000 bytes, not a torch file\)"),
        ("empty", r"empty.pt is empty \(0 bytes\): it is damaged or not a trainer checkpoint"),
        ("text", r"text.pt could not be loaded .* not a trainer checkpoint"),
        ("pickle", r"pickle.pt is unsafe to load and was not loaded: it asks to run code "
                   r"\((posix|nt).system\)"),
        ("evil_zip", r"evil_zip.pt is unsafe to load .* \((posix|nt).system\)"),
    ],
)  # fmt: skip
def test_bad_files_give_clear_errors_and_run_nothing(tmp_path, name, words):
    trainer = make(max_steps=2)
    trainer.fit()
    good = trainer.save_checkpoint(tmp_path / "good.pt")
    _damaged_files(tmp_path, good)
    fresh = make(seed=7, max_steps=2)
    before = {k: v.clone() for k, v in fresh.model.state_dict().items()}
    with pytest.raises(CheckpointError, match=words) as caught:
        fresh.resume(tmp_path / f"{name}.pt")
    message = str(caught.value)
    assert "weights_only" not in message and str(tmp_path / f"{name}.pt") in message
    error = caught.value  # torch's own message (advising weights_only=False) is not chained
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert not (tmp_path / "pwned").exists()  # no code ran
    states_equal(before, fresh.model.state_dict())  # nothing changed
    assert fresh.step == 0


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"nope.pt: no such file \(expected a trainer checkpoint\)"
    ):
        make().resume(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a folder, not a trainer checkpoint"):
        make().resume(tmp_path)
    trainer = make(max_steps=2)
    trainer.fit()
    ckpt = torch.load(trainer.save_checkpoint(tmp_path / "c.pt"), weights_only=True)
    del ckpt["history"]
    torch.save(ckpt, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=r"partial.pt is a damaged .* lacks \['history'\]"):
        make().resume(tmp_path / "partial.pt")
    assert load_file(tmp_path / "c.pt")["format"] == CHECKPOINT_FORMAT


def test_an_interrupted_save_leaves_the_previous_file(tmp_path, monkeypatch):
    trainer = make(max_steps=4)
    trainer.fit(steps=2)
    path = trainer.save_checkpoint(tmp_path / "run.pt")
    trainer.fit()

    def crash(obj, f):
        Path(f).write_bytes(b"half a fi")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(path)
    monkeypatch.undo()
    assert make(max_steps=4).resume(path) == 2  # the old file, whole
