"""The KV cache: the keys and values of the positions a GPT has already seen.

In a causal model, position t's keys and values depend on tokens 0..t only, so they do
not change when tokens are added after it. Generation can therefore keep them from step
to step: the prompt goes through the model once (the *prefill*), then each new token
computes its own query, key and value and attends to the cached ones (the *decode*
phase). A new token then costs one position's worth of work instead of the whole prefix's.

A :class:`KVCache` starts empty and is filled by the model it is passed to::

    cache = KVCache()
    logits = model(prompt, cache=cache)           # (B, T, V); cache.length == T
    logits = model(next_ids[:, None], cache=cache)  # (B, 1, V); cache.length == T + 1

Each of the model's attention layers owns one :class:`LayerCache` (its keys and values,
``(B, H, T_seen, D)``); :meth:`KVCache.check` refuses a call that the cache cannot serve
(another batch size, another model's sizes, more positions than ``block_size``) before
anything is changed. Memory: 2 · n_layer · B · T_seen · C numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from llmwidgets.nn.gpt_config import GPTConfig

__all__ = ["KVCache", "LayerCache"]


@dataclass
class LayerCache:
    """One attention layer's keys and values so far (``None`` before the first call)."""

    k: Tensor | None = None  # (B, H, T_seen, D): the keys of every position seen
    v: Tensor | None = None  # (B, H, T_seen, D): their values

    def extend(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append new positions' keys and values; return those of all positions.

        Args:
            k: the new positions' keys ``(B, H, T_new, D)``.
            v: their values ``(B, H, T_new, D)``.

        Returns:
            ``(keys, values)``, each ``(B, H, T_seen + T_new, D)``: the cached positions
            first, then the new ones (the cache now holds them).
        """
        if self.k is not None:
            k = torch.cat([self.k, k], dim=2)  # along the positions
            v = torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v


class KVCache:
    """Every attention layer's keys and values, for one batch of sequences and one model.

    Pass it to :meth:`llmwidgets.nn.gpt.GPT.forward` as ``cache=``: the model reads the
    cached positions, appends the new ones, and embeds the new tokens at positions
    ``length, length + 1, ...``. Use a new cache for a new batch or another model.

    Attributes:
        layers: one :class:`LayerCache` per attention layer (empty before the first call).
        length: the number of positions seen (the same in every layer).
        batch_size: B of the batch the cache belongs to (``None`` before the first call).
    """

    def __init__(self) -> None:
        self.layers: list[LayerCache] = []  # one per block, created by the first call
        self.length = 0  # positions seen so far
        self.batch_size: int | None = None  # B, fixed by the first call

    def __repr__(self) -> str:
        sizes = f"layers={len(self.layers)}, length={self.length}, batch_size={self.batch_size}"
        return f"KVCache({sizes})"

    def check(self, idx: Tensor, config: GPTConfig) -> int:
        """Check that this cache can take ``idx`` next, for a model of sizes ``config``.

        Called by the GPT before it changes anything (after its layers, the GPT adds
        ``T_new`` to :attr:`length`); on the first call it creates one empty
        :class:`LayerCache` per layer and fixes the batch size.

        Args:
            idx: the new token ids ``(B, T_new)`` (already checked against the vocabulary).
            config: the model's sizes.

        Returns:
            The number of positions already cached: the position of ``idx[:, 0]``.

        Raises:
            ValueError: for a batch size other than the cache's, a cache filled by a
                model of other sizes or on another device, or ``length + T_new`` beyond
                ``config.block_size`` (the position table has no more rows).
        """
        B, T = idx.shape
        if self.length > 0:  # filled before: by this model, for this batch, on this device
            keys = self.layers[0].k  # (B, H, T_seen, D)
            held = (len(self.layers), keys.shape[1], keys.shape[3])
            if held != (config.n_layer, config.n_head, config.head_dim):
                raise ValueError(
                    f"the cache holds {held[0]} layers of {held[1]} heads of size {held[2]}, "
                    f"the model has {config.n_layer} layers of {config.n_head} heads of size "
                    f"{config.head_dim}: a KVCache belongs to the model that filled it"
                )
            if B != self.batch_size:
                raise ValueError(
                    f"batch size {B} differs from the cache's batch size {self.batch_size}: "
                    "a KVCache holds one batch; start a new KVCache() for another batch"
                )
            if idx.device != keys.device:
                raise ValueError(
                    f"idx is on {idx.device} but the cache is on {keys.device}: "
                    "keep the ids on the device of the model that filled the cache"
                )
        if self.length + T > config.block_size:
            raise ValueError(
                f"the cache holds {self.length} positions and {T} more make "
                f"{self.length + T} > block_size={config.block_size}: the position table "
                "has no rows beyond it; start a new KVCache() with the last tokens"
            )
        if self.length == 0:  # the first call (the prefill) fixes the layers and the batch
            self.layers = [LayerCache() for _ in range(config.n_layer)]
            self.batch_size = B
        return self.length
