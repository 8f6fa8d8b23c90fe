"""Choosing the next token: greedy, temperature, top-k and top-p (nucleus) sampling.

This is the book's one implementation of the sampling rules; later chapters import
:func:`sample_next` from here, and :func:`~llmwidgets.nn.generation.generate` (which
runs a model with them) from :mod:`llmwidgets.nn.generation` (``generate`` and
``next_token_logits`` are still importable from here). Pure torch, no display code.

:func:`sampling_probs` turns logits into the distribution we sample from, over the
last dimension, in four steps:

1. temperature: ``softmax(logits / T)``; ``T = 0`` is greedy (all probability on
   the largest logit; on ties, the lowest token id), and so is a ``T`` too small to
   divide by in the logits' dtype (below ~1.2e-38 in float32), never NaN;
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
from typing import Any

import torch

from llmwidgets.core.validate import check_choice, check_optional_int, check_real

__all__ = [
    "check_generator",
    "check_logits",
    "check_settings",
    "entropy",
    "kept_mask",
    "sample_next",
    "sampling_probs",
]

# Top-p compares running sums of float32 probabilities with top_p; a sum that falls
# short of top_p by less than this is rounding error, and counts as reaching it.
_TOP_P_TOLERANCE = 1e-6
# entropy() accepts rounding: a probability down to -1e-9, a row sum within 1e-3 of 1
# (float16 probabilities over a large vocabulary are that far off).
_NEGATIVE_TOLERANCE, _SUM_TOLERANCE = 1e-9, 1e-3


def _positions(mask: torch.Tensor, limit: int = 8) -> str:
    """Where ``mask`` is True: ``[3, 7]`` for 1-D, ``[(0, 3), (1, 2)]`` for batches."""
    where = mask.nonzero().tolist()
    shown = [str(w[0]) if len(w) == 1 else str(tuple(w)) for w in where[:limit]]
    return "[" + ", ".join(shown) + (", ..." if len(where) > limit else "") + "]"


def check_logits(logits: Any) -> torch.Tensor:
    """Check logits and return them as a floating tensor (float32 at least).

    Args:
        logits: a tensor, array or list of real numbers, shape (V,) or (..., V); integers
            (and bools) are allowed.

    Returns:
        The logits as a float32 or float64 tensor.

    Raises:
        ValueError: for non-numeric or complex logits, empty logits, or NaN/infinite
            values (naming their positions).
    """
    try:
        x = torch.as_tensor(logits)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(
            f"logits must be real numbers (a tensor, array or list), got {type(logits).__name__}"
        ) from err
    if x.is_complex():
        raise ValueError(f"logits must be real numbers, got complex dtype {x.dtype}")
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
        top_k: ``None`` (no cut) or an integer >= 1 (a 0-d integer tensor is accepted).
        top_p: a number in (0, 1] (1 = no cut).

    Returns:
        ``(temperature, top_k, top_p)`` as ``(float, int | None, float)``.

    Raises:
        ValueError: naming the bad setting and its value.
    """
    t = check_real("temperature", temperature, 0)
    if isinstance(top_k, torch.Tensor) and top_k.dim() == 0 and not top_k.is_floating_point():
        top_k = int(top_k)  # e.g. a tensor from an argmax or a slider's model
    k = check_optional_int("top_k", top_k, 1)
    p = check_real("top_p", top_p, 0, 1, min_open=True)
    return t, k, p


def _effective_temperature(t: float, dtype: torch.dtype) -> float:
    """``t``, or 0.0 (greedy) when it is below the smallest normal number of ``dtype``.

    ``logits / t`` would divide by 0 once ``t`` rounds to 0 in float32 (below about
    1.4e-45): 0 / 0 gives NaN probabilities. Far above that, such a temperature already
    puts all the probability on the largest logit, so greedy is the same distribution
    (up to ties, where greedy keeps the lowest id).
    """
    return 0.0 if t < torch.finfo(dtype).tiny else t


