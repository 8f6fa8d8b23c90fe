"""llmwidgets.nn.gpt: the book's GPT-2, checked on values (not only shapes)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from llmwidgets.nn import functional as lf
from llmwidgets.nn.capture import capture_attention
from llmwidgets.nn.generation import generate
from llmwidgets.nn.gpt import GPT, PRESETS, GPTConfig, gpt_param_count

SMALL = dict(vocab_size=50, block_size=16, n_layer=3, n_head=4, n_embd=32, dropout=0.0)


def small_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**SMALL, **overrides})).eval()


def random_ids(batch: int, length: int, vocab: int = 50, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ config


def test_config_defaults_are_gpt2_small():
    assert GPTConfig() == GPTConfig.preset("gpt2", dropout=0.0)
    assert GPTConfig().head_dim == 64


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_embd=100, n_head=12), "n_embd=100 is not divisible by n_head=12"),
        (dict(n_layer=0), "n_layer must be an int >= 1, got 0"),
        (dict(vocab_size=-5), "vocab_size must be an int >= 1, got -5"),
        (dict(block_size=2.5), r"block_size must be an int >= 1, got 2.5 \(float\)"),
        (dict(n_head=True), r"n_head must be an int >= 1, got True \(bool\)"),
        (dict(dropout=1.0), r"dropout must be a finite number in \[0, 1\), got 1.0"),
        (dict(dropout=-0.1), r"dropout must be a finite number in \[0, 1\), got -0.1"),
        (dict(dropout=float("nan")), r"dropout must be .* got nan"),
        (dict(bias="yes"), "bias must be True or False, got 'yes'"),
        (dict(tie_weights=1), "tie_weights must be True or False, got 1"),
    ],
)
def test_config_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**kwargs)


def test_config_is_frozen_and_normalises_numpy_ints():
    np = pytest.importorskip("numpy")
    config = GPTConfig(n_layer=np.int64(2), n_head=2, n_embd=8)
    assert config.n_layer == 2 and type(config.n_layer) is int
    # A config changed after the model was built gave an obscure reshape error; now
    # a config cannot change, and replace() builds a checked copy.
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_head = 3
    assert dataclasses.replace(config, n_head=4).n_head == 4
    with pytest.raises(ValueError, match="n_embd=8 is not divisible by n_head=3"):
        dataclasses.replace(config, n_head=3)


def test_presets():
    gpt2 = GPTConfig.preset("gpt2")
    assert (gpt2.n_layer, gpt2.n_head, gpt2.n_embd, gpt2.vocab_size, gpt2.block_size) == (
        12,
        12,
        768,
        50257,
        1024,
    )
    assert gpt2.bias and gpt2.tie_weights
    assert GPTConfig.preset("gpt2-xl").n_embd == 1600
    assert GPTConfig.preset("char-tiny", block_size=8).block_size == 8
    for name in PRESETS:
        GPTConfig.preset(name)  # every preset is valid
    with pytest.raises(ValueError, match="unknown preset 'gpt3'"):
        GPTConfig.preset("gpt3")
    with pytest.raises(ValueError, match=r"unknown GPTConfig field\(s\) \['n_heads'\]"):
        GPTConfig.preset("gpt2", n_heads=4)


# ------------------------------------------------------------------ parameters


def test_gpt2_has_124m_parameters():
    assert gpt_param_count(GPTConfig.preset("gpt2")) == 124_439_808
    assert gpt_param_count(GPTConfig.preset("gpt2"), count_position_embeddings=False) == (
        124_439_808 - 1024 * 768
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        dict(bias=False),
        dict(tie_weights=False),
        dict(bias=False, tie_weights=False, n_layer=1, n_head=1),
        dict(n_embd=48, n_head=6, n_layer=5, vocab_size=7, block_size=3),
    ],
)
def test_param_formula_equals_count(overrides):
    model = small_model(**overrides)
    for with_pos in (True, False):
        assert model.num_parameters(with_pos) == gpt_param_count(model.config, with_pos)
    # ...and the formula's 12·C² + 13·C per block, checked against one real block.
    c = model.config.n_embd
    per_block = sum(p.numel() for p in model.transformer.h[0].parameters())
    assert per_block == 12 * c * c + (13 * c if model.config.bias else 2 * c)


def test_gpt2_layout_and_weight_tying():
    model = small_model()
    names = set(dict(model.named_parameters()))
    for key in ("transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.bias"):
        assert key in names
    for part in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
        assert f"transformer.h.2.{part}.weight" in names
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.lm_head.bias is None
    untied = small_model(tie_weights=False)
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    # A gradient step on the head moves the embedding too: it is one tensor.
    before = model.transformer.wte.weight.detach().clone()
    model.lm_head.weight.data.add_(1.0)
    assert torch.equal(model.transformer.wte.weight, before + 1.0)


def test_gpt2_initialisation():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=500, block_size=64, n_layer=8, n_head=4, n_embd=128)
    model = GPT(config)
    h = model.transformer.h
    for w in (model.transformer.wte.weight, h[0].attn.c_attn.weight, h[3].mlp.c_fc.weight):
        assert w.std().item() == pytest.approx(0.02, rel=0.05)
    scaled = 0.02 / math.sqrt(2 * 8)
    for w in (h[0].attn.c_proj.weight, h[7].mlp.c_proj.weight):
        assert w.std().item() == pytest.approx(scaled, rel=0.05)
    assert torch.count_nonzero(h[0].attn.c_attn.bias) == 0
    assert torch.equal(h[0].ln_1.weight, torch.ones(128))


# ------------------------------------------------------------------ forward


def test_forward_shape_and_determinism():
    a, b = small_model(seed=3), small_model(seed=3)
    idx = random_ids(2, 16)
    logits = a(idx)
    assert logits.shape == (2, 16, 50) and logits.dtype == torch.float32
    assert torch.equal(logits, b(idx))  # same seed, same weights, same numbers
    assert not torch.equal(logits, small_model(seed=4)(idx))
    # An untrained model predicts ~uniformly: loss ≈ ln(vocab).
    loss = F.cross_entropy(logits.flatten(0, 1), random_ids(2, 16, seed=9).flatten())
    assert loss.item() == pytest.approx(math.log(50), abs=0.1)


def test_causal_future_tokens_do_not_change_earlier_logits():
    model = small_model()
    idx = random_ids(1, 12)
    changed = idx.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 50
    before, after = model(idx), model(changed)
    torch.testing.assert_close(before[:, :7], after[:, :7], rtol=0, atol=1e-6)
    assert (before[:, 7:] - after[:, 7:]).abs().amax() > 1e-3


def test_batch_rows_are_independent():
    model = small_model()
    idx = random_ids(3, 10)
    together = model(idx)
    for row in range(3):
        torch.testing.assert_close(together[row], model(idx[row : row + 1])[0])


def manual_attention(model: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's softmax(Q Kᵀ / √D) with the causal mask, from the weights by hand."""
    config, (B, T) = model.config, idx.shape
    H, D = config.n_head, config.head_dim
    x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(T))
    weights = []
    for block in model.transformer.h:
        h = block.ln_1(x)
        qkv = h @ block.attn.c_attn.weight.T + block.attn.c_attn.bias
        q, k, v = (t.reshape(B, T, H, D).permute(0, 2, 1, 3) for t in qkv.split(config.n_embd, -1))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D)
        scores = scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
        att = torch.softmax(scores, dim=-1)
        # Chapter 4's from-scratch attention gives the same weights.
        _, chapter4 = lf.scaled_dot_product_attention(q, k, v, causal=True, return_weights=True)
        torch.testing.assert_close(att, chapter4)
        weights.append(att)
        y = (att @ v).permute(0, 2, 1, 3).reshape(B, T, config.n_embd)
        x = x + block.attn.c_proj(y)
        x = x + block.mlp(block.ln_2(x))
    return weights


