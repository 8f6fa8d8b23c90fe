"""Checks for the notebooks' exercises.

Each exercise ends with a cell such as ``check_softmax_temperature(my_softmax)``.
A check prints ``✓ correct …`` when the answer is right. When it is wrong, it
prints a hint (aimed at the most likely slip) and raises ``AssertionError``, so
an autograder or ``pytest --nbval`` marks the cell as failed. An answer that is
still ``None`` or raises ``NotImplementedError`` is reported as "not answered yet".

All checks share :func:`run_check`; a check only lists its cases and the
typical wrong answers with their hints (see :func:`expect_close`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from .functional import causal_mask, scaled_dot_product_attention, softmax

__all__ = [
    "Hint",
    "check_attention",
    "check_causal_mask",
    "check_perplexity",
    "check_softmax_temperature",
    "expect_close",
    "run_check",
]


class Hint(Exception):
    """Raised inside a check when an answer is wrong; the message says what to try."""


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    try:
        return torch.as_tensor(value).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise Hint(f"{what} should be a tensor (or numbers), got {type(value).__name__}") from err


def expect_close(
    got: Any,
    expected: torch.Tensor,
    what: str,
    wrong: Iterable[tuple[torch.Tensor, str]] = (),
    atol: float = 1e-5,
) -> None:
    """Compare an answer with the reference; raise :class:`Hint` if it differs.

    Args:
        got: the learner's result (tensor, array, list or number).
        expected: the correct result.
        what: a short description of the case, used in messages.
        wrong: pairs ``(typical wrong result, hint)``; the first that matches
            ``got`` gives the hint.
        atol: absolute tolerance (the relative tolerance is 1e-4).

    Returns:
        None.

    Raises:
        Hint: with a targeted or a generic message.
    """
    got_t = _as_tensor(got, f"the result for {what}")
    if got_t.is_complex() or got_t.dtype == torch.bool:
        raise Hint(f"the result for {what} should hold real numbers, got dtype {got_t.dtype}")
    if tuple(got_t.shape) != tuple(expected.shape):
        raise Hint(
            f"for {what} the result should have shape {tuple(expected.shape)}, "
            f"got {tuple(got_t.shape)}"
        )
    got_t = got_t.to(torch.float64)
    expected = expected.to(torch.float64)

    def close(a: torch.Tensor, b: torch.Tensor) -> bool:
        return bool(torch.allclose(a, b.to(torch.float64), rtol=1e-4, atol=atol))

    if close(got_t, expected):
        return
    if not torch.isfinite(got_t).all():
        raise Hint(f"the result for {what} contains NaN or inf: {_short(got_t)}")
    for alternative, hint in wrong:
        if tuple(alternative.shape) == tuple(got_t.shape) and close(got_t, alternative):
            raise Hint(hint)
    raise Hint(f"wrong values for {what}: expected {_short(expected)}, got {_short(got_t)}")


def _short(t: torch.Tensor) -> str:
    """A tensor as a compact string with 4 decimals (first 8 entries)."""
    flat = [f"{x:.4f}" for x in t.flatten()[:8].tolist()]
    more = ", …" if t.numel() > 8 else ""
    return f"[{', '.join(flat)}{more}]" if t.dim() else flat[0]


def run_check(exercise: str, answer: Any, trial: Callable[[Callable[..., Any]], str]) -> None:
    """Run one exercise's check and report the result.

    Args:
        exercise: e.g. ``"exercise 1 (softmax with temperature)"``.
        answer: the learner's function (or ``None`` when not answered).
        trial: calls ``answer`` on the cases, raises :class:`Hint` when something
            is wrong, and returns a short success note.

    Returns:
        None; prints ``✓ correct — …`` on success.

    Raises:
        AssertionError: for a wrong or missing answer, after printing the hint.
    """
    if answer is None:
        problem = "not answered yet: the answer is still None"
    elif not callable(answer):
        problem = f"expected a function, got {type(answer).__name__}"
    else:
        try:
            note = trial(answer)
        except NotImplementedError:
            problem = (
                "not answered yet: replace `raise NotImplementedError(...)` in the exercise "
                "cell with your code, run that cell, then run this one again"
            )
        except Hint as hint:
            problem = f"not correct yet. Hint: {hint}"
        except Exception as err:  # the learner's code crashed: say where to look
            problem = f"your function raised {type(err).__name__}: {err}"
        else:
            print(f"✓ correct — {exercise}: {note}")
            return
    message = f"✗ {exercise}: {problem}"
    print(message)
    raise AssertionError(message)


def _call(answer: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the answer on copies, so an in-place edit cannot spoil the reference."""
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    return answer(*args, **kwargs)


