"""Checks of notebook 06c (adapting a pretrained model): LoRA's parameter count before
building it, LoRA's gradients by hand (and why B = 0 at the start leaves A still), a chat
example trained on the last reply only, and balanced accuracy from a confusion matrix.

The references: the shapes of the book's GPT (:mod:`llmwidgets.nn.gpt`; the tests compare
with :func:`~llmwidgets.apps.lora.add_lora`), the chain rule (the tests compare with
autograd on a :class:`~llmwidgets.apps.lora.LoRALinear`),
:func:`~llmwidgets.apps.chat.chat_example`, and the definition of recall.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from llmwidgets.apps.chat import ASSISTANT, END, ChatTokenizer, chat_example, chat_prompt
from llmwidgets.apps.examples import IGNORE
from llmwidgets.checks._core import Hint, call, exercise, expect_close, one_number, pair
from llmwidgets.nn.gpt import GPTConfig
from llmwidgets.text.tokenizers import CharTokenizer

__all__ = [
    "check_balanced_accuracy",
    "check_last_reply_example",
    "check_lora_grads",
    "check_lora_param_count",
]

# ---------------------------------------------------------- exercise 1: LoRA's parameters


def _linears(cfg: GPTConfig) -> dict[str, tuple[int, int]]:
    """(in, out) of each nn.Linear of one block, by its full name in the block."""
    C = cfg.n_embd
    return {"attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C),
            "mlp.c_fc": (C, 4 * C), "mlp.c_proj": (4 * C, C)}  # fmt: skip


def lora_count(cfg: GPTConfig, r: int, targets: Sequence[str]) -> int:
    """The parameters LoRA of rank ``r`` adds to a GPT: ``r (in + out)`` per adapted layer."""
    chosen = [shape for name, shape in _linears(cfg).items() if name.split(".")[-1] in targets]
    return cfg.n_layer * sum(r * (n_in + n_out) for n_in, n_out in chosen)


def _whole(value: Any, what: str) -> int:
    number = one_number(value, what).item()
    if not math.isfinite(number) or number != int(number):
        raise Hint(f"{what} is a whole number of parameters; you returned {value!r}")
    return int(number)


@exercise("exercise 1 (LoRA's parameters before you build it)")
def check_lora_param_count(lora_param_count: Callable[..., Any]) -> str:
    """Check ``lora_param_count(config, r, targets)``: the trainable parameters that
    :func:`~llmwidgets.apps.lora.add_lora` adds to ``GPT(config)`` at rank ``r``, adapting
    every ``nn.Linear`` whose name ends with one of ``targets``."""
    all_targets = ("c_attn", "c_proj", "c_fc")
    cases = [
        (GPTConfig.preset("shakespeare-char-cpu"), 8, all_targets),
        (GPTConfig.preset("shakespeare-char-cpu"), 4, ("c_attn",)),
        (GPTConfig.preset("gpt2"), 16, ("c_attn", "c_proj")),
        (GPTConfig.preset("gpt2"), 8, ("c_fc",)),
        (GPTConfig(vocab_size=50, block_size=16, n_layer=3, n_head=2, n_embd=32), 1, all_targets),
    ]
    for cfg, r, targets in cases:
        what = f"n_layer={cfg.n_layer}, n_embd={cfg.n_embd}, r={r}, targets={targets}"
        got = _whole(call(lora_param_count, cfg, r, targets), f"the count for {what}")
        right = lora_count(cfg, r, targets)
        if got == right:
            continue
        full = cfg.n_layer * sum(
            i * o for name, (i, o) in _linears(cfg).items() if name.split(".")[-1] in targets
        )
        one_proj = right - cfg.n_layer * r * 5 * cfg.n_embd if "c_proj" in targets else None
        slips = [
            (full, "that counts whole weight matrices: LoRA trains A (r × in) and B "
             "(out × r), so an adapted layer adds r · (in + out), whatever in × out is"),
            (right // cfg.n_layer, "every block has its own adapted layers: multiply by n_layer"),
            (one_proj, "two layers of each block end in c_proj: attention's output "
             "projection (C → C) and the MLP's (4C → C)"),
            (cfg.n_layer * r * cfg.n_embd * 2 * len(targets), "the layers are not all C × C: "
             "c_attn maps C to 3C, c_fc C to 4C, the MLP's c_proj 4C to C"),
            (2 * right, "r · (in + out) counts both matrices already; LoRA adds no bias"),
        ]  # fmt: skip
        for wrong, hint in slips:
            if wrong is not None and got == wrong:
                raise Hint(f"{hint} (for {what})")
        raise Hint(
            f"{got:,} is not the count for {what}: list the nn.Linear layers of one block "
            "with their (in, out) sizes, keep those whose name ends with a target, and "
            "add r · (in + out) for each"
        )
    return f"{len(cases)} cases, from the character model to GPT-2 with c_proj in two places"


# ------------------------------------------------------- exercise 2: LoRA's gradients


def lora_grads(x: torch.Tensor, g: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
               scaling: float) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The gradients of A and B for the update ``u = scaling · x Aᵀ Bᵀ`` and ``dL/du = g``."""
    h = x @ A.T  # (N, r)
    return scaling * (g @ B).T @ x, scaling * g.T @ h


