"""Attention weights as numbers: check them, normalise their shape, label their axes.

This is the pure half of the attention viewer (no plotly, no IPython):
:func:`normalize_attention` turns the shapes people pass around - a tensor or array
``(L, H, T_q, T_k)``, a list of ``L`` arrays ``(H, T_q, T_k)``, one layer ``(H, T, T)``
or one head ``(T, T)`` - into an :class:`AttentionData` with checked token labels, and
detects a causal mask. Getting the weights out of a model is
:func:`llmwidgets.nn.capture.capture_attention`.

Bad input raises ``ValueError`` naming both sizes, as everywhere in ``llmwidgets``.
Rows that do not sum to 1 only *warn*: weights after dropout or in bfloat16 are still worth
looking at, and all-zero rows (queries whose keys are all masked) are allowed silently.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from llmwidgets.core import validate

__all__ = ["AttentionData", "check_index", "normalize_attention"]

#: How far a row sum may be from 1 before :func:`normalize_attention` warns.
ROW_SUM_TOLERANCE = 1e-2


@dataclass(frozen=True, eq=False)
class AttentionData:
    """Checked attention weights with the labels of both axes.

    Attributes:
        weights: float32 array ``(L, H, T_q, T_k)``.
        query_tokens: labels of the ``T_q`` query positions (rows, the y axis).
        key_tokens: labels of the ``T_k`` key positions (columns, the x axis).
        is_self: ``True`` for self-attention (one token list for both axes).
        causal: ``True`` when every weight above the diagonal is exactly 0.
    """

    weights: np.ndarray
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    is_self: bool
    causal: bool

    @property
    def n_layers(self) -> int:
        """Number of layers ``L``."""
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        """Number of heads ``H``."""
        return self.weights.shape[1]

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``(T_q, T_k)`` array, ``True`` where a causal mask hides the key."""
        n_q, n_k = self.weights.shape[2:]
        if not self.causal:
            return np.zeros((n_q, n_k), dtype=bool)
        return np.triu(np.ones((n_q, n_k), dtype=bool), k=1)

    def head(self, layer: int, head: int) -> np.ndarray:
        """The ``(T_q, T_k)`` weights of one head, after checking both indices.

        Args:
            layer: layer index, ``0 <= layer < L``.
            head: head index, ``0 <= head < H``.

        Returns:
            A float32 array ``(T_q, T_k)`` (a view, not a copy).
        """
        check_index("layer", layer, self.n_layers, "layers")
        check_index("head", head, self.n_heads, "heads")
        return self.weights[layer, head]


#: A layer or head index, checked by :func:`llmwidgets.core.validate.check_index`
#: with attention's wording: ``check_index("layer", 4, 4, "layers")`` raises
#: ``ValueError: layer=4 but attention has 4 layers (0..3)``.
check_index = functools.partial(validate.check_index, owner="attention")


