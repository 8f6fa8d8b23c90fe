"""llmwidgets.nn.gpt2_weights: Hugging Face GPT-2 weights in the book's GPT, equal logits.

The Hugging Face models are randomly initialised (nothing is downloaded), then given
large random weights so that every detail of the architecture changes the logits.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.nn.gpt2_weights import normalize_keys, resolve_config


def random_ids(batch: int, length: int, vocab: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def hf_gpt2(tie: bool = True, vocab_size: int = 100, n_positions: int = 64):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        n_positions=n_positions,
        vocab_size=vocab_size,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=tie,
    )
    hf = transformers.GPT2LMHeadModel(config).eval()
    # Larger random weights than GPT-2's init, so activations are O(1) and details such
    # as GELU's tanh approximation change the logits; LayerNorms and biases random too.
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if p.dim() == 1:
                is_gain = ".ln_" in name and name.endswith(".weight")  # LayerNorm gains ~1
                p.normal_(1.0 if is_gain else 0.0, 0.1)
            elif ".h." in name:  # Conv1D weights are (in, out)
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[0]))
            else:  # wte, wpe
                p.normal_(0.0, 1.0)
    return hf


def test_load_gpt2_state_dict_matches_hugging_face():
    hf = hf_gpt2()
    config = GPTConfig(vocab_size=100, block_size=64, n_layer=2, n_head=2, n_embd=32)
    model = GPT.from_gpt2_state_dict(hf.state_dict(), config).eval()
    ours = dict(model.named_parameters())
    torch.testing.assert_close(
        ours["transformer.h.1.mlp.c_fc.weight"], hf.transformer.h[1].mlp.c_fc.weight.T
    )
    idx = random_ids(3, 64, 100)
    with torch.no_grad():
        expected = hf(idx).logits
        torch.testing.assert_close(model(idx), expected, rtol=0, atol=1e-5)
        logits, _ = model(idx, return_attention=True)
        torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
    assert model.lm_head.weight is model.transformer.wte.weight
    untied = GPT.from_gpt2_state_dict(hf.state_dict(), replace(config, tie_weights=False))
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    torch.testing.assert_close(untied.lm_head.weight, hf.lm_head.weight)
    # Keys without the "transformer." prefix (GPT2Model) and old mask buffers load too.
    bare = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items()}
    bare["h.0.attn.bias"] = torch.ones(1, 1, 64, 64).tril()
    bare["h.0.attn.masked_bias"] = torch.tensor(-1e4)
    bare.pop("lm_head.weight")
    again = GPT.from_gpt2_state_dict(bare, config).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(idx), expected, rtol=0, atol=1e-5)


def test_load_gpt2_state_dict_errors():
    hf = hf_gpt2()
    config = GPTConfig(vocab_size=100, block_size=64, n_layer=2, n_head=2, n_embd=32)
    sd = hf.state_dict()
    with pytest.raises(ValueError, match="no preset has the state dict's sizes"):
        GPT.from_gpt2_state_dict(sd)
    with pytest.raises(ValueError, match=r"missing \['transformer.h.2.attn.c_attn.bias'"):
        GPT.from_gpt2_state_dict(sd, replace(config, n_layer=3))
    wide = replace(config, vocab_size=101)
    with pytest.raises(ValueError, match=r"transformer.wte.weight: state_dict has shape \(100, "):
        GPT.from_gpt2_state_dict(sd, wide)


def meta_gpt2_small() -> dict[str, torch.Tensor]:
    """GPT-2 small's shapes on the meta device: no data, no 500 MB download or allocation."""
    c, meta = 768, dict(device="meta")
    return {
        "transformer.wte.weight": torch.empty(50257, c, **meta),
        "transformer.wpe.weight": torch.empty(1024, c, **meta),
        **{f"transformer.h.{i}.ln_1.weight": torch.empty(c, **meta) for i in range(12)},
    }


