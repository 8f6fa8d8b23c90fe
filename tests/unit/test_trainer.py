"""Trainer tests on a tiny bigram model (embedding + dropout + linear) on the CPU.

The CUDA paths (bf16 autocast, fp16 autocast with a GradScaler) are exercised on a
GPU only; here Precision objects with device_type "cpu" run the same code paths.
"""

import dataclasses
import io
import math
import random

import numpy as np
import pytest
import torch
from _tiny_training import (
    VOCAB,
    Bigram,
    Recorder,
    StopAt,
    make,
    one_thread,  # noqa: F401 - an autouse fixture: one torch thread
    states_equal,
)

from llmwidgets.core.device import Precision, seed_everything
from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.trainer import Trainer, TrainerConfig, lr_at
from llmwidgets.widgets.loss_plot import LiveLossPlot

TOKENS = torch.arange(400) % VOCAB


# -------------------------------------------------------------------- schedule
def test_lr_schedule_hand_values():
    cfg = TrainerConfig(max_steps=110, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    assert lr_at(0, cfg) == 0.0
    assert lr_at(1, cfg) == pytest.approx(1e-4)  # warm-up start: lr / warmup_steps
    assert lr_at(5, cfg) == pytest.approx(5e-4)
    assert lr_at(10, cfg) == pytest.approx(1e-3)  # warm-up end: the peak
    assert lr_at(60, cfg) == pytest.approx(5.5e-4)  # halfway down the cosine
    assert lr_at(35, cfg) == pytest.approx(1e-4 + 9e-4 * (1 + math.cos(math.pi / 4)) / 2)
    assert lr_at(110, cfg) == pytest.approx(1e-4)  # the end: min_lr
    assert lr_at(500, cfg) == pytest.approx(1e-4)
    short = TrainerConfig(max_steps=110, lr=1e-3, min_lr=0.0, warmup_steps=0, lr_decay_steps=50)
    assert lr_at(0, short) == pytest.approx(1e-3) and lr_at(25, short) == pytest.approx(5e-4)
    assert lr_at(50, short) == 0.0 and lr_at(80, short) == 0.0


def test_trainer_sets_the_scheduled_lr():
    rec = Recorder()
    make(callbacks=[rec]).fit()
    cfg = TrainerConfig(max_steps=20, lr=1e-2, min_lr=1e-3, warmup_steps=2)
    assert [m["lr"] for m in rec.metrics] == [lr_at(s, cfg) for s in range(1, 21)]


# ------------------------------------------------------------------- learning
def test_loss_decreases_on_a_learnable_sequence():
    trainer = make(max_steps=150, lr=3e-2, eval_every=50, eval_iters=4)
    history = trainer.fit()
    assert isinstance(history, MetricHistory)
    _, losses = history.series("train_loss")
    assert losses[0] == pytest.approx(math.log(VOCAB), abs=0.4)  # a random start: ~ln 8
    assert sum(losses[-10:]) / 10 < 0.3  # the next token is learned (dropout keeps it > 0)
    steps, val = history.series("val_loss")
    assert steps == [50, 100, 150] and val[-1] < 0.1 and val[0] > val[-1]
    assert trainer.best_val_loss == min(val)


# ------------------------------------------------------------------ callbacks
def test_callbacks_get_steps_and_metric_keys():
    rec, calls = Recorder(), []
    trainer = make(max_steps=12, callbacks=[rec, lambda step, m: calls.append((step, set(m)))])
    trainer.fit()
    assert rec.steps == list(range(1, 13)) and rec.events == ["begin", "end"]
    base = {"train_loss", "lr", "tokens_per_sec", "grad_norm"}
    for step, metrics in zip(rec.steps, rec.metrics, strict=True):
        # val_loss exactly every eval_every (5) steps, and at the last step (12)
        expected = base | {"val_loss"} if step in (5, 10, 12) else base
        assert set(metrics) == expected, step
        assert metrics["tokens_per_sec"] > 0
    assert calls == [(s, set(m)) for s, m in zip(rec.steps, rec.metrics, strict=True)]
    assert trainer.history.series("val_loss")[0] == [5, 10, 12]


def test_live_loss_plot_as_a_callback():
    out = io.StringIO()
    plot = LiveLossPlot(total_steps=10, mode="text", every_seconds=0, file=out)
    make(max_steps=10, callbacks=[plot]).fit()
    assert plot.history.series("train_loss")[0] == list(range(1, 11))
    assert plot.history.series("val_loss")[0] == [5, 10]
    assert "step 10/10" in out.getvalue()


def test_fit_in_parts_and_bad_callbacks():
    trainer = make(max_steps=10)
    trainer.fit(steps=4)
    assert trainer.step == 4
    trainer.fit()
    assert trainer.step == 10 and trainer.history.series("lr")[0] == list(range(1, 11))
    with pytest.raises(ValueError, match="steps"):
        trainer.fit(steps=0)
    with pytest.raises(ValueError, match="callback 42"):
        make(callbacks=[42])


# ------------------------------------------------------------------------ NaN
class NaNAt(Bigram):
    """Returns NaN logits at the k-th training forward pass."""

    def __init__(self, k):
        super().__init__()
        self.k, self.calls = k, 0

    def forward(self, idx):
        logits = super().forward(idx)
        if self.training:
            self.calls += 1
            if self.calls == self.k:
                return logits * math.nan
        return logits


def test_nan_loss_stops_training_after_the_callbacks_saw_it():
    rec = Recorder()
    trainer = make(model=NaNAt(7), callbacks=[rec])
    with pytest.raises(FloatingPointError, match="at step 7"):
        trainer.fit()
    assert rec.steps == list(range(1, 8)) and rec.events == ["begin", "end"]
    assert math.isnan(rec.metrics[-1]["train_loss"])
    assert trainer.history.nan_steps("train_loss") == [7]
    assert trainer.step == 6  # the NaN step never reached the weights
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


# ------------------------------------------------------------------ clipping
def test_grad_clipping_clips():
    trainer = make(max_steps=5, grad_clip=0.05, lr=1e-3)
    params = list(trainer.model.parameters())
    clipped, step = [], trainer.optimizer.step

    def measuring_step(*args, **kwargs):  # sees the gradients after clipping
        clipped.append(torch.norm(torch.stack([p.grad.norm() for p in params])).item())
        return step(*args, **kwargs)

    trainer.optimizer.step = measuring_step
    history = trainer.fit()
    raw = history.series("grad_norm")[1]
    assert len(clipped) == 5 and min(raw) > 0.05  # clipping had work to do...
    assert max(clipped) <= 0.05 * (1 + 1e-5)  # ...and did it
    assert clipped[0] == pytest.approx(0.05, rel=1e-5)


def test_no_clipping_reports_the_norm():
    trainer = make(max_steps=3, grad_clip=None)
    assert all(n > 0 for n in trainer.fit().series("grad_norm")[1])


# --------------------------------------------------------------- precision
def test_bf16_autocast_path_on_cpu():
    bf16 = Precision("cpu", torch.bfloat16, False, "test: bf16 autocast on the CPU")
    trainer = make(max_steps=60, lr=3e-2, precision=bf16)
    dtypes = []
    trainer.model.head.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    losses = trainer.fit().series("train_loss")[1]
    assert dtypes[0] == torch.bfloat16 and not trainer.scaler.is_enabled()
    assert losses[-1] < losses[0] - 1.0
    assert trainer.model.head.weight.dtype == torch.float32  # master weights stay fp32


def test_fp16_grad_scaler_path_on_cpu(tmp_path):
    fp16 = Precision("cpu", torch.float16, True, "test: fp16 + GradScaler on the CPU")
    trainer = make(max_steps=40, lr=3e-2, precision=fp16)
    assert trainer.scaler.is_enabled() and trainer.scaler.get_scale() == 2.0**16
    # make the first backward overflow: the scaler must skip that step, not crash
    before = [p.detach().clone() for p in trainer.model.parameters()]
    handle = trainer.model.head.weight.register_hook(lambda g: g * math.inf)
    trainer.fit(steps=1)
    handle.remove()
    assert trainer.scaler.get_scale() == 2.0**15  # halved after the overflow
    for p, q in zip(before, trainer.model.parameters(), strict=True):
        assert torch.equal(p, q)  # the step was skipped
    losses = trainer.fit().series("train_loss")[1]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0] - 1.0
    # the scaler's state travels in the checkpoint
    path = trainer.save_checkpoint(tmp_path / "fp16.pt")
    other = make(max_steps=40, lr=3e-2, precision=fp16)
    other.resume(path)
    assert other.scaler.state_dict() == trainer.scaler.state_dict()


