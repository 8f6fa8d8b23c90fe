"""The book's GPT: exactly GPT-2's architecture, written to be read top to bottom.

* :class:`CausalSelfAttention`, :class:`MLP`, :class:`Block` - one transformer layer;
* :class:`GPT` - embeddings, ``n_layer`` blocks, final LayerNorm and the tied output head;
* :func:`init_gpt2_weights` - GPT-2's initialisation (also used by the seq2seq Transformer).

The sizes are a :class:`~llmwidgets.nn.gpt_config.GPTConfig` (with named presets and the
parameter count :func:`~llmwidgets.nn.gpt_config.gpt_param_count`, re-exported here).
Parameter names follow GPT-2's layout (``transformer.h.0.attn.c_attn.weight``, ...), so
:meth:`GPT.from_gpt2_state_dict` maps Hugging Face GPT-2 weights onto it one to one (the
conversion and its checks: :mod:`llmwidgets.nn.gpt2_weights`).
Shapes use B = batch, T = sequence length, C = ``n_embd``, H = ``n_head``, D = C / H.

``GPT.forward(idx)`` returns logits ``(B, T, vocab_size)``; ``forward(idx,
return_attention=True)`` returns ``(logits, attentions)`` with ``attentions`` a list of
``n_layer`` tensors ``(B, H, T, T)``, the convention of :func:`llmwidgets.capture_attention`.
The loss is not computed here (unlike nanoGPT's ``forward(idx, targets)``): it is
:func:`llmwidgets.training.losses.next_token_loss`, shared with the seq2seq models.

``forward(idx, cache=KVCache())`` keeps every layer's keys and values in the cache
(:mod:`llmwidgets.nn.kv_cache`), so that the next call can pass only the new tokens:
they are embedded at the positions after the cached ones and attend to all of them.
:func:`llmwidgets.nn.generation.generate` uses it. ``return_attention`` works without a
cache only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from llmwidgets.nn import gpt2_weights
from llmwidgets.nn.gpt_config import PRESETS, GPTConfig, gpt_param_count
from llmwidgets.nn.kv_cache import KVCache, LayerCache
from llmwidgets.nn.multihead import attend, merge_heads, split_heads
from llmwidgets.nn.optim import adamw
from llmwidgets.nn.token_ids import check_token_ids

__all__ = ["PRESETS", "GPT", "Block", "CausalSelfAttention", "GPTConfig", "MLP",
           "gpt_param_count", "init_gpt2_weights"]  # fmt: skip


def _init_module(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def init_gpt2_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation, in place: every Linear and Embedding weight ~ N(0, 0.02),
    biases 0, LayerNorms (1, 0) (their default), and the projections into the residual
    stream (``c_proj``) ~ N(0, 0.02 / √(2·n_layer)): each block adds two of them, so the
    stream's variance stays about flat with depth.

    Args:
        model: the module to initialise (all its submodules).
        n_layer: the number of blocks (of each stack, for an encoder-decoder).
    """
    model.apply(_init_module)  # children first, then the parent: the order fixes the RNG draws
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees only positions 0..t."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        # One Linear makes queries, keys and values for all heads at once: C -> 3C.
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        # Mixes the heads' outputs back into the residual stream: C -> C.
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False, cache: LayerCache | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, C) -> (B, T, C); with ``return_attention`` also the (B, H, T, T)
        weights (before attention dropout, so every row sums to 1). With a ``cache``,
        ``x`` holds the positions after the cached ones, which it then holds too."""
        # 1. Queries, keys and values for every position: three (B, T, C) tensors.
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # 2. Split C into H heads of D = C / H and move heads next to the batch.
        q, k, v = (split_heads(t, self.n_head) for t in (q, k, v))  # (B, H, T, D) each
        if cache is not None:  # keys and values of the earlier positions come first
            k, v = cache.extend(k, v)  # (B, H, S, D) each, S = T_seen + T
        # 3. Attention softmax(Q Kᵀ / √D) V with the causal mask, for each head: the T
        #    queries are the last T of the S positions, each sees the keys up to its own.
        p = self.dropout if self.training else 0.0
        out = attend(q, k, v, causal=True, dropout_p=p, return_weights=return_attention)
        y, att = out if return_attention else (out, None)  # (B, H, T, D), (B, H, T, T)
        # 4. Put the heads side by side again and project back into the residual stream.
        y = self.resid_dropout(self.c_proj(merge_heads(y)))  # (B, T, C)
        return (y, att) if return_attention else y


class MLP(nn.Module):
    """The position-wise feed-forward network: C -> 4C -> GELU -> C."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU is the tanh approximation
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, 4C) -> (B, T, C)."""
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer layer, pre-LayerNorm: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False, cache: LayerCache | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(B, T, C) -> (B, T, C); with ``return_attention`` also the (B, H, T, T) weights;
        ``cache``: this layer's keys and values (see :class:`CausalSelfAttention`)."""
        if return_attention:
            out, att = self.attn(self.ln_1(x), return_attention=True)
            x = x + out  # positions exchange information...
            return x + self.mlp(self.ln_2(x)), att  # ...then each one is processed alone
        x = x + self.attn(self.ln_1(x), cache=cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2: token + position embeddings, ``n_layer`` blocks, LayerNorm, output head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise ValueError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),  # token id -> vector
                wpe=nn.Embedding(config.block_size, config.n_embd),  # position -> vector
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            # One matrix both reads tokens in and scores them out (saves V·C parameters).
            self.lm_head.weight = self.transformer.wte.weight
        init_gpt2_weights(self, config.n_layer)  # N(0, 0.02); c_proj scaled by depth

    def num_parameters(self, count_position_embeddings: bool = True) -> int:
        """Parameters counted once each (a tied head is not counted twice).

        Args:
            count_position_embeddings: include wpe (nanoGPT's ``get_num_params`` leaves
                it out by default; here it is counted by default).

        Returns:
            The count, equal to :func:`gpt_param_count` of the config.
        """
        n = sum(p.numel() for p in self.parameters())
        return n if count_position_embeddings else n - self.transformer.wpe.weight.numel()

    def forward(
        self, idx: torch.Tensor, return_attention: bool = False, cache: KVCache | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Next-token logits for every position.

        Args:
            idx: token ids, an integer tensor (B, T) with T <= block_size.
            return_attention: also return every layer's attention weights (slower: the
                (T, T) weights are computed explicitly instead of by the fused kernel).
                Not with a ``cache``.
            cache: a :class:`~llmwidgets.nn.kv_cache.KVCache` holding the keys and values
                of the ``cache.length`` positions before ``idx`` (empty at first): ``idx``
                is embedded at positions ``cache.length .. cache.length + T - 1`` (at most
                ``block_size`` in all), attends to the cached positions and to itself, and
                is added to the cache. ``None``: ``idx`` starts at position 0.

        Returns:
            logits (B, T, vocab_size), where position t scores the token at t + 1; with
            ``return_attention``, ``(logits, attentions)``, a list of n_layer (B, H, T, T).
            With a cache, the logits are those the full sequence would give at its last
            T positions.

        Raises:
            ValueError: for bad ids, T > block_size, a cache with ``return_attention``,
                or a cache that cannot take ``idx`` (see :meth:`KVCache.check`).
        """
        # Bad ids fail here, named, not deep inside nn.Embedding (or fatally on a GPU).
        idx = check_token_ids(idx, self.config.vocab_size, block_size=self.config.block_size)
        past = 0  # positions before idx
        if cache is not None:
            if not isinstance(cache, KVCache):
                raise ValueError(f"cache must be a KVCache or None, got {type(cache).__name__}")
            if return_attention:
                raise ValueError("return_attention=True works without a cache: pass cache=None")
            past = cache.check(idx, self.config)
        T = idx.shape[1]
        pos = torch.arange(past, past + T, device=idx.device)  # (T,): past, ..., past + T - 1
        # What each token is, plus where it is: (B, T, C) + (T, C) -> (B, T, C).
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        attentions = []
        for i, block in enumerate(self.transformer.h):
            if return_attention:
                x, att = block(x, return_attention=True)
                attentions.append(att)
            else:
                x = block(x, cache=None if cache is None else cache.layers[i])
        if cache is not None:
            cache.length += T  # every layer now holds past + T positions
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, C) -> (B, T, vocab_size)
        return (logits, attentions) if return_attention else logits

    def configure_optimizers(
        self,
        weight_decay: float = 0.1,
        lr: float = 6e-4,
        betas: tuple[float, float] = (0.9, 0.95),
    ) -> torch.optim.AdamW:
        """AdamW with weight decay on the matrices only (GPT-2 / nanoGPT practice).

        Every parameter with 2 or more dimensions - the Linear weights and both
        embeddings (the tied head is the same tensor as wte) - is decayed; biases and
        LayerNorm gains/shifts (1-D) are not: shrinking them towards 0 does not
        regularise anything. The defaults are GPT-3's (lr for a 124M model). On CUDA
        the fused AdamW kernel is used.
        """
        return adamw(self, lr, weight_decay, betas)

    @classmethod
    def from_gpt2_state_dict(
        cls, state_dict: Mapping[str, torch.Tensor], config: GPTConfig | None = None
    ) -> GPT:
        """A GPT holding Hugging Face GPT-2 weights (``GPT2LMHeadModel.state_dict()``).

        Keys may carry the ``transformer.`` prefix or not (``GPT2Model``). Conv1D weights
        are transposed; the ``attn.bias`` / ``attn.masked_bias`` mask buffers are skipped.
        What is checked, and the limit on the number of heads: :mod:`~llmwidgets.nn.gpt2_weights`.

        Args:
            state_dict: the Hugging Face state dict.
            config: the sizes; ``None`` reads them from the shapes and matches a preset
                (dropout 0.0, for inference; ``tie_weights=False`` when the state dict's
                ``lm_head.weight`` differs from its ``wte``).

        Returns:
            The model, in training mode like any new module.

        Raises:
            ValueError: for a non-mapping, missing or unexpected keys, shapes that do not
                match, an untied head with ``config.tie_weights=True``, or an ``n_head``
                that contradicts a GPT-2 checkpoint of the same sizes.
        """
        sd = gpt2_weights.normalize_keys(state_dict)
        model = cls(gpt2_weights.resolve_config(sd, config))
        gpt2_weights.copy_weights(model, sd)
        return model
