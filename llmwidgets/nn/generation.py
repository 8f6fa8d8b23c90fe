"""Generation: run a language model on a prompt and extend it one token at a time.

* :func:`next_token_logits` - the model's logits at the last position of a prompt;
* :func:`generate` - nanoGPT's ``generate``: draw the next token with
  :func:`~llmwidgets.nn.sampling.sample_next`, append it, repeat.

**The KV cache.** For the book's :class:`~llmwidgets.nn.gpt.GPT`, ``generate`` keeps
every layer's keys and values in a :class:`~llmwidgets.nn.kv_cache.KVCache`
(``use_cache=True``, the default): the prompt goes through the model once (the
*prefill*), then each step feeds only the token just drawn, which attends to the cached
positions. A step costs one position's work instead of the whole prefix's. Any other
model (a callable, a Hugging Face model, a ``torch.compile``-d GPT) runs the whole
prefix at every step, as does ``use_cache=False``. Both give the same tokens (the logits
agree to float rounding; the tests compare them).

**When the context is full.** The GPT learns one position embedding per position
``0..block_size-1``. Once the sequence is longer than ``block_size``, each step feeds
the last ``block_size`` tokens (nanoGPT's crop), and the crop slides by one at every
step: every token moves to another position, so every cached key and value would be
wrong. Nothing can be reused; once the cache holds ``block_size`` positions,
``generate`` drops it and runs every further step on the cropped sequence exactly as
``use_cache=False`` does (the whole window per token again). So the cache speeds up the
first ``block_size - T_prompt`` new tokens, and the tokens never depend on
``use_cache``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.core.validate import check_bool, check_int
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.kv_cache import KVCache
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.nn.sampling import check_generator, check_settings, sample_next
from llmwidgets.nn.token_ids import as_token_ids

__all__ = ["Model", "generate", "next_token_logits"]

#: A language model: ``model(idx)`` with ``idx`` a LongTensor (B, T) returns logits
#: (B, T, V), a tuple whose first element is those logits, or an object with ``.logits``.
Model = Callable[[torch.Tensor], Any]


def _block_size(model: Model, block_size: Any) -> int | None:
    """``block_size`` checked; ``None`` reads ``model.config.block_size`` when there is one."""
    if block_size is None:
        block_size = getattr(getattr(model, "config", None), "block_size", None)
        if block_size is None:
            return None
        return check_int("model.config.block_size", block_size, 1)
    return check_int("block_size", block_size, 1)


def next_token_logits(model: Model, ids: Any, block_size: int | None = None) -> torch.Tensor:
    """Run ``model`` on ``ids`` and return the logits at the last position.

    Args:
        model: see :data:`Model`; moved nowhere, ``ids`` follow its parameters' device.
        ids: token ids, a list, a 1-D or a (B, T) LongTensor; not empty.
        block_size: the model's context length: only the last ``block_size`` tokens are
            fed in. ``None`` reads ``model.config.block_size`` (the book's GPT has one);
            a model without it gets every token.

    Returns:
        Logits of shape (B, V) (B = 1 for a list or 1-D ids).
    """
    idx = as_token_ids(ids)
    context = _block_size(model, block_size)
    if context is not None:
        idx = idx[:, -context:]
    idx = idx.to(model_device(model, idx.device))
    with eval_mode(model):
        out = model(idx)
    out = getattr(out, "logits", out)  # Hugging Face model outputs
    if isinstance(out, (tuple, list)):
        out = out[0]  # e.g. (logits, loss)
    if not isinstance(out, torch.Tensor) or out.dim() != 3 or out.shape[0] != idx.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"model must return logits shaped (B={idx.shape[0]}, T, V), got {shape}")
    return out[:, -1, :]


def generate(
    model: Model,
    ids: Any,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    block_size: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Extend ``ids`` by ``max_new_tokens`` tokens, one at a time, feeding each choice back.

    Args:
        model: see :data:`Model`; put in eval mode while sampling, then restored.
        ids: the prompt: a list of ids, a 1-D or a (B, T) LongTensor; not empty.
        max_new_tokens: how many tokens to add (>= 0).
        temperature, top_k, top_p: as in :func:`~llmwidgets.nn.sampling.sampling_probs`;
            0 = greedy.
        generator: a seeded ``torch.Generator`` makes the output reproducible.
        block_size: the model's context length; longer inputs are cropped to their last
            ``block_size`` tokens before each step. ``None`` reads
            ``model.config.block_size`` when the model has one (the book's GPT).
        use_cache: for a :class:`~llmwidgets.nn.gpt.GPT`, keep the keys and values of
            the positions seen in a :class:`~llmwidgets.nn.kv_cache.KVCache` until the
            context is full (see the module's docstring); other models ignore it.
            ``False``: run the whole (cropped) sequence at every step. The tokens are
            the same either way.

    Returns:
        The prompt followed by the new tokens: shape (T + max_new_tokens,) for a list or
        1-D prompt, (B, T + max_new_tokens) for a batch.
    """
    check_settings(temperature, top_k, top_p)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 0)
    check_generator(generator)
    use_cache = check_bool("use_cache", use_cache)
    context = _block_size(model, block_size)
    idx = as_token_ids(ids)
    one_row = torch.as_tensor(ids).dim() == 1
    idx = idx.to(model_device(model, idx.device))
    # The book's GPT (which always has a block size) can keep its keys and values.
    cache = KVCache() if use_cache and isinstance(model, GPT) else None
    with eval_mode(model):
        for _ in range(max_new_tokens):
            if cache is not None and cache.length == context:
                cache = None  # the context is full: the crop slides, no position stays put
            if cache is None:
                logits = next_token_logits(model, idx, context)  # the whole (cropped) prefix
            else:  # the prompt once (cropped), then only the token drawn last
                new = idx[:, -context:] if cache.length == 0 else idx[:, -1:]
                logits = model(new, cache=cache)[:, -1]  # (B, V), the last position
            nxt = sample_next(logits, temperature, top_k, top_p, generator)  # (B,)
            idx = torch.cat([idx, nxt.to(idx.device)[:, None]], dim=1)  # feed it back in
    return idx[0] if one_row else idx