@exercise("exercise 2 (LoRA's gradients by hand)")
def check_lora_grads(my_lora_grads: Callable[..., Any]) -> str:
    """Check ``my_lora_grads(x, g, A, B, scaling)``: the gradients ``(dL/dA, dL/dB)`` of the
    LoRA update ``u = scaling · x Aᵀ Bᵀ`` for inputs ``x`` (N, in), the loss's gradient
    ``g = dL/du`` (N, out), ``A`` (r, in) and ``B`` (out, r)."""
    gen = torch.Generator().manual_seed(11)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    cases = [
        (rand(5, 6), rand(5, 4), rand(2, 6), rand(4, 2), 2.0),
        (rand(3, 8), rand(3, 8), rand(1, 8), rand(8, 1), 0.5),
        (rand(7, 4), rand(7, 10), rand(3, 4), torch.zeros(10, 3, dtype=torch.float64), 1.0),
        (rand(2, 5), rand(2, 3), torch.zeros(4, 5, dtype=torch.float64), rand(3, 4), 4.0),
    ]
    for x, g, A, B, s in cases:
        what = f"x {tuple(x.shape)}, g {tuple(g.shape)}, A {tuple(A.shape)}, B {tuple(B.shape)}"
        what += f", scaling={s}"
        got = pair(call(my_lora_grads, x, g, A, B, s), f"return (grad_A, grad_B) for {what}")
        want_a, want_b = lora_grads(x, g, A, B, s)
        expect_close(got[0], want_a, f"grad_A ({what})", [
            (want_a / s, "multiply by scaling: the update is scaled, so are its gradients"),
            (want_a * 0, "grad_A is zero only when B is: the gradient reaches A through B"),
        ], atol=1e-8)  # fmt: skip
        expect_close(got[1], want_b, f"grad_B ({what})", [
            (want_b / s, "multiply by scaling: the update is scaled, so are its gradients"),
        ], atol=1e-8)  # fmt: skip
    return f"{len(cases)} cases, B = 0 (LoRA's start) and A = 0 among them"


# ------------------------------------------------- exercise 3: train on the last reply only


def last_reply_reference(tokenizer: ChatTokenizer, turns: Sequence[tuple[str, str]]) -> tuple:
    """:func:`chat_example` with every target before the last assistant turn ignored."""
    x, y = chat_example(tokenizer, turns)
    last = max(i for i, (role, _) in enumerate(turns) if role == "assistant")
    start = len(tokenizer.encode(chat_prompt(turns[:last])))  # the last reply's first id
    return x, [t if i + 1 >= start else IGNORE for i, t in enumerate(y)]


def _as_list(value: Any, what: str) -> list[int]:
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        raise Hint(f"{what} should be a list of ints, got {type(value).__name__}")
    return list(value)


