"""Checks of notebook 03e (the training loop): the learning rate read off a schedule, a
linear-decay schedule, gradient accumulation, clipping under SGD and Adam, and what a
checkpoint must hold for an exact resume.

The references are the library's :func:`~llmwidgets.training.schedule.lr_at` and
:func:`~llmwidgets.training.losses.next_token_loss`, and small formulas.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from llmwidgets.checks._core import (
    Hint,
    call,
    exercise,
    expect_close,
    fixed_seed,
    one_number,
    tiny_gpt_config,
)
from llmwidgets.nn.gpt import GPT
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.losses import next_token_loss
from llmwidgets.training.schedule import lr_at

__all__ = [
    "check_accumulated_gradients",
    "check_clipped_update_ratio",
    "check_first_differing_step",
    "check_linear_decay_lr",
    "check_predicted_lr",
]

#: Exercise 1's schedule and the three questions about it.
PREDICT_CONFIG = TrainerConfig(max_steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=200)
PREDICT_CASES = (
    ("step 50", 50, None),
    ("step 1100", 1100, None),
    ("step 700, last step planned at 1200", 700, 1200),
)


@exercise("exercise 1 (read the learning rate off the schedule)")
def check_predicted_lr(predicted_lrs: Callable[..., Any]) -> str:
    """Check ``predicted_lrs()``: three learning rates of exercise 1's schedule.

    ``TrainerConfig(max_steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=200)``: the rate at
    step 50, at step 1100, and at step 700 when a time budget planned the last step at 1200.
    """
    got = predicted_lrs()
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise Hint(f"return three numbers (a tuple), got {got!r:.60}")
    cfg = PREDICT_CONFIG
    for value, (what, step, last) in zip(got, PREDICT_CASES, strict=True):
        rate = float(one_number(value, what))
        want = lr_at(step, cfg, last)
        if abs(rate - want) <= 1e-3 * want:
            continue
        if step < cfg.warmup_steps:
            raise Hint(
                f"{what} is in the warm-up: the rate climbs in a straight line from 0 at "
                "step 0 to lr at warmup_steps"
            )
        if last is not None and abs(rate - lr_at(step, cfg)) <= 1e-3 * want:
            raise Hint(
                f"{what}: the cosine ends at the run's last step, here the planned one, "
                "not at max_steps"
            )
        raise Hint(
            f"{what}: how far along the cosine is this step (0 at the end of the warm-up, "
            "1 at the last step)? What is (1 + cos(π · that)) / 2 there?"
        )
    return "the warm-up, the middle of the cosine, and a cosine that ends on a planned step"


def _schedule(lr: float, min_lr: float, warmup: int, max_steps: int):
    """The reference linear-decay schedule, and typical slips with their hints."""

    def progress(s: int, start: int) -> float:
        return min(max((s - start) / max(max_steps - start, 1), 0.0), 1.0)

    def linear(s: int, floor: float = min_lr, start: int = warmup) -> float:
        return floor + (lr - floor) * (1.0 - progress(s, start))

    def warm(s: int, after: Callable[[int], float], shift: int = 0) -> float:
        return lr * (s + shift) / warmup if s < warmup else after(s)

    def cosine(s: int) -> float:
        return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress(s, warmup)))

    reference = lambda s: warm(s, linear)  # noqa: E731
    slips = [
        (lambda s: warm(s, lambda t: linear(t, floor=0.0)), "the line should end at min_lr, not 0"),
        (
            lambda s: warm(s, lambda t: linear(t, start=0)),
            "the decay starts when the warm-up ends: it runs from warmup_steps to max_steps",
        ),
        (lambda s: warm(s, cosine), "that is the cosine: this one decays along a straight line"),
        (linear, "start with a linear warm-up from 0"),
        (
            lambda s: warm(s, linear, shift=1),
            "warm-up off by one: the rate is 0 at step 0 and reaches lr at warmup_steps",
        ),
        (
            lambda s: reference(s) if s <= max_steps else 0.0,
            "after max_steps keep the rate at min_lr",
        ),
    ]
    return reference, slips


@exercise("exercise 2 (a linear-decay schedule)")
def check_linear_decay_lr(my_linear_lr: Callable[..., Any]) -> str:
    """Check ``my_linear_lr(step, lr, min_lr, warmup_steps, max_steps)``.

    A linear warm-up ``lr · step / warmup_steps`` for ``step < warmup_steps``, then a
    straight line from ``lr`` at ``warmup_steps`` down to ``min_lr`` at ``max_steps``, and
    ``min_lr`` after that.
    """
    cases = [(1e-3, 1e-4, 10, 100), (6e-4, 0.0, 0, 20), (2e-3, 2e-4, 50, 60), (5e-3, 5e-4, 4, 5)]
    for lr, min_lr, warmup, max_steps in cases:
        steps = list(range(0, max_steps + 11))
        what = f"lr={lr:g}, min_lr={min_lr:g}, warmup_steps={warmup}, max_steps={max_steps}"
        got = []
        for s in steps:
            value = my_linear_lr(s, lr, min_lr, warmup, max_steps)
            try:
                got.append(float(value))
            except (TypeError, ValueError) as err:
                raise Hint(f"return the rate as a number, got {value!r} at step {s}") from err
        reference, slips = _schedule(lr, min_lr, warmup, max_steps)
        expected = torch.tensor([reference(s) for s in steps], dtype=torch.float64)
        wrong = [(torch.tensor([f(s) for s in steps], dtype=torch.float64), h) for f, h in slips]
        expect_close(torch.tensor(got, dtype=torch.float64), expected, what, wrong, atol=1e-12)
    return f"{len(cases)} schedules, every step up to 10 past max_steps (no warm-up too)"


class _BigramLM(nn.Module):
    """A model the notebook never trains: an embedding that reads off next-token logits."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.table = nn.Embedding(vocab, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table(idx)  # (B, T, V)


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [
        torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
        for p in model.parameters()
    ]


