"""llmwidgets.nn.sampling against hand-computed values.

Hand computations for logits [2, 1, 0]:
  T = 1:   e^2, e^1, e^0 = 7.389056, 2.718282, 1      (sum 11.107338)
           -> [0.665241, 0.244728, 0.090031]
  T = 0.5: e^4, e^2, e^0 = 54.598150, 7.389056, 1     (sum 62.987206)
           -> [0.866808, 0.117310, 0.015876]
  top_k = 2 (T = 1): [7.389056, 2.718282] / 10.107338 -> [0.731059, 0.268941, 0]
  top_p = 0.7: mass before each sorted token = [0, 0.665, 0.910]; keep while < 0.7
           -> tokens 0 and 1 -> [0.731059, 0.268941, 0]
  entropy (T = 1) = -Σ p ln p = 0.271156 + 0.344480 + 0.216759 = 0.832395 nats
"""

import math
from types import SimpleNamespace

import pytest
import torch

from llmwidgets.nn.generation import generate, next_token_logits
from llmwidgets.nn.sampling import check_settings, entropy, kept_mask, sample_next, sampling_probs

L = torch.tensor([2.0, 1.0, 0.0])
SOFTMAX_T1 = [0.665241, 0.244728, 0.090031]
TOP2 = [0.731059, 0.268941, 0.0]


def close(got, expected, tol=1e-5):
    got, expected = (torch.as_tensor(v, dtype=torch.float64) for v in (got, expected))
    assert torch.allclose(got, expected, atol=tol), got


# ----- the transform ---------------------------------------------------------------
@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, SOFTMAX_T1),
        ({"temperature": 0.5}, [0.866808, 0.117310, 0.015876]),
        ({"top_k": 2}, TOP2),
        ({"top_k": 1}, [1.0, 0.0, 0.0]),
        ({"top_p": 0.7}, TOP2),
        ({"top_p": 0.6}, [1.0, 0.0, 0.0]),  # the top token alone already has 0.665
        ({"top_p": 0.95}, SOFTMAX_T1),  # 0.910 < 0.95: all three stay
        # top-p works on the renormalised top-k distribution [0.731, 0.269]: 0.731 >= 0.7
        ({"top_k": 2, "top_p": 0.7}, [1.0, 0.0, 0.0]),
        # T = 2: logits/T = [1, 0.5, 0] -> [0.506480, 0.307196, 0.186324]; top_p = 0.8
        # keeps two (mass before the third = 0.814): [2.718282, 1.648721] / 4.367003
        ({"temperature": 2.0}, [0.506480, 0.307196, 0.186324]),
        ({"temperature": 2.0, "top_p": 0.8}, [0.622459, 0.377541, 0.0]),
        ({"top_k": 10}, SOFTMAX_T1),  # top_k above the vocabulary size keeps every token
        ({"temperature": 0}, [1.0, 0.0, 0.0]),
        ({"temperature": 0, "top_k": 3, "top_p": 0.5}, [1.0, 0.0, 0.0]),
    ],
)
def test_sampling_probs_hand_computed(settings, expected):
    close(sampling_probs(L, **settings), expected)


def test_integer_logits_and_lists_are_accepted():
    close(sampling_probs([2, 1, 0]), SOFTMAX_T1)


def test_top_p_exact_boundary_counts_as_reached():
    # probabilities exactly [0.5, 0.3, 0.2]: 0.5 + 0.3 = 0.8 reaches top_p = 0.8
    logits = torch.tensor([0.5, 0.3, 0.2]).log()
    close(sampling_probs(logits, top_p=0.8), [0.625, 0.375, 0.0])
    close(sampling_probs(logits, top_p=0.81), [0.5, 0.3, 0.2])


def test_top_p_tiny_always_keeps_the_top_token():
    close(sampling_probs(L, top_p=1e-9), [1.0, 0.0, 0.0])


def test_kept_mask():
    assert kept_mask(L).tolist() == [True, True, True]
    assert kept_mask(L, top_k=2).tolist() == [True, True, False]
    assert kept_mask(L, top_p=0.6).tolist() == [True, False, False]
    assert kept_mask(L, temperature=0).tolist() == [True, False, False]
    # token order does not matter: the cut follows the probabilities
    assert kept_mask(torch.tensor([0.0, 2.0, 1.0]), top_k=2).tolist() == [False, True, True]


def test_greedy_ties_pick_the_first_index():
    close(sampling_probs([1.0, 3.0, 3.0], temperature=0), [0, 1, 0])
    assert sample_next([1.0, 3.0, 3.0], temperature=0) == 1


