"""Notebook 06c's checks (adapting a pretrained model): right answers pass, typical slips get
their hint, and the references agree with the package (add_lora, LoRALinear, chat_example)."""

from __future__ import annotations

import pytest
import torch
from _helpers import assert_fails, contract_tests

from llmwidgets import checks
from llmwidgets.apps.chat import ChatTokenizer, chat_example, chat_prompt
from llmwidgets.apps.examples import IGNORE
from llmwidgets.apps.lora import LoRALinear, add_lora, trainable_parameters
from llmwidgets.checks.ch06c import last_reply_reference, lora_count, lora_grads
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.text.tokenizers import CharTokenizer

# ------------------------------------------------------------------ correct answers


def lora_param_count_ok(config, r, targets):
    C = config.n_embd
    shapes = [("c_attn", C, 3 * C), ("c_proj", C, C), ("c_fc", C, 4 * C), ("c_proj", 4 * C, C)]
    return config.n_layer * sum(r * (i + o) for name, i, o in shapes if name in targets)


def lora_grads_ok(x, g, A, B, scaling):
    A, B = A.clone().requires_grad_(), B.clone().requires_grad_()
    u = scaling * x @ A.T @ B.T
    (u * g).sum().backward()
    return A.grad, B.grad


def last_reply_ok(tokenizer, turns):
    x, y = chat_example(tokenizer, turns)
    last = max(i for i, (role, _) in enumerate(turns) if role == "assistant")
    n_before = len(tokenizer.encode(chat_prompt(turns[:last])))
    return x, [IGNORE] * (n_before - 1) + y[n_before - 1 :]


def balanced_ok(confusion):
    c = confusion.double()
    return (c.diag() / c.sum(1)).mean().item()


CHECKS = {
    "lora_param_count": (checks.check_lora_param_count, lora_param_count_ok),
    "lora_grads": (checks.check_lora_grads, lora_grads_ok),
    "last_reply_example": (checks.check_last_reply_example, last_reply_ok),
    "balanced_accuracy": (checks.check_balanced_accuracy, balanced_ok),
}

TestContract = contract_tests(CHECKS)


# ---------------------------------------------------- the references hold on real models


@pytest.mark.parametrize(
    "targets", [("c_attn", "c_proj", "c_fc"), ("c_attn",), ("c_proj",), ("c_fc", "c_attn")]
)
def test_lora_count_is_what_add_lora_adds(targets):
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=12)
    model = GPT(cfg)
    add_lora(model, r=3, targets=targets)
    assert trainable_parameters(model)[0] == lora_count(cfg, 3, targets)


def test_lora_grads_are_autograds_through_a_lora_layer():
    torch.manual_seed(0)
    layer = LoRALinear(torch.nn.Linear(6, 4).double(), r=2, alpha=6.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    x, g = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    (layer(x) * g).sum().backward()
    grad_a, grad_b = lora_grads(x, g, layer.lora_A.detach(), layer.lora_B.detach(), 3.0)
    torch.testing.assert_close(grad_a, layer.lora_A.grad)
    torch.testing.assert_close(grad_b, layer.lora_B.grad)
    fresh = LoRALinear(torch.nn.Linear(6, 4).double(), r=2)  # B = 0: A gets no gradient
    (fresh(x) * g).sum().backward()
    assert not fresh.lora_A.grad.any() and fresh.lora_B.grad.abs().sum() > 0


def test_last_reply_reference_on_the_books_tokenizer():
    tok = ChatTokenizer(CharTokenizer("abcdefghijklmnopqrstuvwxyz .!,"))
    turns = [("user", "hi."), ("assistant", "ok."), ("user", "go."), ("assistant", "yes!")]
    x, y = last_reply_reference(tok, turns)
    trained = [t for t in y if t != IGNORE]
    assert tok.decode(trained) == "yes!<|end|>" and x == chat_example(tok, turns)[0]


# ------------------------------------------------------------------- typical slips


def test_lora_count_slips(capsys):
    check = checks.check_lora_param_count

    def full(config, r, targets):  # counts in × out
        C = config.n_embd
        shapes = [("c_attn", C, 3 * C), ("c_proj", C, C), ("c_fc", C, 4 * C), ("c_proj", 4 * C, C)]
        return config.n_layer * sum(i * o for n, i, o in shapes if n in targets)

    assert_fails(check, full, "LoRA trains A (r × in) and B", capsys)
    assert_fails(
        check, lambda c, r, t: lora_param_count_ok(c, r, t) // c.n_layer, "n_layer", capsys
    )

    def one_proj(config, r, targets):  # only attention's c_proj
        C = config.n_embd
        shapes = [("c_attn", C, 3 * C), ("c_proj", C, C), ("c_fc", C, 4 * C)]
        return config.n_layer * sum(r * (i + o) for n, i, o in shapes if n in targets)

    assert_fails(check, one_proj, "two layers of each block end in c_proj", capsys)
    assert_fails(check, lambda c, r, t: 2.5, "whole number", capsys)


def test_lora_grads_slips(capsys):
    check = checks.check_lora_grads

    def unscaled(x, g, A, B, s):
        return lora_grads_ok(x, g, A, B, 1.0)

    assert_fails(check, unscaled, "multiply by scaling", capsys)

    def transposed(x, g, A, B, s):
        grad_a, grad_b = lora_grads_ok(x, g, A, B, s)
        return grad_a.T, grad_b

    assert_fails(check, transposed, "should have shape", capsys)
    assert_fails(check, lambda x, g, A, B, s: torch.zeros(1), "return (grad_A, grad_B)", capsys)


def test_last_reply_slips(capsys):
    check = checks.check_last_reply_example
    assert_fails(check, chat_example, "every assistant turn is trained", capsys)

    def no_end(tokenizer, turns):
        x, y = last_reply_ok(tokenizer, turns)
        return x, y[:-1] + [IGNORE]

    assert_fails(check, no_end, "<|end|> too", capsys)

    def with_role(tokenizer, turns):
        x, y = last_reply_ok(tokenizer, turns)
        first = next(i for i, t in enumerate(y) if t != IGNORE)
        y[first - 1] = x[first]  # the <|assistant|> token, read at first - 1
        return x, y

    assert_fails(check, with_role, "part of the prompt", capsys)

    def unshifted(tokenizer, turns):
        x, _ = last_reply_ok(tokenizer, turns)
        return x, x

    assert_fails(check, unshifted, "y[t] is the token after x[t]", capsys)


def test_balanced_accuracy_slips(capsys):
    check = checks.check_balanced_accuracy
    assert_fails(check, lambda c: (c.trace() / c.sum()).item(), "plain accuracy", capsys)
    assert_fails(
        check, lambda c: (c.diag() / c.sum(0)).double().mean().item(), "column sums", capsys
    )


def test_other_correct_answers_pass(capsys):
    checks.check_lora_param_count(lambda c, r, t: float(lora_param_count_ok(c, r, t)))
    checks.check_balanced_accuracy(lambda c: torch.tensor(balanced_ok(c)))
    checks.check_last_reply_example(
        lambda tok, turns: tuple(torch.tensor(v) for v in last_reply_ok(tok, turns))
    )
    assert capsys.readouterr().out.count("✓ correct") == 3