def _transform(logits: Any, temperature: float, top_k: int | None, top_p: float):
    """The four steps of the module docstring; returns (probs, kept mask, greedy)."""
    x = check_logits(logits)
    t, k, p = check_settings(temperature, top_k, top_p)
    t = _effective_temperature(t, x.dtype)
    if t == 0:
        # Greedy: one-hot on the largest logit (argmax returns the first one on ties).
        kept = torch.zeros_like(x, dtype=torch.bool)
        kept.scatter_(-1, x.argmax(dim=-1, keepdim=True), True)
        return kept.to(x.dtype), kept, True
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
    return probs / probs.sum(dim=-1, keepdim=True), kept, False


def sampling_probs(
    logits: Any, temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0
) -> torch.Tensor:
    """The distribution the next token is sampled from (temperature → top-k → top-p).

    Args:
        logits: next-token logits, shape (V,) or batched (B, V) (any leading dims).
        temperature: >= 0; 0 = greedy (one-hot on the argmax, the first on ties). A
            temperature below the smallest normal float of the logits' dtype (about
            1.2e-38 in float32) is greedy too: dividing by it would give NaN.
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
        probs: probabilities, shape (V,) or (..., V): finite, >= 0, and summing to 1
            over the last dimension (within 1e-3: rounded or float16 inputs pass).
        unit: "nats" (natural log) or "bits" (log base 2).

    Returns:
        A tensor of shape ``probs.shape[:-1]`` (0-dim for one distribution).

    Raises:
        ValueError: for a bad unit, or input that is not a probability distribution
            (non-numeric, complex, empty, NaN, negative, or not summing to 1).
    """
    check_choice("unit", unit, ("nats", "bits"))
    try:
        p = torch.as_tensor(probs)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"probs must be numbers, got {type(probs).__name__}") from err
    if p.is_complex() or p.dim() == 0 or p.numel() == 0:
        raise ValueError(f"probs must be real, shaped (..., V), got {p.dtype} {tuple(p.shape)}")
    p = p if p.is_floating_point() else p.double()
    for bad, rule in ((~torch.isfinite(p), "finite"), (p < -_NEGATIVE_TOLERANCE, ">= 0")):
        if bad.any():
            raise ValueError(f"probs must be {rule}, got {p[bad][0].item()} at {_positions(bad)}")
    sums = p.double().sum(dim=-1, keepdim=True)
    off = ((sums - 1).abs() > _SUM_TOLERANCE).expand_as(p)[..., 0]  # one flag per row
    if off.any():
        where = "" if off.dim() == 0 else f" (the row at {_positions(off, 1)[1:-1]})"
        raise ValueError(
            f"probs must sum to 1 over the last dimension, but one sums to "
            f"{sums[..., 0][off][0].item():.6g}{where}; sampling_probs turns logits into "
            "probabilities"
        )
    p = p.clamp(min=0)  # rounding may leave a -1e-9, whose log would be NaN
    h = (0.0 - torch.special.xlogy(p, p).sum(dim=-1)).clamp(min=0)  # 0.0 - 0.0 is +0.0
    return h / math.log(2) if unit == "bits" else h


def check_generator(generator: Any) -> torch.Generator | None:
    """``generator`` if it is a ``torch.Generator`` or ``None``, else a ValueError."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    return generator


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
    check_generator(generator)
    probs, _, greedy = _transform(logits, temperature, top_k, top_p)
    if greedy:
        ids = probs.argmax(dim=-1)  # the one-hot's position; the generator is unused
    else:
        rows = probs.reshape(-1, probs.shape[-1])
        device = generator.device if generator is not None else rows.device
        drawn = torch.multinomial(rows.to(device), 1, generator=generator)
        ids = drawn.to(probs.device).reshape(probs.shape[:-1])
    return int(ids) if ids.dim() == 0 else ids


_MOVED = {"Model", "generate", "next_token_logits"}  # now in llmwidgets.nn.generation


def __getattr__(name: str) -> Any:
    """``generate``, ``next_token_logits`` and ``Model`` from their new home (PEP 562):
    :mod:`llmwidgets.nn.generation` imports this module, so it cannot be imported here."""
    if name in _MOVED:
        from llmwidgets.nn import generation

        return getattr(generation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
