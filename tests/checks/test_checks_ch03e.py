"""Notebook 03e's checks (the training loop): right answers pass, typical slips get their
hint, and the claims behind the predictions hold in a real run."""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.checks.ch03e import PREDICT_CONFIG
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.losses import next_token_loss
from llmwidgets.training.schedule import lr_at
from llmwidgets.training.trainer import Trainer, TrainerConfig

# ------------------------------------------------------------------ correct answers


def predicted_lrs_ok():
    return 2.5e-4, 5.5e-4, 5.5e-4


def linear_lr(step, lr, min_lr, warmup_steps, max_steps, *, floor=None, start=None, shift=0):
    """The linear-decay schedule; each keyword set is a typical slip."""
    floor = min_lr if floor is None else floor
    start = warmup_steps if start is None else start
    if step < warmup_steps:
        return lr * (step + shift) / warmup_steps
    progress = min(max((step - start) / max(max_steps - start, 1), 0.0), 1.0)
    return floor + (lr - floor) * (1 - progress)


def linear_lr_ok(step, lr, min_lr, warmup_steps, max_steps):
    return linear_lr(step, lr, min_lr, warmup_steps, max_steps)


def accumulate(model, x, y, k, *, scale="share", zero_each=False):
    """Accumulation over x.chunk(k); another ``scale`` or ``zero_each`` is a slip."""
    for xs, ys in zip(x.chunk(k), y.chunk(k), strict=True):
        if zero_each:
            model.zero_grad()
        factor = {"share": len(xs) / len(x), "k": 1 / k, "none": 1.0}[scale]
        (next_token_loss(model(xs), ys) * factor).backward()


def accumulate_ok(model, x, y, k):
    accumulate(model, x, y, k)


def ratio_ok(optimizer, grad_norm, max_norm):
    return 1.0 if optimizer == "adam" else min(1.0, max_norm / grad_norm)


def first_differing_ok(resume_at, dropped):
    return {"optimizer": resume_at + 2, "batcher": resume_at + 1}.get(dropped)


CHECKS = {
    "predicted_lr": (checks.check_predicted_lr, predicted_lrs_ok),
    "linear_decay_lr": (checks.check_linear_decay_lr, linear_lr_ok),
    "accumulated_gradients": (checks.check_accumulated_gradients, accumulate_ok),
    "clipped_update_ratio": (checks.check_clipped_update_ratio, ratio_ok),
    "first_differing_step": (checks.check_first_differing_step, first_differing_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ the claims, measured


def _first_update(model, x, y, opt_cls, lr, max_norm):
    model = copy.deepcopy(model)
    opt = opt_cls(model.parameters(), lr=lr)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    next_token_loss(model(x), y).backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()]) - before, float(norm)


def test_clipping_ratios_hold_in_a_real_first_step():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16)
    model = GPT(config)
    ids = torch.randint(20, (4, 9))
    x, y = ids[:, :-1], ids[:, 1:]
    for name, opt_cls, lr in [("sgd", torch.optim.SGD, 0.1), ("adam", torch.optim.Adam, 1e-3)]:
        free, norm = _first_update(model, x, y, opt_cls, lr, math.inf)
        for c in (norm / 2, norm / 5):
            clipped, _ = _first_update(model, x, y, opt_cls, lr, c)
            ratio = float(clipped.norm() / free.norm())
            assert abs(ratio - ratio_ok(name, norm, c)) < 0.02, (name, c, ratio)


@pytest.mark.parametrize("dropped", ["nothing", "optimizer", "batcher", "rng"])
def test_first_differing_step_holds_in_a_real_resume(dropped):
    ids = torch.randint(20, (2000,), generator=torch.Generator().manual_seed(0))
    config = GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16)

    def trainer(seed):
        torch.manual_seed(seed)
        cfg = TrainerConfig(max_steps=8, lr=1e-2, warmup_steps=2, eval_every=100, device="cpu")
        return Trainer(GPT(config), cfg, TokenBatcher(ids, 8, 4, seed=1))

    straight = trainer(0)
    straight.fit()
    with tempfile.TemporaryDirectory() as tmp:
        first = trainer(0)
        first.fit(steps=4)
        path = first.save_checkpoint(Path(tmp) / "run.pt")
        second = trainer(1)
        second.resume(path)
    if dropped == "optimizer":
        second.optimizer.state.clear()
    elif dropped == "batcher":
        second.train_batcher.load_state_dict(TokenBatcher(ids, 8, 4, seed=1).state_dict())
    elif dropped == "rng":
        torch.manual_seed(12345)
    second.fit()
    a = straight.history.series("train_loss")[1]
    b = second.history.series("train_loss")[1]
    differing = [i + 1 for i, (u, v) in enumerate(zip(a, b, strict=True)) if u != v]
    assert (differing[0] if differing else None) == first_differing_ok(4, dropped)


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda: (5e-4, 5.5e-4, 5.5e-4), "in the warm-up"),
        (lambda: (2.5e-4, 5.5e-4, lr_at(700, PREDICT_CONFIG)), "the planned one"),
        (lambda: (2.5e-4, 6e-4, 5.5e-4), "how far along the cosine"),
        (lambda: (2.5e-4, 5.5e-4), "three numbers"),
        (lambda: (2.5e-4, "a lot", 5.5e-4), "should be a tensor"),
    ],
    ids=["warm-up", "unplanned", "cosine", "two", "not-a-number"],
)
def test_predicted_lr_slips(answer, hint, capsys):
    assert_fails(checks.check_predicted_lr, answer, hint, capsys)


