"""Checks of notebook 08b (images as tokens): a ViT's parameter count, patches put back
together, the patch embedding as a convolution, and the position embeddings that make the
order of the patches matter.

The references are the library's :class:`~llmwidgets.nn.vit.ViT` and
:func:`~llmwidgets.nn.vit.patchify`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    call,
    exercise,
    expect_close,
    fixed_seed,
    one_number,
)
from llmwidgets.nn.vit import ViT, ViTConfig, patchify

__all__ = [
    "check_conv_patch_embedding",
    "check_permuted_positions",
    "check_unpatchify",
    "check_vit_param_count",
]


@exercise("exercise 1 (a ViT's parameters)")
def check_vit_param_count(my_vit_param_count: Callable[..., Any]) -> str:
    """Check ``my_vit_param_count(image_size, patch_size, channels, n_classes, n_layer,
    n_embd)``: the parameters of :class:`~llmwidgets.nn.vit.ViT` (biases on)."""
    cases = [(8, 2, 1, 10, 2, 64), (8, 4, 1, 10, 1, 32), (32, 4, 3, 100, 4, 96),
             (224, 16, 3, 1000, 12, 768)]  # fmt: skip
    for size, p, c, k, L, C in cases:
        what = (f"image_size={size}, patch_size={p}, channels={c}, n_classes={k}, "
                f"n_layer={L}, n_embd={C}")  # fmt: skip
        got = one_number(call(my_vit_param_count, size, p, c, k, L, C), what)
        config = ViTConfig(image_size=size, patch_size=p, channels=c, n_classes=k, n_layer=L,
                           n_head=1, n_embd=C)  # fmt: skip
        with torch.device("meta"):  # sizes only: no memory, no random numbers
            expected = ViT(config).num_parameters()
        P = config.n_patches
        wrong = [
            (torch.tensor(expected - C), "the [CLS] token has a learned vector of its own and a "
             "position of its own"),
            (torch.tensor(expected - 2 * C), "the [CLS] token has a learned vector and a "
             "position embedding too"),
            (torch.tensor(expected - (P + 1) * C), "the position embeddings are learned "
             "parameters, one vector per token"),
            (torch.tensor(expected - L * 13 * C - 2 * C - k - C), "count the biases and "
             "the LayerNorms' weights and biases too"),
        ]  # fmt: skip
        expect_close(got, torch.tensor(float(expected)), what, wrong, atol=0.5)
    return f"{len(cases)} ViTs, from the digits' to ViT-Base at 224 x 224 pixels"


def _images(seed: int, b: int, c: int, h: int, w: int) -> torch.Tensor:
    return torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(seed))


@exercise("exercise 2 (patches back into images)")
def check_unpatchify(my_unpatchify: Callable[..., Any]) -> str:
    """Check ``my_unpatchify(patches, patch_size, channels, height, width)``: the inverse
    of :func:`~llmwidgets.nn.vit.patchify`, ``(B, P, c·p·p)`` -> ``(B, c, H, W)``."""
    cases = [(0, 2, 1, 8, 8, 2), (1, 3, 3, 12, 8, 4), (2, 1, 2, 6, 4, 1), (3, 2, 1, 4, 4, 4)]
    for seed, b, c, h, w, p in cases:
        x = _images(seed, b, c, h, w)
        what = f"images (B, c, H, W) = {(b, c, h, w)}, patch_size={p}"
        got = as_tensor(call(my_unpatchify, patchify(x, p), p, c, h, w), f"the result for {what}")
        if tuple(got.shape) != (b, c, h, w):
            raise Hint(f"for {what} return shape {(b, c, h, w)}, got {tuple(got.shape)}")
        wrong = []
        if h == w:
            wrong.append((x.transpose(2, 3), "each image comes out transposed: patch i is row "
                          "i // (W/p) and column i % (W/p) of the grid, and a patch's pixels "
                          "are listed row by row"))  # fmt: skip
        expect_close(got, x, what, wrong, atol=0.0,
                     next_step="undo patchify's steps in reverse order: reshape the vectors "
                     "to (B, H/p, W/p, c, p, p), then permute and reshape")  # fmt: skip
    return f"{len(cases)} batches: grey and colour, square and not, patch sizes 1 to the image"


@exercise("exercise 3 (the patch embedding as a convolution)")
def check_conv_patch_embedding(my_conv_patch_embedding: Callable[..., Any]) -> str:
    """Check ``my_conv_patch_embedding(linear, patch_size, channels)``: an ``nn.Conv2d``
    whose output ``(B, C, H/p, W/p)``, flattened to ``(B, P, C)`` row by row, equals
    ``linear(patchify(images, patch_size))``."""
    cases = [(0, 1, 2, 8, 16), (1, 3, 4, 8, 12), (2, 2, 3, 6, 5)]
    for seed, c, p, size, C in cases:
        with fixed_seed(seed):
            linear = nn.Linear(c * p * p, C)
        x = _images(seed, 2, c, size, size)
        what = f"channels={c}, patch_size={p}, a Linear({c * p * p}, {C})"
        with fixed_seed(seed):  # a new Conv2d draws its initial weights
            conv = call(my_conv_patch_embedding, copy.deepcopy(linear), p, c)
        if not isinstance(conv, nn.Conv2d):
            raise Hint(f"return an nn.Conv2d, got {type(conv).__name__}")
        with torch.no_grad():
            expected = linear(patchify(x, p))  # (B, P, C)
            out = conv(x)
        g = size // p
        if tuple(out.shape) != (2, C, g, g):
            raise Hint(f"for {what} the convolution gives {tuple(out.shape)}, not "
                       f"{(2, C, g, g)}: one output per patch needs kernel_size = stride = "
                       "patch_size")  # fmt: skip
        got = out.flatten(2).transpose(1, 2)
        with torch.no_grad():
            no_bias = expected - linear.bias
        wrong = [(no_bias, "copy the Linear layer's bias into the convolution's bias")]
        expect_close(got, expected, what, wrong, atol=1e-5,
                     next_step="the Linear weight (C, c·p·p) lists each patch channel by "
                     "channel, then rows of p pixels: reshape it to the convolution's "
                     "(C, c, p, p)")  # fmt: skip
    return f"{len(cases)} embeddings, grey and colour"


def _shuffled(images: torch.Tensor, p: int, perm: torch.Tensor) -> torch.Tensor:
    """The images with patch j replaced by patch perm[j] (patchify, permute, put back)."""
    b, c, h, w = images.shape
    patches = patchify(images, p)[:, perm]  # (B, P, c·p·p)
    grid = patches.reshape(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(b, c, h, w)


def _with_positions(model: ViT, rows: torch.Tensor) -> ViT:
    """A copy of ``model`` whose position embedding row i is the original's row rows[i]."""
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.wpe.weight.copy_(model.wpe.weight[rows])
    return twin