def test_fp32_has_a_disabled_scaler():
    trainer = make(max_steps=1, warmup_steps=0)
    assert trainer.precision.name == "fp32" and not trainer.scaler.is_enabled()


# ---------------------------------------------------------------- optimiser
def test_default_adamw_decays_only_matrices():
    trainer = make()
    groups = trainer.optimizer.param_groups
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert all(p.dim() >= 2 for p in groups[0]["params"])
    assert all(p.dim() < 2 for p in groups[1]["params"])
    assert groups[0]["betas"] == (0.9, 0.95)


def test_configure_optimizers_is_used():
    class WithOptimizer(Bigram):
        def configure_optimizers(self, weight_decay, learning_rate):  # nanoGPT's keywords
            self.got = (weight_decay, learning_rate)
            return torch.optim.SGD(self.parameters(), lr=learning_rate)

    trainer = make(model=WithOptimizer(), weight_decay=0.2)
    assert isinstance(trainer.optimizer, torch.optim.SGD) and trainer.model.got == (0.2, 1e-2)
    trainer.fit(steps=2)

    class TorchNames(Bigram):
        def configure_optimizers(self, lr, **kwargs):  # torch's names, and the rest
            self.got = (lr, kwargs)
            return torch.optim.AdamW(self.parameters(), lr=lr, **kwargs)

    trainer = make(model=TorchNames())
    assert trainer.model.got == (1e-2, {"weight_decay": 0.1, "betas": (0.9, 0.95)})

    class Broken(Bigram):
        def configure_optimizers(self, **kwargs):
            return "adam"

    with pytest.raises(ValueError, match="torch.optim.Optimizer, got str"):
        make(model=Broken())


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"warmup_steps": 30, "max_steps": 20}, r"warmup_steps \(30\) must be <= max_steps \(20\)"),
        ({"lr": 0.0}, "lr must be a finite number > 0, got 0.0"),
        ({"lr": -1e-3}, "lr must be"),
        ({"min_lr": 1e-2, "lr": 1e-3}, r"min_lr \(0.01\) must be <= lr \(0.001\)"),
        ({"batch_size": 0}, "batch_size must be an int >= 1, got 0"),
        ({"max_steps": 0}, "max_steps must be an int >= 1, got 0"),
        ({"max_steps": 2.5}, "max_steps must be an int >= 1, got 2.5"),
        ({"eval_every": 0}, "eval_every"),
        ({"eval_iters": 0}, "eval_iters"),
        ({"grad_clip": 0.0}, "grad_clip"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"betas": (0.9, 1.0)}, "betas"),
        ({"warmup_steps": 10, "lr_decay_steps": 5}, r"lr_decay_steps \(5\) must be >= warmup"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed must be an int in"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
        ({"checkpoint_every": 5}, "checkpoint_every=5 needs a checkpoint_path"),
        ({"max_seconds": 0}, "max_seconds must be a finite number > 0, got 0"),
        ({"max_seconds": math.inf}, "max_seconds must be a finite number"),
        ({"keep_best": 1}, "keep_best must be True or False, got 1"),
        ({"betas": (0.9,)}, r"betas must be two numbers in \[0, 1\), got \(0.9,\)"),
        ({"device": 0}, "device must be a str"),
    ],
)
def test_bad_configs_name_the_value(overrides, words):
    settings = {"max_steps": 100, "warmup_steps": 0, **overrides}
    with pytest.raises(ValueError, match=words):
        TrainerConfig(**settings)


