"""Chapter 3's neural-network and self-attention checks: right answers pass, slips get hints."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import contract_tests

from llmwidgets import checks
from llmwidgets.nn.gpt import CausalSelfAttention, GPTConfig

# ------------------------------------------------------------------ correct answers


def numerical_grad_ok(f, x, eps=1e-3):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        old = x.view(-1)[i].item()
        x.view(-1)[i] = old + eps
        f_plus = float(f(x))
        x.view(-1)[i] = old - eps
        f_minus = float(f(x))
        x.view(-1)[i] = old  # put it back
        grad.view(-1)[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def bigram_counts(train, vocab):
    counts = torch.zeros(vocab, vocab)
    for a, b in zip(train[:-1].tolist(), train[1:].tolist(), strict=True):
        counts[a, b] += 1
    return counts


def bigram_loss_ok(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size) + alpha
    probs = counts / counts.sum(dim=1, keepdim=True)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean().item()


def context_windows_ok(ids, k, start_id):
    padded = [start_id] * (k - 1) + ids.tolist()
    return torch.tensor([padded[t : t + k] for t in range(len(ids))], dtype=torch.long)


def mlp_lm_params_ok(vocab_size, context, n_embd, n_hidden):
    return (
        (vocab_size + 1) * n_embd
        + context * n_embd * n_hidden
        + n_hidden
        + (n_hidden * vocab_size + vocab_size)
    )


def split_heads_ok(x, n_head):
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads_ok(y):
    B, H, T, D = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * D)


def causal_weights_ok(scores):
    T = scores.shape[-1]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)


def mha_ok(x, w_qkv, b_qkv, w_out, b_out, n_head):
    """Through the library's module, loaded with the same weights."""
    C = x.shape[-1]
    module = CausalSelfAttention(GPTConfig(n_embd=C, n_head=n_head, block_size=64)).double()
    module.load_state_dict(
        {"c_attn.weight": w_qkv, "c_attn.bias": b_qkv, "c_proj.weight": w_out, "c_proj.bias": b_out}
    )
    with torch.no_grad():
        return module(x)


CHECKS = {
    "numerical_gradient": (checks.check_numerical_gradient, numerical_grad_ok),
    "bigram_loss": (checks.check_bigram_loss, bigram_loss_ok),
    "context_windows": (checks.check_context_windows, context_windows_ok),
    "mlp_lm_params": (checks.check_mlp_lm_params, mlp_lm_params_ok),
    "split_heads": (checks.check_split_heads, split_heads_ok),
    "merge_heads": (checks.check_merge_heads, merge_heads_ok),
    "causal_attention_weights": (checks.check_causal_attention_weights, causal_weights_ok),
    "multihead_attention": (checks.check_multihead_attention, mha_ok),
}

(
    test_correct_answer_passes,
    test_unanswered_exercise_fails_with_clear_message,
    test_exported,
) = contract_tests(CHECKS)


def assert_fails(check, answer, hint, capsys):
    with pytest.raises(AssertionError) as err:
        check(answer)
    printed = capsys.readouterr().out
    assert "✗" in printed and hint in printed, printed
    assert hint in str(err.value)


# ------------------------------------------------------------------ numerical gradient


def forward_difference(f, x, eps=1e-3):
    base, grad = float(f(x)), torch.zeros_like(x)
    for i in range(x.numel()):
        nudged = x.clone()
        nudged.view(-1)[i] += eps
        grad.view(-1)[i] = (float(f(nudged)) - base) / eps
    return grad


def half_step(f, x, eps=1e-3):
    return 2 * numerical_grad_ok(f, x, eps)


def not_restored(f, x, eps=1e-3):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        x.view(-1)[i] += eps
        f_plus = float(f(x))
        x.view(-1)[i] -= 2 * eps
        grad.view(-1)[i] = (f_plus - float(f(x))) / (2 * eps)  # x is left eps too small
    return grad


def wrong_sign(f, x, eps=1e-3):
    return -numerical_grad_ok(f, x, eps)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (forward_difference, "one-sided difference"),
        (half_step, "divide f(x + ε) - f(x - ε) by 2ε"),
        (not_restored, "your function changed x"),
        (wrong_sign, "check the sign"),
        (lambda f, x, eps: torch.zeros(2), "should have shape (3,)"),
    ],
    ids=["forward", "half", "not-restored", "sign", "shape"],
)
def test_numerical_gradient_slips(answer, hint, capsys):
    assert_fails(checks.check_numerical_gradient, answer, hint, capsys)


