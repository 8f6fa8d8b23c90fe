"""The chapter-4 formulas, written from scratch with plain tensor operations.

* :func:`dense` - one fully connected layer, ``z = σ(W x + b)``;
* :func:`softmax` - softmax with a temperature;
* :func:`causal_mask` and :func:`scaled_dot_product_attention` -
  ``softmax(Q Kᵀ / √d_k) V`` with torch's boolean-mask convention;
* :func:`cross_entropy` and :func:`perplexity` - the language-modelling loss.

Each function checks its input and raises ``ValueError`` naming the offending
value or both sizes, so a shape slip fails at the call, not three cells later.
The tests compare every function with its ``torch.nn.functional`` counterpart.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from llmwidgets.core.validate import check_bool, check_choice, check_int, check_real

#: The activations :func:`dense` knows, by name.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "tanh": torch.tanh,
}


def _tensor(name: str, value: object, min_dim: int = 0) -> torch.Tensor:
    """Check that ``value`` is a floating tensor with at least ``min_dim`` dimensions."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s), got shape {tuple(value.shape)}"
        )
    return value


def _finite(name: str, value: torch.Tensor) -> None:
    """Reject NaN and ±inf entries, naming the first one found."""
    bad = ~torch.isfinite(value)
    if bad.any():
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"{name} must be finite, got {value[index].item()} at index {index}")


def dense(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
) -> torch.Tensor:
    """One fully connected layer: ``z = σ(W x + b)``.

    Args:
        x: input of shape ``(in_features,)`` or ``(..., in_features)`` (a batch of rows).
        weight: ``W`` of shape ``(out_features, in_features)``.
        bias: ``b`` of shape ``(out_features,)``, or ``None`` for no bias.
        activation: "sigmoid", "relu", "tanh", or ``None`` for the identity.

    Returns:
        ``z`` of shape ``(..., out_features)``: ``z_i = σ(Σ_j W_ij x_j + b_i)`` for each row.

    Raises:
        ValueError: for an unknown activation or sizes that do not fit together.
    """
    x = _tensor("x", x, min_dim=1)
    weight = _tensor("weight", weight)
    if weight.dim() != 2:
        raise ValueError(
            f"weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}"
        )
    if activation is not None:
        check_choice("activation", activation, sorted(ACTIVATIONS))
    out_features, in_features = weight.shape
    if x.shape[-1] != in_features:
        raise ValueError(
            f"x has {x.shape[-1]} features (last dimension) but weight expects "
            f"{in_features} (weight shape {tuple(weight.shape)})"
        )
    # (..., in) @ (in, out) -> (..., out): each row x gives W x
    z = x @ weight.T
    if bias is not None:
        bias = _tensor("bias", bias)
        if bias.shape != (out_features,):
            raise ValueError(
                f"bias must have shape ({out_features},) to match weight's {out_features} "
                f"outputs, got {tuple(bias.shape)}"
            )
        z = z + bias  # broadcasts over the leading (batch) dimensions
    return z if activation is None else ACTIVATIONS[activation](z)


