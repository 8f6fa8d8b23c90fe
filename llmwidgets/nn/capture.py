"""Capture attention weights from a model: one forward pass, every layer's weights.

:func:`capture_attention` runs a model once and returns its weights ``(L, H, T, T)``,
either through the book's ``return_attention=True`` convention (the book's GPT and
seq2seq models) or by hooking every ``torch.nn.MultiheadAttention`` inside the model.
The result goes to :func:`llmwidgets.nn.attention.normalize_attention` and the viewer.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from llmwidgets.core.validate import check_index, check_int
from llmwidgets.nn.modes import eval_mode, model_device

__all__ = ["capture_attention"]


def _as_input(ids: Any, model: nn.Module) -> Any:
    """Lists and 1-D id tensors become a batch of one on the model's device."""
    if isinstance(ids, (list, tuple)):
        ids = torch.tensor(ids, dtype=torch.long)
    if isinstance(ids, torch.Tensor):
        if ids.dim() == 1 and not ids.is_floating_point():
            ids = ids[None]
        ids = ids.to(model_device(model, ids.device))
    return ids


def _pick(weights: torch.Tensor, batch_index: int, what: str) -> torch.Tensor:
    """``(B, H, T_q, T_k)`` -> ``(H, T_q, T_k)``; unbatched ``(H, T_q, T_k)`` passes."""
    if weights.dim() == 3:
        return weights
    if weights.dim() != 4:
        raise ValueError(f"{what} should have shape (B, H, T_q, T_k), got {tuple(weights.shape)}")
    check_index("batch_index", batch_index, weights.shape[0], "sequences", owner="the batch")
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
    batch_index = check_int("batch_index", batch_index, 0)
    ids = _as_input(ids, model)
    with eval_mode(model):
        if _accepts_return_attention(model):
            return _capture_returned(model, ids, batch_index, **kwargs)
        return _capture_hooked(model, ids, batch_index, **kwargs)