# ------------------------------------------------------------------ bigram loss


def bigram_columns(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size) + alpha
    probs = counts / counts.sum(dim=0, keepdim=True)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean()


def bigram_no_smoothing(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size)
    probs = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean()


def bigram_alpha_only_on_counts(train_ids, eval_ids, vocab_size, alpha=1.0):
    counts = bigram_counts(train_ids, vocab_size)
    probs = (counts + alpha) / counts.sum(dim=1, keepdim=True).clamp_min(1)
    return -torch.log(probs[eval_ids[:-1], eval_ids[1:]]).mean()


def bigram_sum(train_ids, eval_ids, vocab_size, alpha=1.0):
    n_pairs = len(eval_ids) - 1
    return bigram_loss_ok(train_ids, eval_ids, vocab_size, alpha) * n_pairs


def bigram_log2(train_ids, eval_ids, vocab_size, alpha=1.0):
    return bigram_loss_ok(train_ids, eval_ids, vocab_size, alpha) / math.log(2)


def bigram_reversed_pairs(train_ids, eval_ids, vocab_size, alpha=1.0):
    return bigram_loss_ok(train_ids.flip(0), eval_ids, vocab_size, alpha)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (bigram_columns, "normalise each ROW"),
        (bigram_no_smoothing, "never seen in training has probability 0"),
        (bigram_alpha_only_on_counts, "add α·V to each row total"),
        (bigram_sum, "average over the pairs"),
        (bigram_log2, "natural logarithm"),
        (bigram_reversed_pairs, "reading order"),
        (lambda *a: torch.zeros(3), "return one number"),
    ],
    ids=["columns", "no-smoothing", "alpha-counts-only", "sum", "log2", "reversed", "vector"],
)
def test_bigram_loss_slips(answer, hint, capsys):
    assert_fails(checks.check_bigram_loss, answer, hint, capsys)


# ------------------------------------------------------------------ context windows


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda ids, k, s: context_windows_ok(ids, k, s).flip(1), "oldest token first"),
        (
            lambda ids, k, s: context_windows_ok(torch.cat([torch.tensor([s]), ids[:-1]]), k, s),
            "row t must end with ids[t]",
        ),
        (lambda ids, k, s: context_windows_ok(ids, k, 0), "pad with start_id"),
        (lambda ids, k, s: ids.unfold(0, k, 1), "one row per position"),
        (lambda ids, k, s: context_windows_ok(ids, k, s).float(), "integer ids"),
        (lambda ids, k, s: context_windows_ok(ids, k, s) + 1, "expected"),
    ],
    ids=["reversed", "shifted", "zero-pad", "no-pad", "float", "other"],
)
def test_context_windows_slips(answer, hint, capsys):
    assert_fails(checks.check_context_windows, answer, hint, capsys)


# ------------------------------------------------------------------ parameter count


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda V, k, d, h: V * d + k * d * h + h + h * V + V, "vocab_size + 1 rows"),
        (lambda V, k, d, h: (V + 1) * d + k * d * h + h * V, "count the biases"),
        (lambda V, k, d, h: (V + 1) * d + d * h + h + h * V + V, "context · n_embd inputs"),
        (
            lambda V, k, d, h: k * (V + 1) * d + k * d * h + h + h * V + V,
            "one embedding table",
        ),
        (lambda V, k, d, h: 1.5, "whole number"),
        (lambda V, k, d, h: mlp_lm_params_ok(V, k, d, h) + 1, "expected"),
    ],
    ids=["no-start-row", "no-biases", "hidden-input", "per-position-table", "float", "other"],
)
def test_mlp_lm_params_slips(answer, hint, capsys):
    assert_fails(checks.check_mlp_lm_params, answer, hint, capsys)


def test_mlp_lm_params_accepts_a_tensor(capsys):
    checks.check_mlp_lm_params(lambda *a: torch.tensor(mlp_lm_params_ok(*a)))
    assert "✓ correct" in capsys.readouterr().out


# ------------------------------------------------------------------ split / merge heads