def _to_numpy(value: Any, what: str) -> np.ndarray:
    """A float64 numpy copy of a tensor, array or nested list."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be numbers, got {type(value).__name__}") from err
    return array


def _stack_layers(attention: Any) -> np.ndarray:
    """Turn any accepted form of ``attention`` into a float64 array ``(L, H, T_q, T_k)``."""
    if isinstance(attention, (list, tuple)) and attention and np.ndim(attention[0]) >= 3:
        layers = []
        for index, layer in enumerate(attention):
            array = _to_numpy(layer, f"layer {index}")
            if array.ndim == 4 and array.shape[0] == 1:  # (1, H, T_q, T_k): a batch of one
                array = array[0]
            if array.ndim != 3:
                raise ValueError(
                    f"layer {index} must have shape (H, T_q, T_k), got {array.shape}"
                    + ("; pick one batch element first" if array.ndim == 4 else "")
                )
            if layers and array.shape != layers[0].shape:
                raise ValueError(
                    f"layer {index} has shape {array.shape} but layer 0 has shape "
                    f"{layers[0].shape}; all layers must have the same (H, T_q, T_k)"
                )
            layers.append(array)
        return np.stack(layers)
    if isinstance(attention, (list, tuple)) and not attention:
        raise ValueError("attention is empty: expected (L, H, T_q, T_k) weights")
    array = _to_numpy(attention, "attention")
    if array.ndim not in (2, 3, 4):
        raise ValueError(
            f"attention must have 2, 3 or 4 dimensions (L, H, T_q, T_k), got shape {array.shape}"
        )
    return array.reshape((1,) * (4 - array.ndim) + array.shape)


def _where(index: tuple[int, ...]) -> str:
    layer, head, query, key = (int(i) for i in index)
    return f"layer {layer}, head {head}, query {query}, key {key}"


def _check_values(weights: np.ndarray) -> None:
    """Reject NaN, inf and negative weights; warn about rows that do not sum to 1."""
    if 0 in weights.shape:
        raise ValueError(f"attention has an empty dimension: shape {weights.shape}")
    bad = ~np.isfinite(weights)
    if bad.any():
        index = tuple(np.argwhere(bad)[0])
        raise ValueError(f"attention must be finite, got {weights[index]} at {_where(index)}")
    negative = weights < 0
    if negative.any():
        index = tuple(np.argwhere(negative)[0])
        raise ValueError(
            f"attention weights must be >= 0, got {weights[index]:.4g} at {_where(index)}; "
            "pass the weights after softmax, not the scores"
        )
    sums = weights.sum(axis=-1)
    off = (np.abs(sums - 1) > ROW_SUM_TOLERANCE) & (sums != 0)
    if off.any():
        layer, head, query = (int(i) for i in np.argwhere(off)[0])
        warnings.warn(
            f"attention rows should sum to 1, but {int(off.sum())} do not: layer {layer}, "
            f"head {head}, query {query} sums to {sums[layer, head, query]:.4g}",
            UserWarning,
            stacklevel=3,
        )


def _labels(tokens: Any, count: int, name: str, axis: str) -> tuple[str, ...]:
    """Token labels as strings, checking there is one per position."""
    if tokens is None:
        return tuple(str(i) for i in range(count))
    if isinstance(tokens, str):
        raise ValueError(f"{name} must be a list of token strings, got one string {tokens!r}")
    labels = tuple(str(t) for t in tokens)
    if len(labels) != count:
        raise ValueError(f"attention has {axis} but {name} has {len(labels)} entries")
    return labels


def normalize_attention(
    attention: Any,
    tokens: Sequence[str] | None = None,
    *,
    source_tokens: Sequence[str] | None = None,
    target_tokens: Sequence[str] | None = None,
    causal: bool | None = None,
) -> AttentionData:
    """Check attention weights and pair them with token labels.

    Args:
        attention: weights ``(L, H, T_q, T_k)`` (tensor, array or nested lists), a list of
            ``L`` arrays ``(H, T_q, T_k)`` (``(1, H, T_q, T_k)`` is taken as a batch of one),
            one layer ``(H, T, T)`` or one head ``(T, T)``; an :class:`AttentionData` is
            returned unchanged when no tokens are given.
        tokens: labels for self-attention (``T_q == T_k``); ``None`` labels positions 0, 1, ...
        source_tokens: cross-attention key labels (``T_k`` entries).
        target_tokens: cross-attention query labels (``T_q`` entries).
        causal: ``None`` detects a causal mask (self-attention whose weights above the
            diagonal are all exactly 0); ``True`` / ``False`` forces it.

    Returns:
        An :class:`AttentionData`. Rows whose sum is neither ~1 nor 0 raise a ``UserWarning``.
    """
    if isinstance(attention, AttentionData):
        if tokens is None and source_tokens is None and target_tokens is None and causal is None:
            return attention
        attention = attention.weights
    weights = _stack_layers(attention)
    _check_values(weights)
    n_q, n_k = weights.shape[2:]
    cross = source_tokens is not None or target_tokens is not None
    if cross and tokens is not None:
        raise ValueError("pass tokens (self-attention) or source_tokens + target_tokens, not both")
    if cross and (source_tokens is None or target_tokens is None):
        raise ValueError("cross-attention needs both source_tokens (keys) and target_tokens")
    if cross:
        queries = _labels(target_tokens, n_q, "target_tokens", f"T_q={n_q} query positions")
        keys = _labels(source_tokens, n_k, "source_tokens", f"T_k={n_k} key positions")
    else:
        if n_q != n_k:
            raise ValueError(
                f"self-attention needs square weights, but attention has T_q={n_q} query "
                f"positions and T_k={n_k} key positions; for cross-attention pass "
                "source_tokens= (keys) and target_tokens= (queries)"
            )
        queries = keys = _labels(tokens, n_q, "tokens", f"T_q={n_q} query positions")
    if causal is None:
        above = weights[..., np.triu(np.ones((n_q, n_k), dtype=bool), k=1)]
        causal = not cross and n_q > 1 and not above.any()
    elif causal and n_q != n_k:
        raise ValueError(f"causal=True needs square weights, got T_q={n_q} and T_k={n_k}")
    return AttentionData(weights.astype(np.float32), queries, keys, not cross, bool(causal))
