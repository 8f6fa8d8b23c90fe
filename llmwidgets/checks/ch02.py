"""Checks of notebook 02 (core concepts): how many predictions a sequence gives, training
pairs with a start token, what the three attention masks allow, which outputs a changed
token reaches, and the three model families.

The references are small oracles computed here: the prediction count and the changed
positions are measured on a tiny GPT and on one attention layer, not taken from a formula,
so a check says what the model does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    call,
    exercise,
    expect_close,
    fixed_seed,
    pair,
    tiny_gpt_config,
)
from llmwidgets.nn.functional import causal_mask, scaled_dot_product_attention
from llmwidgets.nn.gpt import GPT

__all__ = [
    "FAMILIES",
    "FAMILY_TASKS",
    "check_allowed_pairs",
    "check_changed_positions",
    "check_model_family",
    "check_prediction_count",
    "check_training_pairs",
]


def _whole_number(value: Any, what: str) -> int:
    """A learner's count as an int, or a :class:`Hint` naming ``what`` it should be."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise Hint(f"{what} should be a whole number, got {value!r:.40}")
    return int(value)


def _measured_predictions(n_tokens: int, bos: bool) -> int:
    """Run a tiny GPT on ``n_tokens`` ids (after a start token if ``bos``) and count the
    positions whose logits have a target: a next token inside the sequence."""
    bos_id, length = 0, n_tokens + int(bos)
    with fixed_seed(0), torch.no_grad():
        model = GPT(tiny_gpt_config(block_size=max(length, 2))).eval()
        ids = torch.randint(1, 20, (n_tokens,))
        inputs = torch.cat([torch.tensor([bos_id]), ids]) if bos else ids
        logits = model(inputs[None])  # (1, length, V): one prediction per input position
    positions = logits.shape[1]
    return sum(1 for t in range(positions) if t + 1 < len(inputs))


@exercise("exercise 1 (how many predictions)")
def check_prediction_count(my_prediction_count: Callable[[int, bool], Any]) -> str:
    """Check ``my_prediction_count(n_tokens, bos)``: the next-token predictions one pass
    over a sequence of ``n_tokens`` real tokens trains, without (``bos=False``) or with
    (``bos=True``) a start token put in front.

    A prediction is a pair (what the model has read, the token that follows). The check
    counts them on a tiny GPT: logits at every input position, a target for each one that
    has a next token.
    """
    cases = [(15, False), (15, True), (1, False), (1, True), (2, True), (64, False), (300, True)]
    for n_tokens, bos in cases:
        what = f"my_prediction_count({n_tokens}, bos={bos})"
        got = _whole_number(call(my_prediction_count, n_tokens, bos), f"the result of {what}")
        if got != _measured_predictions(n_tokens, bos):
            raise Hint(
                f"{what} is not right. A prediction is a pair (the tokens read so far, the "
                "token that follows). Write a sequence of 3 tokens on paper, once as it is "
                "and once behind a start token, draw an arrow from every position to the "
                "token it must predict, and count the arrows"
            )
    return (
        f"{len(cases)} cases, counted on a tiny GPT: logits at every input position, a "
        "target for each one that has a next token"
    )


