"""Notebook 03e's checks (training): right answers pass, typical slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.training.losses import next_token_loss

# ------------------------------------------------------------------ correct answers


def lr_ok(step, lr, min_lr, warmup_steps, max_steps):
    if step < warmup_steps:
        return lr * step / warmup_steps
    if step >= max_steps:
        return min_lr
    progress = (step - warmup_steps) / (max_steps - warmup_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def clip_ok(params, max_norm):
    params = list(params)
    total = torch.sqrt(sum((p.grad**2).sum() for p in params))
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    for p in params:
        p.grad.mul_(scale)
    return total


def train_steps(model, optimizer, batches, *, zero_grad=True, step=True):
    """The fixed loop; ``zero_grad=False`` or ``step=False`` is a typical slip."""
    losses = []
    for x, y in batches:
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        if step:
            optimizer.step()
        losses.append(loss.item())
    return losses


def train_steps_ok(model, optimizer, batches):
    return train_steps(model, optimizer, batches)


CHECKS = {
    "lr_schedule": (checks.check_lr_schedule, lr_ok),
    "clip_grad_norm": (checks.check_clip_grad_norm, clip_ok),
    "training_loop": (checks.check_training_loop, train_steps_ok),
}

TestContract = contract_tests(CHECKS)


def test_torch_itself_passes(capsys):
    checks.check_clip_grad_norm(torch.nn.utils.clip_grad_norm_)
    assert capsys.readouterr().out.startswith("✓ correct")


# ------------------------------------------------------------------ typical wrong answers


def _cos(step, lr, min_lr, start, end):
    progress = min(max((step - start) / max(end - start, 1), 0.0), 1.0)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize(
    "slip, hint",
    [
        (
            lambda s, lr, lo, w, m: lr * s / w if s < w else _cos(s, lr, 0.0, w, m),
            "not 0",
        ),
        (
            lambda s, lr, lo, w, m: lr * s / w if s < w else _cos(s, lr, lo, 0, m),
            "starts when the warm-up ends",
        ),
        (
            lambda s, lr, lo, w, m: (
                lr * s / w if s < w else lo + (lr - lo) * (1 - min(1.0, (s - w) / (m - w)))
            ),
            "not a straight line",
        ),
        (lambda s, lr, lo, w, m: _cos(s, lr, lo, w, m), "linear warm-up"),
        (
            lambda s, lr, lo, w, m: lr * (s + 1) / w if s < w else _cos(s, lr, lo, w, m),
            "off by one",
        ),
        (
            lambda s, lr, lo, w, m: 0.0 if s > m else lr_ok(s, lr, lo, w, m),
            "keep the rate at min_lr",
        ),
        (lambda s, lr, lo, w, m: "fast", "as a number"),
    ],
)
def test_lr_schedule_slips(slip, hint, capsys):
    assert_fails(checks.check_lr_schedule, slip, hint, capsys)


def clip_per_parameter(params, max_norm):
    total = torch.sqrt(sum((p.grad**2).sum() for p in params))
    for p in params:
        torch.nn.utils.clip_grad_norm_([p], max_norm)
    return total


def clip_by_value(params, max_norm):
    total = torch.sqrt(sum((p.grad**2).sum() for p in params))
    for p in params:
        p.grad.clamp_(-max_norm, max_norm)
    return total


def always_rescale(params, max_norm):
    total = torch.sqrt(sum((p.grad**2).sum() for p in params))
    for p in params:
        p.grad.mul_(max_norm / total)
    return total


def returns_clipped_norm(params, max_norm):
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return min(float(total), max_norm)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (clip_per_parameter, "GLOBAL norm"),
        (clip_by_value, "clips each value"),
        (always_rescale, "only scale DOWN"),
        (lambda params, max_norm: torch.tensor(1.0), "not changed"),
        (lambda params, max_norm: torch.nn.utils.clip_grad_norm_(params, max_norm) and None,
         "return the total gradient norm"),
        (returns_clipped_norm, "BEFORE clipping"),
    ],
)  # fmt: skip
def test_clip_grad_norm_slips(slip, hint, capsys):
    assert_fails(checks.check_clip_grad_norm, slip, hint, capsys)


def stale_forward(retain_graph=False):
    """The source's bug: the forward pass once, before the loop."""

    def answer(model, optimizer, batches):
        x, y = batches[0]
        loss = next_token_loss(model(x), y)
        losses = []
        for _ in batches:
            optimizer.zero_grad()
            loss.backward(retain_graph=retain_graph)
            optimizer.step()
            losses.append(loss.item())
        return losses

    return answer


def same_loss_every_step(model, optimizer, batches):
    """A stale forward pass whose gradient is re-applied (what the source's loop means)."""
    x, y = batches[0]
    loss = next_token_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    losses = []
    for _ in batches:
        for p, g in zip(model.parameters(), grads, strict=True):
            p.grad = g.clone()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    "slip, hint",
    [
        (stale_forward(), "no graph left"),
        (stale_forward(retain_graph=True), "retain_graph=True"),
        (same_loss_every_step, "same loss"),
        (lambda *args: train_steps(*args, zero_grad=False), "zero_grad()"),
        (lambda *args: train_steps(*args, step=False), "optimizer.step()"),
        (lambda model, optimizer, batches: None, "list of losses"),
        (lambda model, optimizer, batches: [1.0, 2.0], "should give 5 losses"),
    ],
)
def test_training_loop_slips(slip, hint, capsys):
    assert_fails(checks.check_training_loop, slip, hint, capsys)
