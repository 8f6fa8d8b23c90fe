"""Checks of notebook 03e (training): the learning-rate schedule, gradient clipping and
the fixed training loop.

The references are the library's :func:`~llmwidgets.training.trainer.lr_at` and
:func:`~llmwidgets.training.losses.next_token_loss`, and torch's ``clip_grad_norm_``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    exercise,
    expect_close,
    fixed_seed,
    tiny_gpt_config,
)
from llmwidgets.nn.gpt import GPT
from llmwidgets.training.losses import next_token_loss
from llmwidgets.training.trainer import TrainerConfig, lr_at

__all__ = ["check_clip_grad_norm", "check_lr_schedule", "check_training_loop"]


def _lr_slips(
    lr: float, min_lr: float, warmup: int, max_steps: int, steps: list[int]
) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong warm-up + cosine schedules over ``steps``, with their hints."""

    def progress(s: int, start: int) -> float:
        return min(max((s - start) / max(max_steps - start, 1), 0.0), 1.0)

    def cosine(s: int, floor: float = min_lr, start: int = warmup) -> float:
        return floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * progress(s, start)))

    def linear(s: int) -> float:
        return min_lr + (lr - min_lr) * (1 - progress(s, warmup))

    def warm(s: int, after: Callable[[int], float], shift: int = 0) -> float:
        return lr * (s + shift) / warmup if s < warmup else after(s)

    slips: list[tuple[Callable[[int], float], str]] = [
        (
            lambda s: warm(s, lambda t: cosine(t, floor=0.0)),
            "the cosine should end at min_lr, not 0: "
            "min_lr + (lr − min_lr) · (1 + cos(π · progress)) / 2",
        ),
        (
            lambda s: warm(s, lambda t: cosine(t, start=0)),
            "the cosine starts when the warm-up ends: progress = "
            "(step − warmup_steps) / (max_steps − warmup_steps)",
        ),
        (lambda s: warm(s, linear), "the decay follows a cosine, not a straight line"),
        (cosine, "start with a linear warm-up: lr · step / warmup_steps"),
        (
            lambda s: warm(s, cosine, shift=1),
            "warm-up off by one: step 0 has rate 0 and step warmup_steps reaches lr, "
            "so use lr · step / warmup_steps",
        ),
        (
            lambda s: warm(s, cosine) if s <= max_steps else 0.0,
            "after max_steps keep the rate at min_lr",
        ),
    ]
    return [(torch.tensor([f(s) for s in steps], dtype=torch.float64), h) for f, h in slips]


@exercise("exercise 1 (warm-up + cosine learning rate)")
def check_lr_schedule(my_lr_at: Callable[..., Any]) -> str:
    """Check ``my_lr_at(step, lr, min_lr, warmup_steps, max_steps)``.

    Linear warm-up ``lr · step / warmup_steps`` for ``step < warmup_steps``, then a
    cosine from ``lr`` down to ``min_lr`` at ``max_steps``, and ``min_lr`` after
    that: :func:`llmwidgets.lr_at` with ``lr_decay_steps = max_steps``.
    """
    cases = [(1e-3, 1e-4, 10, 100), (6e-4, 6e-5, 0, 20), (2e-3, 2e-4, 50, 60)]
    for lr, min_lr, warmup, max_steps in cases:
        cfg = TrainerConfig(max_steps=max_steps, lr=lr, min_lr=min_lr, warmup_steps=warmup)
        steps = list(range(0, max_steps + 11))
        what = f"lr={lr:g}, min_lr={min_lr:g}, warmup_steps={warmup}, max_steps={max_steps}"
        got = []
        for s in steps:
            value = my_lr_at(s, lr, min_lr, warmup, max_steps)
            try:
                got.append(float(value))
            except (TypeError, ValueError) as err:
                raise Hint(f"return the rate as a number, got {value!r} at step {s}") from err
        expected = torch.tensor([lr_at(s, cfg) for s in steps], dtype=torch.float64)
        wrong = _lr_slips(lr, min_lr, warmup, max_steps, steps)
        expect_close(torch.tensor(got), expected, what, wrong, atol=1e-9)
    return f"{len(cases)} schedules, every step up to 10 past max_steps (no warm-up too)"


def _params_with(grads: list[torch.Tensor]) -> list[torch.nn.Parameter]:
    """Fresh parameters whose ``.grad`` holds a copy of each of ``grads``."""
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros_like(g))
        p.grad = g.clone()
        params.append(p)
    return params


