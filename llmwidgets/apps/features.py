"""What a GPT "thinks" of a text: its final hidden states, pooled into one vector.

:meth:`llmwidgets.GPT.forward` returns logits; search (dense retrieval) and classification
need the vectors just before the output head. :func:`hidden_states` runs the GPT's own
modules - embeddings, blocks, final LayerNorm - exactly as ``forward`` does, and stops
before ``lm_head``, so ``model.lm_head(hidden_states(model, idx)) == model(idx)`` (a unit
test checks it); nothing in :mod:`llmwidgets.nn.gpt` is changed.

Pooling a ``(B, T, C)`` tensor into ``(B, C)`` (:func:`pool`):

* ``"mean"`` - the average over a text's real tokens. Every token counts equally; the
  usual choice for embeddings (Sentence-BERT's default);
* ``"last"`` - the state at the last real token. In a causal model it is the only
  position that has seen the whole text: what GPT-2's sequence classifier uses.

:func:`embed_texts` embeds texts of any length: a text longer than the context is cut
into windows of ``block_size`` tokens, and ``"mean"`` averages over all of their tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from llmwidgets.core.validate import check_choice, check_int
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.nn.token_ids import check_token_ids

__all__ = ["POOLINGS", "embed_texts", "hidden_states", "pool"]

POOLINGS = ("mean", "last")


def hidden_states(model: GPT, idx: Tensor) -> Tensor:
    """The final hidden states of the book's GPT (after ``ln_f``, before ``lm_head``).

    Args:
        model: a :class:`~llmwidgets.nn.gpt.GPT` (dropout applies in training mode).
        idx: token ids ``(B, T)``, T <= block_size.

    Returns:
        ``(B, T, n_embd)``.
    """
    if not isinstance(model, GPT):
        raise ValueError(f"model must be the book's GPT, got {type(model).__name__}")
    idx = check_token_ids(idx, model.config.vocab_size, block_size=model.config.block_size)
    t = model.transformer
    pos = torch.arange(idx.shape[1], device=idx.device)  # (T,)
    x = t.drop(t.wte(idx) + t.wpe(pos))  # (B, T, C)
    for block in t.h:
        x = block(x)
    return t.ln_f(x)  # (B, T, C)


def pool(hidden: Tensor, lengths: Tensor, how: str = "mean") -> Tensor:
    """One vector per row from ``(B, T, C)`` hidden states of right-padded texts.

    Args:
        hidden: ``(B, T, C)``.
        lengths: ``(B,)`` the number of real tokens of each row, 1..T.
        how: ``"mean"`` or ``"last"`` (see the module's docstring).

    Returns:
        ``(B, C)``.
    """
    check_choice("how", how, POOLINGS)
    if hidden.dim() != 3 or lengths.shape != hidden.shape[:1]:
        raise ValueError(
            f"hidden must be (B, T, C) and lengths (B,), got {tuple(hidden.shape)} and "
            f"{tuple(lengths.shape)}"
        )
    lengths = lengths.to(hidden.device).long()
    if (lengths < 1).any() or (lengths > hidden.shape[1]).any():
        raise ValueError(f"lengths must be in 1..{hidden.shape[1]}, got {lengths.tolist()}")
    if how == "last":
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), lengths - 1]
    real = torch.arange(hidden.shape[1], device=hidden.device)[None, :] < lengths[:, None]
    summed = (hidden * real[..., None]).sum(dim=1)  # (B, C): padding contributes 0
    return summed / lengths[:, None].to(hidden.dtype)


def _known_ids(tokenizer: Any, text: str) -> list[int]:
    """The ids of a text's characters that the tokenizer knows (unknown ones skipped)."""
    chars = getattr(tokenizer, "chars", None)
    if chars is None:
        return list(tokenizer.encode(text))
    known = set(chars)
    return tokenizer.encode("".join(ch for ch in text if ch in known))


def embed_texts(
    model: GPT, tokenizer: Any, texts: Sequence[str], pooling: str = "mean", batch_size: int = 64
) -> Tensor:
    """One vector per text from the model's final hidden states.

    Characters a character tokenizer does not know (a modern word in a query over the
    Analects) are skipped, as a search engine skips unknown terms.

    Args:
        model: the book's GPT (run in eval mode, without gradients).
        tokenizer: its tokenizer.
        texts: the texts (each with at least one known token).
        pooling: ``"mean"`` or ``"last"``; with ``"last"`` a long text keeps its last window.
        batch_size: windows per forward pass.

    Returns:
        ``(N, n_embd)`` float32 on the CPU.

    Raises:
        ValueError: for no texts, or a text with no known token (named by its position).
    """
    check_choice("pooling", pooling, POOLINGS)
    batch_size = check_int("batch_size", batch_size, 1)
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty list of strings")
    block = model.config.block_size
    windows: list[list[int]] = []  # every text cut into windows of <= block tokens
    owner: list[int] = []  # the text each window belongs to
    for i, text in enumerate(texts):
        ids = _known_ids(tokenizer, text) if isinstance(text, str) else []
        if not ids:
            raise ValueError(f"text {i} ({text!r:.30}) has no token the model knows")
        starts = range(0, len(ids), block) if pooling == "mean" else [max(0, len(ids) - block)]
        for s in starts:
            windows.append(ids[s : s + block])
            owner.append(i)
    device = model_device(model)
    sums = torch.zeros(len(texts), model.config.n_embd)
    counts = torch.zeros(len(texts))
    with eval_mode(model):
        for b in range(0, len(windows), batch_size):
            chunk = windows[b : b + batch_size]
            lengths = torch.tensor([len(w) for w in chunk])
            idx = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
            for r, w in enumerate(chunk):
                idx[r, : len(w)] = torch.tensor(w)
            h = hidden_states(model, idx.to(device)).float().cpu()  # (b, T, C)
            # Sum (not mean) per window, so a long text's windows weigh by their tokens.
            pooled = pool(h, lengths, pooling) * (lengths[:, None] if pooling == "mean" else 1)
            rows = torch.tensor(owner[b : b + batch_size])
            sums.index_add_(0, rows, pooled)
            counts.index_add_(
                0, rows, lengths.float() if pooling == "mean" else torch.ones(len(chunk))
            )
    return sums / counts[:, None]