def test_top_k_ties_keep_the_lower_ids():
    close(sampling_probs([1.0, 1.0, 1.0, 0.0], top_k=2), [0.5, 0.5, 0.0, 0.0])


def test_tiny_temperature_does_not_overflow():
    probs = sampling_probs([100.0, 99.0, -100.0], temperature=1e-30)
    close(probs, [1.0, 0.0, 0.0])


@pytest.mark.parametrize("temperature", [1e-39, 7e-46, 1e-46, 5e-324])
def test_a_temperature_that_underflows_is_greedy_never_nan(temperature):
    # 1e-46 is finite and > 0, but 0 in float32: logits / T was 0 / 0 = NaN. Below
    # float32's smallest normal number (1.2e-38) a temperature is greedy.
    logits = torch.tensor([[1.0, 3.0, 2.0], [0.5, -1.0, 0.25]])
    probs = sampling_probs(logits, temperature=temperature)
    close(probs, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert kept_mask(logits, temperature=temperature).tolist() == [[False, True, False]] + [
        [True, False, False]
    ]
    gen = torch.Generator().manual_seed(0)
    assert sample_next(logits, temperature=temperature, generator=gen).tolist() == [1, 0]
    model = Bigram()
    assert (
        generate(model, [2], 4, temperature=temperature).tolist()
        == generate(model, [2], 4, temperature=0).tolist()
    )


def test_below_float32_but_normal_in_float64_stays_a_temperature():
    # In float64, 1e-300 is a normal number: a real (very cold) softmax, ties shared.
    logits = torch.tensor([3.0, 3.0, 1.0], dtype=torch.float64)
    close(sampling_probs(logits, temperature=1e-300), [0.5, 0.5, 0.0])
    close(sampling_probs(logits, temperature=1e-320), [1.0, 0.0, 0.0])  # subnormal: greedy


def test_batched_equals_row_by_row():
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(1))
    for settings in [{}, {"temperature": 0.7, "top_k": 3}, {"top_p": 0.5}, {"temperature": 0}]:
        batched = sampling_probs(logits, **settings)
        assert batched.shape == (4, 10)
        close(batched.sum(-1), torch.ones(4))
        for row in range(4):
            close(batched[row], sampling_probs(logits[row], **settings))
    greedy = sampling_probs(torch.tensor([[1.0, 1, 0], [0, 3, 3]]), temperature=0)
    close(greedy, [[1, 0, 0], [0, 1, 0]])


def test_entropy_nats_and_bits():
    close(entropy(sampling_probs(L)), 0.832395)
    close(entropy([0.25] * 4, unit="bits"), 2.0)
    close(entropy([0.5, 0.5]), math.log(2))
    assert math.copysign(1.0, float(entropy([1.0, 0.0, 0.0]))) == 1.0  # 0.0, not -0.0
    close(entropy(torch.tensor([[0.5, 0.5], [1.0, 0.0]]), unit="bits"), [1.0, 0.0])
    close(entropy(torch.tensor([0.5, 0.5], dtype=torch.float16)), math.log(2), tol=1e-3)
    close(entropy([0.3, 0.7 - 1e-12, 1e-12]), -(0.3 * math.log(0.3) + 0.7 * math.log(0.7)))
    with pytest.raises(ValueError, match=r"unit must be one of \('nats', 'bits'\)"):
        entropy([1.0], unit="bans")


@pytest.mark.parametrize(
    "probs, message",
    [
        ([-0.5, 1.5], r"probs must be >= 0, got -0.5 at \[0\]"),
        ([0.5, 0.6], "probs must sum to 1 over the last dimension, but one sums to 1.1;"),
        ([[0.5, 0.5], [0.2, 0.2]], r"one sums to 0.4 \(the row at 1\)"),
        ([2.0, 1.0, 0.0], "sums to 3; sampling_probs turns logits into probabilities"),
        ([float("nan"), 1.0], r"probs must be finite, got nan at \[0\]"),
        ([0.0, float("inf")], r"probs must be finite, got inf at \[1\]"),
        (torch.tensor([0.5 + 0j, 0.5]), "probs must be real"),
        ([], "probs must be real, shaped"),
        ("abc", "probs must be numbers, got str"),
    ],
)
def test_entropy_refuses_what_is_not_a_distribution(probs, message):
    with pytest.raises(ValueError, match=message):
        entropy(probs)


