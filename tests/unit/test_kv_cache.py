"""The KV cache: cached forwards and cached generation equal the full, uncached ones.

Every comparison is on values: logits allclose in float32 at every position and step,
and tokens identical for greedy and seeded sampling, with and without a full context.
"""

from __future__ import annotations

import pytest
import torch

import llmwidgets as lw
from llmwidgets.nn import sampling
from llmwidgets.nn.generation import generate
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.nn.kv_cache import KVCache, LayerCache
from llmwidgets.nn.multihead import attend

SMALL = dict(vocab_size=50, block_size=16, n_layer=3, n_head=4, n_embd=32, dropout=0.0)
TOL = dict(rtol=1e-5, atol=1e-5)  # float32, other matmul shapes than the full forward


def small_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**SMALL, **overrides})).eval()


def random_ids(batch: int, length: int, vocab: int = 50, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def cached_logits(model: GPT, ids: torch.Tensor, chunks: list[int]) -> torch.Tensor:
    """Feed ``ids`` chunk by chunk through one cache; the logits side by side (B, T, V)."""
    cache, out, start = KVCache(), [], 0
    for n in chunks:
        out.append(model(ids[:, start : start + n], cache=cache))
        start += n
        assert cache.length == start
    return torch.cat(out, dim=1)


# ------------------------------------------------------------------ attention after a prefix


@pytest.mark.parametrize("t", [1, 3, 7])
@pytest.mark.parametrize("explicit", [False, True])
def test_causal_queries_after_a_prefix_are_the_last_rows_of_full_attention(t, explicit):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))
    full = attend(q, k, v, causal=True)  # (B, H, 7, D)
    out = attend(q[:, :, -t:], k, v, causal=True, return_weights=explicit)
    if explicit:
        out, weights = out
        # Query i is position 7 - t + i: it sees keys 0..7 - t + i, nothing after.
        allowed = torch.ones(t, 7, dtype=torch.bool).tril(7 - t)
        assert torch.all(weights[..., ~allowed] == 0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, t))
    torch.testing.assert_close(out, full[:, :, -t:], **TOL)


def test_causal_attention_refuses_more_queries_than_keys():
    q, k = torch.zeros(1, 1, 4, 2), torch.zeros(1, 1, 3, 2)
    with pytest.raises(ValueError, match=r"at least as many keys as queries, got T=4 > S=3"):
        attend(q, k, k, causal=True)


# ------------------------------------------------------------------ the cached forward


@pytest.mark.parametrize(
    "chunks",
    [[16], [1] * 16, [5, 1, 1, 3, 6], [1, 15], [15, 1]],
    ids=["one-pass", "token-by-token", "mixed", "prompt-1", "fills-context"],
)
@pytest.mark.parametrize("batch", [1, 3])
def test_cached_forward_equals_the_full_forward(chunks, batch):
    model = small_model()
    ids = random_ids(batch, 16)
    with torch.no_grad():
        torch.testing.assert_close(cached_logits(model, ids, chunks), model(ids), **TOL)


def test_dropout_model_in_eval_mode_and_untied_biasless_model():
    for overrides in (dict(dropout=0.3), dict(bias=False, tie_weights=False)):
        model = small_model(seed=2, **overrides)
        ids = random_ids(2, 12)
        with torch.no_grad():
            got = cached_logits(model, ids, [4, 1, 1, 6])
            torch.testing.assert_close(got, model(ids), **TOL)


def test_the_cache_holds_every_layers_keys_and_values():
    model = small_model()
    ids = random_ids(2, 9)
    one, chunked = KVCache(), KVCache()
    with torch.no_grad():
        model(ids, cache=one)
        for t in range(9):
            model(ids[:, t : t + 1], cache=chunked)
    assert repr(one) == "KVCache(layers=3, length=9, batch_size=2)"
    assert len(one.layers) == 3 and all(isinstance(layer, LayerCache) for layer in one.layers)
    # Layer 0's keys are those of c_attn on the embedded, normalised input: by hand.
    x = model.transformer.wte(ids) + model.transformer.wpe(torch.arange(9))
    k = model.transformer.h[0].attn.c_attn(model.transformer.h[0].ln_1(x)).split(32, dim=2)[1]
    torch.testing.assert_close(one.layers[0].k, k.view(2, 9, 4, 8).transpose(1, 2).detach())
    for a, b in zip(one.layers, chunked.layers, strict=True):
        assert a.k.shape == a.v.shape == (2, 4, 9, 8)  # (B, H, T_seen, D)
        torch.testing.assert_close(a.k, b.k, **TOL)
        torch.testing.assert_close(a.v, b.v, **TOL)


