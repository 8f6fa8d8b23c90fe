"""llmwidgets.nn.encoder and llmwidgets.nn.vit: bidirectional blocks and images as patch tokens."""

from __future__ import annotations

import pytest
import torch

import llmwidgets as lw
from llmwidgets.nn.encoder import EncoderBlock, MultiHeadAttention
from llmwidgets.nn.gpt import Block, GPTConfig
from llmwidgets.nn.vit import ViT, ViTConfig, patchify
from llmwidgets.seq2seq import transformer

CFG = GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=8)


def test_the_seq2seq_transformer_uses_the_moved_classes():
    assert transformer.EncoderBlock is EncoderBlock
    assert transformer.MultiHeadAttention is MultiHeadAttention
    assert issubclass(EncoderBlock, Block)


def test_encoder_block_without_mask_equals_an_all_true_mask_and_sees_the_future():
    torch.manual_seed(0)
    block = EncoderBlock(CFG).eval()
    x = torch.randn(2, 4, 8)
    out, att = block(x, return_attention=True)
    torch.testing.assert_close(out, block(x, torch.ones(2, 4, dtype=torch.bool)))
    torch.testing.assert_close(out, block(x))
    assert att.shape == (2, 2, 4, 4)
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 2, 4))
    assert (att[:, :, 0, 1:] > 0).all()  # the first position sees the later ones: not causal
    changed = x.clone()
    changed[:, -1] = torch.randn(2, 8)  # (a constant shift would vanish in LayerNorm)
    assert not torch.allclose(block(changed)[:, 0], out[:, 0])


def test_patchify_cuts_row_by_row_by_hand():
    image = torch.arange(16.0).view(1, 1, 4, 4)
    want = torch.tensor([[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15.0]])
    torch.testing.assert_close(patchify(image, 2), want[None])
    two = torch.stack([image[0], image[0] + 100], dim=1)  # (1, 2, 4, 4): channel by channel
    torch.testing.assert_close(
        patchify(two, 2)[0, 0], torch.tensor([0, 1, 4, 5, 100, 101, 104, 105.0])
    )
    torch.testing.assert_close(patchify(image, 4), image.view(1, 1, 16))


def test_vit_logits_attention_and_capture():
    torch.manual_seed(0)
    model = ViT(ViTConfig(n_layer=2, n_head=2, n_embd=16)).eval()
    images = torch.rand(3, 8, 8)
    logits, attentions = model(images, return_attention=True)
    assert logits.shape == (3, 10) and len(attentions) == 2
    assert attentions[0].shape == (3, 2, 17, 17)  # [CLS] + 16 patches
    torch.testing.assert_close(model(images), logits)
    torch.testing.assert_close(model(images[:, None]), logits)  # (B, 1, H, W) as well
    torch.testing.assert_close(model(images[:1]), logits[:1])  # images do not mix in a batch
    captured = lw.capture_attention(model, images, batch_index=1)
    torch.testing.assert_close(captured, torch.stack(attentions)[:, 1])
    moved = images.clone()
    moved[0, 0, 0] = 1.0 - moved[0, 0, 0]  # one pixel changes the prediction's scores
    assert not torch.allclose(model(moved)[0], logits[0])


def test_vit_sizes_and_bad_images():
    assert ViTConfig().n_patches == 16 and ViTConfig(patch_size=4).n_patches == 4
    with pytest.raises(ValueError, match="patch_size=3 does not divide image_size=8"):
        ViTConfig(patch_size=3)
    model = ViT(ViTConfig(n_embd=16, n_head=2))
    with pytest.raises(ValueError, match=r"images must have shape \(B, 1, 8, 8\)"):
        model(torch.rand(2, 7, 7))
    with pytest.raises(ValueError, match="must be a floating tensor"):
        model(torch.ones(2, 8, 8, dtype=torch.long))
