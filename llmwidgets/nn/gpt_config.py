"""The sizes of a GPT: :class:`GPTConfig`, the named :data:`PRESETS`, and the parameter count.

A ``GPTConfig`` is frozen: the model reads its sizes once, when it builds its layers, so a
config changed afterwards would describe a different model than the one that runs.
``dataclasses.replace(config, n_head=8)`` makes a changed copy instead.

:func:`gpt_param_count` gives ``GPT(config).num_parameters()`` by formula, without
building the model (GPT-2 small: 124,439,808).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from llmwidgets.core.validate import check_bool, check_int, check_real, check_str

__all__ = ["PRESETS", "GPTConfig", "gpt_param_count"]

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
    # The book's CPU recipe (benchmarks/cpu_recipe.py, chapter 3e): ~0.46M parameters,
    # context 64, trained for 3 minutes on 2 CPU cores to a validation loss near 1.6-1.7.
    "shakespeare-char-cpu": dict(
        vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=96, dropout=0.0
    ),
}


@dataclass(frozen=True)
class GPTConfig:
    """The sizes of a GPT. The defaults are GPT-2 small (124M parameters).

    Frozen: build a changed copy with ``dataclasses.replace(config, field=value)``.
    """

    vocab_size: int = 50257  # GPT-2's BPE: 50,000 merges + 256 bytes + <|endoftext|>
    block_size: int = 1024  # context: the most tokens the model sees at once
    n_layer: int = 12  # number of transformer blocks
    n_head: int = 12  # attention heads per block
    n_embd: int = 768  # width C of the residual stream; each head gets C / n_head
    dropout: float = 0.0  # after embeddings, attention weights and each residual branch
    bias: bool = True  # biases in Linear and LayerNorm layers, as in GPT-2
    tie_weights: bool = True  # lm_head shares its weight with the token embedding wte

    def __post_init__(self) -> None:
        # Checked and normalised (a NumPy integer becomes an int); frozen, hence __setattr__.
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1))
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: "
                "each head gets n_embd / n_head dimensions"
            )
        dropout = check_real("dropout", self.dropout, 0, 1, max_open=True)
        object.__setattr__(self, "dropout", dropout)
        check_bool("bias", self.bias)
        check_bool("tie_weights", self.tie_weights)

    @property
    def head_dim(self) -> int:
        """D = n_embd / n_head, the width of one head."""
        return self.n_embd // self.n_head

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GPTConfig:
        """A named configuration from :data:`PRESETS`, with some fields changed.

        Args:
            name: a key of :data:`PRESETS`, e.g. ``"gpt2"`` or ``"char-tiny"``.
            **overrides: fields to change, e.g. ``dropout=0.0``.

        Returns:
            The checked config.
        """
        check_str("name", name)
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

    Args:
        config: the model's sizes.
        count_position_embeddings: include wpe's T·C (nanoGPT's ``get_num_params``
            leaves them out by default; here they are counted by default).

    Returns:
        The number of parameters, each tensor counted once.
    """
    if not isinstance(config, GPTConfig):
        raise ValueError(f"config must be a GPTConfig, got {type(config).__name__}")
    check_bool("count_position_embeddings", count_position_embeddings)
    c, n_layer, vocab = config.n_embd, config.n_layer, config.vocab_size
    per_block = 12 * c * c + (13 * c if config.bias else 2 * c)
    total = n_layer * per_block + vocab * c + (2 * c if config.bias else c)
    if count_position_embeddings:
        total += config.block_size * c
    if not config.tie_weights:
        total += vocab * c
    return total