def _masked_softmax(scores: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last dimension, with weight 0 where ``allowed`` is False.

    A row with no allowed entry gets all-zero weights, as in torch's attention.
    """
    if allowed is not None:
        scores = scores.masked_fill(~allowed, -math.inf)
    row_max = scores.amax(dim=-1, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    e = torch.exp(scores - row_max)  # the shift changes nothing but avoids overflow
    total = e.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, e / total.clamp_min(torch.finfo(e.dtype).tiny), 0.0)


def softmax(logits: torch.Tensor, temperature: float = 1.0, dim: int = -1) -> torch.Tensor:
    """Softmax with a temperature: ``exp(z_j / T) / Σ_m exp(z_m / T)``.

    Args:
        logits: finite scores ``z`` (any shape with at least one dimension).
        temperature: ``T > 0``; below 1 sharpens the distribution, above 1 flattens it.
        dim: the dimension that sums to 1.

    Returns:
        Probabilities with the shape of ``logits``.

    Raises:
        ValueError: for a temperature that is not a finite number > 0, NaN/inf
            logits, or a ``dim`` out of range.
    """
    logits = _tensor("logits", logits, min_dim=1)
    temperature = check_real("temperature", temperature, 0, min_open=True)
    check_int("dim", dim)
    if not -logits.dim() <= dim < logits.dim():
        raise ValueError(f"dim={dim} is out of range for logits of shape {tuple(logits.shape)}")
    _finite("logits", logits)
    # Move `dim` last, normalise there, move it back.
    return _masked_softmax((logits / temperature).movedim(dim, -1), None).movedim(-1, dim)


def causal_mask(n_queries: int, n_keys: int | None = None) -> torch.Tensor:
    """The boolean causal mask: query ``i`` may attend to keys ``0..i``.

    Args:
        n_queries: number of rows (queries), >= 1.
        n_keys: number of columns (keys); ``None`` means ``n_queries``.

    Returns:
        A ``(n_queries, n_keys)`` bool tensor, True on and below the diagonal
        (top-left aligned, like ``is_causal=True`` in torch).
    """
    n_queries = check_int("n_queries", n_queries, 1)
    n_keys = n_queries if n_keys is None else check_int("n_keys", n_keys, 1)
    return torch.ones(n_queries, n_keys, dtype=torch.bool).tril()


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Attention from scratch: ``softmax(Q Kᵀ / √d_k) V``.

    Args:
        q: queries, shape ``(..., n_q, d_k)``.
        k: keys, shape ``(..., n_k, d_k)``.
        v: values, shape ``(..., n_k, d_v)``.
        mask: optional bool tensor broadcastable to ``(..., n_q, n_k)``; True means
            "may attend" (torch's ``attn_mask`` convention). A query row that may
            attend to nothing gets zero weights and a zero output, as in torch.
        causal: if True, query ``i`` sees only keys ``0..i`` (combined with ``mask``
            by logical AND when both are given).
        return_weights: also return the attention weights.

    Returns:
        The output, shape ``(..., n_q, d_v)``; with ``return_weights`` the pair
        ``(output, weights)`` where weights has shape ``(..., n_q, n_k)``.

    Raises:
        ValueError: for non-finite inputs, sizes that do not fit together, or a
            mask that is not boolean or does not broadcast.
    """
    check_bool("causal", causal)
    check_bool("return_weights", return_weights)
    q, k, v = (_tensor(n, t, min_dim=2) for n, t in (("q", q), ("k", k), ("v", v)))
    for name, t in (("q", q), ("k", k), ("v", v)):
        _finite(name, t)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension d_k, got q {tuple(q.shape)} "
            f"and k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions n_k, got k {tuple(k.shape)} "
            f"and v {tuple(v.shape)}"
        )
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError as err:
        raise ValueError(
            f"leading (batch) dimensions do not broadcast: q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, v {tuple(v.shape)}"
        ) from err
    n_q, n_k = q.shape[-2], k.shape[-2]
    allowed = None
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask must be a bool tensor (True = may attend), got {got}")
        try:
            torch.broadcast_shapes(mask.shape, (*batch, n_q, n_k))
        except RuntimeError as err:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' "
                f"shape {(*batch, n_q, n_k)}"
            ) from err
        allowed = mask
    if causal:
        tril = causal_mask(n_q, n_k).to(q.device)
        allowed = tril if allowed is None else allowed & tril

    # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k): one score per (query, key)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = _masked_softmax(scores, allowed)  # each row sums to 1 over the keys
    # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v): weighted average of values
    out = weights @ v
    return (out, weights) if return_weights else out


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of integer targets under ``softmax(logits)``, in nats.

    ``L = -(1/N) Σ_t log softmax(z_t)[y_t] = (1/N) Σ_t (logsumexp(z_t) - z_t[y_t])``.

    Args:
        logits: finite scores of shape ``(..., V)`` (V = vocabulary size).
        targets: integer class indices in ``[0, V)`` of shape ``logits.shape[:-1]``.

    Returns:
        A 0-d tensor: the mean over all positions.

    Raises:
        ValueError: for mismatched shapes, non-integer or out-of-range targets,
            NaN/inf logits, or no positions at all.
    """
    logits = _tensor("logits", logits, min_dim=1)
    _finite("logits", logits)
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.is_complex():
        got = targets.dtype if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise ValueError(f"targets must be an integer tensor of class indices, got {got}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets shape {tuple(targets.shape)} must equal logits shape without its last "
            f"dimension, {tuple(logits.shape[:-1])} (logits {tuple(logits.shape)})"
        )
    if targets.numel() == 0:
        raise ValueError(f"no positions to average over: targets shape {tuple(targets.shape)}")
    vocab = logits.shape[-1]
    bad = (targets < 0) | (targets >= vocab)
    if bad.any():
        raise ValueError(
            f"target {int(targets[bad][0])} is out of range for a vocabulary of {vocab} classes"
        )
    targets = targets.long()
    # (..., V) -> (...): the logit of the correct class at each position
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (torch.logsumexp(logits, dim=-1) - picked).mean()


def perplexity(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Perplexity ``exp(cross_entropy)``: the effective number of equally likely choices.

    Args:
        logits: as for :func:`cross_entropy`.
        targets: as for :func:`cross_entropy`.

    Returns:
        A 0-d tensor >= 1; a uniform guess over ``V`` classes gives exactly ``V``.

    Raises:
        ValueError: as for :func:`cross_entropy`.
    """
    return torch.exp(cross_entropy(logits, targets))
