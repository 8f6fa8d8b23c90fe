"""Notebook 07a's checks (debugging and profiling): right answers pass, slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import assert_fails, contract_tests
from torch.profiler import ProfilerActivity, profile

from llmwidgets import checks
from llmwidgets.checks._core import tiny_gpt_config
from llmwidgets.checks.ch07a import linear_flops, underflow_gap
from llmwidgets.nn.gpt import GPT
from llmwidgets.training.losses import next_token_loss

# ------------------------------------------------------------------ correct answers


def gap_ok(dtype):
    info = torch.finfo(dtype)
    return math.log(2) - math.log(info.tiny * info.eps)  # exp(-g) below half the smallest


def batch_checker_ok(x, y, vocab_size, block_size):
    for name, t in (("x", x), ("y", y)):
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
            raise ValueError(f"{name} must hold integer ids, got {t.dtype}")
        if t.dim() != 2:
            raise ValueError(f"{name} must be (B, T), got shape {tuple(t.shape)}")
        if t.numel() and (t.min() < 0 or t.max() >= vocab_size):
            raise ValueError(f"{name} has ids outside [0, {vocab_size})")
    if x.shape != y.shape:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} differ")
    if x.shape[1] > block_size:
        raise ValueError(f"T = {x.shape[1]} > block_size = {block_size}")


def flops_ok(config, batch_size, seq_len):
    c, n = config.n_embd, batch_size * seq_len
    forward = 2 * n * (12 * config.n_layer * c * c + c * config.vocab_size)
    return forward, 2 * forward


def first_nonfinite_ok(model, x):
    found, handles = [], []
    for name, module in model.named_modules():

        def hook(mod, inputs, output, name=name):
            out = output[0] if isinstance(output, (tuple, list)) else output
            if not found and torch.is_tensor(out) and not torch.isfinite(out).all():
                found.append(name)

        handles.append(module.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return found[0] if found else None


CHECKS = {
    "underflow_gap": (checks.check_underflow_gap, gap_ok),
    "batch_checker": (checks.check_batch_checker, batch_checker_ok),
    "matmul_flops": (checks.check_matmul_flops, flops_ok),
    "first_nonfinite": (checks.check_first_nonfinite, first_nonfinite_ok),
}

TestContract = contract_tests(CHECKS)


def test_other_correct_forms_pass(capsys):
    checks.check_underflow_gap(underflow_gap)  # the measured reference itself
    checks.check_underflow_gap(lambda dt: gap_ok(dt) - 0.3)  # within the tolerance
    checks.check_matmul_flops(lambda c, b, t: list(linear_flops(c, b, t)))
    out = capsys.readouterr().out
    assert out.count("✓ correct") == 3, out


# ------------------------------------------------------------------ the references


def test_underflow_gap_matches_the_formula():
    for dtype in (torch.float32, torch.float16, torch.float64):
        assert abs(underflow_gap(dtype) - gap_ok(dtype)) < 0.02
    assert abs(underflow_gap(torch.bfloat16) - gap_ok(torch.bfloat16)) < 0.5  # g rounds in bf16


def test_linear_flops_match_the_profiler():
    torch.manual_seed(0)
    config = tiny_gpt_config(n_layer=2, n_embd=16, vocab_size=30)
    model = GPT(config)
    ids = torch.randint(30, (3, 8))
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        loss = next_token_loss(model(ids[:, :-1]), ids[:, 1:])
        loss.backward()
    flops = sum(e.flops for e in prof.key_averages() if e.key in ("aten::addmm", "aten::mm"))
    assert flops == sum(linear_flops(config, 3, 7))


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda dt: -math.log(torch.finfo(dt).tiny), "smallest *normal*"),
        (lambda dt: math.log(torch.finfo(dt).max), "exp overflows"),
        (lambda dt: -math.log(torch.finfo(dt).tiny * torch.finfo(dt).eps), "close"),
        (lambda dt: -math.log2(torch.finfo(dt).tiny * torch.finfo(dt).eps), "not log2"),
        (lambda dt: 50.0, "torch.finfo"),
        (lambda dt: [1.0, 2.0], "return one number"),
    ],
    ids=["normal", "overflow", "no-rounding", "log2", "off", "shape"],
)
def test_underflow_hints(answer, hint, capsys):
    assert_fails(checks.check_underflow_gap, answer, hint, capsys)


def rejects_int32(x, y, vocab_size, block_size):
    if x.dtype != torch.int64:
        raise ValueError("ids must be int64")
    batch_checker_ok(x, y, vocab_size, block_size)


def asserts(x, y, vocab_size, block_size):
    assert not x.dtype.is_floating_point, "float ids"


def misses_range(x, y, vocab_size, block_size):
    return batch_checker_ok(x, y, 10**9, block_size)


def silent_value_error(x, y, vocab_size, block_size):
    try:
        batch_checker_ok(x, y, vocab_size, block_size)
    except ValueError:
        raise ValueError() from None


def uses_torch(x, y, vocab_size, block_size):
    torch.zeros(vocab_size)[x]  # an IndexError for float ids and for ids >= vocab_size
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError("shape")


@pytest.mark.parametrize(
    "answer, hint",
    [
        (rejects_int32, "is a valid batch"),
        (asserts, "not assert"),
        (misses_range, "accepted it"),
        (silent_value_error, "message"),
        (uses_torch, "torch failed instead"),
    ],
    ids=["too-strict", "assert", "no-range", "empty-message", "torch-error"],
)
def test_batch_checker_hints(answer, hint, capsys):
    assert_fails(checks.check_batch_checker, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda c, b, t: tuple(f // 2 for f in flops_ok(c, b, t)), "2 FLOPs"),
        (
            lambda c, b, t: (2 * b * t * 12 * c.n_layer * c.n_embd**2,) * 2,
            "which matrix product comes after",
        ),
        (lambda c, b, t: (flops_ok(c, b, t)[0],) * 2, "gradient of its input"),
        (lambda c, b, t: (1.0, 2.0), "list the Linear layers"),
        (lambda c, b, t: 5.0, "return (forward, backward)"),
    ],
    ids=["multiply-adds", "no-head", "backward-once", "off", "not-a-pair"],
)
def test_flops_hints(answer, hint, capsys):
    assert_fails(checks.check_matmul_flops, answer, hint, capsys)


def keeps_hooks(model, x):
    for module in model.modules():
        module.register_forward_hook(lambda *args: None)
    return first_nonfinite_ok(model, x)


def last_name(model, x):
    found, handles = [], []
    for name, module in model.named_modules():

        def hook(mod, inputs, output, name=name):
            if torch.is_tensor(output) and not torch.isfinite(output).all():
                found.append(name)

        handles.append(module.register_forward_hook(hook))
    model(x)
    for handle in handles:
        handle.remove()
    found = [name for name in found if name]  # not the whole model
    return found[-1] if found else None


@pytest.mark.parametrize(
    "answer, hint",
    [
        (keeps_hooks, "still registered"),
        (lambda m, x: None, "you returned None"),
        (lambda m, x: "0", "not the first to finish"),
        (last_name, "not the first to finish"),
        (lambda m, x: 3, "return the module's name"),
    ],
    ids=["hooks-left", "always-none", "always-0", "last", "not-a-name"],
)
def test_first_nonfinite_hints(answer, hint, capsys):
    assert_fails(checks.check_first_nonfinite, answer, hint, capsys)