def check_softmax_temperature(my_softmax: Callable[..., Any] | None) -> None:
    """Check ``my_softmax(logits, temperature)``: softmax of ``logits / T`` over the last dim.

    Args:
        my_softmax: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        cases = [
            (torch.tensor([2.0, 1.0, 0.1]), 1.0),
            (torch.tensor([2.0, 1.0, 0.1]), 0.5),
            (torch.tensor([2.0, 1.0, 0.1]), 4.0),
            (torch.randn(3, 5, generator=gen), 0.7),
            (torch.tensor([1000.0, 1001.0, 1002.0]), 1.0),
        ]
        for logits, t in cases:
            what = f"logits={_short(logits)}, temperature={t}"
            got = _as_tensor(_call(fn, logits, t), f"the result for {what}")
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

    run_check("exercise 1 (softmax with temperature)", my_softmax, trial)


def check_causal_mask(my_causal_mask: Callable[[int], Any] | None) -> None:
    """Check ``my_causal_mask(n)``: an ``(n, n)`` bool tensor, True where query i may see key j.

    Args:
        my_causal_mask: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[int], Any]) -> str:
        sizes = (3, 6, 1)
        for n in sizes:
            got = _as_tensor(_call(fn, n), f"my_causal_mask({n})")
            expected = causal_mask(n)
            if tuple(got.shape) != (n, n):
                raise Hint(
                    f"my_causal_mask({n}) should have shape ({n}, {n}), got {tuple(got.shape)}"
                )
            if got.dtype != torch.bool:
                raise Hint(
                    f"my_causal_mask({n}) has dtype {got.dtype}; return a bool tensor "
                    "(True = may attend), e.g. with dtype=torch.bool"
                )
            if torch.equal(got, expected):
                continue
            if torch.equal(got, expected.T) and n > 1:
                raise Hint(
                    "the mask is transposed: row i is query i, which may see keys 0..i, "
                    "so True belongs on and below the diagonal (torch.tril)"
                )
            if torch.equal(got, expected.tril(-1)):
                raise Hint("a token may attend to itself: keep the diagonal True")
            if torch.equal(got, ~expected) or torch.equal(got, ~expected.T):
                raise Hint("True means 'may attend' (torch's convention); your mask is inverted")
            raise Hint(f"wrong mask for n={n}: expected\n{expected.int()}\ngot\n{got.int()}")
        return f"masks of size {', '.join(str(n) for n in sorted(sizes))}"

    run_check("exercise 2 (causal mask)", my_causal_mask, trial)


def check_attention(my_attention: Callable[..., Any] | None) -> None:
    """Check ``my_attention(q, k, v, causal=False)`` = ``softmax(QKᵀ/√d_k) V``.

    Args:
        my_attention: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        shapes = [((5, 8), (5, 8), (5, 3)), ((2, 3, 4, 16), (2, 3, 4, 16), (2, 3, 4, 6))]
        cases = [(s, causal) for s in shapes for causal in (False, True)]
        cases.append((((3, 4), (6, 4), (6, 2)), False))  # 3 queries, 6 keys
        for (sq, sk, sv), causal in cases:
            q, k, v = (torch.randn(s, generator=gen) for s in (sq, sk, sv))
            what = f"q {sq}, k {sk}, v {sv}, causal={causal}"
            d = sq[-1]
            mask = causal_mask(sq[-2], sk[-2]) if causal else None
            wrong = [
                (
                    scaled_dot_product_attention(q * math.sqrt(d), k, v, mask),
                    "scale the scores: divide Q Kᵀ by √d_k (d_k = q.shape[-1])",
                ),
                (
                    scaled_dot_product_attention(q / math.sqrt(d), k, v, mask),
                    "divide the scores by √d_k, not by d_k",
                ),
                (
                    _softmax_over_queries(q, k, v),
                    "normalise over the keys: softmax(scores, dim=-1), so each query's weights "
                    "sum to 1",
                ),
            ]
            if causal:
                wrong.append(
                    (
                        scaled_dot_product_attention(q, k, v),
                        "with causal=True query i may only see keys 0..i: set the scores of "
                        "later keys to -inf before the softmax (see exercise 2)",
                    )
                )
            got = _call(fn, q, k, v, causal=causal)
            expect_close(got, scaled_dot_product_attention(q, k, v, mask), what, wrong)
        return f"{len(cases)} cases (batched, causal, 3 queries × 6 keys)"

    run_check("exercise 3 (attention)", my_attention, trial)


def _softmax_over_queries(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The classic slip: softmax over the query dimension instead of the keys."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-2) @ v


def check_perplexity(my_perplexity: Callable[[torch.Tensor], Any] | None) -> None:
    """Check ``my_perplexity(probs)`` = ``exp(-mean(log probs))``.

    ``probs`` are the probabilities a model gave to the tokens that actually came next.

    Args:
        my_perplexity: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[torch.Tensor], Any]) -> str:
        cases = [
            torch.full((4,), 0.25, dtype=torch.float64),
            torch.tensor([0.5, 0.25, 0.125, 0.5], dtype=torch.float64),
            torch.tensor([0.9, 0.1], dtype=torch.float64),
            torch.tensor([0.01, 0.2, 0.7, 0.05, 0.3], dtype=torch.float64),
        ]
        for p in cases:
            what = f"probs={_short(p)}"
            got = _as_tensor(_call(fn, p), f"the result for {what}")
            if got.numel() != 1:
                raise Hint(f"return one number for {what}, got shape {tuple(got.shape)}")
            nll = -torch.log(p)
            wrong = [
                (nll.mean(), "that is the cross-entropy; perplexity is its exponential"),
                (
                    torch.exp(nll.sum()),
                    "average the log-probabilities (mean, not sum): perplexity must not grow "
                    "with the length of the text",
                ),
                (
                    1 / p.mean(),
                    "that is 1 / arithmetic mean of the probabilities; perplexity is "
                    "1 / geometric mean, i.e. exp(-mean(log p))",
                ),
                (torch.exp(-nll.mean()), "check the sign: perplexity = exp(-mean(log p)) >= 1"),
            ]
            expect_close(got.reshape(()), torch.exp(nll.mean()), what, wrong)
        return f"{len(cases)} cases (uniform over 4 tokens gives 4)"

    run_check("exercise 4 (perplexity)", my_perplexity, trial)


