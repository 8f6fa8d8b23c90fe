"""llmwidgets.analysis.interpret: logit lens, induction scores, head ablation, by hand."""

from __future__ import annotations

import pytest
import torch

from llmwidgets.analysis import interpret
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.training.losses import next_token_loss

CFG = GPTConfig(vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=8)


def model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(CFG).eval()


IDX = torch.randint(13, (3, 10), generator=torch.Generator().manual_seed(1))


def test_the_last_lens_reading_is_the_models_output_and_the_first_is_the_embedding():
    m = model()
    lens = interpret.logit_lens(m, IDX)
    assert lens.shape == (3, 3, 10, 13)
    torch.testing.assert_close(lens[-1], m(IDX))
    stream = interpret.residual_stream(m, IDX)
    embedded = m.transformer.wte(IDX) + m.transformer.wpe(torch.arange(10))
    torch.testing.assert_close(stream[0], embedded)
    torch.testing.assert_close(stream[1], m.transformer.h[0](embedded))
    assert m.training is False and not m.transformer.h[0]._forward_hooks  # hooks removed


def test_repeated_tokens_and_the_induction_score_of_uniform_attention():
    idx = interpret.repeated_tokens(13, 5, batch=4, seed=2)
    assert idx.shape == (4, 10) and torch.equal(idx[:, :5], idx[:, 5:])
    m = model()
    with torch.no_grad():  # queries 0: every head attends uniformly to positions 0..t
        for block in m.transformer.h:
            block.attn.c_attn.weight[:8] = 0
            block.attn.c_attn.bias[:8] = 0
    scores = interpret.induction_scores(m, length=5)
    # from position 5 + i to i + 1, i = 0..3: weight 1 / (6 + i)
    want = sum(1 / (6 + i) for i in range(4)) / 4
    torch.testing.assert_close(scores, torch.full((2, 2), want))


def test_ablating_a_head_equals_zeroing_its_columns_of_c_proj():
    m, twin = model(), model()
    with torch.no_grad():
        twin.transformer.h[1].attn.c_proj.weight[:, 4:8] = 0  # head 1 of layer 1 (D = 4)
    with interpret.ablate_heads(m, [(1, 1)]):
        torch.testing.assert_close(m(IDX), twin(IDX))
    assert not torch.allclose(m(IDX), twin(IDX))  # the hook is gone after the block


def test_head_ablation_effects_and_positions():
    m = model()
    targets = torch.roll(IDX, -1, dims=1)
    effects = interpret.head_ablation_effects(m, IDX, targets)
    base = next_token_loss(m(IDX), targets).item()
    with interpret.ablate_heads(m, [(0, 1)]):
        ablated = next_token_loss(m(IDX), targets).item()
    assert effects[0, 1].item() == pytest.approx(ablated - base, abs=1e-5)
    first = torch.zeros(3, 10, dtype=torch.bool)
    first[:, 0] = True  # position 0 attends only to itself: every head matters there too
    only_first = interpret.head_ablation_effects(m, IDX, targets, positions=first)
    losses = interpret.position_losses(m, IDX, targets)
    assert losses.shape == (3, 10)
    assert losses.mean().item() == pytest.approx(base, abs=1e-5)
    assert not torch.allclose(only_first, effects)


def test_head_attention_and_compare_heads_by_hand():
    m = model()
    _, atts = m(IDX, return_attention=True)
    got = interpret.head_attention(m, IDX, [(4, 3), (6, 0)])
    want = torch.stack(atts)[:, :, :, [4, 6], [3, 0]].mean(dim=(1, 3))
    torch.testing.assert_close(got, want)
    peak = interpret.head_attention(m, IDX, [(5, None)])
    torch.testing.assert_close(peak, torch.stack(atts)[:, :, :, 5].max(-1).values.mean(1))
    result = interpret.compare_heads(torch.tensor([[0.9, 0.1], [0.2, 0.3]]),
                                     torch.tensor([[0.1, 0.5], [0.2, 0.0]]))  # fmt: skip
    assert result["top_attention"] == (0, 0) and result["top_effect"] == (0, 1)
    assert result["same"] is False and result["effect_rank_of_top_attention"] == 2
    assert result["spearman"] == pytest.approx(-0.8)  # ranks [0,3,2,1] vs [2,0,1,3]