def _flat(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.flatten() for g in grads])


def _accumulated(model: nn.Module, x, y, k: int, scale: str, zero_each: bool = False):
    """Gradients of ``model`` (a copy) accumulated over ``x.chunk(k)`` the way ``scale`` says."""
    model = copy.deepcopy(model)
    for xs, ys in zip(x.chunk(k), y.chunk(k), strict=True):
        if zero_each:
            model.zero_grad()
        factor = {"share": len(xs) / len(x), "k": 1 / k, "none": 1.0}[scale]
        (next_token_loss(model(xs), ys) * factor).backward()
    return _flat(_grads(model))


@exercise("exercise 3 (gradient accumulation)")
def check_accumulated_gradients(accumulate: Callable[..., Any]) -> str:
    """Check ``accumulate(model, x, y, k)``: fill every ``p.grad`` of ``model`` with the
    gradient of the next-token loss of the whole batch ``(x, y)``, computed in the ``k``
    micro-batches ``x.chunk(k)``, ``y.chunk(k)`` (of unequal sizes when ``k`` does not
    divide the batch; the gradients start at zero)."""
    cases = []
    with fixed_seed(0):
        gen = torch.Generator().manual_seed(1)
        for model, rows, k in [
            (GPT(tiny_gpt_config(n_layer=2, n_embd=24, n_head=3)), 10, 4),  # 3, 3, 3, 1 rows
            (_BigramLM(20), 7, 3),  # 3, 3, 1
            (GPT(tiny_gpt_config()), 8, 4),  # 2, 2, 2, 2
        ]:
            ids = torch.randint(20, (rows, 9), generator=gen)
            cases.append((model, ids[:, :-1], ids[:, 1:], k))
    for model, x, y, k in cases:
        sizes = [len(piece) for piece in x.chunk(k)]
        what = f"a {type(model).__name__.lstrip('_')}, {len(x)} rows in pieces of {sizes}"
        full = copy.deepcopy(model)
        next_token_loss(full(x), y).backward()
        want = _flat(_grads(full))
        mine = copy.deepcopy(model)
        call(accumulate, mine, x, y, k)
        if all(p.grad is None for p in mine.parameters()):
            raise Hint("no gradient was computed: call backward() on each micro-batch's loss")
        last_only = (
            "only the last micro-batch's gradient is left: zero the gradients once, before "
            "the micro-batches, not in between"
        )
        wrong = [
            (_accumulated(model, x, y, k, "k"), "right only when the pieces have equal sizes: "
             f"x.chunk({k}) of {len(x)} rows gives {sizes}. Each piece's loss is a mean over "
             "its own rows: how much should each piece count in the mean over the batch?"),
            (_accumulated(model, x, y, k, "none"), "the gradients add up to too much: each "
             "piece's loss is a mean over its own rows, and the batch's loss is one mean"),
            (_accumulated(model, x, y, k, "share", zero_each=True), last_only),
            (_accumulated(model, x, y, k, "k", zero_each=True), last_only),
            (_accumulated(model, x, y, k, "none", zero_each=True), last_only),
        ]  # fmt: skip
        expect_close(_flat(_grads(mine)), want, f"the gradients for {what}", wrong, atol=1e-6)
    return f"{len(cases)} models (two GPTs and a bigram table), equal and unequal pieces"


