"""Prompting a trained model: one sampling loop, optionally under a mask.

Every application of chapter 6 asks a model to continue a prompt: a report after a
record, an answer after a question, Chinese numerals after ``"twenty-one = "``, a reply
after a chat turn, a ci poem after its tune. :func:`sample_tokens` is that loop, built
on :mod:`llmwidgets.nn.sampling` (:func:`~llmwidgets.nn.sampling.next_token_logits` and
:func:`~llmwidgets.nn.sampling.sample_next`, the book's one implementation of the
sampling rules). It adds what :func:`llmwidgets.generate` does not need:

* a **stop token** (``"\\n"``, ``"<|end|>"``): generation ends when it is produced;
* an optional **mask** ``allowed(generated) -> BoolTensor (V,) | None``: the tokens that
  may come next, given the tokens generated so far (``None``: stop). Masked logits are set
  to the lowest finite float before sampling, so they get probability 0 whatever the
  temperature - constrained decoding (:mod:`llmwidgets.apps.constrained`) is this;
* a **context check**: a prompt must fit the model's context. :func:`llmwidgets.generate`
  crops a long input to its last ``block_size`` tokens, which is right for free text but
  silently drops the start of a record or a question; here it is an error, and
  generation stops when the context is full instead of sliding.

:func:`complete` is the text-in, text-out form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from llmwidgets.core.validate import check_bool, check_int, check_str
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.nn.sampling import check_settings, next_token_logits, sample_next

__all__ = ["Allowed", "complete", "encode_prompt", "sample_tokens", "single_token_id"]

#: A mask function: the ids generated so far -> which tokens may come next (a bool tensor
#: over the vocabulary), or ``None`` to stop.
Allowed = Callable[[Sequence[int]], "Tensor | None"]


def _block_size(model: Any) -> int:
    block = getattr(getattr(model, "config", None), "block_size", None)
    if block is None:
        raise ValueError("model must have config.block_size (the book's GPT has one)")
    return int(block)


def single_token_id(tokenizer: Any, text: str, name: str = "stop") -> int:
    """The id of a text that the tokenizer writes as exactly one token.

    Raises:
        ValueError: when ``text`` is not one token of the tokenizer.
    """
    check_str(name, text)
    ids = tokenizer.encode(text)
    if len(ids) != 1:
        raise ValueError(f"{name}={text!r} must be a single token of the tokenizer, got {len(ids)}")
    return int(ids[0])


def encode_prompt(tokenizer: Any, prompt: str, block_size: int) -> list[int]:
    """The ids of a prompt, refusing one that leaves no room in the context.

    Args:
        tokenizer: anything with ``encode(text) -> list[int]``.
        prompt: a non-empty text.
        block_size: the model's context length.

    Returns:
        The ids (at most ``block_size - 1`` of them, so one token can follow).

    Raises:
        ValueError: for an empty prompt, or one of ``block_size`` tokens or more.
    """
    check_str("prompt", prompt)
    ids = list(tokenizer.encode(prompt))
    if len(ids) >= block_size:
        raise ValueError(
            f"the prompt has {len(ids)} tokens but the model's context is block_size="
            f"{block_size}: it must be shorter, to leave room for the answer"
        )
    return ids


def sample_tokens(
    model: Any,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    *,
    stop_id: int | None = None,
    allowed: Allowed | None = None,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    slide: bool = False,
) -> list[int]:
    """Generate up to ``max_new_tokens`` ids after a prompt.

    Args:
        model: the book's GPT (or any model with ``config.block_size`` and
            ``model(idx) -> logits``); put in eval mode while sampling.
        prompt_ids: the prompt's ids (not empty, shorter than the context).
        max_new_tokens: the most tokens to generate (>= 1).
        stop_id: generation ends after this token (it is included in the result).
        allowed: see :data:`Allowed`; ``None``: every token may come.
        temperature, top_k, top_p: as in :func:`llmwidgets.sampling_probs`; the default
            0 is greedy decoding.
        generator: a seeded ``torch.Generator`` for reproducible draws.
        slide: when the context is full, keep going on the last ``block_size`` tokens
            (as :func:`llmwidgets.generate` does) instead of stopping.

    Returns:
        The generated ids (without the prompt).

    Raises:
        ValueError: for bad settings, a prompt that does not fit, or a mask that allows
            nothing or has the wrong size.
    """
    check_settings(temperature, top_k, top_p)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 1)
    check_bool("slide", slide)
    block = _block_size(model)
    ids = [int(i) for i in prompt_ids]
    if not ids or len(ids) >= block:
        raise ValueError(f"the prompt has {len(ids)} tokens; it needs 1 to {block - 1}")
    device = model_device(model)
    out: list[int] = []
    with eval_mode(model):
        for _ in range(max_new_tokens):
            if len(ids) >= block and not slide:
                break  # the context is full: the model would lose the prompt's start
            logits = next_token_logits(model, torch.tensor([ids], device=device), block)[0]
            if allowed is not None:
                mask = allowed(out)
                if mask is None:
                    break
                if mask.shape != logits.shape or mask.dtype != torch.bool or not mask.any():
                    raise ValueError(
                        f"allowed() must return a bool tensor of shape {tuple(logits.shape)} "
                        f"with at least one True, got {mask.dtype} {tuple(mask.shape)}"
                    )
                lowest = torch.finfo(logits.dtype).min
                logits = logits.masked_fill(~mask.to(logits.device), lowest)
            nxt = int(sample_next(logits, temperature, top_k, top_p, generator))
            ids.append(nxt)
            out.append(nxt)
            if nxt == stop_id:
                break
    return out


def complete(
    model: Any,
    tokenizer: Any,
    prompt: str,
    max_new_tokens: int = 200,
    stop: str | None = "\n",
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> str:
    """Continue a text prompt until ``stop`` (greedy by default).

    Args:
        model: the book's GPT.
        tokenizer: its tokenizer (``encode`` / ``decode``).
        prompt: the text to continue; it must fit in the context with room to spare.
        max_new_tokens: the most tokens to add (generation also ends when the context is
            full: the answer is then cut short).
        stop: a text that is one token (``"\\n"``, ``"<|end|>"``); the answer ends there
            and does not include it. ``None``: no stop token.
        temperature, top_k, top_p, generator: as in :func:`sample_tokens`.

    Returns:
        The generated text, without the prompt and the stop token.

    Raises:
        ValueError: for an empty prompt, a prompt as long as the context or longer, a
            ``stop`` that is not one token, a character outside the vocabulary, or bad
            settings.
    """
    ids = encode_prompt(tokenizer, prompt, _block_size(model))
    stop_id = None if stop is None else single_token_id(tokenizer, stop)
    out = sample_tokens(model, ids, max_new_tokens, stop_id=stop_id, temperature=temperature,
                        top_k=top_k, top_p=top_p, generator=generator)  # fmt: skip
    if out and out[-1] == stop_id:
        out = out[:-1]
    return tokenizer.decode(out)