def test_bad_trainer_arguments():
    with pytest.raises(
        ValueError, match=r"batch_size \(8\) differs from train_batcher.batch_size \(4\)"
    ):
        make(batch_size=8)
    make(batch_size=4)  # agreeing is fine
    cfg = TrainerConfig(device="cpu")
    with pytest.raises(ValueError, match="train_batcher must be a Batcher .* Tensor has no get_b"):
        Trainer(Bigram(), cfg, TOKENS)
    with pytest.raises(ValueError, match="nn.Module"):
        Trainer(lambda idx: idx, cfg, TokenBatcher(TOKENS, 8, 4))
    with pytest.raises(ValueError, match="evaluate"):
        Trainer(Bigram(), cfg, TokenBatcher(TOKENS, 8, 4)).evaluate()


def test_config_is_frozen_and_replace_checks_again():
    trainer = make(max_steps=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        trainer.config.max_steps = 100  # would desynchronise the planned schedule
    with pytest.raises(AttributeError):
        trainer.config = TrainerConfig(max_steps=100)
    longer = dataclasses.replace(trainer.config, max_steps=8)
    assert longer.max_steps == 8 and trainer.config.max_steps == 4
    with pytest.raises(ValueError, match="max_steps must be an int >= 1, got 0"):
        dataclasses.replace(trainer.config, max_steps=0)
    assert TrainerConfig(betas=[0.8, 0.9]).betas == (0.8, 0.9)  # normalised, still frozen


def test_lr_at_follows_a_planned_last_step():
    cfg = TrainerConfig(max_steps=1000, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    assert lr_at(60, cfg, last_step=110) == pytest.approx(5.5e-4)  # halfway to 110, not 1000
    assert lr_at(110, cfg, last_step=110) == pytest.approx(1e-4)
    assert lr_at(5, cfg, last_step=110) == lr_at(5, cfg)  # the warm-up ignores the end
    fixed = dataclasses.replace(cfg, lr_decay_steps=60)
    assert lr_at(60, fixed, last_step=110) == pytest.approx(1e-4)  # lr_decay_steps wins
    with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
        lr_at(-1, cfg)
    with pytest.raises(ValueError, match="config must be a TrainerConfig, got dict"):
        lr_at(1, {"lr": 1e-3})


# ------------------------------------------------------------------- seeding
def _global_states():
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()


def _same_states(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])


def test_the_constructor_leaves_the_global_rngs_alone():
    seed_everything(11)
    before = _global_states()
    make(seed=0, max_steps=3)  # (make seeds torch itself, before building the model)
    seed_everything(11)
    model = Bigram()
    after_model = _global_states()
    Trainer(model, TrainerConfig(device="cpu", seed=5), TokenBatcher(TOKENS, 8, 4))
    assert _same_states(after_model, _global_states())  # not reseeded, nothing drawn
    assert not _same_states(before, after_model)  # (building the model did draw)


def _run(seed):
    seed_everything(seed)  # the user's one seed: weights, then dropout
    model = Bigram()
    config = TrainerConfig(max_steps=12, lr=1e-2, warmup_steps=2, eval_every=4, eval_iters=2)
    trainer = Trainer(
        model,
        dataclasses.replace(config, device="cpu"),
        TokenBatcher(TOKENS[:320], 8, 4, seed=1),
        TokenBatcher(TOKENS[320:], 8, 4, seed=2),
    )
    history = trainer.fit()
    losses = [v.hex() for v in history.series("train_loss")[1] + history.series("val_loss")[1]]
    return losses, trainer.model.state_dict()


def test_the_same_user_seed_gives_a_bit_identical_run():
    losses_a, weights_a = _run(3)
    torch.rand(50)  # whatever ran in between does not matter
    losses_b, weights_b = _run(3)
    assert losses_a == losses_b
    states_equal(weights_a, weights_b)
    losses_c, _ = _run(4)
    assert losses_c != losses_a  # the seed matters (the test can fail)


def test_a_config_seed_seeds_the_first_fit_only():
    def run(disturb):
        trainer = make(seed=0, max_steps=6, config_seed=21)
        torch.manual_seed(disturb)  # the global state differs before fit()...
        trainer.fit(steps=3)
        after_three = torch.get_rng_state()
        trainer.fit()  # a second fit() does not seed again
        return trainer.history.series("train_loss")[1], after_three

    (a, state_a), (b, state_b) = run(1), run(2)
    assert a == b  # ...but fit() seeded with 21 before step 1: the same dropout
    assert torch.equal(state_a, state_b)


# ------------------------------------------------------------------ stopping


def test_a_callback_stops_training_cleanly(tmp_path):
    rec = Recorder()
    path = tmp_path / "stopped.pt"
    trainer = make(max_steps=20, callbacks=[StopAt(7), rec], checkpoint_path=str(path))
    history = trainer.fit()
    assert trainer.step == 7 and trainer.stop_reason == "StopTraining at step 7: enough"
    assert rec.steps == list(range(1, 8))  # the later callback still got step 7
    assert rec.events == ["begin", "end"] and history.series("lr")[0][-1] == 7
    assert make(max_steps=20).resume(path) == 7  # saved as at a normal end
    trainer.fit()  # continues; the callback stops only at step 7
    assert trainer.step == 20 and trainer.stop_reason is None
    assert history.series("val_loss")[0] == [5, 10, 15, 20]


# --------------------------------------------------------------- best weights
class Scramble:
    """Ruins the weights after step 11: the later validation losses are worse."""

    def __init__(self, model):
        self.model = model

    def on_step_end(self, step, metrics):
        if step == 11:
            with torch.no_grad():
                for p in self.model.parameters():
                    p.copy_(torch.randn_like(p) * 5)


def test_keep_best_keeps_and_restores_the_best_weights():
    model = Bigram()
    trainer = make(model=model, callbacks=[Scramble(model)], max_steps=20, keep_best=True)
    history = trainer.fit()
    steps, val = history.series("val_loss")
    assert trainer.best_step == steps[val.index(min(val))] == 10 and val[-1] > min(val)
    assert trainer.best_val_loss == min(val)
    assert all(t.device.type == "cpu" for t in trainer.best_state.values())
    assert trainer.evaluate() == val[-1]  # the model still holds the last weights
    assert trainer.restore_best() == 10
    assert trainer.evaluate() == min(val)  # the best weights, exactly
    with pytest.raises(ValueError, match="keep_best=True"):
        make(max_steps=2).restore_best()
    with pytest.raises(ValueError, match="no best weights yet"):
        make(max_steps=2, keep_best=True).restore_best()
    with pytest.raises(ValueError, match="keep_best=True needs a val_batcher"):
        Trainer(Bigram(), TrainerConfig(keep_best=True), TokenBatcher(TOKENS, 8, 4))
    plain = make(max_steps=10)
    plain.fit()
    assert plain.best_state is None and plain.best_step == 10  # tracked, not copied


# ------------------------------------------------------------------ bad batches
class EmptyBatcher(TokenBatcher):
    def get_batch(self):
        return torch.zeros(0, 8, dtype=torch.long), torch.zeros(0, 8, dtype=torch.long)


class NotAPair(TokenBatcher):
    def get_batch(self):
        return torch.zeros(4, 8, dtype=torch.long)


def test_an_empty_batch_is_an_error_not_a_nan():
    trainer = Trainer(Bigram(), TrainerConfig(device="cpu"), EmptyBatcher(TOKENS, 8, 4))
    with pytest.raises(ValueError, match=r"the batch is empty: targets of shape \(0, 8\)"):
        trainer.fit(steps=1)
    assert trainer.step == 0
    trainer = Trainer(Bigram(), TrainerConfig(device="cpu"), NotAPair(TOKENS, 8, 4))
    with pytest.raises(ValueError, match=r"get_batch\(\) must return \(x, y\)"):
        trainer.fit(steps=1)
