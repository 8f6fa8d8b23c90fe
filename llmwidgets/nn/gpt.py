"""The book's GPT: exactly GPT-2's architecture, written to be read top to bottom.

* :class:`GPTConfig` - the sizes, with named presets (``GPTConfig.preset("gpt2")``);
* :class:`CausalSelfAttention`, :class:`MLP`, :class:`Block` - one transformer layer;
* :class:`GPT` - embeddings, ``n_layer`` blocks, final LayerNorm and the tied output head;
* :func:`gpt_param_count` - the number of parameters, by formula.

Parameter names follow GPT-2's layout (``transformer.h.0.attn.c_attn.weight``, ...), so
:meth:`GPT.from_gpt2_state_dict` maps Hugging Face GPT-2 weights onto it one to one.
Shapes use B = batch, T = sequence length, C = ``n_embd``, H = ``n_head``, D = C / H.

``GPT.forward(idx)`` returns logits ``(B, T, vocab_size)``; ``forward(idx,
return_attention=True)`` returns ``(logits, attentions)`` with ``attentions`` a list of
``n_layer`` tensors ``(B, H, T, T)``, the convention of :func:`llmwidgets.capture_attention`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from llmwidgets.nn.optim import adamw

__all__ = ["PRESETS", "GPT", "GPTConfig", "gpt_param_count"]

_GPT2 = dict(vocab_size=50257, block_size=1024, bias=True, tie_weights=True, dropout=0.1)
#: Named sizes. The four GPT-2 models use GPT-2's own training dropout (0.1); the two
#: character-level models are for tests, quick mode and training on a laptop CPU.
PRESETS: dict[str, dict] = {
    "gpt2": dict(_GPT2, n_layer=12, n_head=12, n_embd=768),  # 124M parameters
    "gpt2-medium": dict(_GPT2, n_layer=24, n_head=16, n_embd=1024),  # 350M
    "gpt2-large": dict(_GPT2, n_layer=36, n_head=20, n_embd=1280),  # 774M
    "gpt2-xl": dict(_GPT2, n_layer=48, n_head=25, n_embd=1600),  # 1558M
    # 65 characters = tinyshakespeare's alphabet; ~30k parameters, a forward pass in ~1 ms.
    "char-tiny": dict(vocab_size=65, block_size=32, n_layer=2, n_head=2, n_embd=32, dropout=0.0),
    # ~0.8M parameters: a few thousand steps train in minutes on 2 CPU cores.
    "shakespeare-char-cpu": dict(
        vocab_size=65, block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0
    ),
}


@dataclass
class GPTConfig:
    """The sizes of a GPT. The defaults are GPT-2 small (124M parameters)."""

    vocab_size: int = 50257  # GPT-2's BPE: 50,000 merges + 256 bytes + <|endoftext|>
    block_size: int = 1024  # context: the most tokens the model sees at once
    n_layer: int = 12  # number of transformer blocks
    n_head: int = 12  # attention heads per block
    n_embd: int = 768  # width C of the residual stream; each head gets C / n_head
    dropout: float = 0.0  # after embeddings, attention weights and each residual branch
    bias: bool = True  # biases in Linear and LayerNorm layers, as in GPT-2
    tie_weights: bool = True  # lm_head shares its weight with the token embedding wte

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: "
                "each head gets n_embd / n_head dimensions"
            )
        ok = isinstance(self.dropout, (int, float)) and not isinstance(self.dropout, bool)
        if not (ok and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")

    @property
    def head_dim(self) -> int:
        """D = n_embd / n_head, the width of one head."""
        return self.n_embd // self.n_head

    @classmethod
    def preset(cls, name: str, **overrides: object) -> GPTConfig:
        """A named configuration from :data:`PRESETS`, with some fields changed.

        Example: ``GPTConfig.preset("gpt2", dropout=0.0)``.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; use one of {sorted(PRESETS)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown GPTConfig field(s) {unknown}; fields are {sorted(known)}")
        return cls(**{**PRESETS[name], **overrides})


def gpt_param_count(config: GPTConfig, count_position_embeddings: bool = True) -> int:
    """The number of parameters of ``GPT(config)``, by formula (C = n_embd, L = n_layer).

    Per block, with biases: ln_1 2C + c_attn 3C²+3C + attn.c_proj C²+C + ln_2 2C
    + c_fc 4C²+4C + mlp.c_proj 4C²+C = 12C² + 13C (without biases: 12C² + 2C, the
    LayerNorm weights). Around the blocks: wte V·C, wpe T·C, ln_f 2C (or C), and
    lm_head V·C only when it is not tied to wte.
    """
    c, n_layer, vocab = config.n_embd, config.n_layer, config.vocab_size
    per_block = 12 * c * c + (13 * c if config.bias else 2 * c)
    total = n_layer * per_block + vocab * c + (2 * c if config.bias else c)
    if count_position_embeddings:
        total += config.block_size * c
    if not config.tie_weights:
        total += vocab * c
    return total


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees only positions 0..t."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        # One Linear makes queries, keys and values for all heads at once: C -> 3C.
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        # Mixes the heads' outputs back into the residual stream: C -> C.
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, C) -> (B, T, C); with ``return_attention`` also the (B, H, T, T)
        weights (before attention dropout, so every row sums to 1)."""
        B, T, C = x.shape
        # 1. Queries, keys and values for every position: three (B, T, C) tensors.
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # 2. Split C into H heads of D = C / H and move heads next to the batch.
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
        # 3. Attention softmax(Q Kᵀ / √D) V with the causal mask, for each head.
        att = None
        if not return_attention:
            # The fused kernel never materialises the (T, T) weights: fast and lean.
            p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])  # (B, H, T, T)
            future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # (T, T)
            scores = scores.masked_fill(future, float("-inf"))  # no peeking ahead
            att = F.softmax(scores.float(), dim=-1)  # (B, H, T, T), float32 even in autocast
            y = self.attn_dropout(att).to(v.dtype) @ v  # (B, H, T, D)
        # 4. Put the heads side by side again and project back into the residual stream.
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, H, D) -> (B, T, C)
        y = self.resid_dropout(self.c_proj(y))  # (B, T, C)
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
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(B, T, C) -> (B, T, C); with ``return_attention`` also the (B, H, T, T) weights."""
        if return_attention:
            out, att = self.attn(self.ln_1(x), return_attention=True)
            x = x + out  # positions exchange information...
            return x + self.mlp(self.ln_2(x)), att  # ...then each one is processed alone
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


