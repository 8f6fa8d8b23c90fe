"""Multi-head attention arithmetic, shared by the GPT and the seq2seq Transformer.

A layer's projections make queries, keys and values of width C = H · D; this module
does the rest, in one place for every attention layer of the package:

* :func:`split_heads` - ``(B, T, C)`` -> ``(B, H, T, D)``;
* :func:`attend` - ``softmax(Q Kᵀ / √D + mask) V`` for every head at once, either with
  PyTorch's fused kernel (fast; the ``(T, S)`` weights are never materialised) or
  explicitly, returning the weights for the attention viewer;
* :func:`merge_heads` - ``(B, H, T, D)`` -> ``(B, T, C)``.

The two paths compute the same numbers (the tests compare them). Masks follow torch's
boolean convention: ``True`` = may attend. With ``causal=True`` the T queries are the
*last* T of the S positions (the causal mask is aligned bottom-right): T == S is plain
self-attention, T < S is a block of new positions after S - T cached ones (the GPT's
:class:`~llmwidgets.nn.kv_cache.KVCache`). Chapter 4's checked, from-scratch version of
the same formula is :func:`llmwidgets.nn.functional.scaled_dot_product_attention`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["attend", "merge_heads", "split_heads"]


def split_heads(x: Tensor, n_head: int) -> Tensor:
    """``(B, T, C)`` -> ``(B, H, T, D)`` with D = C / H: heads next to the batch.

    Args:
        x: queries, keys or values of all heads side by side.
        n_head: H, which divides C.

    Returns:
        A view of shape ``(B, H, T, D)``.
    """
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, T, H, D) -> (B, H, T, D)


def merge_heads(y: Tensor) -> Tensor:
    """``(B, H, T, D)`` -> ``(B, T, C)``: the heads' outputs side by side again.

    Args:
        y: every head's output.

    Returns:
        A contiguous tensor ``(B, T, H · D)``.
    """
    B, H, T, D = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * D)  # (B, T, H, D) -> (B, T, C)


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    key_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    return_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Scaled dot-product attention for every head: ``softmax(Q Kᵀ / √D) V``.

    Args:
        q: queries ``(B, H, T, D)``.
        k: keys ``(B, H, S, D)``.
        v: values ``(B, H, S, D)``.
        causal: the queries are the last T of the S positions, and each sees the keys
            up to its own position only: query t sees keys 0..S - T + t (T == S:
            self-attention, keys 0..t; T < S: new positions after a cached prefix).
        key_mask: ``(B, S)`` bool, ``True`` for real keys; padded keys get weight 0.
        dropout_p: dropout on the weights (pass 0.0 in eval mode).
        return_weights: compute the weights explicitly and return them too.

    Returns:
        The output ``(B, H, T, D)``; with ``return_weights``, ``(output, weights)``
        with weights ``(B, H, T, S)`` in float32 (even under autocast), taken before
        dropout, so each row sums to 1.

    Raises:
        ValueError: for ``causal`` with more queries than keys (T > S).
    """
    T, S = q.shape[-2], k.shape[-2]
    if causal and T > S:
        raise ValueError(
            f"causal attention needs at least as many keys as queries, got T={T} > S={S}"
        )
    if causal and T == 1:
        causal = False  # the one query is the last position: it sees every key
    allowed = None  # (B or 1, 1, T or 1, S): True where a query may look
    if key_mask is not None:
        allowed = key_mask[:, None, None, :]  # broadcast over heads and queries
    if causal and (return_weights or allowed is not None or T < S):
        # Bottom-right aligned: query t is position S - T + t and sees keys 0..S - T + t.
        past = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)  # (T, S)
        allowed = past if allowed is None else allowed & past
    if not return_weights:
        # The fused kernel never materialises the (T, S) weights: fast and lean.
        if allowed is None:  # is_causal is aligned top-left: used for T == S only
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout_p)
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])  # (B, H, T, S)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))  # no peeking, no padding
    weights = F.softmax(scores.float(), dim=-1)  # (B, H, T, S), float32 even in autocast
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return dropped.to(v.dtype) @ v, weights  # (B, H, T, D)