def test_config_is_read_from_gpt2_shapes():
    config = resolve_config(normalize_keys(meta_gpt2_small()), None)
    assert config == GPTConfig.preset("gpt2", dropout=0.0)


def hf_logits(hf, idx: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return hf(idx).logits


def our_logits(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(idx)


def test_untied_checkpoint_into_a_tied_config_is_refused():
    hf = hf_gpt2(tie=False)
    sd = hf.state_dict()
    assert not torch.equal(sd["lm_head.weight"], sd["transformer.wte.weight"])
    config = GPTConfig(vocab_size=100, block_size=64, n_layer=2, n_head=2, n_embd=32)
    with pytest.raises(ValueError, match=r"lm_head.weight differs from transformer.wte.weight"):
        GPT.from_gpt2_state_dict(sd, config)
    # Loaded untied, the logits are Hugging Face's.
    untied = GPT.from_gpt2_state_dict(sd, replace(config, tie_weights=False))
    idx = random_ids(2, 64, 100)
    torch.testing.assert_close(our_logits(untied, idx), hf_logits(hf, idx), rtol=0, atol=1e-5)


@pytest.mark.parametrize("tie", [True, False])
def test_preset_detection_follows_the_head_of_the_weights(tie):
    # char-tiny's sizes (vocab 65, context 32, 2 layers, width 32): config=None finds the
    # preset, and tie_weights follows the state dict, so the logits are Hugging Face's.
    hf = hf_gpt2(tie=tie, vocab_size=65, n_positions=32)
    model = GPT.from_gpt2_state_dict(hf.state_dict())
    assert model.config == GPTConfig.preset("char-tiny", tie_weights=tie)
    assert (model.lm_head.weight is model.transformer.wte.weight) is tie
    idx = random_ids(3, 32, 65)
    torch.testing.assert_close(our_logits(model, idx), hf_logits(hf, idx), rtol=0, atol=1e-5)


def test_a_head_count_that_contradicts_a_gpt2_checkpoint_is_refused():
    sd = normalize_keys(meta_gpt2_small())
    assert resolve_config(sd, None).n_head == 12
    right = GPTConfig.preset("gpt2", dropout=0.0)
    assert resolve_config(sd, right) is right
    with pytest.raises(ValueError, match=r"sizes of the 'gpt2' checkpoint.*n_head=12.*n_head=8"):
        resolve_config(sd, replace(right, n_head=8))


def test_the_documented_limit_a_wrong_head_count_of_other_sizes_loads():
    """Sizes that are no GPT-2 checkpoint's: n_head is taken on trust, as documented,
    and only the logits show a wrong one (this test pins that limit)."""
    hf = hf_gpt2()
    config = GPTConfig(vocab_size=100, block_size=64, n_layer=2, n_head=2, n_embd=32)
    wrong = GPT.from_gpt2_state_dict(hf.state_dict(), replace(config, n_head=4))
    idx = random_ids(1, 16, 100)
    assert (our_logits(wrong, idx) - hf_logits(hf, idx)).abs().max() > 1e-3


@pytest.mark.parametrize(
    "state_dict, message",
    [
        ([1, 2], "state_dict must be a mapping of parameter names to tensors .*got list"),
        ({"transformer.wte.weight": [1.0]}, "must map names to tensors, got 'transformer.wte"),
        ({1: torch.zeros(1)}, "must map names to tensors, got 1: Tensor"),
    ],
)
def test_bad_state_dicts_are_refused(state_dict, message):
    config = GPTConfig(vocab_size=100, block_size=64, n_layer=2, n_head=2, n_embd=32)
    with pytest.raises(ValueError, match=message):
        GPT.from_gpt2_state_dict(state_dict, config)


def test_config_must_be_a_gptconfig():
    with pytest.raises(ValueError, match="config must be a GPTConfig or None, got dict"):
        GPT.from_gpt2_state_dict(hf_gpt2().state_dict(), {"n_head": 2})
