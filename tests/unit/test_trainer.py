"""Trainer tests on a tiny bigram model (embedding + dropout + linear) on the CPU.

The CUDA paths (bf16 autocast, fp16 autocast with a GradScaler) are exercised on a
GPU only; here Precision objects with device_type "cpu" run the same code paths.
"""

import io
import math
import warnings
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from llmwidgets.core.device import Precision
from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.trainer import Trainer, TrainerConfig, lr_at
from llmwidgets.widgets.loss_plot import LiveLossPlot

VOCAB = 8
# A learnable sequence: each token fully determines the next one (0 1 2 ... 7 0 1 ...).
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


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: one thread is faster than two, and fairer on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(seed=0, model=None, callbacks=(), precision=None, **overrides):
    """A model, batchers and a Trainer, all seeded."""
    torch.manual_seed(seed)
    model = model or Bigram()
    settings = dict(max_steps=20, lr=1e-2, min_lr=1e-3, warmup_steps=2, eval_every=5, eval_iters=2)
    settings.update(overrides)
    config = TrainerConfig(device="cpu", seed=seed, **settings)
    train = TokenBatcher(TOKENS[:320], block_size=8, batch_size=4, seed=seed)
    val = TokenBatcher(TOKENS[320:], block_size=8, batch_size=4, seed=seed + 1)
    return Trainer(model, config, train, val, callbacks=callbacks, precision=precision)


class Recorder:
    def __init__(self):
        self.steps, self.metrics, self.events = [], [], []

    def on_train_begin(self):
        self.events.append("begin")

    def on_step_end(self, step, metrics):
        self.steps.append(step)
        self.metrics.append(metrics)

    def on_train_end(self):
        self.events.append("end")


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


# ------------------------------------------------------------- exact resume
def _states_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_is_exact(tmp_path):
    straight = make(seed=3, max_steps=16, eval_every=4)
    straight.fit()

    first = make(seed=3, max_steps=16, eval_every=4)
    first.fit(steps=8)
    path = first.save_checkpoint(tmp_path / "ckpt.pt")
    torch.manual_seed(1234)  # disturb every RNG the run relies on
    torch.rand(100)
    resumed = make(seed=99, max_steps=16, eval_every=4)  # new model, optimiser, batchers
    resumed.config.seed = 3  # (the seed is part of the compared config)
    assert resumed.resume(path) == 8
    resumed.fit()

    _states_equal(straight.model.state_dict(), resumed.model.state_dict())
    for name in ("train_loss", "val_loss", "lr", "grad_norm"):
        assert straight.history.series(name) == resumed.history.series(name), name
    assert straight.best_val_loss == resumed.best_val_loss
    opt_a, opt_b = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for i in opt_a["state"]:
        _states_equal(opt_a["state"][i], opt_b["state"][i])
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
    with pytest.raises(ValueError, match="not a checkpoint"):
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
        ({"min_lr": 1e-2, "lr": 1e-3}, r"min_lr must be a number in \[0, lr=0.001\], got 0.01"),
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
        ({"checkpoint_every": -1}, "checkpoint_every"),
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
    with pytest.raises(ValueError, match="train_batcher must have get_batch"):
        Trainer(Bigram(), cfg, TOKENS)
    with pytest.raises(ValueError, match="nn.Module"):
        Trainer(lambda idx: idx, cfg, TokenBatcher(TOKENS, 8, 4))
    with pytest.raises(ValueError, match="evaluate"):
        Trainer(Bigram(), cfg, TokenBatcher(TOKENS, 8, 4)).evaluate()


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
    _states_equal(before, wide.model.state_dict())
    assert wide.step == 0