def test_return_attention_weights_are_the_manual_ones():
    model = small_model()
    idx = random_ids(2, 9)
    with torch.no_grad():
        logits, attentions = model(idx, return_attention=True)
        plain = model(idx)
        manual = manual_attention(model, idx)
    torch.testing.assert_close(logits, plain, rtol=0, atol=1e-5)
    assert len(attentions) == 3
    for att, expected in zip(attentions, manual, strict=True):
        assert att.shape == (2, 4, 9, 9)
        torch.testing.assert_close(att, expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(att.sum(-1), torch.ones(2, 4, 9))
        assert torch.all(att.triu(1) == 0)  # nothing above the diagonal: no future
        assert torch.all(att[..., 0, 0] == 1)  # the first token sees only itself


def test_dropout_is_active_in_training_only():
    model = small_model(dropout=0.5).train()
    idx = random_ids(2, 8)
    assert not torch.equal(model(idx), model(idx))
    model.eval()
    assert torch.equal(model(idx), model(idx))
    _, attentions = model.train()(idx, return_attention=True)  # weights before dropout
    torch.testing.assert_close(attentions[0].sum(-1), torch.ones(2, 4, 8))


@pytest.mark.parametrize(
    "idx, message",
    [
        (torch.zeros(1, 17, dtype=torch.long), "sequence length 17 exceeds the context size "),
        (torch.tensor([[1, 2, 3, 4, 5, 70]]), r"token id 70 at position \(0, 5\) is outside "),
        (torch.tensor([[1, 2], [3, -4]]), r"token id -4 at position \(1, 1\) is negative"),
        (torch.zeros(1, 4), "idx must hold integer token ids, got dtype torch.float32"),
        (torch.zeros(1, 4, dtype=torch.bool), "integer token ids, got dtype torch.bool"),
        (torch.zeros(4, dtype=torch.long), r"shape \(B, T\) with T >= 1, got \(4,\)"),
        (torch.zeros(1, 2, 3, dtype=torch.long), r"got \(1, 2, 3\)"),
        (torch.zeros(2, 0, dtype=torch.long), r"got \(2, 0\)"),
        (torch.zeros(0, 3, dtype=torch.long), r"idx is an empty batch, shape \(0, 3\)"),
        ([[1, 2, 3]], "idx must be a torch.Tensor of token ids, got list"),
    ],
)
def test_bad_input_raises_with_the_numbers(idx, message):
    with pytest.raises(ValueError, match=message):
        small_model()(idx)


def test_error_messages_in_full():
    model = GPT(GPTConfig(n_layer=1, n_head=1, n_embd=8, block_size=256))
    with pytest.raises(ValueError) as err:
        model(torch.zeros(1, 300, dtype=torch.long))
    assert str(err.value) == "sequence length 300 exceeds the context size block_size=256"
    idx = torch.zeros(1, 8, dtype=torch.long)
    idx[0, 5] = 70000
    with pytest.raises(ValueError) as err:
        model(idx)
    assert str(err.value) == (
        "token id 70000 at position (0, 5) is outside the vocabulary of size 50257"
    )


def test_other_integer_dtypes_work():
    model = small_model()
    idx = random_ids(1, 16)  # the full context, block_size=16
    for dtype in (torch.int32, torch.int16, torch.uint8):
        torch.testing.assert_close(model(idx.to(dtype)), model(idx))


def test_autocast_bf16_on_cpu():
    model = small_model()
    idx = random_ids(2, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(idx)
        logits_att, attentions = model(idx, return_attention=True)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), model(idx), rtol=0, atol=0.1)
    torch.testing.assert_close(logits_att.float(), logits.float(), rtol=0, atol=0.1)
    torch.testing.assert_close(attentions[0].sum(-1), torch.ones(2, 4, 12))