@exercise("exercise 3 (train on the last reply only)")
def check_last_reply_example(last_reply_example: Callable[..., Any]) -> str:
    """Check ``last_reply_example(tokenizer, turns)``: ``(x, y)`` as
    :func:`~llmwidgets.apps.chat.chat_example` makes them, but only the LAST assistant
    turn (its text and its ``<|end|>``) is trained; every other target is ``IGNORE``."""
    tok = ChatTokenizer(CharTokenizer("abcdefghijklmnopqrstuvwxyz ,.!?ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    cases = [
        [("user", "Greet Romeo."), ("assistant", "Good morrow, Romeo!")],
        [("user", "Hi."), ("assistant", "Hail."), ("user", "Shout love."), ("assistant", "LOVE!")],
        [("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"), ("user", "e"),
         ("assistant", "Fine.")],
        [("assistant", "Welcome."), ("user", "Repeat day."), ("assistant", "day, day.")],
    ]  # fmt: skip
    for turns in cases:
        what = f"turns={turns}"
        x, y = pair(call(last_reply_example, tok, turns), f"return (x, y) for {what}")
        x, y = _as_list(x, f"x for {what}"), _as_list(y, f"y for {what}")
        want_x, want_y = last_reply_reference(tok, turns)
        if x != want_x:
            raise Hint(
                f"x is not right for {what}: the model reads the whole conversation but its "
                "last token, as in chat_example"
            )
        if y == want_y:
            continue
        kept = [i for i, t in enumerate(y) if t != IGNORE]
        want = [i for i, t in enumerate(want_y) if t != IGNORE]
        if y == chat_example(tok, turns)[1] and y != want_y:
            raise Hint(f"for {what} every assistant turn is trained: keep only the last one")
        if kept == want[:-1]:
            raise Hint(f"for {what} train the reply's {END} too: it teaches the model to stop")
        if kept == [want[0] - 1, *want]:
            raise Hint(f"for {what} the {ASSISTANT} token is part of the prompt: do not train it")
        expect_close(torch.tensor(y), torch.tensor(want_y), what, next_step=(
            "print the targets next to the tokens they are predicted from: y[t] is the "
            "token after x[t]"
        ))  # fmt: skip
    return f"{len(cases)} conversations, one to three replies, one starting with the assistant"


# --------------------------------------------------------- exercise 4: balanced accuracy


def balanced(confusion: torch.Tensor) -> float:
    """The mean over classes of recall (rows are the true classes)."""
    c = confusion.to(torch.float64)
    return float((c.diagonal() / c.sum(dim=1)).mean())


@exercise("exercise 4 (balanced accuracy)")
def check_balanced_accuracy(balanced_accuracy: Callable[[torch.Tensor], Any]) -> str:
    """Check ``balanced_accuracy(confusion)``: the mean over the classes of the share of
    each class's lines that were classified right. ``confusion[i, j]`` counts the lines of
    true class i predicted as class j (as :func:`~llmwidgets.apps.confusion_matrix` makes
    it); every class has at least one line."""
    gen = torch.Generator().manual_seed(5)
    cases = [
        torch.tensor([[50, 0], [10, 0]]),  # always the majority class
        torch.tensor([[8, 2], [30, 60]]),
        torch.tensor([[5, 1, 0], [2, 7, 1], [20, 3, 11]]),
        torch.randint(0, 40, (4, 4), generator=gen) + torch.eye(4, dtype=torch.long) * 30,
    ]
    for cm in cases:
        what = f"confusion={cm.tolist()}"
        c = cm.to(torch.float64)
        wrong = [
            (c.trace() / c.sum(), "that is plain accuracy: average the recall of each "
             "class instead, so that a small class counts as much as a large one"),
            ((c.diagonal() / c.sum(dim=0)).mean(), "rows are the true classes: divide "
             "the diagonal by the row sums (recall), not the column sums (precision)"),
        ]  # fmt: skip
        got = one_number(call(balanced_accuracy, cm.clone()), what)
        if got.isnan() and (c.sum(dim=0) == 0).any():  # a column of zeros: 0 / 0
            raise Hint(
                f"NaN for {what}: a class that is never predicted has a column sum of 0. "
                "Rows are the true classes: divide the diagonal by the row sums (recall), "
                "not the column sums (precision)"
            )
        expect_close(got, torch.tensor(balanced(cm), dtype=torch.float64), what, wrong)
    return (
        f"{len(cases)} matrices; always answering the majority class scores 1 / (number of classes)"
    )
