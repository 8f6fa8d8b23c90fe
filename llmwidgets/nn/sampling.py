"""Choosing the next token: greedy, temperature, top-k and top-p (nucleus) sampling.

This is the book's one implementation of the sampling rules; later chapters import
:func:`sample_next` and :func:`generate` from here. Pure torch, no display code.

:func:`sampling_probs` turns logits into the distribution we sample from, over the
last dimension, in four steps:

1. temperature: ``softmax(logits / T)``; ``T = 0`` is greedy (all probability on
   the largest logit; on ties, the lowest token id);
2. top-k: keep the ``top_k`` most probable tokens (``None``: no cut; a ``top_k``
   larger than the vocabulary keeps every token, it is not an error);
3. top-p: renormalise what is left and keep the smallest set of most probable tokens
   whose probabilities add up to at least ``top_p`` (``1.0``: no cut), as Hugging
   Face does; the most probable token is always kept;
4. renormalise the kept probabilities so they sum to 1.

Ties are broken towards the lower token id everywhere, so results are reproducible.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.nn.modes import eval_mode, model_device

#: A language model: ``model(idx)`` with ``idx`` a LongTensor (B, T) returns logits
#: (B, T, V), a tuple whose first element is those logits, or an object with ``.logits``.
Model = Callable[[torch.Tensor], Any]

# Top-p compares running sums of float32 probabilities with top_p; a sum that falls
# short of top_p by less than this is rounding error, and counts as reaching it.
_TOP_P_TOLERANCE = 1e-6


def _positions(mask: torch.Tensor, limit: int = 8) -> str:
    """Where ``mask`` is True: ``[3, 7]`` for 1-D, ``[(0, 3), (1, 2)]`` for batches."""
    where = mask.nonzero().tolist()
    shown = [str(w[0]) if len(w) == 1 else str(tuple(w)) for w in where[:limit]]
    return "[" + ", ".join(shown) + (", ..." if len(where) > limit else "") + "]"


def check_logits(logits: Any) -> torch.Tensor:
    """Check logits and return them as a floating tensor (float32 at least).

    Args:
        logits: a tensor, array or list of shape (V,) or (..., V); integers are allowed.

    Returns:
        The logits as a float32 or float64 tensor.

    Raises:
        ValueError: for empty logits or NaN/infinite values (naming their positions).
    """
    x = torch.as_tensor(logits)
    if x.dim() == 0 or x.numel() == 0:
        raise ValueError(f"logits are empty (shape {tuple(x.shape)}): need at least one token")
    if x.dtype != torch.float64:
        x = x.float()  # integers, float16 and bfloat16 become float32
    for bad, what in ((torch.isnan(x), "NaN"), (torch.isinf(x), "infinite")):
        count = int(bad.sum())
        if count:
            plural = "value" if count == 1 else "values"
            raise ValueError(
                f"logits contain {count} {what} {plural} at positions {_positions(bad)}"
            )
    return x


def check_settings(
    temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0
) -> tuple[float, int | None, float]:
    """Check the sampling settings.

    Args:
        temperature: a finite number >= 0 (0 = greedy).
        top_k: ``None`` (no cut) or an integer >= 1.
        top_p: a number in (0, 1] (1 = no cut).

    Returns:
        ``(temperature, top_k, top_p)`` as ``(float, int | None, float)``.

    Raises:
        ValueError: naming the bad setting and its value.
    """
    try:
        t, p = float(temperature), float(top_p)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"temperature and top_p must be numbers, got {temperature!r}, {top_p!r}"
        ) from err
    if not (t >= 0 and math.isfinite(t)):  # `not >=` also catches NaN
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 = greedy), got {temperature}"
        )
    if not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1.0 = no cut), got {top_p}")
    k = None
    if top_k is not None:
        try:
            k = operator.index(top_k)  # int, numpy int or integer tensor; not a float
        except TypeError:
            k = None
        if k is None or isinstance(top_k, bool) or k < 1:
            raise ValueError(f"top_k must be None (no cut) or an integer >= 1, got {top_k!r}")
    return t, k, p


def _transform(logits: Any, temperature: float, top_k: int | None, top_p: float):
    """The four steps of the module docstring; returns (probs, kept mask)."""
    x = check_logits(logits)
    t, k, p = check_settings(temperature, top_k, top_p)
    if t == 0:
        # Greedy: one-hot on the largest logit (argmax returns the first one on ties).
        kept = torch.zeros_like(x, dtype=torch.bool)
        kept.scatter_(-1, x.argmax(dim=-1, keepdim=True), True)
        return kept.to(x.dtype), kept
    # 1. Temperature. Subtracting the max first keeps a tiny T from overflowing.
    probs = torch.softmax((x - x.amax(dim=-1, keepdim=True)) / t, dim=-1)
    # Sort once, most probable first; `stable` keeps the lower id first on ties.
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    keep = torch.ones_like(sorted_probs, dtype=torch.bool)
    # 2. Top-k: keep the first k tokens of the sorted list.
    if k is not None:
        keep[..., k:] = False
    # 3. Top-p on the renormalised top-k distribution: keep a token while the
    #    probability of the tokens before it is still below top_p.
    if p < 1:
        left = sorted_probs * keep
        left = left / left.sum(dim=-1, keepdim=True)
        before = torch.cumsum(left, dim=-1) - left
        keep &= before < p - _TOP_P_TOLERANCE
        keep[..., 0] = True  # the most probable token always stays
    # Back from sorted order to token order.
    kept = torch.zeros_like(keep).scatter(-1, order, keep)
    # 4. Renormalise what is kept.
    probs = probs * kept
    return probs / probs.sum(dim=-1, keepdim=True), kept


def sampling_probs(
    logits: Any, temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0
) -> torch.Tensor:
    """The distribution the next token is sampled from (temperature → top-k → top-p).

    Args:
        logits: next-token logits, shape (V,) or batched (B, V) (any leading dims).
        temperature: >= 0; 0 = greedy (one-hot on the argmax, the first on ties).
        top_k: keep the k most probable tokens; ``None`` = no cut; > V keeps all.
        top_p: keep the smallest most-probable set with probability >= top_p; 1 = no cut.

    Returns:
        Probabilities with the shape of ``logits``, summing to 1 over the last dim.
    """
    return _transform(logits, temperature, top_k, top_p)[0]


def kept_mask(
    logits: Any, temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0
) -> torch.Tensor:
    """Which tokens survive the cut (same arguments as :func:`sampling_probs`).

    Returns:
        A bool tensor with the shape of ``logits``: False where top-k or top-p cut the
        token (greedy keeps only the argmax).
    """
    return _transform(logits, temperature, top_k, top_p)[1]


def entropy(probs: Any, unit: str = "nats") -> torch.Tensor:
    """Entropy ``-Σ p log p`` over the last dimension (``0 log 0 = 0``).

    Args:
        probs: probabilities, shape (V,) or (..., V).
        unit: "nats" (natural log) or "bits" (log base 2).

    Returns:
        A tensor of shape ``probs.shape[:-1]`` (0-dim for one distribution).
    """
    if unit not in ("nats", "bits"):
        raise ValueError(f"unit must be 'nats' or 'bits', got {unit!r}")
    p = torch.as_tensor(probs)
    p = p if p.is_floating_point() else p.double()
    h = (0.0 - torch.special.xlogy(p, p).sum(dim=-1)).clamp(min=0)  # 0.0 - 0.0 is +0.0
    return h / math.log(2) if unit == "bits" else h


def sample_next(
    logits: Any,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> int | torch.Tensor:
    """Draw the next token from :func:`sampling_probs`.

    Args:
        logits: shape (V,) or (B, V).
        temperature, top_k, top_p: as in :func:`sampling_probs`; 0 = greedy (no draw).
        generator: a seeded ``torch.Generator`` for reproducible draws; it may live on
            another device than ``logits`` (a CPU generator works with CUDA logits).

    Returns:
        An ``int`` token id for 1-D logits, else a LongTensor of shape (B,).
    """
    probs = sampling_probs(logits, temperature, top_k, top_p)
    if float(temperature) == 0:
        ids = probs.argmax(dim=-1)  # greedy: the one-hot's position; the generator is unused
    else:
        rows = probs.reshape(-1, probs.shape[-1])
        device = generator.device if generator is not None else rows.device
        drawn = torch.multinomial(rows.to(device), 1, generator=generator)
        ids = drawn.to(probs.device).reshape(probs.shape[:-1])
    return int(ids) if ids.dim() == 0 else ids


def next_token_logits(model: Model, ids: Any, context_size: int | None = None) -> torch.Tensor:
    """Run ``model`` on ``ids`` and return the logits at the last position.

    Args:
        model: see :data:`Model`; moved nowhere, ``ids`` follow its parameters' device.
        ids: token ids, a list, a 1-D or a (B, T) LongTensor; not empty.
        context_size: if given, only the last ``context_size`` tokens are fed in.

    Returns:
        Logits of shape (B, V) (B = 1 for a list or 1-D ids).
    """
    idx = _as_ids(ids)
    if _check_context_size(context_size) is not None:
        idx = idx[:, -context_size:]
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


def _check_context_size(context_size: Any) -> int | None:
    bad = isinstance(context_size, bool) or not isinstance(context_size, int) or context_size < 1
    if context_size is not None and bad:
        raise ValueError(f"context_size must be None or an integer >= 1, got {context_size!r}")
    return context_size


def _as_ids(ids: Any) -> torch.Tensor:
    """Token ids as a (B, T) LongTensor; a list or 1-D tensor becomes one row."""
    idx = torch.as_tensor(ids)
    if idx.numel() == 0:
        raise ValueError("ids is empty: the prompt needs at least one token id")
    if idx.is_floating_point() or idx.dim() not in (1, 2):
        raise ValueError(
            f"ids must be integers shaped (T,) or (B, T), got {idx.dtype} {tuple(idx.shape)}"
        )
    return (idx[None] if idx.dim() == 1 else idx).long()


def generate(
    model: Model,
    ids: Any,
    steps: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    context_size: int | None = None,
) -> torch.Tensor:
    """Extend ``ids`` by ``steps`` tokens, one at a time, feeding each choice back in.

    Args:
        model: see :data:`Model`; put in eval mode while sampling, then restored.
        ids: the prompt: a list of ids, a 1-D or a (B, T) LongTensor; not empty.
        steps: how many tokens to add (>= 0).
        temperature, top_k, top_p: as in :func:`sampling_probs`; 0 = greedy.
        generator: a seeded ``torch.Generator`` makes the output reproducible.
        context_size: the model's context length; longer inputs are cropped to
            their last ``context_size`` tokens before each step.

    Returns:
        The prompt followed by the new tokens: shape (T + steps,) for a list or
        1-D prompt, (B, T + steps) for a batch.
    """
    check_settings(temperature, top_k, top_p)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    _check_context_size(context_size)
    one_row = torch.as_tensor(ids).dim() == 1
    idx = _as_ids(ids)
    idx = idx.to(model_device(model, idx.device))
    with eval_mode(model):
        for _ in range(steps):
            logits = next_token_logits(model, idx, context_size)  # (B, V), last position
            nxt = sample_next(logits, temperature, top_k, top_p, generator)  # (B,)
            idx = torch.cat([idx, nxt.to(idx.device)[:, None]], dim=1)  # feed it back in
    return idx[0] if one_row else idx
