"""A tiny Vision Transformer: an image as a sequence of patch tokens (Dosovitskiy et al., 2021).

The book's Transformer blocks do not care what their tokens are. Here a token is a patch of
pixels: an ``8 x 8`` digit cut into ``2 x 2`` patches is a sequence of 16 tokens, each a
vector of 4 pixel values. The model:

1. :func:`patchify` - ``(B, c, H, W)`` images -> ``(B, P, c·p·p)`` patch vectors, row by row;
2. a Linear layer embeds each patch (the "token embedding" of an image), a learned ``[CLS]``
   vector is put first, and position embeddings are added, as in the GPT;
3. ``n_layer`` :class:`~llmwidgets.nn.encoder.EncoderBlock` s - GPT's block with
   bidirectional attention: every patch sees every other one;
4. LayerNorm, and a Linear head reads the class from the ``[CLS]`` position.

``forward(images, return_attention=True)`` returns ``(logits, attentions)`` with one
``(B, H, P + 1, P + 1)`` tensor per layer (position 0 is ``[CLS]``), the convention of
:func:`llmwidgets.capture_attention`, so the attention viewer shows which patches each patch
looks at.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from llmwidgets.core.validate import check_int
from llmwidgets.nn.encoder import EncoderBlock
from llmwidgets.nn.gpt import GPTConfig, init_gpt2_weights

__all__ = ["ViT", "ViTConfig", "patchify"]


@dataclass(frozen=True)
class ViTConfig:
    """The sizes of a :class:`ViT`; the defaults fit scikit-learn's 8 x 8 digits. Frozen."""

    image_size: int = 8  # images are image_size x image_size pixels
    patch_size: int = 2  # square patches of patch_size pixels a side; divides image_size
    channels: int = 1  # colour channels (1: grey)
    n_classes: int = 10  # classes the head scores (the digits 0..9)
    n_layer: int = 2  # encoder blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 64  # width C of every token (patch) vector
    dropout: float = 0.0  # as in GPTConfig
    bias: bool = True  # biases in Linear and LayerNorm layers

    def __post_init__(self) -> None:
        for name in ("image_size", "patch_size", "channels", "n_classes"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1))
        if self.image_size % self.patch_size:
            raise ValueError(
                f"patch_size={self.patch_size} does not divide image_size={self.image_size}: "
                "the patches must tile the image"
            )
        self.gpt()  # checks the block sizes, with GPTConfig's messages

    @property
    def n_patches(self) -> int:
        """P = (image_size / patch_size)², the number of patch tokens."""
        return (self.image_size // self.patch_size) ** 2

    def gpt(self) -> GPTConfig:
        """The blocks' sizes as a :class:`~llmwidgets.GPTConfig` (context: P + 1 tokens)."""
        return GPTConfig(vocab_size=self.n_classes, block_size=self.n_patches + 1,
                         n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd,
                         dropout=self.dropout, bias=self.bias)  # fmt: skip


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Cut images into square patches, row by row, each flattened to a vector.

    Args:
        images: ``(B, c, H, W)`` floating tensor.
        patch_size: p, which divides H and W.

    Returns:
        ``(B, (H/p)·(W/p), c·p·p)``: patch ``i`` is row ``i // (W/p)``, column
        ``i % (W/p)`` of the grid; its vector lists channel by channel, pixel rows of p.
    """
    p = check_int("patch_size", patch_size, 1)
    if not isinstance(images, Tensor) or images.dim() != 4:
        got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor (B, c, H, W), got {got}")
    B, c, H, W = images.shape
    if H % p or W % p:
        raise ValueError(f"patch_size={p} does not divide the image size {H} x {W}")
    grid = images.unfold(2, p, p).unfold(3, p, p)  # (B, c, H/p, W/p, p, p)
    return grid.permute(0, 2, 3, 1, 4, 5).reshape(B, (H // p) * (W // p), c * p * p)


class ViT(nn.Module):
    """Patch embeddings, a ``[CLS]`` token, ``n_layer`` encoder blocks and a class head."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        if not isinstance(config, ViTConfig):
            raise ValueError(f"config must be a ViTConfig, got {type(config).__name__}")
        self.config = config
        g = config.gpt()
        patch_dim = config.channels * config.patch_size**2
        self.patch_embed = nn.Linear(patch_dim, g.n_embd)  # pixels of a patch -> vector
        self.cls = nn.Parameter(torch.zeros(1, 1, g.n_embd))  # the [CLS] token's vector
        self.wpe = nn.Embedding(g.block_size, g.n_embd)  # position -> vector ([CLS] is 0)
        self.drop = nn.Dropout(g.dropout)
        self.blocks = nn.ModuleList([EncoderBlock(g) for _ in range(g.n_layer)])
        self.ln_f = nn.LayerNorm(g.n_embd, bias=g.bias)
        self.head = nn.Linear(g.n_embd, config.n_classes)
        init_gpt2_weights(self, g.n_layer)  # GPT-2's N(0, 0.02), scaled c_proj
        nn.init.normal_(self.cls, mean=0.0, std=0.02)

    def _check_images(self, images: Tensor) -> Tensor:
        """``(B, H, W)`` or ``(B, c, H, W)`` floating images of the config's size."""
        cfg = self.config
        want = (cfg.channels, cfg.image_size, cfg.image_size)
        if not isinstance(images, Tensor) or not images.is_floating_point():
            got = images.dtype if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a floating tensor (B, c, H, W), got {got}")
        if images.dim() == 3 and cfg.channels == 1:
            images = images[:, None]  # (B, H, W) -> (B, 1, H, W)
        if images.dim() != 4 or tuple(images.shape[1:]) != want or images.shape[0] == 0:
            raise ValueError(
                f"images must have shape (B, {', '.join(map(str, want))}) with B >= 1"
                f"{' (or (B, H, W))' if cfg.channels == 1 else ''}, got {tuple(images.shape)}"
            )
        return images

    def num_parameters(self) -> int:
        """The number of parameters."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, images: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Class scores for each image.

        Args:
            images: ``(B, c, H, W)`` (or ``(B, H, W)`` for one channel), pixel values
                scaled to about [0, 1].
            return_attention: also return every layer's attention weights.

        Returns:
            logits ``(B, n_classes)``; with ``return_attention``, ``(logits, attentions)``
            with ``attentions`` a list of ``n_layer`` tensors ``(B, H, P + 1, P + 1)``.
        """
        images = self._check_images(images)
        patches = patchify(images, self.config.patch_size)  # (B, P, c·p·p)
        tokens = self.patch_embed(patches)  # (B, P, C)
        cls = self.cls.expand(tokens.shape[0], -1, -1)  # (B, 1, C)
        x = torch.cat([cls, tokens], dim=1)  # (B, P + 1, C)
        x = self.drop(x + self.wpe(torch.arange(x.shape[1], device=x.device)))
        attentions = []
        for block in self.blocks:
            if return_attention:
                x, att = block(x, return_attention=True)
                attentions.append(att)
            else:
                x = block(x)
        logits = self.head(self.ln_f(x[:, 0]))  # the [CLS] position: (B, n_classes)
        return (logits, attentions) if return_attention else logits