def test_dividing_by_k_is_right_for_equal_pieces():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16))
    ids = torch.randint(20, (8, 9))
    grads = []
    for scale in ("share", "k"):
        copy_ = copy.deepcopy(model)
        accumulate(copy_, ids[:, :-1], ids[:, 1:], 4, scale=scale)
        grads.append(torch.cat([p.grad.flatten() for p in copy_.parameters()]))
    torch.testing.assert_close(grads[0], grads[1])


def test_the_planned_case_differs_from_max_steps():
    unplanned = lr_at(700, PREDICT_CONFIG)
    assert abs(unplanned - 5.5e-4) > 1e-4  # the slip below is a different number
    assert lr_at(700, PREDICT_CONFIG, 1200) == pytest.approx(5.5e-4)
    assert [lr_at(s, PREDICT_CONFIG) for s in (50, 1100)] == pytest.approx([2.5e-4, 5.5e-4])


def _cosine(s, lr, lo, w, m):
    progress = min(max((s - w) / max(m - w, 1), 0.0), 1.0)
    return lo + (lr - lo) * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda *a: linear_lr(*a, floor=0.0), "not 0"),
        (lambda *a: linear_lr(*a, start=0), "starts when the warm-up ends"),
        (lambda s, lr, lo, w, m: lr * s / w if s < w else _cosine(s, lr, lo, w, m), "the cosine"),
        (lambda s, lr, lo, w, m: linear_lr(s, lr, lo, 0, m, start=w), "linear warm-up"),
        (lambda *a: linear_lr(*a, shift=1), "off by one"),
        (lambda s, lr, lo, w, m: 0.0 if s > m else linear_lr(s, lr, lo, w, m), "keep the rate"),
        (lambda *a: "fast", "as a number"),
    ],
    ids=["floor-0", "start-0", "cosine", "no-warmup", "off-by-one", "after-end", "string"],
)
def test_linear_decay_slips(slip, hint, capsys):
    assert_fails(checks.check_linear_decay_lr, slip, hint, capsys)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda m, x, y, k: accumulate(m, x, y, k, scale="k"), "equal sizes"),
        (lambda m, x, y, k: accumulate(m, x, y, k, scale="none"), "too much"),
        (lambda m, x, y, k: accumulate(m, x, y, k, zero_each=True), "only the last micro-batch"),
        (lambda m, x, y, k: None, "no gradient was computed"),
        (lambda m, x, y, k: accumulate(m, x[: len(x) // 2], y[: len(y) // 2], k // 2), "wrong"),
    ],
    ids=["divide-by-k", "unscaled", "zeroed-each", "nothing", "half-batch"],
)
def test_accumulation_slips(slip, hint, capsys):
    assert_fails(checks.check_accumulated_gradients, slip, hint, capsys)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda o, g, c: c / g, "never makes a gradient longer"),
        (lambda o, g, c: min(1.0, c / g), "What does m̂ / √v̂ become"),
        (lambda o, g, c: 1.0, "follow that factor"),
    ],
    ids=["unbounded", "adam-like-sgd", "always-one"],
)
def test_clipping_slips(slip, hint, capsys):
    assert_fails(checks.check_clipped_update_ratio, slip, hint, capsys)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda r, d: None if d in ("nothing", "rng") else r + 1, "computed before that step"),
        (lambda r, d: first_differing_ok(r, d) or r + 1, "If none does"),
        (lambda r, d: None, "the runs part at some step"),
        (lambda r, d: {"optimizer": r + 2, "batcher": r + 3}.get(d), "follow what is missing"),
    ],
    ids=["optimizer-early", "rng-matters", "never", "batcher-late"],
)
def test_first_differing_slips(slip, hint, capsys):
    assert_fails(checks.check_first_differing_step, slip, hint, capsys)
