"""Checks of notebook 02 (core concepts): attention masks, next-token probabilities,
training pairs and the three model families."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    bool_mask,
    call,
    exercise,
    expect_close,
    mask_hint,
    pair,
)
from llmwidgets.nn.functional import causal_mask

__all__ = [
    "FAMILIES",
    "FAMILY_TASKS",
    "check_attention_masks",
    "check_model_family",
    "check_next_token_probs",
    "check_training_pairs",
]

_MASK_NAMES = ("encoder self-attention", "decoder self-attention", "cross-attention")


def _mask_slip(name: str, got: torch.Tensor, want: torch.Tensor) -> str | None:
    """The hint for a typical wrong version of one of the three masks, if ``got`` is one."""
    shape = tuple(want.shape)
    if name == "encoder self-attention" and torch.equal(got, causal_mask(shape[0])):
        return (
            "the encoder reads the whole input at once: each source token may "
            "attend to tokens on both sides, no causal mask"
        )
    if name == "decoder self-attention" and got.all():
        return (
            "the decoder generates left to right: target position i may only "
            "see target positions 0..i (a causal mask)"
        )
    if name == "decoder self-attention" and torch.equal(got, want.T):
        return (
            "the decoder mask is transposed: row i (query i) sees keys 0..i, so "
            "True belongs on and below the diagonal"
        )
    if name == "cross-attention" and torch.equal(got, causal_mask(*shape)):
        return (
            "cross-attention needs no causal mask: the source is known in full "
            "before decoding starts, so every target position may read every "
            "source position"
        )
    if torch.equal(got, ~want):
        return f"the {name} mask is inverted: True means 'may attend' (torch's convention)"
    return None


@exercise("exercise 1 (the three attention masks)")
def check_attention_masks(my_attention_masks: Callable[[int, int], Any]) -> str:
    """Check ``my_attention_masks(n_source, n_target)`` of an encoder-decoder Transformer.

    The answer returns three bool masks (True = may attend), rows = queries:
    the encoder's self-attention ``(n_source, n_source)``, bidirectional (all True);
    the decoder's self-attention ``(n_target, n_target)``, causal; the decoder's
    cross-attention ``(n_target, n_source)``, all True (every output position reads
    the whole input).
    """
    sizes = [(5, 3), (2, 4), (1, 1), (6, 6)]
    for n_src, n_tgt in sizes:
        got = call(my_attention_masks, n_src, n_tgt)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Hint(
                "return a tuple of three masks: (encoder self-attention, decoder "
                f"self-attention, cross-attention), got {type(got).__name__}"
            )
        expected = [
            torch.ones(n_src, n_src, dtype=torch.bool),
            causal_mask(n_tgt),
            torch.ones(n_tgt, n_src, dtype=torch.bool),
        ]
        args = f"my_attention_masks({n_src}, {n_tgt})"
        for name, mask, want in zip(_MASK_NAMES, got, expected, strict=True):
            mask = bool_mask(mask, f"the {name} mask of {args}", tuple(want.shape))
            if torch.equal(mask, want):
                continue
            hint = _mask_slip(name, mask, want)
            raise Hint(hint) if hint else mask_hint(mask, want, f"{name} mask for {args}")
    return f"{len(sizes)} source/target sizes, three masks each"


@exercise("exercise 2 (next-token probabilities)")
def check_next_token_probs(my_next_token_probs: Callable[[Any], Any]) -> str:
    """Check ``my_next_token_probs(logits)``: the next-token distribution of each sequence.

    ``logits`` has shape ``(B, T, V)`` (a model's output); the answer is ``(B, V)``:
    the softmax over the vocabulary of the logits at the **last** position.
    """
    gen = torch.Generator().manual_seed(2)
    shapes = [(1, 4, 6), (3, 5, 10), (2, 1, 7)]
    for shape in shapes:
        logits = torch.randn(shape, generator=gen) * 2
        what = f"logits of shape {shape}"
        wrong = [
            (
                torch.softmax(logits[:, 0, :], dim=-1),
                "that is the distribution after the first token: the prediction for "
                "the token after the whole sequence sits at the last position",
            ),
            (
                logits[:, -1, :],
                "those are the raw logits: apply softmax over the vocabulary (dim=-1) "
                "to get probabilities",
            ),
            (
                torch.softmax(logits, dim=1)[:, -1, :],
                "the softmax runs over the vocabulary (the last dimension), not over the positions",
            ),
        ]
        got = as_tensor(call(my_next_token_probs, logits), f"the result for {what}")
        if got.shape == logits.shape:
            raise Hint(
                f"the result has the shape of the logits {shape}; keep only the last "
                f"position: shape {(shape[0], shape[2])}"
            )
        expect_close(got, torch.softmax(logits[:, -1, :], dim=-1), what, wrong)
    return f"{len(shapes)} batches, including a sequence of one token"


@exercise("exercise 3 (next-token training pairs)")
def check_training_pairs(my_training_pairs: Callable[[Any], Any]) -> str:
    """Check ``my_training_pairs(ids)``: the inputs and next-token targets of one sequence.

    For token ids ``x_0 .. x_{T-1}`` the inputs are ``x_0 .. x_{T-2}`` and the
    targets ``x_1 .. x_{T-1}``: position t is trained to predict token t + 1, so a
    sequence of T tokens gives T - 1 predictions, all in one forward pass. The answer
    returns the pair ``(inputs, targets)``.
    """
    cases = [
        torch.tensor([400, 308, 956, 524, 324]),
        torch.tensor([7, 7, 3]),
        torch.tensor([1, 2]),
        torch.arange(10, 30),
    ]
    for ids in cases:
        what = f"ids={ids.tolist()}"
        inputs, targets = pair(call(my_training_pairs, ids), "return a pair (inputs, targets)")
        inputs = as_tensor(inputs, f"the inputs for {what}")
        targets = as_tensor(targets, f"the targets for {what}")
        if inputs.shape == ids.shape and targets.shape == ids.shape:
            raise Hint(
                f"for {what} you made {len(ids)} pairs, one per token; but the last token "
                "has no next token to predict, and the first is never a target. "
                "How many pairs does that leave?"
            )
        if torch.equal(inputs, ids[1:]) and torch.equal(targets, ids[:-1]):
            raise Hint(
                "inputs and targets are swapped: the target at position t is the token "
                "that comes after input t"
            )
        expect_close(inputs, ids[:-1], f"the inputs for {what}")
        expect_close(
            targets,
            ids[1:],
            f"the targets for {what}",
            [
                (
                    ids[:-1],
                    "the targets equal the inputs: the target at position t is the token "
                    "after input t, so the targets are shifted by one",
                )
            ],
        )
    return f"{len(cases)} sequences: T tokens give T - 1 (input, target) pairs"


#: The tasks of :func:`check_model_family` and the family whose design fits each.
FAMILY_TASKS = {
    "label the sentiment of a whole review": "encoder-only",
    "tag every word of a sentence as a person, place or neither": "encoder-only",
    "turn a sentence into one vector for semantic search": "encoder-only",
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


@exercise("exercise 4 (pick the family)")
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