# ----- drawing ---------------------------------------------------------------------
def test_sample_frequencies_match_probs():
    n = 20_000
    gen = torch.Generator().manual_seed(0)
    draws = sample_next(L.expand(n, -1), generator=gen)
    counts = torch.bincount(draws, minlength=3).double()
    expected = torch.tensor(SOFTMAX_T1, dtype=torch.float64) * n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 13.8, (counts, chi2)  # chi-square, 2 degrees of freedom, p = 0.001


def test_sample_never_draws_cut_tokens():
    gen = torch.Generator().manual_seed(0)
    draws = sample_next(L.expand(2000, -1), top_k=2, generator=gen)
    assert set(draws.tolist()) == {0, 1}
    # T = 5: [0.402, 0.329, 0.269]; top_p = 0.6 keeps two, top_p = 0.4 only the first
    draws = sample_next(L.expand(2000, -1), temperature=5.0, top_p=0.6, generator=gen)
    assert set(draws.tolist()) == {0, 1}
    draws = sample_next(L.expand(2000, -1), temperature=5.0, top_p=0.4, generator=gen)
    assert set(draws.tolist()) == {0}


def test_sample_next_types_and_seeding():
    first = sample_next(L, generator=torch.Generator().manual_seed(3))
    assert isinstance(first, int) and 0 <= first < 3
    again = [sample_next(L, generator=torch.Generator().manual_seed(3)) for _ in range(5)]
    assert again == [first] * 5
    batch = sample_next(torch.zeros(5, 7), generator=torch.Generator().manual_seed(0))
    assert batch.shape == (5,) and batch.dtype == torch.long


# ----- generate --------------------------------------------------------------------
class Bigram(torch.nn.Module):
    """A tiny fake model: the logits for the next token depend on the current token only."""

    def __init__(self, vocab=5, seed=0, dropout=0.0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab, generator=gen) * 2)
        self.dropout = torch.nn.Dropout(dropout)
        self.calls = []  # (input length, training) per forward

    def forward(self, idx):
        self.calls.append((idx.shape[1], self.training))
        return self.dropout(self.table[idx])  # (B, T, V)


def test_generate_greedy_is_the_argmax_chain():
    model = Bigram()
    out = generate(model, [2], max_new_tokens=6, temperature=0)
    chain = [2]
    for _ in range(6):
        chain.append(int(model.table[chain[-1]].argmax()))
    assert out.tolist() == chain


def test_generate_is_deterministic_with_a_seed():
    model = Bigram()

    def run(seed):
        gen = torch.Generator().manual_seed(seed)
        return generate(model, [0, 1], 30, temperature=1.5, top_k=4, top_p=0.9, generator=gen)

    assert run(0).tolist() == run(0).tolist()
    assert run(0).tolist() != run(1).tolist()
    assert run(0).shape == (32,) and run(0)[:2].tolist() == [0, 1]


def test_generate_batched_and_zero_new_tokens():
    model = Bigram()
    out = generate(model, torch.tensor([[0, 1], [2, 3]]), 4, temperature=0)
    assert out.shape == (2, 6)
    assert generate(model, [4, 3], 0).tolist() == [4, 3]


def test_generate_crops_to_block_size_and_restores_train_mode():
    model = Bigram(dropout=0.5)
    model.train()
    generate(model, [0, 1, 2, 3], 5, temperature=0, block_size=3)
    assert [length for length, _ in model.calls] == [3, 3, 3, 3, 3]
    assert not any(training for _, training in model.calls)  # eval mode: no dropout
    assert model.training


def test_generate_reads_the_block_size_of_the_models_config():
    model = Bigram()
    model.config = SimpleNamespace(block_size=2)  # as the book's GPT has
    out = generate(model, [0, 1, 2, 3], 3, temperature=0)
    assert [length for length, _ in model.calls] == [2, 2, 2]
    assert out[:4].tolist() == [0, 1, 2, 3] and len(out) == 7
    model.calls.clear()
    generate(model, [0, 1, 2, 3], 2, temperature=0, block_size=3)  # an explicit one wins
    assert [length for length, _ in model.calls] == [3, 3]
    model.calls.clear()
    close(next_token_logits(model, [4, 0, 1, 2]), model.table[2][None])
    assert model.calls == [(2, False)]
    model.config = SimpleNamespace(block_size=0)
    with pytest.raises(ValueError, match=r"model.config.block_size must be an int >= 1, got 0"):
        generate(model, [0], 1)