# Hugging Face stores these as Conv1D weights, (in, out): the transpose of nn.Linear's.
_CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
# Buffers of older transformers versions (the causal mask), not parameters. Note that
# "h.0.attn.c_attn.bias" does not end with ".attn.bias": the underscore differs.
_BUFFERS = (".attn.bias", ".attn.masked_bias")
# torch.compiler.is_compiling arrived in torch 2.3; the package supports torch >= 2.1.
_is_compiling = getattr(torch.compiler, "is_compiling", lambda: False)


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
        # GPT-2's initialisation: every weight ~ N(0, 0.02), biases 0, LayerNorm (1, 0)...
        self.apply(self._init_weights)
        # ...except the projections into the residual stream, scaled by 1/√(2·n_layer):
        # each block adds two of them, so the stream's variance stays ~flat with depth.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self, count_position_embeddings: bool = True) -> int:
        """Parameters counted once each (a tied head is not counted twice)."""
        n = sum(p.numel() for p in self.parameters())
        return n if count_position_embeddings else n - self.transformer.wpe.weight.numel()

    def _check_ids(self, idx: object) -> None:
        """Reject what nn.Embedding would fail on obscurely (or, on a GPU, fatally)."""
        if not isinstance(idx, torch.Tensor):
            raise ValueError(f"idx must be a torch.Tensor of token ids, got {type(idx).__name__}")
        if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
            raise ValueError(f"idx must hold integer token ids, got dtype {idx.dtype}")
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"idx must have shape (B, T) with T >= 1, got {tuple(idx.shape)}")
        T, V = idx.shape[1], self.config.vocab_size
        if T > self.config.block_size:
            raise ValueError(
                f"sequence length {T} exceeds the context size block_size={self.config.block_size}"
            )
        if _is_compiling():
            return  # a data-dependent branch would split the compiled graph
        lo, hi = torch.stack(idx.aminmax()).tolist()  # one device sync, not two
        if lo < 0 or hi >= V:
            b, t = ((idx < 0) | (idx >= V)).nonzero()[0].tolist()
            bad = int(idx[b, t])
            where = "is negative" if bad < 0 else f"is outside the vocabulary of size {V}"
            raise ValueError(f"token id {bad} at position ({b}, {t}) {where}")

    def forward(
        self, idx: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Next-token logits for every position.

        Args:
            idx: token ids, an integer tensor (B, T) with T <= block_size.
            return_attention: also return every layer's attention weights (slower: the
                (T, T) weights are computed explicitly instead of by the fused kernel).

        Returns:
            logits (B, T, vocab_size), where position t scores the token at t + 1; with
            ``return_attention``, ``(logits, attentions)``, a list of n_layer (B, H, T, T).
        """
        self._check_ids(idx)
        if idx.dtype not in (torch.int32, torch.int64):
            idx = idx.long()  # nn.Embedding takes only these two
        pos = torch.arange(idx.shape[1], device=idx.device)  # (T,): 0, 1, ..., T-1
        # What each token is, plus where it is: (B, T, C) + (T, C) -> (B, T, C).
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        attentions = []
        for block in self.transformer.h:
            if return_attention:
                x, att = block(x, return_attention=True)
                attentions.append(att)
            else:
                x = block(x)
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
        are stored (in, out) and are transposed; the ``attn.bias`` / ``attn.masked_bias``
        mask buffers are skipped. With ``config=None`` the sizes are read from the
        tensors' shapes and must match a GPT-2 preset (the number of heads cannot be
        read from shapes); dropout is then 0.0, for inference.

        Raises:
            ValueError: for missing or unexpected keys and shapes that do not match.
        """
        sd = {
            k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}": v
            for k, v in state_dict.items()
            if not k.endswith(_BUFFERS)
        }
        model = cls(config if config is not None else _config_from_state_dict(sd))
        ours = model.state_dict()
        if model.config.tie_weights or "lm_head.weight" not in sd:
            ours.pop("lm_head.weight")  # tied: it is wte; untied but absent: copied below
            sd.pop("lm_head.weight", None)
        missing, unexpected = sorted(set(ours) - set(sd)), sorted(set(sd) - set(ours))
        if missing or unexpected:
            raise ValueError(f"state_dict keys differ: missing {missing}, unexpected {unexpected}")
        with torch.no_grad():
            for key, target in ours.items():
                source = sd[key].t() if key.endswith(_CONV1D) else sd[key]
                if source.shape != target.shape:
                    raise ValueError(
                        f"{key}: state_dict has shape {tuple(source.shape)} (after transposing "
                        f"Conv1D weights) but the model expects {tuple(target.shape)}"
                    )
                target.copy_(source)
            if not model.config.tie_weights and "lm_head.weight" not in ours:
                model.lm_head.weight.copy_(model.transformer.wte.weight)
        return model


def _config_from_state_dict(sd: Mapping[str, torch.Tensor]) -> GPTConfig:
    """The GPT-2 preset whose sizes match the (prefixed) state dict's shapes."""
    vocab_size, n_embd = sd["transformer.wte.weight"].shape
    block_size = sd["transformer.wpe.weight"].shape[0]
    layers = {int(m.group(1)) for k in sd if (m := re.match(r"transformer\.h\.(\d+)\.", k))}
    sizes = dict(vocab_size=vocab_size, block_size=block_size, n_layer=len(layers), n_embd=n_embd)
    for name, preset in PRESETS.items():
        if all(preset[k] == v for k, v in sizes.items()):
            return GPTConfig.preset(name, dropout=0.0)
    raise ValueError(
        f"no preset has the state dict's sizes {sizes}; pass config=GPTConfig(...) "
        "with the number of heads"
    )