# ------------------------------------------------------------------ chapter 3: tokenization
def check_char_tokenizer(my_char_tokenizer: Callable[[str], Any] | None) -> None:
    """Check ``my_char_tokenizer(text) -> (encode, decode)`` over the sorted characters.

    ``encode(s)`` gives the list of ids (the index of each character in
    ``sorted(set(text))``) and ``decode(ids)`` gives the string back.

    Args:
        my_char_tokenizer: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[str], Any]) -> str:
        texts = ["hello world", "子曰：学而时习之，不亦说乎？", "ba\nab ba"]
        for text in texts:
            pair = fn(text)
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise Hint(f"return a pair (encode, decode), got {type(pair).__name__}")
            encode, decode = pair
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
                raise Hint(f"encode({sample!r}) should be {expected}, got {got}")
            back = decode(expected)
            if isinstance(back, list):
                raise Hint("decode should return one string: ''.join(...) the characters")
            if back != sample:
                raise Hint(f"decode({expected}) should give {sample!r}, got {back!r}")
        return f"{len(texts)} texts (English, Chinese, newlines), ids in sorted order"

    run_check("exercise 1 (character tokenizer)", my_char_tokenizer, trial)


def check_tokens_per_char(my_tokens_per_char: Callable[..., Any] | None) -> None:
    """Check ``my_tokens_per_char(encode, texts)`` = total tokens / total characters.

    Args:
        my_tokens_per_char: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def pairs(text: str) -> list[int]:  # a toy tokenizer: one token per two characters
        return list(range(0, len(text), 2))

    def words(text: str) -> list[int]:  # a toy tokenizer: one token per word
        return [len(w) for w in text.split()]

    def trial(fn: Callable[..., Any]) -> str:
        cases = [
            (pairs, ["abcdef"]),
            (pairs, ["子曰学而时习之乎"]),
            (words, ["to be or not to be", "a b", "question"]),
            (pairs, ["abc", "子曰学而时习之乎", "x"]),
        ]
        for encode, texts in cases:
            what = f"{encode.__name__} on {texts}"
            got = _as_tensor(_call(fn, encode, list(texts)), f"the result for {what}")
            if got.numel() != 1:
                raise Hint(f"return one number for {what}, got shape {tuple(got.shape)}")
            n_tok = sum(len(encode(t)) for t in texts)
            n_chr = sum(len(t) for t in texts)
            n_byt = sum(len(t.encode("utf-8")) for t in texts)
            mean_ratio = sum(len(encode(t)) / len(t) for t in texts) / len(texts)
            wrong = [
                (torch.tensor(n_chr / n_tok), "that is characters per token; divide the other way"),
                (
                    torch.tensor(n_tok / n_byt),
                    "count characters with len(text), not UTF-8 bytes: a Chinese character "
                    "is 3 bytes",
                ),
                (
                    torch.tensor(mean_ratio),
                    "that is the mean of the per-text ratios, which gives a short text as much "
                    "weight as a long one; divide the total tokens by the total characters",
                ),
            ]
            expect_close(got.reshape(()), torch.tensor(n_tok / n_chr), what, wrong)
        return f"{len(cases)} cases, several texts of different lengths"

    run_check("exercise 2 (tokens per character)", my_tokens_per_char, trial)


