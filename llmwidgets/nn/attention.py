"""Attention weights as numbers: check and normalise them, or capture them from a model.

This is the pure half of the attention viewer (no plotly, no IPython):

* :func:`normalize_attention` turns the shapes people pass around - a tensor or array
  ``(L, H, T_q, T_k)``, a list of ``L`` arrays ``(H, T_q, T_k)``, one layer ``(H, T, T)``
  or one head ``(T, T)`` - into an :class:`AttentionData` with checked token labels, and
  detects a causal mask;
* :func:`capture_attention` runs a model once and returns its weights ``(L, H, T, T)``,
  either through the book's ``return_attention=True`` convention or by hooking every
  ``torch.nn.MultiheadAttention`` inside the model.

Bad input raises ``ValueError`` naming both sizes, as everywhere in ``llmwidgets``.
Rows that do not sum to 1 only *warn*: weights after dropout or in bfloat16 are still worth
looking at, and all-zero rows (queries whose keys are all masked) are allowed silently.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import torch
from torch import nn

from llmwidgets.nn.modes import eval_mode

__all__ = ["AttentionData", "capture_attention", "normalize_attention"]

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


def check_index(name: str, value: Any, size: int, plural: str) -> int:
    """Check a layer or head index.

    Args:
        name: ``"layer"`` or ``"head"``.
        value: the index given.
        size: how many there are.
        plural: ``"layers"`` or ``"heads"``, for the message.

    Returns:
        The index as an ``int``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if not 0 <= value < size:
        raise ValueError(f"{name}={value} but attention has {size} {plural} (0..{size - 1})")
    return int(value)


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


# --------------------------------------------------------------------------- capture


def _as_input(ids: Any, model: nn.Module) -> Any:
    """Lists and 1-D id tensors become a batch of one on the model's device."""
    device = next((p.device for p in model.parameters()), None)
    if isinstance(ids, (list, tuple)):
        ids = torch.tensor(ids, dtype=torch.long)
    if isinstance(ids, torch.Tensor):
        if ids.dim() == 1 and not ids.is_floating_point():
            ids = ids[None]
        if device is not None:
            ids = ids.to(device)
    return ids


def _pick(weights: torch.Tensor, batch_index: int, what: str) -> torch.Tensor:
    """``(B, H, T_q, T_k)`` -> ``(H, T_q, T_k)``; unbatched ``(H, T_q, T_k)`` passes."""
    if weights.dim() == 3:
        return weights
    if weights.dim() != 4:
        raise ValueError(f"{what} should have shape (B, H, T_q, T_k), got {tuple(weights.shape)}")
    batch = weights.shape[0]
    if not 0 <= batch_index < batch:
        raise ValueError(
            f"batch_index={batch_index} but the batch has {batch} sequences (0..{batch - 1})"
        )
    return weights[batch_index]


def _stack(layers: list[tuple[str, torch.Tensor]]) -> torch.Tensor:
    """Stack per-layer ``(H, T_q, T_k)`` weights, naming the first mismatch."""
    first_name, first = layers[0]
    for name, weights in layers[1:]:
        if weights.shape != first.shape:
            raise ValueError(
                f"{name} gave weights {tuple(weights.shape)} but {first_name} gave "
                f"{tuple(first.shape)}; capture from a sub-module whose layers match"
            )
    return torch.stack([w for _, w in layers]).detach().to("cpu", torch.float32)


def _accepts_return_attention(model: nn.Module) -> bool:
    try:
        return "return_attention" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _capture_returned(model: nn.Module, ids: Any, batch_index: int, **kwargs: Any) -> torch.Tensor:
    """The book's convention: ``model(ids, return_attention=True) -> (logits, attentions)``."""
    output = model(ids, return_attention=True, **kwargs)
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise ValueError("model(ids, return_attention=True) should return (logits, attentions)")
    attentions = output[1]
    if isinstance(attentions, torch.Tensor):
        attentions = list(attentions)
    if not attentions:
        raise ValueError("model(ids, return_attention=True) returned no attention weights")
    return _stack(
        [(f"layer {i}", _pick(a, batch_index, f"layer {i}")) for i, a in enumerate(attentions)]
    )


