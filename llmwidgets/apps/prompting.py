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

For the book's GPT both loops keep a :class:`~llmwidgets.nn.kv_cache.KVCache`, as
:func:`llmwidgets.generate` does: the prompt is read once, then each step feeds only the
token just drawn (a sliding window, ``slide=True`` past the context, drops the cache and
reads the whole window at every step). :func:`complete` is the text-in, text-out form;
:func:`complete_batch` completes many prompts at once, a batch per prompt length (the
position embeddings are absolute, so rows of one batch must start together).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from llmwidgets.core.validate import check_bool, check_int, check_str
from llmwidgets.nn.generation import next_token_logits
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.kv_cache import KVCache
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.nn.sampling import check_generator, check_settings, sample_next

__all__ = ["Allowed", "complete", "complete_batch", "encode_prompt", "sample_tokens",
           "single_token_id"]  # fmt: skip

#: A mask function: the ids generated so far -> which tokens may come next (a bool tensor
#: over the vocabulary), or ``None`` to stop.
Allowed = Callable[[Sequence[int]], "Tensor | None"]


def _block_size(model: Any) -> int:
    block = getattr(getattr(model, "config", None), "block_size", None)
    if block is None:
        raise ValueError("model must have config.block_size (the book's GPT has one)")
    return int(block)


def _last_logits(model: Any, idx: Tensor, block: int, cache: KVCache | None):
    """The next-token logits ``(B, V)`` of ``idx`` ``(B, T)``, and the cache to use next.

    With a cache, only the positions it has not seen are fed; once ``idx`` is longer than
    the context the window slides, no position keeps its place and the cache is dropped.
    """
    if cache is not None and idx.shape[1] > block:
        cache = None
    if cache is None:
        return next_token_logits(model, idx, block), None
    return model(idx[:, cache.length :], cache=cache)[:, -1], cache


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
    cache = KVCache() if isinstance(model, GPT) else None
    with eval_mode(model):
        for _ in range(max_new_tokens):
            if len(ids) >= block and not slide:
                break  # the context is full: the model would lose the prompt's start
            logits, cache = _last_logits(model, torch.tensor([ids], device=device), block, cache)
            logits = logits[0]
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


def complete_batch(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int = 200,
    stop: str | None = "\n",
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    batch_size: int = 64,
) -> list[str]:
    """:func:`complete` for many prompts, batched: prompts of one length run together.

    Greedy answers are those of :func:`complete` (up to float rounding in a near tie);
    sampled ones are drawn in another order, so they differ from :func:`complete`'s
    for the same generator.

    Args:
        model, tokenizer, max_new_tokens, stop, temperature, top_k, top_p, generator:
            as in :func:`complete`.
        prompts: the texts to continue (a list; each must fit in the context).
        batch_size: the most prompts per forward pass.

    Returns:
        One answer per prompt, in the order of ``prompts``.

    Raises:
        ValueError: as :func:`complete`, naming the prompt's position when one does not fit.
    """
    check_settings(temperature, top_k, top_p)
    check_generator(generator)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    if isinstance(prompts, str) or not prompts:
        raise ValueError("prompts must be a non-empty list of texts")
    block = _block_size(model)
    stop_id = None if stop is None else single_token_id(tokenizer, stop)
    encoded = []
    for i, prompt in enumerate(prompts):
        try:
            encoded.append(encode_prompt(tokenizer, prompt, block))
        except ValueError as err:
            raise ValueError(f"prompts[{i}]: {err}") from None
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    answers = [""] * len(prompts)
    device = model_device(model)
    with eval_mode(model):
        for length in sorted(by_length):
            rows_all = by_length[length]
            for b in range(0, len(rows_all), batch_size):
                rows = rows_all[b : b + batch_size]
                idx = torch.tensor([encoded[r] for r in rows], device=device)  # (B, L)
                out = _batch_tokens(model, idx, block, max_new_tokens, stop_id,
                                    (temperature, top_k, top_p), generator)  # fmt: skip
                for r, ids in zip(rows, out, strict=True):
                    answers[r] = tokenizer.decode(ids)
    return answers


def _batch_tokens(model, idx, block, max_new_tokens, stop_id, settings, generator):
    """The new ids of each row of ``idx`` (B, L), each cut before its stop token."""
    cache = KVCache() if isinstance(model, GPT) else None
    done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    start = idx.shape[1]
    for _ in range(max_new_tokens):
        if idx.shape[1] >= block:
            break  # the context is full (as in complete: no sliding)
        logits, cache = _last_logits(model, idx, block, cache)
        nxt = sample_next(logits, *settings, generator).to(idx.device)  # (B,)
        idx = torch.cat([idx, nxt[:, None]], dim=1)
        if stop_id is not None:
            done |= nxt == stop_id
            if done.all():
                break
    out = []
    for row in idx[:, start:].tolist():
        out.append(row[: row.index(stop_id)] if stop_id in row else row)
    return out
