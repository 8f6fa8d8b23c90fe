"""Checks for the fixture chapters of ``test_nbgrader.py`` (test code, not the package).

The end-to-end grading test needs exercises whose checks do not change when a chapter is
rewritten: these are the first versions of four of the book's checks (softmax with
temperature, the causal mask, perplexity, a character tokenizer), kept here over the
package's shared framework (:func:`llmwidgets.checks._core.exercise`), so they behave as
every check does (print in a learner's kernel, raise under nbgrader). The fixture's
partial submission relies on their cases: the causal mask is checked on sizes 1, 3 and 6
only, so an answer wrong for n = 4 passes here and fails a hidden test. ``tokens per
character`` comes from the package (``llmwidgets.checks.ch03b``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import (
    Hint,
    as_tensor,
    bool_mask,
    call,
    exercise,
    expect_close,
    mask_hint,
    one_number,
    pair,
    short,
)
from llmwidgets.checks.ch03b import check_tokens_per_char
from llmwidgets.nn.functional import causal_mask, softmax

__all__ = [
    "check_causal_mask",
    "check_char_tokenizer",
    "check_perplexity",
    "check_softmax_temperature",
    "check_tokens_per_char",
]


@exercise("exercise 1 (softmax with temperature)")
def check_softmax_temperature(my_softmax: Callable[..., Any]) -> str:
    """Check ``my_softmax(logits, temperature)``: softmax of ``logits / T`` over the last dim."""
    gen = torch.Generator().manual_seed(0)
    cases = [
        (torch.tensor([2.0, 1.0, 0.1]), 1.0),
        (torch.tensor([2.0, 1.0, 0.1]), 0.5),
        (torch.tensor([2.0, 1.0, 0.1]), 4.0),
        (torch.randn(3, 5, generator=gen), 0.7),
        (torch.tensor([1000.0, 1001.0, 1002.0]), 1.0),
    ]
    for logits, t in cases:
        what = f"logits={short(logits)}, temperature={t}"
        got = as_tensor(call(my_softmax, logits, t), f"the result for {what}")
        if got.shape == logits.shape and not torch.isfinite(got).all():
            raise Hint(
                f"NaN/inf for {what}: exp overflowed. Subtract each row's maximum "
                "before exponentiating (softmax does not change under that shift)"
            )
        if got.shape == logits.shape and not torch.allclose(
            got.double().sum(-1), torch.ones(logits.shape[:-1], dtype=torch.float64)
        ):
            raise Hint(
                f"for {what} the probabilities do not sum to 1 along the last dimension: "
                "divide by the sum over dim=-1 (keepdim=True)"
            )
        wrong = [
            (softmax(logits * t), "you multiplied the logits by the temperature; divide"),
            (softmax(logits), "the temperature has no effect: use exp(logits / temperature)"),
        ]
        expect_close(got, softmax(logits, t), what, wrong)
    return f"{len(cases)} cases, including large logits"


@exercise("exercise 2 (causal mask)")
def check_causal_mask(my_causal_mask: Callable[[int], Any]) -> str:
    """Check ``my_causal_mask(n)``: an ``(n, n)`` bool tensor, True where query i may see key j."""
    sizes = (3, 6, 1)
    for n in sizes:
        got = bool_mask(call(my_causal_mask, n), f"my_causal_mask({n})", (n, n))
        expected = causal_mask(n)
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.T) and n > 1:
            raise Hint(
                "the mask is transposed: row i is query i, which may see keys 0..i, "
                "so True belongs on and below the diagonal"
            )
        if torch.equal(got, expected.tril(-1)):
            raise Hint("a token may attend to itself: keep the diagonal True")
        if torch.equal(got, ~expected) or torch.equal(got, ~expected.T):
            raise Hint("True means 'may attend' (torch's convention); your mask is inverted")
        raise mask_hint(got, expected, f"mask for n={n}")
    return f"masks of size {', '.join(str(n) for n in sorted(sizes))}"


@exercise("exercise 4 (perplexity)")
def check_perplexity(my_perplexity: Callable[[torch.Tensor], Any]) -> str:
    """Check ``my_perplexity(probs)`` = ``exp(-mean(log probs))``.

    ``probs`` are the probabilities a model gave to the tokens that actually came next.
    (:func:`llmwidgets.nn.perplexity` starts from logits; from probabilities the
    reference is one line.)
    """
    cases = [
        torch.full((4,), 0.25, dtype=torch.float64),
        torch.tensor([0.5, 0.25, 0.125, 0.5], dtype=torch.float64),
        torch.tensor([0.9, 0.1], dtype=torch.float64),
        torch.tensor([0.01, 0.2, 0.7, 0.05, 0.3], dtype=torch.float64),
    ]
    for p in cases:
        what = f"probs={short(p)}"
        got = one_number(call(my_perplexity, p), what)
        nll = -torch.log(p)
        wrong = [
            (
                nll.mean(),
                "that is the cross-entropy, the mean of -log p; perplexity turns it back "
                "into a number of equally likely choices (four tokens at 0.25 give 4)",
            ),
            (
                torch.exp(nll.sum()),
                "average the log-probabilities (mean, not sum): perplexity must not grow "
                "with the length of the text",
            ),
            (
                1 / p.mean(),
                "that is 1 / the arithmetic mean of the probabilities; perplexity is "
                "1 / their geometric mean, an average taken in log space",
            ),
            (
                torch.exp(-nll.mean()),
                "check the sign: perplexity is at least 1 (four tokens at 0.25 give 4)",
            ),
        ]
        expect_close(got, torch.exp(nll.mean()), what, wrong)
    return f"{len(cases)} cases (uniform over 4 tokens gives 4)"


@exercise("exercise 1 (character tokenizer)")
def check_char_tokenizer(my_char_tokenizer: Callable[[str], Any]) -> str:
    """Check ``my_char_tokenizer(text) -> (encode, decode)`` over the sorted characters.

    ``encode(s)`` gives the list of ids (the index of each character in
    ``sorted(set(text))``) and ``decode(ids)`` gives the string back.
    """
    texts = ["hello world", "子曰：学而时习之，不亦说乎？", "ba\nab ba"]
    for text in texts:
        encode, decode = pair(my_char_tokenizer(text), "return a pair (encode, decode)")
        chars = sorted(set(text))
        sample = text[::-1]  # other text made of the same characters
        expected = [chars.index(c) for c in sample]
        got = encode(sample)
        got = got.tolist() if hasattr(got, "tolist") else got
        if isinstance(got, str) or (got and all(isinstance(g, str) for g in got)):
            raise Hint("encode should return ids (ints), not characters")
        got = list(got)
        first_seen = list(dict.fromkeys(text))
        if got == [first_seen.index(c) for c in sample] and got != expected:
            raise Hint(
                f"for text {text!r} the ids follow the order in which characters first "
                "appear; sort the characters (sorted(set(text))) so ids do not depend on it"
            )
        if got == [i + 1 for i in expected]:
            raise Hint("ids start at 1; the first character of the vocabulary has id 0")
        if got != expected:
            raise Hint(
                f"for text {text!r}, encode({sample!r}) gave {got}: print your vocabulary "
                "and check a few ids by hand (a character's id is its place in the sorted "
                "vocabulary)"
            )
        back = decode(expected)
        if isinstance(back, list):
            raise Hint("decode should return one string: ''.join(...) the characters")
        if back != sample:
            raise Hint(f"decode(encode(s)) should give s back: for s = {sample!r} got {back!r}")
    return f"{len(texts)} texts (English, Chinese, newlines), ids in sorted order"