def _pairs(ids: torch.Tensor, bos_id: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    seq = ids if bos_id is None else torch.cat([torch.tensor([bos_id]), ids])
    return seq[:-1], seq[1:]


@exercise("exercise 2 (training pairs with a start token)")
def check_training_pairs(my_training_pairs: Callable[..., Any]) -> str:
    """Check ``my_training_pairs(ids, bos_id=None)``: the inputs and next-token targets of
    one sequence.

    Without a start token (``bos_id=None``), for ids ``x_1 .. x_T`` the inputs are
    ``x_1 .. x_{T-1}`` and the targets ``x_2 .. x_T``. With ``bos_id`` the sequence is
    read behind the start token: the inputs are ``bos, x_1 .. x_{T-1}`` and the targets
    ``x_1 .. x_T``, so every real token is predicted. The answer returns
    ``(inputs, targets)``.
    """
    cases = [
        (torch.tensor([400, 308, 956, 524, 324]), None),
        (torch.tensor([400, 308, 956, 524, 324]), 1),
        (torch.tensor([7, 7, 3]), None),
        (torch.tensor([7, 7, 3]), 0),
        (torch.tensor([5]), 2),
        (torch.arange(10, 30), 50256),
    ]
    for ids, bos_id in cases:
        what = f"ids={ids.tolist()}, bos_id={bos_id}"
        got = call(my_training_pairs, ids, bos_id=bos_id)
        inputs, targets = pair(got, "return a pair (inputs, targets)")
        inputs = as_tensor(inputs, f"the inputs for {what}").reshape(-1)
        targets = as_tensor(targets, f"the targets for {what}").reshape(-1)
        want_in, want_tg = _pairs(ids, bos_id)
        if torch.equal(inputs, want_tg) and torch.equal(targets, want_in):
            raise Hint(
                "inputs and targets are swapped: the target at position t is the token that "
                "comes after input t"
            )
        if len(inputs) != len(targets):
            raise Hint(
                f"for {what} you return {len(inputs)} inputs and {len(targets)} targets: "
                "position t of the inputs is trained to predict position t of the targets, "
                "so both have one entry per prediction"
            )
        if bos_id is not None and len(targets) and int(targets[-1]) == bos_id:
            raise Hint(
                "the start token goes in front of the sequence, where the model reads it "
                "first; it is never a token to predict"
            )
        if bos_id is not None and torch.equal(targets, ids[1:]):
            raise Hint(
                f"for {what} the first real token is never a target: the start token is "
                "there so that the model predicts that token too"
            )
        if bos_id is None and len(targets) == len(ids):
            raise Hint(
                f"for {what} you made {len(ids)} pairs, one per token, without a start "
                "token: which token would the last position have to predict?"
            )
        expect_close(inputs, want_in, f"the inputs for {what}")
        same = [(want_in, "the targets equal the inputs: shift them by one token")]
        expect_close(targets, want_tg, f"the targets for {what}", same)
    return f"{len(cases)} sequences, with and without a start token"


def _triangles(n: int) -> tuple[int, int]:
    """The entries of an n x n triangle with and without its diagonal."""
    return n * (n + 1) // 2, n * (n - 1) // 2


def _allowed(n_source: int, n_target: int) -> tuple[int, int, int]:
    """The True entries of the three masks of an encoder-decoder, counted on the masks."""
    encoder = torch.ones(n_source, n_source, dtype=torch.bool)
    decoder = causal_mask(n_target)
    cross = torch.ones(n_target, n_source, dtype=torch.bool)
    return int(encoder.sum()), int(decoder.sum()), int(cross.sum())


@exercise("exercise 3 (what each mask allows)")
def check_allowed_pairs(my_allowed_pairs: Callable[[int, int], Any]) -> str:
    """Check ``my_allowed_pairs(n_source, n_target)``: how many (query, key) pairs each
    mask of an encoder-decoder allows, as ``(encoder self-attention, decoder
    self-attention, cross-attention)``.

    The check builds the three masks (True = may attend) and counts their True entries.
    """
    sizes = [(7, 6), (5, 3), (2, 9), (1, 1), (12, 12), (100, 31)]
    names = ("encoder self-attention", "decoder self-attention", "cross-attention")
    for n_source, n_target in sizes:
        what = f"my_allowed_pairs({n_source}, {n_target})"
        got = call(my_allowed_pairs, n_source, n_target)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Hint(
                "return three counts: (encoder self-attention, decoder self-attention, "
                f"cross-attention), got {got!r:.40}"
            )
        counts = [_whole_number(g, f"each count of {what}") for g in got]
        want = _allowed(n_source, n_target)
        for name, count, right in zip(names, counts, want, strict=True):
            if count == right:
                continue
            n_tgt_sq, tri_strict = n_target * n_target, _triangles(n_target)[1]
            if name == "decoder self-attention" and count == n_tgt_sq != right:
                hint = (
                    "the decoder writes left to right: may a target position read the "
                    "positions after it?"
                )
            elif name == "decoder self-attention" and count == tri_strict:
                hint = "the causal mask lets a position attend to itself, too"
            elif name == "encoder self-attention" and count in _triangles(n_source):
                hint = (
                    "the encoder reads its whole input at once: does any source position "
                    "hide from another?"
                )
            elif name == "cross-attention" and count in (n_source**2, n_tgt_sq):
                hint = (
                    "in cross-attention the queries are the target positions and the keys "
                    "the source positions: which sizes does that mask have?"
                )
            else:
                hint = (
                    f"draw the {name} mask for a source of 3 and a target of 2 tokens, "
                    "rows = the positions that ask, columns = the positions read, and "
                    "count the allowed entries; then write the count for any size"
                )
            raise Hint(f"the {name} count of {what} is not right: {hint}")
    return f"{len(sizes)} source/target sizes, counted on the masks themselves"


def _measured_changes(n_tokens: int, k: int, family: str) -> list[int]:
    """Change token k (its query, key and value) and list the outputs that move."""
    mask = causal_mask(n_tokens) if family == "decoder-only" else None
    gen = torch.Generator().manual_seed(n_tokens * 31 + k)
    q, key, v = (torch.randn(n_tokens, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    q2, key2, v2 = q.clone(), key.clone(), v.clone()
    for t in (q2, key2, v2):
        t[k] = torch.randn(8, generator=gen, dtype=torch.float64)
    before = scaled_dot_product_attention(q, key, v, mask=mask)
    after = scaled_dot_product_attention(q2, key2, v2, mask=mask)
    return [i for i in range(n_tokens) if not torch.allclose(before[i], after[i])]


@exercise("exercise 4 (which outputs a changed token reaches)")
def check_changed_positions(my_changed_positions: Callable[[int, int, str], Any]) -> str:
    """Check ``my_changed_positions(n_tokens, k, family)``: the positions (0-based) whose
    attention output changes when the token at position ``k`` is replaced, in a
    ``"decoder-only"`` or an ``"encoder-only"`` model, as a sorted list.

    The check measures it on one attention layer with the family's mask: it replaces the
    query, key and value of position ``k`` and lists the outputs that move.
    """
    cases = [
        (6, 5, "decoder-only"),
        (6, 2, "decoder-only"),
        (6, 0, "decoder-only"),
        (6, 2, "encoder-only"),
        (9, 8, "encoder-only"),
        (1, 0, "decoder-only"),
        (12, 7, "decoder-only"),
    ]
    for n_tokens, k, family in cases:
        what = f"my_changed_positions({n_tokens}, {k}, {family!r})"
        got = call(my_changed_positions, n_tokens, k, family)
        try:
            got = sorted(_whole_number(g, f"each position of {what}") for g in got)
        except TypeError:
            raise Hint(f"return a list of positions for {what}, got {got!r:.40}") from None
        want = _measured_changes(n_tokens, k, family)
        if got == want:
            continue
        if k not in got:
            hint = "the replaced token's own output reads that token too"
        elif family == "decoder-only" and any(i < k for i in got):
            hint = (
                "in a decoder-only model position i reads keys 0 .. i only: which positions "
                f"can see position {k}?"
            )
        elif family == "encoder-only" and not any(i < k for i in got) and k > 0:
            hint = (
                f"an encoder-only model's mask is bidirectional: which positions read position {k}?"
            )
        else:
            hint = (
                f"draw the {family} mask for {n_tokens} tokens and mark the column of key "
                f"{k}: every row with an allowed entry in that column reads the token"
            )
        raise Hint(f"{what} is not right: {hint}")
    return f"{len(cases)} cases, measured on one attention layer with each family's mask"


#: The tasks of :func:`check_model_family` and the family whose design fits each.
FAMILY_TASKS = {
    "label the sentiment of a whole review": "encoder-only",
    "tag every word of a sentence as a person, place or neither": "encoder-only",
    "fill in a masked word from the words on both sides of it": "encoder-only",
    "continue a story, one token at a time": "decoder-only",
    "answer in a chat, given the conversation so far": "decoder-only",
    "complete the code after the cursor": "decoder-only",
    "translate a sentence with the original 2017 Transformer": "encoder-decoder",
    "summarise an article with T5 (text in, text out)": "encoder-decoder",
}
FAMILIES = ("encoder-only", "decoder-only", "encoder-decoder")

# What each family is built for. A wrong answer is told what the family it CHOSE does,
# never which family is right: a hint that named it would let a learner collect the
# answers one failed run at a time instead of reasoning about the task.
_FAMILY_DESIGN = {
    "encoder-only": (
        "that design (BERT) reads a text that is given in full, every token seeing both "
        "sides, and outputs labels or vectors; it does not write new text"
    ),
    "decoder-only": (
        "that design (GPT) writes new text one token at a time after a prefix, each token "
        "seeing only the tokens before it"
    ),
    "encoder-decoder": (
        "that design reads a separate input in full with an encoder, then writes new "
        "text with a decoder that reads the encoder's output through cross-attention"
    ),
}


@exercise("exercise 5 (pick the family)")
def check_model_family(my_family: Callable[[str], Any]) -> str:
    """Check ``my_family(task)``: which architecture family a task's design points to.

    The tasks are the keys of :data:`FAMILY_TASKS`; an answer is one of
    ``"encoder-only"``, ``"decoder-only"``, ``"encoder-decoder"``.
    """
    for task, family in FAMILY_TASKS.items():
        got = my_family(task)
        if isinstance(got, str):
            got = got.strip().lower().replace(" ", "-").replace("_", "-")
        if got not in FAMILIES:
            raise Hint(f"answer one of {FAMILIES} for {task!r}, got {got!r}")
        if got != family:
            raise Hint(
                f"{task!r} is not a job for {got}: {_FAMILY_DESIGN[got]}. Ask the two "
                "questions about this task again: does it produce new text, and is there "
                "a separate input that is read in full before the output starts?"
            )
    return f"{len(FAMILY_TASKS)} tasks"