def test_generate_accepts_tuple_outputs_and_plain_functions():
    model = Bigram()
    tuple_model = lambda idx: (model.table[idx], None)  # noqa: E731
    assert (
        generate(tuple_model, [1], 5, temperature=0).tolist()
        == generate(model, [1], 5, temperature=0).tolist()
    )
    close(next_token_logits(tuple_model, [1, 2]), model.table[2][None])


# ----- bad input -------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings, message",
    [
        ({"temperature": -1}, "temperature must be a finite number >= 0, got -1"),
        ({"temperature": float("nan")}, "temperature .* got nan"),
        ({"temperature": float("inf")}, "temperature .* got inf"),
        ({"temperature": "hot"}, r"temperature must be a finite number >= 0, got 'hot' \(str\)"),
        ({"temperature": None}, "temperature .* got None"),
        ({"top_p": 0}, r"top_p must be a finite number in \(0, 1\], got 0"),
        ({"top_p": 1.5}, "top_p .* got 1.5"),
        ({"top_p": float("nan")}, "top_p .* got nan"),
        ({"top_k": 0}, r"top_k must be an int >= 1, got 0 \(or None\)"),
        ({"top_k": -3}, "top_k .* got -3"),
        ({"top_k": 2.5}, "top_k .* got 2.5"),
        ({"top_k": True}, "top_k .* got True"),
    ],
)
def test_bad_settings_raise(settings, message):
    with pytest.raises(ValueError, match=message):
        sampling_probs(L, **settings)
    with pytest.raises(ValueError, match=message):
        check_settings(**settings)


def test_settings_accept_numpy_like_integers():
    assert check_settings(0, torch.tensor(3), 1) == (0.0, 3, 1.0)


@pytest.mark.parametrize(
    "logits, message",
    [
        (
            [1.0, float("nan"), 0.0, float("nan")],
            r"logits contain 2 NaN values at positions \[1, 3\]",
        ),
        ([1.0, float("inf")], r"logits contain 1 infinite value at positions \[1\]"),
        ([float("-inf"), 0.0], r"1 infinite value at positions \[0\]"),
        ([[0.0, 1.0], [0.0, float("nan")]], r"1 NaN value at positions \[\(1, 1\)\]"),
        ([], r"logits are empty \(shape \(0,\)\)"),
        ("abc", "logits must be real numbers .*got str"),
        (torch.tensor([1.0 + 2j, 0.0]), "logits must be real numbers, got complex dtype"),
        (torch.empty(2, 0), r"logits are empty \(shape \(2, 0\)\)"),
        (torch.tensor(1.0), r"logits are empty \(shape \(\)\)"),
    ],
)
def test_bad_logits_raise(logits, message):
    with pytest.raises(ValueError, match=message):
        sampling_probs(logits)
    with pytest.raises(ValueError, match=message):
        sample_next(logits)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ids": [], "max_new_tokens": 3}, "ids is empty"),
        ({"ids": torch.zeros(1, 0, dtype=torch.long), "max_new_tokens": 3}, "ids is empty"),
        ({"ids": [0.5, 1.0], "max_new_tokens": 3}, "ids must be integers"),
        ({"ids": [[[0]]], "max_new_tokens": 3}, r"ids must be integers .* got shape \(1, 1, 1\)"),
        ({"ids": [0], "max_new_tokens": -1}, "max_new_tokens must be an int >= 0, got -1"),
        ({"ids": [0], "max_new_tokens": 2.0}, r"max_new_tokens .* got 2.0 \(float\)"),
        ({"ids": [0], "max_new_tokens": 0, "block_size": 0}, "block_size .* got 0"),
        ({"ids": [0], "max_new_tokens": 2, "temperature": -0.5}, "temperature .* got -0.5"),
        ({"ids": [0], "max_new_tokens": 0, "top_p": 0.0}, "top_p .* got 0.0"),
        ({"ids": [0], "max_new_tokens": 1, "generator": 0}, "generator must be a torch.Gen"),
    ],
)
def test_generate_bad_input_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(Bigram(), **kwargs)


def test_generate_rejects_a_model_with_the_wrong_output():
    with pytest.raises(
        ValueError, match=r"model must return logits shaped \(B=1, T, V\), got \(1, 5\)"
    ):
        generate(lambda idx: torch.zeros(1, 5), [0], 1)


def test_sample_next_refuses_a_generator_of_the_wrong_type():
    with pytest.raises(ValueError, match="generator must be a torch.Generator or None, got str"):
        sample_next(L, generator="x")