def test_new_tokens_are_embedded_after_the_cached_positions():
    model = small_model()
    with torch.no_grad():
        model.transformer.wpe.weight[5:].zero_()  # positions 5.. carry no position signal
        cache = KVCache()
        model(random_ids(1, 5), cache=cache)
        cached = model(torch.tensor([[7]]), cache=cache)[0, 0]
        # Were the token embedded at position 0 (no offset), the logits would differ.
        alone = model(torch.tensor([[7]]))[0, 0]
    assert not torch.allclose(cached, alone, atol=1e-3)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda m, c: m(random_ids(3, 1), cache=c),
            r"batch size 3 differs from the cache's batch size 2: .* new KVCache\(\)",
        ),
        (
            lambda m, c: m(random_ids(2, 3), cache=c),
            r"the cache holds 14 positions and 3 more make 17 > block_size=16",
        ),
        (
            lambda m, c: m(random_ids(2, 1), return_attention=True, cache=c),
            "return_attention=True works without a cache: pass cache=None",
        ),
        (
            lambda m, c: small_model(n_layer=2)(random_ids(2, 1), cache=c),
            "the cache holds 3 layers of 4 heads of size 8, the model has 2 layers of 4 "
            "heads of size 8: a KVCache belongs to the model that filled it",
        ),
        (
            lambda m, c: small_model(n_head=2)(random_ids(2, 1), cache=c),
            "the cache holds 3 layers of 4 heads of size 8, the model has 3 layers of 2 ",
        ),
        (lambda m, c: m(random_ids(2, 1), cache={}), "cache must be a KVCache or None, got dict"),
        (
            lambda m, c: m(torch.tensor([[1, 99]]), cache=c),
            r"token id 99 at position \(0, 1\)",
        ),
    ],
    ids=["batch", "beyond-block-size", "attention", "layers", "heads", "type", "bad-id"],
)
def test_the_cache_is_refused_where_it_cannot_work_and_stays_as_it_was(call, message):
    model = small_model()
    cache = KVCache()
    with torch.no_grad():
        model(random_ids(2, 14), cache=cache)
        before = [layer.k for layer in cache.layers]
        with pytest.raises(ValueError, match=message):
            call(model, cache)
        assert cache.length == 14
        assert all(layer.k is k for layer, k in zip(cache.layers, before, strict=True))
        # ...and it still works: two more positions fit.
        torch.testing.assert_close(
            model(random_ids(2, 2, seed=5), cache=cache)[:, -1],
            model(torch.cat([random_ids(2, 14), random_ids(2, 2, seed=5)], 1))[:, -1],
            **TOL,
        )


def test_a_first_call_longer_than_the_context_is_refused():
    with pytest.raises(ValueError, match="sequence length 17 exceeds the context size"):
        small_model()(random_ids(1, 17), cache=KVCache())


# ------------------------------------------------------------------ generate


def forward_lengths(model: GPT) -> list[int]:
    """The input length of every forward call of ``model`` from now on."""
    lengths: list[int] = []
    model.register_forward_pre_hook(lambda _, args: lengths.append(args[0].shape[1]))
    return lengths


SETTINGS = [dict(temperature=0), dict(temperature=1.3, top_k=20, top_p=0.95)]


@pytest.mark.parametrize("settings", SETTINGS, ids=["greedy", "sampled"])
@pytest.mark.parametrize(
    "batch, prompt, new",
    [(1, 1, 12), (3, 4, 10), (2, 16, 5), (2, 20, 4), (1, 3, 30)],
    ids=["prompt-1", "batch-3", "fills-context", "longer-than-context", "crosses-full"],
)
def test_cached_generation_gives_the_uncached_tokens(settings, batch, prompt, new):
    model = small_model(dropout=0.2).train()  # generate switches dropout off
    ids = random_ids(batch, prompt)
    out = {}
    for use_cache in (True, False):
        gen = torch.Generator().manual_seed(7)
        out[use_cache] = generate(model, ids, new, generator=gen, use_cache=use_cache, **settings)
    assert torch.equal(out[True], out[False])
    assert out[True].shape == (batch, prompt + new) and model.training


