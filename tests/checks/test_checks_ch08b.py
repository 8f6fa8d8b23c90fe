"""Notebook 08b's checks (images as tokens): right answers pass, typical slips get their hint."""

from __future__ import annotations

import copy

import pytest
import torch
from _helpers import assert_fails, contract_tests
from torch import nn

from llmwidgets import checks
from llmwidgets.nn.vit import ViT, ViTConfig, patchify

# ------------------------------------------------------------------ correct answers


def vit_params_ok(image_size, patch_size, channels, n_classes, n_layer, n_embd, *, cls=2,
                  positions=True, biases=True):  # fmt: skip
    """Each switch changed is a typical slip."""
    C, P = n_embd, (image_size // patch_size) ** 2
    per_block = 12 * C * C + (13 * C if biases else 0)
    total = channels * patch_size**2 * C + n_layer * per_block + C * n_classes
    if biases:
        total += C + 2 * C + n_classes  # patch bias, ln_f, head bias
    total += (P * C if positions else 0) + cls * C  # cls: its vector and its position
    return total


def unpatchify_ok(patches, patch_size, channels, height, width):
    p, b = patch_size, patches.shape[0]
    grid = patches.reshape(b, height // p, width // p, channels, p, p)
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(b, channels, height, width)


def conv_ok(linear, patch_size, channels, *, order=(0, 1, 2, 3), bias=True, stride=None):
    C = linear.out_features
    conv = nn.Conv2d(channels, C, patch_size, stride=stride or patch_size, bias=True)
    weight = linear.weight.reshape(C, patch_size, patch_size, channels) if order != (
        0, 1, 2, 3) else linear.weight.reshape(C, channels, patch_size, patch_size)  # fmt: skip
    if order != (0, 1, 2, 3):
        weight = weight.permute(*order)
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(linear.bias if bias else torch.zeros(C))
    return conv


def permuted_ok(model, perm, *, rows=None):
    new = copy.deepcopy(model)
    with torch.no_grad():
        if rows is None:
            new.wpe.weight[1:] = model.wpe.weight[1 + perm]
        else:
            new.wpe.weight.copy_(model.wpe.weight[rows(perm)])
    return new


CHECKS = {
    "vit_param_count": (checks.check_vit_param_count, vit_params_ok),
    "unpatchify": (checks.check_unpatchify, unpatchify_ok),
    "conv_patch_embedding": (checks.check_conv_patch_embedding, conv_ok),
    "permuted_positions": (checks.check_permuted_positions, permuted_ok),
}

TestContract = contract_tests(CHECKS)


def test_the_reference_count_is_the_models():
    config = ViTConfig(image_size=12, patch_size=4, channels=3, n_classes=7, n_layer=2,
                       n_head=2, n_embd=24)  # fmt: skip
    assert ViT(config).num_parameters() == vit_params_ok(12, 4, 3, 7, 2, 24)


def test_unpatchify_inverts_patchify():
    x = torch.randn(2, 3, 8, 12)
    assert torch.equal(unpatchify_ok(patchify(x, 4), 4, 3, 8, 12), x)


# ------------------------------------------------------------------ typical wrong answers


@pytest.mark.parametrize(
    "switch, hint",
    [
        ({"cls": 1}, "a position of its own"),
        ({"cls": 0}, "a learned vector and a position embedding too"),
        ({"positions": False, "cls": 1}, "the position embeddings are learned"),
        ({"biases": False}, "count the biases"),
    ],
    ids=["cls-position", "no-cls", "no-positions", "no-biases"],
)
def test_param_count_hints(switch, hint, capsys):
    assert_fails(checks.check_vit_param_count, lambda *a: vit_params_ok(*a, **switch), hint,
                 capsys)  # fmt: skip


def transposed(patches, patch_size, channels, height, width):
    return unpatchify_ok(patches, patch_size, channels, height, width).transpose(2, 3)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (transposed, "comes out transposed"),
        (lambda x, p, c, h, w: x.reshape(x.shape[0], c, h, w), "undo patchify's steps"),
        (lambda x, p, c, h, w: x, "return shape"),
    ],
    ids=["transposed", "plain-reshape", "shape"],
)
def test_unpatchify_hints(answer, hint, capsys):
    assert_fails(checks.check_unpatchify, answer, hint, capsys)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda lin, p, c: conv_ok(lin, p, c, bias=False), "copy the Linear layer's bias"),
        (lambda lin, p, c: conv_ok(lin, p, c, order=(0, 3, 1, 2)), "channel by channel"),
        (lambda lin, p, c: conv_ok(lin, p, c, stride=1), "kernel_size = stride"),
        (lambda lin, p, c: lin, "return an nn.Conv2d"),
    ],
    ids=["no-bias", "channels-last", "stride", "linear"],
)
def test_conv_hints(answer, hint, capsys):
    assert_fails(checks.check_conv_patch_embedding, answer, hint, capsys)


def in_place(model, perm):
    with torch.no_grad():
        model.wpe.weight[1:] = model.wpe.weight[1 + perm].clone()
    return model


def backwards(perm):
    return torch.cat([torch.zeros(1, dtype=torch.long), 1 + torch.argsort(perm)])


def cls_moved(perm):
    return torch.cat([perm, torch.tensor([len(perm)])])


@pytest.mark.parametrize(
    "answer, hint",
    [
        (in_place, "the original model changed"),
        (lambda m, perm: permuted_ok(m, perm, rows=backwards), "goes the other way"),
        (lambda m, perm: permuted_ok(m, perm, rows=cls_moved), "row 0 is the [CLS]"),
        (lambda m, perm: copy.deepcopy(m), "rearrange their rows"),
        (lambda m, perm: m.wpe, "return a ViT"),
    ],
    ids=["in-place", "inverse", "cls", "unchanged", "not-a-vit"],
)
def test_permuted_positions_hints(answer, hint, capsys):
    assert_fails(checks.check_permuted_positions, answer, hint, capsys)