def _clipping_slips(grads: list[torch.Tensor], max_norm: float) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong clipped gradients (flattened together), with their hints."""
    flat = torch.cat([g.flatten() for g in grads])
    per_param = [g.flatten() * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads]
    return [
        (
            torch.cat(per_param),
            "clip the GLOBAL norm: one norm over all gradients together "
            "(sqrt of the sum of every squared entry), one factor for all",
        ),
        (
            flat.clamp(-max_norm, max_norm),
            "that clips each value (clip_grad_value_); scale the whole gradient "
            "vector so that its norm becomes max_norm",
        ),
        (
            flat * (max_norm / float(flat.norm())),
            "only scale DOWN: leave the gradients alone when their norm is already "
            "at most max_norm",
        ),
        (flat, "the gradients were not changed: multiply each p.grad in place"),
    ]


@exercise("exercise 2 (gradient clipping by norm)")
def check_clip_grad_norm(my_clip_grad_norm: Callable[..., Any]) -> str:
    """Check ``my_clip_grad_norm(params, max_norm)``: clip the global gradient norm.

    The gradients of all parameters together are one long vector; when its norm is
    above ``max_norm``, every gradient is multiplied by ``max_norm / norm`` (in place).
    The function returns the norm measured before clipping, as
    ``torch.nn.utils.clip_grad_norm_`` does.
    """
    gen = torch.Generator().manual_seed(0)
    cases = [
        ([torch.tensor([3.0, 4.0])], 1.0),  # norm 5 -> (0.6, 0.8)
        ([torch.tensor([3.0]), torch.tensor([[4.0, 0.0]])], 2.5),  # global norm 5
        ([torch.randn(4, 3, generator=gen), torch.randn(5, generator=gen)], 0.5),
        ([torch.tensor([0.3, -0.4]), torch.tensor([0.0])], 1.0),  # below: unchanged
        ([torch.randn(7, generator=gen) * 10, torch.randn(2, 2, generator=gen)], 1.0),
    ]
    for grads, max_norm in cases:
        what = f"gradients {[tuple(g.shape) for g in grads]}, max_norm={max_norm}"
        ref, mine = _params_with(grads), _params_with(grads)
        expected_norm = torch.nn.utils.clip_grad_norm_(ref, max_norm)
        got_norm = my_clip_grad_norm(mine, max_norm)
        if got_norm is None:
            raise Hint("return the total gradient norm (measured before clipping)")
        got = torch.cat([p.grad.flatten() for p in mine])
        expected = torch.cat([p.grad.flatten() for p in ref])
        expect_close(got, expected, what, _clipping_slips(grads, max_norm))
        norm = as_tensor(got_norm, "the returned norm")
        if norm.numel() != 1:
            raise Hint(f"return one number (the total norm), got shape {tuple(norm.shape)}")
        total = float(torch.cat([g.flatten() for g in grads]).norm())
        expect_close(
            norm.reshape(()),
            expected_norm.detach().reshape(()),
            f"the returned norm ({what})",
            [
                (
                    torch.tensor(min(total, max_norm)),
                    "return the norm measured BEFORE clipping, as torch does",
                )
            ],
        )
    return f"{len(cases)} cases (one and several tensors, below and above max_norm)"


def _reference_steps(model: Any, opt: Any, batches: list, zero_grad: bool = True) -> list[float]:
    """The fixed loop (or, with ``zero_grad=False``, the loop that forgets zero_grad)."""
    losses = []
    for x, y in batches:
        loss = next_token_loss(model(x), y)
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _run_answer(my_train_steps: Callable[..., Any], model: Any, opt: Any, batches: list) -> Any:
    """Run the learner's loop; explain the source's bug when torch reports it."""
    try:
        return my_train_steps(model, opt, [(x.clone(), y.clone()) for x, y in batches])
    except RuntimeError as err:
        stale = ("backward through the graph a second time", "modified by an inplace")
        if any(text in str(err) for text in stale):
            raise Hint(
                "the forward pass runs once, before the loop, so the second "
                "backward() has no graph left (or, with retain_graph=True, a graph "
                "whose weights the optimiser has changed since): compute "
                "logits = model(x) and the loss INSIDE the loop, for each batch"
            ) from err
        raise


@exercise("exercise 3 (the fixed training loop)")
def check_training_loop(my_train_steps: Callable[..., Any]) -> str:
    """Check ``my_train_steps(model, optimizer, batches) -> losses``.

    For every ``(x, y)`` in ``batches``: forward pass, next-token cross-entropy, zero
    the gradients, backward, optimiser step; return the list of losses (floats, each
    computed before its update).
    """
    with fixed_seed(0):
        cfg = tiny_gpt_config()
        base = GPT(cfg)
        gen = torch.Generator().manual_seed(1)
        batches = []
        for _ in range(5):
            ids = torch.randint(cfg.vocab_size, (4, cfg.block_size + 1), generator=gen)
            batches.append((ids[:, :-1], ids[:, 1:]))

        def fresh() -> tuple[Any, Any]:
            model = copy.deepcopy(base)
            return model, torch.optim.AdamW(model.parameters(), lr=1e-2)

        model, opt = fresh()
        expected = _reference_steps(model, opt, batches)
        no_zero = _reference_steps(*fresh(), batches, zero_grad=False)
        mine, my_opt = fresh()
        got = _run_answer(my_train_steps, mine, my_opt, batches)
    if got is None:
        raise Hint("return the list of losses, one float per step")
    try:
        got = [float(v) for v in got]
    except (TypeError, ValueError) as err:
        raise Hint("return the losses as a list of numbers (loss.item())") from err
    if len(got) != len(batches):
        raise Hint(f"{len(batches)} batches should give {len(batches)} losses, got {len(got)}")
    if len(set(got)) == 1:
        raise Hint(
            "every step reports the same loss: the forward pass runs once, before "
            "the loop, and the weights' changes are never seen. Compute "
            "model(x) and the loss inside the loop, for each batch"
        )
    if all(torch.equal(a, b) for a, b in zip(mine.parameters(), base.parameters(), strict=True)):
        raise Hint("the weights never changed: call optimizer.step() after backward()")
    wrong = [
        (
            torch.tensor(no_zero),
            "gradients add up across steps: call optimizer.zero_grad() before "
            "loss.backward() in every step",
        )
    ]
    expect_close(torch.tensor(got), torch.tensor(expected), "the losses", wrong)
    for (name, p), q in zip(mine.named_parameters(), model.parameters(), strict=True):
        expect_close(p.detach(), q.detach(), f"the weights {name} after the steps")
    return f"{len(batches)} steps: same losses and same weights as the reference loop"
