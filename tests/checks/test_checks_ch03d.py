"""Checks of the GPT and training-loop exercises: right answers pass, slips get their hint."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _helpers import contract_tests

from llmwidgets import checks
from llmwidgets.training.losses import next_token_loss

# ------------------------------------------------------------------ correct answers


def param_count_ok(config):
    C, L, V, T = config.n_embd, config.n_layer, config.vocab_size, config.block_size
    per_block = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (4 * C * C + 4 * C)
    per_block += 4 * C * C + C
    total = V * C + T * C + L * per_block + 2 * C
    return total if config.tie_weights else total + V * C


def layer_norm_ok(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def block_ok(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_2(x))


def tie_ok(model):
    model.lm_head.weight = model.transformer.wte.weight


def tie_other_way_ok(model):
    model.transformer.wte.weight = model.lm_head.weight
    return model


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


def train_steps_ok(model, optimizer, batches):
    losses = []
    for x, y in batches:
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


CHECKS = {
    "gpt_param_count": (checks.check_gpt_param_count, param_count_ok),
    "layer_norm": (checks.check_layer_norm, layer_norm_ok),
    "pre_ln_block": (checks.check_pre_ln_block, block_ok),
    "weight_tying": (checks.check_weight_tying, tie_ok),
    "lr_schedule": (checks.check_lr_schedule, lr_ok),
    "clip_grad_norm": (checks.check_clip_grad_norm, clip_ok),
    "training_loop": (checks.check_training_loop, train_steps_ok),
}


(
    test_correct_answer_passes,
    test_unanswered_exercise_fails_with_clear_message,
    test_exported,
) = contract_tests(CHECKS)


def test_other_correct_answers_pass(capsys):
    checks.check_weight_tying(tie_other_way_ok)
    checks.check_clip_grad_norm(torch.nn.utils.clip_grad_norm_)
    checks.check_layer_norm(lambda x, w, b, eps=1e-5: F.layer_norm(x, (x.shape[-1],), w, b, eps))
    assert capsys.readouterr().out.count("✓ correct") == 3


def test_checks_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for check, answer in CHECKS.values():
        check(answer)
    assert torch.equal(torch.rand(3), expected)


def assert_fails(check, answer, hint, capsys):
    with pytest.raises(AssertionError) as err:
        check(answer)
    printed = capsys.readouterr().out
    assert "✗" in printed and hint in printed, printed
    assert hint in str(err.value)


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda c: param_count_ok(c) - c.block_size * c.n_embd, "position embeddings"),
        (lambda c: param_count_ok(c) - 2 * c.n_embd, "final LayerNorm"),
        (lambda c: param_count_ok(c) - c.n_layer * 4 * c.n_embd - 2 * c.n_embd, "LayerNorms"),
        (lambda c: param_count_ok(c) - c.n_layer * 9 * c.n_embd, "biases"),
        (lambda c: param_count_ok(c) - c.n_layer * 4 * c.n_embd**2, "8C²"),
        (lambda c: param_count_ok(c) + c.vocab_size * c.n_embd, "IS the token embedding"),
        (lambda c: param_count_ok(c) + 1, "GPT(config) has 809,856 parameters, got 809,857"),
        (lambda c: "many", "as an int"),
    ],
)
def test_param_count_slips(slip, hint, capsys):
    assert_fails(checks.check_gpt_param_count, slip, hint, capsys)


def test_param_count_untied_head_forgotten(capsys):
    def forgot_untied_head(config):
        total = param_count_ok(config)
        return total if config.tie_weights else total - config.vocab_size * config.n_embd

    assert_fails(checks.check_gpt_param_count, forgot_untied_head, "its own", capsys)


def _ln(x, weight, bias, eps, var, eps_inside=True, dim=-1, affine=True):
    mean = x.mean(dim, keepdim=True)
    denom = torch.sqrt(var(x, dim) + eps) if eps_inside else torch.sqrt(var(x, dim)) + eps
    out = (x - mean) / denom
    return out * weight + bias if affine else out


def biased(x, dim):
    return x.var(dim, unbiased=False, keepdim=True)


def unbiased(x, dim):
    return x.var(dim, keepdim=True)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, unbiased), "biased variance"),
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, biased, eps_inside=False), "inside the"),
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, biased, affine=False), "scale by weight"),
        (lambda x, w, b, eps=1e-5: _ln(x, w, b, eps, biased, dim=0), "LAST dimension"),
        (lambda x, w, b, eps=1e-5: x, "wrong values"),
        (lambda x, w, b, eps=1e-5: x[..., :-1], "shape"),
    ],
)
def test_layer_norm_slips(slip, hint, capsys):
    assert_fails(checks.check_layer_norm, slip, hint, capsys)


def post_ln(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def no_residual(x, ln_1, attn, ln_2, mlp):
    return mlp(ln_2(attn(ln_1(x))))


def normalised_stream(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x)
    x = x + attn(x)
    x = ln_2(x)
    return x + mlp(x)


def parallel(x, ln_1, attn, ln_2, mlp):
    return x + attn(ln_1(x)) + mlp(ln_2(x))


def same_ln(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_1(x))


def attention_only(x, ln_1, attn, ln_2, mlp):
    return x + attn(ln_1(x))


@pytest.mark.parametrize(
    "slip, hint",
    [
        (post_ln, "post-LN"),
        (no_residual, "residual connection"),
        (normalised_stream, "passes through unchanged"),
        (parallel, "AFTER the attention"),
        (same_ln, "its own LayerNorm"),
        (attention_only, "MLP branch"),
        (lambda x, *modules: x * 2, "wrong values"),
    ],
)
def test_pre_ln_block_slips(slip, hint, capsys):
    assert_fails(checks.check_pre_ln_block, slip, hint, capsys)


def copy_values(model):
    with torch.no_grad():
        model.lm_head.weight.copy_(model.transformer.wte.weight)


def new_parameter_same_memory(model):
    model.lm_head.weight = torch.nn.Parameter(model.transformer.wte.weight.data)


@pytest.mark.parametrize(
    "slip, hint",
    [
        (copy_values, "copied the values"),
        (new_parameter_same_memory, "share memory but are two different Parameter"),
        (lambda model: None, "still two separate"),
        (lambda model: "tied", "return the model"),
    ],
)
def test_weight_tying_slips(slip, hint, capsys):
    assert_fails(checks.check_weight_tying, slip, hint, capsys)


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


def stale_forward(model, optimizer, batches):
    """The source's bug: the forward pass once, before the loop."""
    x, y = batches[0]
    loss = next_token_loss(model(x), y)
    losses = []
    for _ in batches:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def stale_forward_retained(model, optimizer, batches):
    x, y = batches[0]
    loss = next_token_loss(model(x), y)
    losses = []
    for _ in batches:
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        optimizer.step()
        losses.append(loss.item())
    return losses


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


def no_zero_grad(model, optimizer, batches):
    losses = []
    for x, y in batches:
        loss = next_token_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def no_step(model, optimizer, batches):
    losses = []
    for x, y in batches:
        loss = next_token_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    "slip, hint",
    [
        (stale_forward, "no graph left"),
        (stale_forward_retained, "retain_graph=True"),
        (same_loss_every_step, "same loss"),
        (no_zero_grad, "zero_grad()"),
        (no_step, "optimizer.step()"),
        (lambda model, optimizer, batches: None, "list of losses"),
        (lambda model, optimizer, batches: [1.0, 2.0], "should give 5 losses"),
    ],
)
def test_training_loop_slips(slip, hint, capsys):
    assert_fails(checks.check_training_loop, slip, hint, capsys)