_MHA_ARGS = list(inspect.signature(nn.MultiheadAttention.forward).parameters)[1:]


def _capture_hooked(model: nn.Module, ids: Any, batch_index: int, **kwargs: Any) -> torch.Tensor:
    """Hook every ``nn.MultiheadAttention``, asking it for per-head weights."""
    modules = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]
    if not modules:
        raise ValueError(
            f"{type(model).__name__}.forward has no return_attention argument and the model "
            "holds no torch.nn.MultiheadAttention; pass the weights to the viewer yourself"
        )
    calls: dict[str, list[torch.Tensor]] = {name: [] for name, _ in modules}
    asked: list[tuple[bool, bool]] = []  # what each pending call asked for itself

    def pre_hook(module: nn.Module, args: tuple, kw: dict) -> tuple[tuple, dict]:
        extra = dict(zip(_MHA_ARGS[3:], args[3:], strict=False))  # positional flags -> keywords
        kw = {**kw, **extra}
        asked.append((kw.get("need_weights", True), kw.get("average_attn_weights", True)))
        kw.update(need_weights=True, average_attn_weights=False)
        return args[:3], kw

    def make_hook(name: str):
        def hook(module: nn.Module, args: tuple, output: tuple) -> tuple:
            out, weights = output
            calls[name].append(_pick(weights, batch_index, name))
            need, average = asked.pop()
            # Give the caller what it asked for, so the model computes exactly as usual.
            if not need:
                return out, None
            return out, weights.mean(dim=-3) if average else weights

        return hook

    handles = []
    fastpath = getattr(torch.backends.mha, "get_fastpath_enabled", lambda: None)()
    try:
        if fastpath is not None:  # the fused kernels skip the Python forward (and the hooks)
            torch.backends.mha.set_fastpath_enabled(False)
        for name, module in modules:
            handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
            handles.append(module.register_forward_hook(make_hook(name)))
        model(ids, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
        if fastpath is not None:
            torch.backends.mha.set_fastpath_enabled(fastpath)
    layers = [(f"{name} (call {i})", w) for name, ws in calls.items() for i, w in enumerate(ws)]
    if not layers:
        raise ValueError("the model's forward never called its nn.MultiheadAttention modules")
    return _stack(layers)


def capture_attention(
    model: nn.Module, ids: Any, *, batch_index: int = 0, **kwargs: Any
) -> torch.Tensor:
    """Run ``model`` once and return its attention weights.

    If ``model.forward`` has a ``return_attention`` argument (the book's GPT), it is called
    as ``model(ids, return_attention=True, **kwargs)`` and must return
    ``(logits, attentions)`` with ``attentions`` a list of ``L`` tensors ``(B, H, T, T)``.
    Otherwise every ``torch.nn.MultiheadAttention`` inside the model is hooked and asked for
    per-head weights (``need_weights=True, average_attn_weights=False``); the model's own
    output is unchanged. Layers come in module order. The model runs in eval mode (no
    dropout) under ``torch.no_grad()``; its train/eval flags are restored afterwards.

    Args:
        model: a ``torch.nn.Module``.
        ids: the model's input; a list or a 1-D integer tensor of ids becomes a batch of one
            on the model's device, anything else (e.g. embeddings ``(B, T, E)``) is passed
            as it is.
        batch_index: which sequence of the batch to return.
        **kwargs: passed on to ``model(...)`` (e.g. ``mask=`` for ``nn.TransformerEncoder``).

    Returns:
        A float32 CPU tensor ``(L, H, T_q, T_k)``.
    """
    if isinstance(batch_index, bool) or not isinstance(batch_index, Integral) or batch_index < 0:
        raise ValueError(f"batch_index must be an int >= 0, got {batch_index!r}")
    ids = _as_input(ids, model)
    with eval_mode(model):
        if _accepts_return_attention(model):
            return _capture_returned(model, ids, batch_index, **kwargs)
        return _capture_hooked(model, ids, batch_index, **kwargs)