def _pair_counts(words: dict[tuple[str, ...], int]) -> dict[tuple[str, str], int]:
    """Adjacent-pair counts, weighted by word counts, in first-seen order."""
    counts: dict[tuple[str, str], int] = {}
    for word, n in words.items():
        for pair in zip(word, word[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + n
    return counts


def _merge(words: dict[tuple[str, ...], int], pair: tuple[str, str]) -> dict:
    """Replace each occurrence of ``pair`` (left to right) by one merged symbol."""
    out: dict[tuple[str, ...], int] = {}
    for word, n in words.items():
        merged, i = [], 0
        while i < len(word):
            if tuple(word[i : i + 2]) == pair:
                merged.append(pair[0] + pair[1])
                i += 2
            else:
                merged.append(word[i])
                i += 1
        out[tuple(merged)] = out.get(tuple(merged), 0) + n
    return out


_TOY_WORDS = {  # the classic example of Sennrich et al. (2016), one symbol per letter
    ("l", "o", "w"): 5,
    ("l", "o", "w", "e", "r"): 2,
    ("n", "e", "w", "e", "s", "t"): 6,
    ("w", "i", "d", "e", "s", "t"): 3,
}


def check_most_frequent_pair(my_most_frequent_pair: Callable[[dict], Any] | None) -> None:
    """Check ``my_most_frequent_pair(words)``: the adjacent pair with the highest count.

    ``words`` maps a word, as a tuple of symbols, to how often it occurs. Each pair
    counts once per position and word occurrence; a tie goes to the pair seen first
    (words in order, each read left to right).

    Args:
        my_most_frequent_pair: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[dict], Any]) -> str:
        cases = [
            _TOY_WORDS,
            {("a", "b", "c"): 1, ("b", "c"): 1, ("a", "b"): 3},
            {("x", "y"): 2, ("a", "a", "a"): 1},  # "a a" at two positions: 2, a tie
            {("子", "曰"): 4, ("君", "子"): 3, ("曰", "君"): 5},
        ]
        for words in cases:
            counts = _pair_counts(words)
            best = max(counts, key=counts.__getitem__)
            got = fn({w: n for w, n in words.items()})
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise Hint(f"return the pair as a tuple of two symbols, got {got!r}")
            got = tuple(got)
            if got == best:
                continue
            unweighted = _pair_counts({w: 1 for w in words})
            if got == max(unweighted, key=unweighted.__getitem__):
                raise Hint("weight each pair by how often its word occurs (the dict's values)")
            if counts.get(got) == counts[best]:
                raise Hint(
                    f"{got} and {best} tie with count {counts[best]}: return the pair seen "
                    "first (max() over a dict filled in reading order does this)"
                )
            raise Hint(f"for {words} the most frequent pair is {best} ({counts[best]}), got {got}")
        return f"{len(cases)} corpora, with ties and repeated symbols"

    run_check("exercise 3 (most frequent pair)", my_most_frequent_pair, trial)


def check_merge_pair(my_merge_pair: Callable[[dict, tuple], Any] | None) -> None:
    """Check ``my_merge_pair(words, pair)``: every occurrence of ``pair`` becomes one symbol.

    Occurrences are merged left to right without overlap (``a a a`` with the pair
    ``(a, a)`` gives ``aa a``); the counts stay with their words.

    Args:
        my_merge_pair: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[dict, tuple], Any]) -> str:
        cases = [
            (_TOY_WORDS, ("e", "s")),
            (_merge(_TOY_WORDS, ("e", "s")), ("es", "t")),
            ({("a", "a", "a"): 2, ("b", "a", "a"): 1}, ("a", "a")),
            ({("子", "曰"): 4, ("子",): 2}, ("子", "曰")),
        ]
        for words, pair in cases:
            expected = _merge(words, pair)
            original = dict(words)
            got = fn(dict(words), pair)
            if not isinstance(got, dict):
                raise Hint(f"return a new dict word -> count, got {type(got).__name__}")
            got = {tuple(w): n for w, n in got.items()}
            if got == expected:
                continue
            if got == original:
                raise Hint(f"nothing was merged for the pair {pair}")
            if sum(got.values()) != sum(words.values()):
                raise Hint("keep each word's count: the total number of words must not change")
            raise Hint(
                f"merging {pair} in {words} should give {expected}, got {got} (merge left to "
                "right, and skip past a merged pair so occurrences do not overlap)"
            )
        return f"{len(cases)} merges, including overlapping occurrences"

    run_check("exercise 4 (one BPE merge)", my_merge_pair, trial)


__all__ += [
    "check_char_tokenizer",
    "check_merge_pair",
    "check_most_frequent_pair",
    "check_tokens_per_char",
]
