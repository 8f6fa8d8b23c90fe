"""LoRA, written from scratch: low-rank updates of frozen linear layers (Hu et al. 2021).

Fine-tuning changes a weight matrix ``W`` (out x in) by some ``ΔW``. LoRA bets that the
change a task needs has low rank and learns it as a product ``ΔW = B A`` with ``A``
(r x in) and ``B`` (out x r), r small, while ``W`` stays frozen::

    y = x Wᵀ + b + (α / r) · dropout(x) Aᵀ Bᵀ

``A`` starts random (Kaiming-uniform, as ``nn.Linear`` initialises its weight) and ``B``
at zero, so at initialisation the model computes exactly what it did before. The scale
``α / r`` keeps the update's size comparable when r changes. After training, ``B A`` can
be **merged** into ``W`` (no extra cost at inference) and **unmerged** again.

These are the conventions of Hugging Face PEFT's ``LoraConfig(r, lora_alpha,
target_modules, lora_dropout)``; a unit test builds PEFT's LoRA on the same GPT and checks
the same trainable parameter count and the same outputs, at initialisation and after
copying our ``A`` and ``B`` into it.

* :class:`LoRALinear` - one wrapped ``nn.Linear``;
* :func:`add_lora` - wrap every ``nn.Linear`` whose name ends with a target (GPT-2's are
  ``c_attn``, ``c_proj``, ``c_fc``) and freeze everything else (except ``trainable``);
* :func:`merge_lora` / :func:`unmerge_lora`, :func:`trainable_parameters`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from llmwidgets.core.validate import check_int, check_real

__all__ = ["GPT2_TARGETS", "LoRALinear", "add_lora", "lora_layers", "merge_lora",
           "trainable_parameters", "unmerge_lora"]  # fmt: skip

#: The linear layers of a GPT-2 block: attention in/out, MLP in/out.
GPT2_TARGETS = ("c_attn", "c_proj", "c_fc")


class LoRALinear(nn.Module):
    """``base(x) + (alpha / r) · dropout(x) Aᵀ Bᵀ`` with ``base`` frozen.

    Args:
        base: the ``nn.Linear`` to adapt (kept as ``self.base``, its parameters frozen).
        r: the rank (>= 1).
        alpha: the scale numerator; the update is multiplied by ``alpha / r``.
        dropout: dropout on the LoRA path's input (0 = none).
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"base must be an nn.Linear, got {type(base).__name__}")
        self.base = base
        self.r = check_int("r", r, 1)
        self.alpha = check_real("alpha", alpha, 0, min_open=True)
        self.scaling = self.alpha / self.r
        self.dropout = nn.Dropout(check_real("dropout", dropout, 0, 1, max_open=True))
        w = base.weight
        self.lora_A = nn.Parameter(
            torch.empty(self.r, base.in_features, device=w.device, dtype=w.dtype)
        )
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, self.r, device=w.device, dtype=w.dtype)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # nn.Linear's own init
        for p in base.parameters():
            p.requires_grad_(False)
        self.merged = False

    def delta_weight(self) -> Tensor:
        """``(alpha / r) · B A``: what merging adds to ``base.weight`` (out x in)."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: Tensor) -> Tensor:
        """(..., in) -> (..., out)."""
        y = self.base(x)
        if self.merged:
            return y  # B A is already inside base.weight
        return y + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def merge(self) -> None:
        """Add ``B A`` into the frozen weight (inference without the extra matmuls)."""
        if not self.merged:
            with torch.no_grad():
                self.base.weight += self.delta_weight()
            self.merged = True

    def unmerge(self) -> None:
        """Take ``B A`` out of the weight again (to keep training the adapter)."""
        if self.merged:
            with torch.no_grad():
                self.base.weight -= self.delta_weight()
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, merged={self.merged}"


def add_lora(
    model: nn.Module,
    r: int = 8,
    alpha: float = 16.0,
    targets: Sequence[str] = GPT2_TARGETS,
    dropout: float = 0.0,
    trainable: Sequence[str] = (),
) -> list[str]:
    """Wrap the target linear layers of ``model`` in :class:`LoRALinear`, in place.

    Every parameter is frozen except the LoRA matrices and those whose name starts with
    one of ``trainable`` (e.g. ``("head",)`` for a classifier's new head).

    Args:
        model: any module (the book's GPT, a :class:`~llmwidgets.apps.classify.GPTClassifier`).
        r, alpha, dropout: as in :class:`LoRALinear`.
        targets: a linear layer is adapted when the last part of its name is one of these.
        trainable: name prefixes of parameters that stay trainable.

    Returns:
        The names of the wrapped layers.

    Raises:
        ValueError: when no ``nn.Linear`` matches ``targets``, or the model already has LoRA.
    """
    if isinstance(targets, str) or not targets:
        raise ValueError(f"targets must be a non-empty list of layer names, got {targets!r}")
    if lora_layers(model):
        raise ValueError("the model already has LoRA layers")
    chosen = [(name, m) for name, m in model.named_modules()
              if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in targets]  # fmt: skip
    if not chosen:
        raise ValueError(f"no nn.Linear of the model is named {list(targets)}")
    for p in model.parameters():
        p.requires_grad_(False)
    for name, linear in chosen:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, LoRALinear(linear, r, alpha, dropout))
    for name, p in model.named_parameters():
        if any(name.startswith(prefix) for prefix in trainable):
            p.requires_grad_(True)
    return [name for name, _ in chosen]


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    """Every :class:`LoRALinear` of the model."""
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def merge_lora(model: nn.Module) -> int:
    """Merge every LoRA layer; returns how many there are."""
    layers = lora_layers(model)
    for m in layers:
        m.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    """Unmerge every LoRA layer; returns how many there are."""
    layers = lora_layers(model)
    for m in layers:
        m.unmerge()
    return len(layers)


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts, each tensor counted once (tied ones too)."""
    seen: dict[int, nn.Parameter] = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    return sum(p.numel() for p in seen.values() if p.requires_grad), total