# ------------------------------------------------------------------ training


def test_configure_optimizers_decays_matrices_only():
    model = small_model(tie_weights=True)
    opt = model.configure_optimizers(weight_decay=0.1, lr=1e-3, betas=(0.9, 0.95))
    assert isinstance(opt, torch.optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert len(ids) == len(decay["params"]) + len(no_decay["params"])  # wte listed once
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == (model.num_parameters())
    assert any(p is model.transformer.wte.weight for p in decay["params"])
    assert opt.defaults["lr"] == 1e-3 and opt.defaults["betas"] == (0.9, 0.95)


def test_a_few_steps_fit_one_batch():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("char-tiny")).train()
    opt = model.configure_optimizers(weight_decay=0.1, lr=3e-3, betas=(0.9, 0.95))
    data = random_ids(4, 17, vocab=65)
    x, y = data[:, :-1], data[:, 1:]
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(65), abs=0.15)
    assert losses[-1] < 0.5 * losses[0]


# ------------------------------------------------------------------ the book's helpers


def test_works_with_generate():
    model = small_model()
    g = torch.Generator().manual_seed(0)
    out = generate(model, [1, 2, 3], max_new_tokens=20, temperature=0)  # crops to 16
    assert out.shape == (23,) and out[:3].tolist() == [1, 2, 3]
    # Greedy = argmax of our logits at each step.
    nxt = model(torch.tensor([[1, 2, 3]]))[0, -1].argmax().item()
    assert out[3].item() == nxt
    sampled = generate(model, random_ids(2, 4), max_new_tokens=5, generator=g, top_k=10)
    assert sampled.shape == (2, 9) and sampled.max() < 50


def test_works_with_capture_attention():
    model = small_model().train()
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    weights = capture_attention(model, ids)
    assert model.training  # mode restored
    assert weights.shape == (3, 4, 8, 8)
    expected = manual_attention(model.eval(), torch.tensor([ids]))
    torch.testing.assert_close(weights, torch.stack([w[0] for w in expected]).detach())