@exercise("exercise 4 (position embeddings carry the order)")
def check_permuted_positions(my_permuted_vit: Callable[[ViT, torch.Tensor], Any]) -> str:
    """Check ``my_permuted_vit(model, perm)``: a new ViT that gives on images whose patch j
    was replaced by patch ``perm[j]`` the logits ``model`` gives on the original images.

    The original model must not change. ``perm`` is a permutation of ``0 .. P-1`` (the
    patches; the [CLS] token is not a patch).
    """
    cases = [(0, ViTConfig(n_layer=2, n_head=2, n_embd=16)),
             (1, ViTConfig(image_size=6, patch_size=3, channels=2, n_classes=3, n_layer=1,
                           n_head=1, n_embd=8))]  # fmt: skip
    for seed, config in cases:
        with fixed_seed(seed):
            model = ViT(config).eval()
            with torch.no_grad():  # weights large enough that every input matters
                for weight in model.parameters():
                    weight.normal_(0.0, 0.5)
            perm = torch.randperm(config.n_patches)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        x = _images(seed, 3, config.channels, config.image_size, config.image_size)
        what = f"a ViT with {config.n_patches} patches, perm={perm.tolist()}"
        new = call(my_permuted_vit, model, perm.clone())
        if any(not torch.equal(before[k], v) for k, v in model.state_dict().items()):
            raise Hint("the original model changed: change a copy (copy.deepcopy(model))")
        if not isinstance(new, ViT):
            raise Hint(f"return a ViT (a changed copy of the model), got {type(new).__name__}")
        shuffled = _shuffled(x, config.patch_size, perm)
        cls = torch.zeros(1, dtype=torch.long)
        backwards = torch.cat([cls, 1 + torch.argsort(perm)])  # the inverse permutation
        cls_moved = torch.cat([perm, torch.tensor([config.n_patches])])  # rows 0..P-1 permuted
        with torch.no_grad():
            expected, got = model(x), new.eval()(shuffled)
            wrong = [
                (_with_positions(model, backwards)(shuffled), "the permutation goes the other "
                 "way: the shuffled image's patch j is the original's patch perm[j]"),
                (_with_positions(model, cls_moved)(shuffled), "row 0 is the [CLS] token's "
                 "position, which is not a patch: rearrange rows 1..P only"),
            ]  # fmt: skip
        expect_close(got, expected, what, wrong, atol=1e-4,
                     next_step="only the position embeddings know where a patch was; "
                     "rearrange their rows for the patches")  # fmt: skip
    return f"{len(cases)} ViTs: with the positions moved along, the order does not matter"