@pytest.mark.parametrize(
    "answer, hint",
    [
        (
            lambda x, H: x.view(x.shape[0], x.shape[1], H, -1),
            "move the heads next to the batch",
        ),
        (
            lambda x, H: x.reshape(x.shape[0], H, x.shape[1], -1),
            "a plain view(B, n_head, T, head_dim) mixes positions",
        ),
        (
            lambda x, H: x.view(x.shape[0], x.shape[1], -1, H).permute(0, 3, 1, 2),
            "consecutive features",
        ),
    ],
    ids=["no-transpose", "plain-view", "interleaved"],
)
def test_split_heads_slips(answer, hint, capsys):
    assert_fails(checks.check_split_heads, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda y: y.transpose(1, 2), "reshape (B, T, H, D) to (B, T, H·D)"),
        (
            lambda y: y.reshape(y.shape[0], y.shape[2], -1),
            "reshaping (B, H, T, D) directly mixes heads and positions",
        ),
        (
            lambda y: y.permute(0, 2, 3, 1).reshape(y.shape[0], y.shape[2], -1),
            "keep each head's features together",
        ),
        (lambda y: y.transpose(1, 2).view(y.shape[0], y.shape[2], -1), "raised RuntimeError"),
    ],
    ids=["no-reshape", "no-transpose", "interleaved", "view-not-contiguous"],
)
def test_merge_heads_slips(answer, hint, capsys):
    assert_fails(checks.check_merge_heads, answer, hint, capsys)


def test_split_then_merge_is_the_identity():
    x = torch.randn(2, 5, 12)
    torch.testing.assert_close(merge_heads_ok(split_heads_ok(x, 3)), x)


# ------------------------------------------------------------------ causal weights


def _mask(T, diagonal):
    return torch.ones(T, T, dtype=torch.bool).triu(diagonal)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (
            lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 1).T, -math.inf), -1),
            "the mask is transposed",
        ),
        (lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 1), 0.0), -1), "e⁰ > 0"),
        (
            lambda s: torch.softmax(s, -1).masked_fill(_mask(s.shape[-1], 1), 0.0),
            "BEFORE the softmax",
        ),
        (
            lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 1), -math.inf), -2),
            "normalise over the keys",
        ),
        (lambda s: torch.softmax(s, -1), "apply the causal mask"),
        (
            lambda s: torch.softmax(s.masked_fill(_mask(s.shape[-1], 0), -math.inf), -1),
            "Keep the diagonal",
        ),
    ],
    ids=["transposed", "zero-fill", "mask-after", "wrong-dim", "no-mask", "no-diagonal"],
)
def test_causal_weights_slips(answer, hint, capsys):
    assert_fails(checks.check_causal_attention_weights, answer, hint, capsys)


# ------------------------------------------------------------------ multi-head attention


def mha_variant(scale_by_c=False, causal=True, project=True):
    def answer(x, w_qkv, b_qkv, w_out, b_out, n_head):
        B, T, C = x.shape
        q, k, v = (split_heads_ok(t, n_head) for t in (x @ w_qkv.T + b_qkv).split(C, dim=-1))
        d = C if scale_by_c else C // n_head
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        weights = causal_weights_ok(scores) if causal else torch.softmax(scores, -1)
        y = merge_heads_ok(weights @ v)
        return y @ w_out.T + b_out if project else y

    return answer


def test_mha_variant_matches_the_library_when_right():
    gen = torch.Generator().manual_seed(3)
    args = [torch.randn(s, generator=gen, dtype=torch.float64) for s in [(2, 5, 8), (24, 8)]]
    args += [torch.randn(24, dtype=torch.float64), torch.randn(8, 8, dtype=torch.float64)]
    args += [torch.randn(8, dtype=torch.float64)]
    torch.testing.assert_close(mha_variant()(*args, 2), mha_ok(*args, 2))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (mha_variant(scale_by_c=True), "not by √C"),
        (mha_variant(causal=False), "apply the causal mask"),
        (mha_variant(project=False), "output projection"),
        (lambda x, *rest: x @ rest[0], "raised RuntimeError"),
    ],
    ids=["scale-C", "no-mask", "no-projection", "crash"],
)
def test_mha_slips(answer, hint, capsys):
    assert_fails(checks.check_multihead_attention, answer, hint, capsys)