def test_generation_prefills_once_then_feeds_one_token_until_the_context_is_full():
    model = small_model()
    lengths = forward_lengths(model)
    generate(model, random_ids(1, 3), 18, temperature=0)
    # 3 prompt tokens, then 1 at a time to 16 positions; then the crop slides: 16 per step.
    assert lengths == [3] + [1] * 13 + [16] * 4
    lengths.clear()
    generate(model, random_ids(1, 20), 2, temperature=0)  # a long prompt is cropped first
    assert lengths == [16, 16]
    lengths.clear()
    generate(model, random_ids(1, 3), 3, temperature=0, use_cache=False)
    assert lengths == [3, 4, 5]


@pytest.mark.parametrize("batch, prompt", [(1, 1), (2, 5), (2, 16)])
def test_the_cached_logits_are_the_full_forwards_at_every_step(batch, prompt):
    model = small_model(dropout=0.1)
    logits: list[torch.Tensor] = []
    hook = model.register_forward_hook(lambda _, args, out: logits.append(out[:, -1]))
    out = generate(
        model,
        random_ids(batch, prompt),
        20 - prompt,
        temperature=0.8,
        generator=torch.Generator().manual_seed(3),
    )
    hook.remove()
    assert len(logits) == 20 - prompt
    with torch.no_grad():
        for step, got in enumerate(logits):
            end = prompt + step  # the sequence the step's logits continue
            expected = model(out[:, max(0, end - 16) : end])[:, -1]  # cropped to block_size
            torch.testing.assert_close(got, expected, **TOL)


def test_a_smaller_block_size_is_the_window_of_both_paths():
    model = small_model()
    lengths = forward_lengths(model)
    ids = random_ids(2, 2)
    cached = generate(model, ids, 10, temperature=0, block_size=6)
    assert lengths == [2, 1, 1, 1, 1] + [6] * 5
    assert torch.equal(
        cached, generate(model, ids, 10, temperature=0, block_size=6, use_cache=False)
    )


def test_a_block_size_beyond_the_models_fails_at_the_same_step_both_ways():
    model = small_model()
    for use_cache, message in ((True, "17 > block_size=16"), (False, "sequence length 17")):
        with pytest.raises(ValueError, match=message):
            generate(model, [1, 2], 16, temperature=0, block_size=20, use_cache=use_cache)


def test_other_models_ignore_use_cache():
    gpt = small_model()
    plain = lambda idx: gpt(idx)  # noqa: E731  a callable: no cache, the whole prefix
    lengths = forward_lengths(gpt)
    out = generate(plain, [4, 2], 4, temperature=0)
    assert lengths == [2, 3, 4, 5]
    assert out.tolist() == generate(gpt, [4, 2], 4, temperature=0).tolist()


def test_use_cache_is_checked_and_the_names_are_exported():
    with pytest.raises(ValueError, match="use_cache must be True or False, got 1"):
        generate(small_model(), [1], 2, use_cache=1)
    assert lw.KVCache is KVCache and lw.nn.KVCache is KVCache
    # generate moved to llmwidgets.nn.generation; the old paths still give it.
    assert lw.generate is generate and sampling.generate is generate
    assert lw.nn.generate is generate
    from llmwidgets.nn.sampling import next_token_logits

    assert next_token_logits.__module__ == "llmwidgets.nn.generation"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        sampling.nope  # noqa: B018


def test_cache_memory_is_two_tensors_per_layer_of_the_positions_seen():
    model, cache = small_model(), KVCache()
    with torch.no_grad():
        model(random_ids(2, 10), cache=cache)
    numbers = sum(t.numel() for layer in cache.layers for t in (layer.k, layer.v))
    assert numbers == 2 * 3 * 2 * 10 * 32  # 2 · n_layer · B · T_seen · C
