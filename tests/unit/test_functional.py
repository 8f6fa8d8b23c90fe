"""llmwidgets.nn.functional against torch.nn.functional and hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmwidgets.nn import functional as lf

GEN = torch.Generator().manual_seed(1234)


def randn(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=GEN, dtype=dtype)


# ------------------------------------------------------------------ dense


@pytest.mark.parametrize(
    "activation, fn",
    [(None, lambda t: t), ("sigmoid", torch.sigmoid), ("relu", torch.relu), ("tanh", torch.tanh)],
)
def test_dense_matches_torch(activation, fn):
    x, w, b = randn(7, 4), randn(3, 4), randn(3)
    torch.testing.assert_close(lf.dense(x, w, b, activation), fn(F.linear(x, w, b)))
    torch.testing.assert_close(lf.dense(x, w, None, activation), fn(F.linear(x, w)))


def test_dense_hand_computed():
    w = torch.tensor([[1.0, -1.0, 0.5], [0.2, 0.3, -2.0]], dtype=torch.float64)
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64)
    pre = torch.tensor([1.0, -6.2], dtype=torch.float64)  # W x + b by hand
    torch.testing.assert_close(lf.dense(x, w, b), pre)
    torch.testing.assert_close(
        lf.dense(x, w, b, "relu"), torch.tensor([1.0, 0.0], dtype=torch.float64)
    )
    expected = torch.tensor(
        [1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(6.2))], dtype=torch.float64
    )
    torch.testing.assert_close(lf.dense(x, w, b, "sigmoid"), expected)


def test_dense_batched_leading_dims():
    x, w = randn(2, 5, 4), randn(3, 4)
    assert lf.dense(x, w).shape == (2, 5, 3)
    torch.testing.assert_close(lf.dense(x, w)[1, 2], w @ x[1, 2])


@pytest.mark.parametrize(
    "args, words",
    [
        ((torch.ones(3), torch.ones(2, 4)), ["3", "4", "(2, 4)"]),
        ((torch.ones(4), torch.ones(2, 4), torch.ones(3)), ["(2,)", "(3,)"]),
        ((torch.ones(4), torch.ones(2, 2, 4)), ["2-D", "(2, 2, 4)"]),
        ((torch.ones(4), torch.ones(2, 4), None, "gelu"), ["'gelu'"]),
        ((torch.ones(4, dtype=torch.long), torch.ones(2, 4)), ["floating", "int64"]),
        (([1.0, 2.0], torch.ones(2, 2)), ["torch.Tensor", "list"]),
    ],
)
def test_dense_rejects_bad_input(args, words):
    with pytest.raises(ValueError) as err:
        lf.dense(*args)
    for word in words:
        assert word in str(err.value)


# ------------------------------------------------------------------ softmax


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 2.0, 10.0])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_matches_torch(temperature, dim):
    z = randn(4, 6)
    torch.testing.assert_close(lf.softmax(z, temperature, dim), torch.softmax(z / temperature, dim))


def test_softmax_hand_computed_and_stable():
    p = lf.softmax(torch.tensor([0.0, math.log(3.0)], dtype=torch.float64))
    torch.testing.assert_close(p, torch.tensor([0.25, 0.75], dtype=torch.float64))
    big = lf.softmax(torch.tensor([1000.0, 1001.0, 1002.0]))  # exp(1000) overflows
    torch.testing.assert_close(big, torch.softmax(torch.tensor([0.0, 1.0, 2.0]), -1))
    # temperature: low -> one-hot-ish, high -> uniform-ish
    z = torch.tensor([2.0, 1.0, 0.1])
    assert lf.softmax(z, 0.01)[0] > 0.999
    assert torch.allclose(lf.softmax(z, 1e6), torch.full((3,), 1 / 3), atol=1e-5)


@pytest.mark.parametrize(
    "logits, kwargs, words",
    [
        (torch.tensor([1.0, float("nan")]), {}, ["nan", "(1,)"]),
        (torch.tensor([1.0, float("inf")]), {}, ["inf"]),
        (torch.tensor([1.0, 2.0]), {"temperature": 0.0}, ["temperature", "0.0"]),
        (torch.tensor([1.0, 2.0]), {"temperature": -1.0}, ["-1.0"]),
        (torch.tensor([1.0, 2.0]), {"temperature": float("inf")}, ["inf"]),
        (torch.tensor([1.0, 2.0]), {"temperature": "hot"}, ["'hot'"]),
        (torch.tensor([1.0, 2.0]), {"dim": 1}, ["dim=1", "(2,)"]),
        (torch.tensor(1.0), {}, ["at least 1", "()"]),
    ],
)
def test_softmax_rejects_bad_input(logits, kwargs, words):
    with pytest.raises(ValueError) as err:
        lf.softmax(logits, **kwargs)
    for word in words:
        assert word in str(err.value)


# ------------------------------------------------------------------ attention


def test_causal_mask():
    assert torch.equal(lf.causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).bool())
    assert lf.causal_mask(2, 4).shape == (2, 4)
    with pytest.raises(ValueError, match="n_keys.*0"):
        lf.causal_mask(3, 0)


@pytest.mark.parametrize(
    "shape_q, shape_k, d_v",
    [((5, 8), (5, 8), 3), ((2, 3, 6, 16), (2, 3, 6, 16), 4), ((2, 4, 8), (2, 7, 8), 5)],
)
@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_torch(shape_q, shape_k, d_v, causal):
    q, k = randn(*shape_q, dtype=torch.float32), randn(*shape_k, dtype=torch.float32)
    v = randn(*shape_k[:-1], d_v, dtype=torch.float32)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(lf.scaled_dot_product_attention(q, k, v, causal=causal), expected)
    if causal:  # the same mask passed explicitly
        mask = lf.causal_mask(shape_q[-2], shape_k[-2])
        got = lf.scaled_dot_product_attention(q, k, v, mask=mask)
        torch.testing.assert_close(got, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_attention_boolean_mask_matches_torch_including_empty_rows():
    q, k, v = randn(2, 5, 4), randn(2, 6, 4), randn(2, 6, 3)
    mask = torch.rand(5, 6, generator=GEN) > 0.4
    mask[0] = False  # a query that may attend to nothing: torch gives zeros
    out, w = lf.scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.all(w[..., ~mask] == 0)
    assert torch.all(out[:, 0] == 0)
    torch.testing.assert_close(w[:, 1:].sum(-1), torch.ones(2, 4, dtype=torch.float64))


def test_attention_mask_and_causal_combine():
    q, k, v = randn(4, 3), randn(4, 3), randn(4, 2)
    mask = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1], [1, 0, 1, 1], [1, 1, 1, 0]]).bool()
    both = lf.scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    anded = mask & lf.causal_mask(4)
    torch.testing.assert_close(both, F.scaled_dot_product_attention(q, k, v, attn_mask=anded))


def test_attention_weights_by_hand():
    # one query, two keys, d_k = 1: the scores q·k / √1 are [0, 2]
    q = torch.tensor([[1.0]], dtype=torch.float64)
    k = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    v = torch.tensor([[10.0], [20.0]], dtype=torch.float64)
    out, w = lf.scaled_dot_product_attention(q, k, v, return_weights=True)
    p = math.exp(2) / (1 + math.exp(2))
    torch.testing.assert_close(w, torch.tensor([[1 - p, p]], dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([[10 * (1 - p) + 20 * p]], dtype=torch.float64))


def test_worked_example_from_the_source_document_corrected():
    a = torch.tensor([[0.2, 0.6, 0.2], [0.4, 0.3, 0.3], [0.1, 0.5, 0.4]], dtype=torch.float64)
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    correct = torch.tensor([2.0, 1.9, 2.3], dtype=torch.float64)
    torch.testing.assert_close(a @ x, correct)
    assert not torch.allclose(a @ x, torch.tensor([0.8, 1.5, 1.1], dtype=torch.float64))
    # A is a softmax output: scores log A (queries √3·log A against identity keys) give it back
    q, k = math.sqrt(3) * torch.log(a), torch.eye(3, dtype=torch.float64)
    out, w = lf.scaled_dot_product_attention(q, k, x[:, None], return_weights=True)
    torch.testing.assert_close(w, a)
    torch.testing.assert_close(out.squeeze(-1), correct)
    assert torch.all((out >= x.min()) & (out <= x.max()))  # convex combinations


@pytest.mark.parametrize(
    "q, k, v, kwargs, words",
    [
        (torch.ones(3, 4), torch.ones(3, 5), torch.ones(3, 2), {}, ["(3, 4)", "(3, 5)", "d_k"]),
        (torch.ones(3, 4), torch.ones(3, 4), torch.ones(2, 2), {}, ["(3, 4)", "(2, 2)", "n_k"]),
        (torch.ones(4), torch.ones(3, 4), torch.ones(3, 2), {}, ["q", "(4,)"]),
        (
            torch.ones(2, 3, 4),
            torch.ones(3, 3, 4),
            torch.ones(3, 3, 2),
            {},
            ["(2, 3, 4)", "(3, 3, 4)"],
        ),
        (
            torch.ones(3, 4),
            torch.ones(3, 4),
            torch.ones(3, 2),
            {"mask": torch.ones(3, 3)},
            ["bool", "float32"],
        ),
        (
            torch.ones(3, 4),
            torch.ones(5, 4),
            torch.ones(5, 2),
            {"mask": torch.ones(3, 3, dtype=torch.bool)},
            ["(3, 3)", "(3, 5)"],
        ),
        (
            torch.tensor([[float("nan")]]),
            torch.ones(1, 1),
            torch.ones(1, 1),
            {},
            ["q", "nan"],
        ),
    ],
)
def test_attention_rejects_bad_input(q, k, v, kwargs, words):
    with pytest.raises(ValueError) as err:
        lf.scaled_dot_product_attention(q, k, v, **kwargs)
    for word in words:
        assert word in str(err.value)


# ------------------------------------------------------------------ loss


def test_cross_entropy_and_perplexity_match_torch():
    logits, targets = randn(4, 6, 10), torch.randint(0, 10, (4, 6), generator=GEN)
    expected = F.cross_entropy(logits.reshape(-1, 10), targets.reshape(-1))
    torch.testing.assert_close(lf.cross_entropy(logits, targets), expected)
    torch.testing.assert_close(lf.perplexity(logits, targets), torch.exp(expected))
    # large logits: no overflow
    torch.testing.assert_close(
        lf.cross_entropy(1000 * logits, targets),
        F.cross_entropy(1000 * logits.reshape(-1, 10), targets.reshape(-1)),
    )


def test_cross_entropy_hand_computed():
    # p(target) = 0.75 and 0.5: loss = -(log 0.75 + log 0.5) / 2
    logits = torch.log(torch.tensor([[0.25, 0.75], [0.5, 0.5]], dtype=torch.float64))
    targets = torch.tensor([1, 0])
    expected = -(math.log(0.75) + math.log(0.5)) / 2
    assert lf.cross_entropy(logits, targets).item() == pytest.approx(expected)
    assert lf.perplexity(logits, targets).item() == pytest.approx(1 / math.sqrt(0.75 * 0.5))


@pytest.mark.parametrize("vocab", [2, 7, 1000])
def test_uniform_guess_has_perplexity_v(vocab):
    logits = torch.zeros(5, vocab, dtype=torch.float64)
    targets = torch.arange(5) % vocab
    assert lf.perplexity(logits, targets).item() == pytest.approx(vocab)


@pytest.mark.parametrize(
    "logits, targets, words",
    [
        (torch.zeros(3, 4), torch.tensor([0, 1]), ["(2,)", "(3,)", "(3, 4)"]),
        (torch.zeros(3, 4), torch.tensor([0, 1, 4]), ["4", "vocabulary of 4"]),
        (torch.zeros(3, 4), torch.tensor([0, -1, 2]), ["-1"]),
        (torch.zeros(3, 4), torch.zeros(3), ["integer", "float32"]),
        (torch.tensor([[0.0, float("inf")]]), torch.tensor([0]), ["inf"]),
        (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), ["no positions"]),
    ],
)
def test_cross_entropy_rejects_bad_input(logits, targets, words):
    for fn in (lf.cross_entropy, lf.perplexity):
        with pytest.raises(ValueError) as err:
            fn(logits, targets)
        for word in words:
            assert word in str(err.value)