@exercise("exercise 4 (clipping under SGD and under Adam)")
def check_clipped_update_ratio(predicted_ratio: Callable[..., Any]) -> str:
    """Check ``predicted_ratio(optimizer, grad_norm, max_norm)``: the length of the first
    update with clipping at ``max_norm`` divided by its length without clipping, for
    ``optimizer`` ``"sgd"`` (plain, no momentum) or ``"adam"``, when the gradient's global
    norm is ``grad_norm``."""
    for name in ("sgd", "adam"):
        for grad_norm, max_norm in [(2.0, 1.0), (5.0, 0.5), (0.5, 1.0), (3.0, 3.0), (10.0, 0.1)]:
            what = f"{name}, grad_norm={grad_norm:g}, max_norm={max_norm:g}"
            got = float(one_number(call(predicted_ratio, name, grad_norm, max_norm), what))
            sgd = min(1.0, max_norm / grad_norm)
            want = sgd if name == "sgd" else 1.0
            if abs(got - want) <= 1e-6:
                continue
            if name == "sgd" and abs(got - max_norm / grad_norm) <= 1e-6:
                raise Hint(f"for {what}: clipping never makes a gradient longer")
            if name == "adam" and abs(got - sgd) <= 1e-6:
                raise Hint(
                    f"for {what}: at Adam's first step m̂ is the gradient g and √v̂ is |g| "
                    "(per weight). What does m̂ / √v̂ become when every gradient is "
                    "multiplied by the same factor s?"
                )
            raise Hint(
                f"not right for {what}: clipping multiplies every gradient by "
                "min(1, max_norm / grad_norm); follow that factor through the optimiser's "
                "first update"
            )
    return "2 optimisers, 5 norms and thresholds each (above, below and at the threshold)"


#: Exercise 5's cases: what the checkpoint lacks.
DROPPED = ("nothing", "optimizer", "batcher", "rng")


@exercise("exercise 5 (what a checkpoint must hold)")
def check_first_differing_step(first_differing_step: Callable[..., Any]) -> str:
    """Check ``first_differing_step(resume_at, dropped)``: the first step whose training
    loss differs from the uninterrupted run's, when the run is saved after step
    ``resume_at`` and resumed from a checkpoint that lacks ``dropped`` (``"nothing"``,
    ``"optimizer"``: AdamW's moments, ``"batcher"``: the batcher's random state, or
    ``"rng"``: the global random states; the model has no dropout). ``None`` if none."""
    for resume_at in (10, 25):
        for dropped in DROPPED:
            what = f"resume_at={resume_at}, dropped={dropped!r}"
            got = call(first_differing_step, resume_at, dropped)
            want = {"optimizer": resume_at + 2, "batcher": resume_at + 1}.get(dropped)
            if got is None or want is None:
                if got is want:
                    continue
                if want is None:
                    raise Hint(
                        f"for {what}: which part of a training step would use what is "
                        "missing? If none does, nothing changes (return None)"
                    )
                raise Hint(f"for {what}: something is lost, so the runs part at some step")
            step = float(one_number(got, what))
            if step == want:
                continue
            if dropped == "optimizer" and step == resume_at + 1:
                raise Hint(
                    f"for {what}: the loss of step {resume_at + 1} is computed before that "
                    "step's update. Which weights and which batch does it use, and do they "
                    "depend on AdamW's moments?"
                )
            raise Hint(
                f"not right for {what}: step s's loss comes from the weights after step "
                "s - 1 and the batch drawn at step s; follow what is missing through that"
            )
    return "2 resume points, 4 things left out of the checkpoint"
