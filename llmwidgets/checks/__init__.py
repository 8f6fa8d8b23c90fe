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

from llmwidgets.nn.functional import causal_mask, scaled_dot_product_attention, softmax

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


# ------------------------------------------------------------ chapter 5: the translation project
def _ch5_logits_case(seed: int, T: int, B: int, V: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, V, generator=gen, dtype=torch.float64), torch.randint(
        1, V, (T, B), generator=gen
    )


def check_seq2seq_loss(my_seq2seq_loss: Callable[..., Any] | None) -> None:
    """Check ``my_seq2seq_loss(logits, targets, pad_id)``: the source's loss, fixed.

    ``logits`` are time-first ``(T, B, V)``, as the source's ``nn.GRU`` (without
    ``batch_first``) produces them, ``targets`` ``(T, B)`` with ``pad_id`` after each
    sequence's end. The answer is the mean cross-entropy over the positions that are not
    padding.

    Args:
        my_seq2seq_loss: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    import torch.nn.functional as F

    def trial(fn: Callable[..., Any]) -> str:
        cases = [(0, 5, 3, 7, 0), (1, 4, 2, 5, 0), (2, 6, 4, 9, 3)]
        for seed, T, B, V, pad in cases:
            logits, targets = _ch5_logits_case(seed, T, B, V)
            targets[targets == pad] = pad + 1  # real tokens are never the pad id...
            for b in range(B):  # ...which fills sequence b after its T - b tokens
                targets[T - b :, b] = pad
            flat = logits.reshape(-1, V)
            expected = F.cross_entropy(flat, targets.reshape(-1), ignore_index=pad)
            with_pad = F.cross_entropy(flat, targets.reshape(-1))
            mixed = F.cross_entropy(flat, targets.T.reshape(-1), ignore_index=pad)
            mixed_pad = F.cross_entropy(flat, targets.T.reshape(-1))
            what = f"logits {tuple(logits.shape)}, pad_id={pad}"
            got = _call(fn, logits, targets.clone(), pad)
            expect_close(
                got,
                expected,
                what,
                wrong=[
                    (with_pad, "skip the padding: pass ignore_index=pad_id to the cross-entropy"),
                    (mixed, "logits and targets are flattened in different orders: flatten "
                     "both time-first, logits.reshape(-1, V) with targets.reshape(-1)"),
                    (mixed_pad, "flatten logits and targets in the same (T, B) order, and "
                     "skip the padding with ignore_index=pad_id"),
                ],
            )  # fmt: skip
        return f"{len(cases)} batches, padding skipped"

    run_check("exercise 1 (the source's loss, fixed)", my_seq2seq_loss, trial)


def _ch5_teacher_forcing(seqs: list[list[int]], bos: int, eos: int, pad: int):
    width = max(len(s) for s in seqs) + 1
    tgt_in = torch.full((len(seqs), width), pad, dtype=torch.long)
    tgt_out = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        tgt_in[i, : len(s) + 1] = torch.tensor([bos, *s])
        tgt_out[i, : len(s) + 1] = torch.tensor([*s, eos])
    return tgt_in, tgt_out


def check_teacher_forcing(my_teacher_forcing: Callable[..., Any] | None) -> None:
    """Check ``my_teacher_forcing(seqs, bos, eos, pad) -> (tgt_in, tgt_out)``.

    ``tgt_in`` is ``[bos] + seq`` padded with ``pad``; ``tgt_out`` is ``seq + [eos]`` padded
    with ``-100`` (the id the loss ignores); both ``(B, longest + 1)`` LongTensors.

    Args:
        my_teacher_forcing: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        cases = [([[5, 6, 7], [8]], 1, 2, 0), ([[3], [4, 5], [6, 7, 8, 9]], 1, 2, 0),
                 ([[10, 11]], 7, 8, 9)]  # fmt: skip
        for seqs, bos, eos, pad in cases:
            exp_in, exp_out = _ch5_teacher_forcing(seqs, bos, eos, pad)
            got = fn([list(s) for s in seqs], bos, eos, pad)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise Hint("return two tensors: (tgt_in, tgt_out)")
            got_in, got_out = (_as_tensor(g, "tgt_in / tgt_out") for g in got)
            if got_in.shape != exp_in.shape or got_out.shape != exp_out.shape:
                raise Hint(
                    f"for {seqs} both tensors should have shape {tuple(exp_in.shape)} (one "
                    f"column more than the longest sequence), got {tuple(got_in.shape)} and "
                    f"{tuple(got_out.shape)}"
                )
            if torch.equal(got_in, got_out) or got_in[:, 0].ne(bos).any():
                raise Hint(
                    "tgt_in must start with <bos> and be the target shifted one step right; "
                    "feeding the target itself (the source's bug) lets the model copy its answer"
                )
            if not torch.equal(got_in, exp_in):
                raise Hint(f"for {seqs} tgt_in should be {exp_in.tolist()}, got {got_in.tolist()}")
            if torch.equal(got_out, exp_out):
                continue
            if torch.equal(got_out.masked_fill(got_out == pad, -100), exp_out):
                raise Hint("pad tgt_out with -100, which the loss ignores, not with pad")
            if not torch.equal(got_out, exp_out):
                raise Hint(
                    f"for {seqs} tgt_out should be {exp_out.tolist()} (each sequence then <eos>, "
                    f"so the model learns to stop), got {got_out.tolist()}"
                )
        return f"{len(cases)} batches: shifted right behind <bos>, <eos> at the end"

    run_check("exercise 2 (teacher forcing)", my_teacher_forcing, trial)


# Toy next-token tables over 0 pad, 1 bos, 2 eos, 3, 4: the prefix (after <bos>) -> probs.
_CH5_TABLES = [
    {(): [0, 0, 0.1, 0.5, 0.4], (3,): [0, 0, 0.5, 0.25, 0.25], (4,): [0, 0, 0.9, 0.05, 0.05]},
    {(): [0, 0, 0.3, 0.68, 0.02], (3,): [0, 0, 0.9, 0.06, 0.04]},  # stopping early loses
    {(): [0, 0, 0.05, 0.55, 0.4], (3,): [0, 0, 0.2, 0.45, 0.35], (4,): [0, 0, 0.1, 0.85, 0.05],
     (4, 3): [0, 0, 0.95, 0.03, 0.02], (3, 3): [0, 0, 0.32, 0.4, 0.28]},
]  # fmt: skip


def _ch5_step(table: dict, prefix: list[int]) -> torch.Tensor:
    probs = torch.tensor(table.get(tuple(prefix[1:]), [0, 0, 0.5, 0.3, 0.2]), dtype=torch.float64)
    return torch.log(probs)  # log 0 = -inf: that token is impossible


def check_beam_search(my_beam_search: Callable[..., Any] | None) -> None:
    """Check ``my_beam_search(step, bos, eos, beam_width, max_len) -> list[int]``.

    ``step(prefix)`` takes a list of ids starting with ``bos`` and returns the next-token
    log-probabilities (a 1-D tensor). The answer is the best hypothesis found with
    ``beam_width`` hypotheses kept per step, ranked by total log-probability, without
    ``bos`` and ``eos``; a hypothesis ends at ``eos`` or after ``max_len`` tokens.

    Args:
        my_beam_search: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.seq2seq.rnn import beam_search_steps

    def trial(fn: Callable[..., Any]) -> str:
        n = 0
        for table in _CH5_TABLES:

            def step(prefix: Any, table: dict = table) -> torch.Tensor:
                return _ch5_step(table, [int(i) for i in prefix])

            def batched(prefixes: torch.Tensor, table: dict = table) -> torch.Tensor:
                return torch.stack([_ch5_step(table, p) for p in prefixes.tolist()])

            greedy = beam_search_steps(batched, 1, 2, 1, 5)[0][0]
            for width in (1, 2, 4):
                expected = beam_search_steps(batched, 1, 2, width, 5)[0][0]
                got = fn(step, 1, 2, width, 5)
                got = [int(i) for i in (got.tolist() if isinstance(got, torch.Tensor) else got)]
                n += 1
                if got == expected:
                    continue
                if got[:1] == [1] or got[-1:] == [2]:
                    raise Hint("return the tokens between <bos> and <eos>, without them")
                if width == 1:
                    raise Hint(f"with beam_width=1 the search is greedy and gives {expected}")
                if got == greedy:
                    raise Hint(
                        f"beam_width={width} returned greedy's answer {got}; keep the "
                        f"{width} best prefixes each step, scored by their SUM of log-probs"
                    )
                if got == []:
                    raise Hint(
                        "do not stop at the first finished hypothesis: a longer one can "
                        "still score higher; stop when all the kept ones have ended"
                    )
                raise Hint(f"with beam_width={width} the best hypothesis is {expected}, got {got}")
        return f"{n} searches (widths 1, 2, 4) on 3 toy models"

    run_check("exercise 3 (beam search)", my_beam_search, trial)


def check_chinese_to_int(my_chinese_to_int: Callable[[str], Any] | None) -> None:
    """Check ``my_chinese_to_int(text)``: Chinese numerals back to an int, for 0..9999.

    Args:
        my_chinese_to_int: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.seq2seq.number_task import MAX_NUMBER, number_to_chinese

    def trial(fn: Callable[[str], Any]) -> str:
        for n in (0, 10, 15, 105, 110, 1005, 1010, 2050, 9999, *range(MAX_NUMBER + 1)):
            text = number_to_chinese(n)
            got = fn(text)
            if isinstance(got, bool) or not isinstance(got, int):
                raise Hint(f"return an int: for {text} the answer is {n}, got {got!r}")
            if got != n:
                if 10 <= n < 20:
                    raise Hint(f"{text} is {n}: a leading 十 stands for 一十")
                if "零" in text:
                    raise Hint(f"{text} is {n}: 零 only marks a gap of zeros, it adds nothing")
                raise Hint(f"{text} is {n}, got {got!r}")
        return f"all {MAX_NUMBER + 1} numbers from 零 to {number_to_chinese(MAX_NUMBER)}"

    run_check("exercise 4 (the reverse direction by rule)", my_chinese_to_int, trial)


__all__ += [
    "check_beam_search",
    "check_chinese_to_int",
    "check_seq2seq_loss",
    "check_teacher_forcing",
]


# ---------------------------------------------------------------- chapter 2 (core concepts)


def _bool_mask(value: Any, what: str, shape: tuple[int, int]) -> torch.Tensor:
    """A learner's mask as a bool tensor of ``shape``, or a :class:`Hint` saying what is off."""
    got = _as_tensor(value, what)
    if tuple(got.shape) == tuple(reversed(shape)) and shape[0] != shape[1]:
        raise Hint(
            f"{what} has shape {tuple(got.shape)}, the transpose of {shape}: rows are the "
            "queries (the positions that look), columns the keys (the positions looked at)"
        )
    if tuple(got.shape) != shape:
        raise Hint(f"{what} should have shape {shape}, got {tuple(got.shape)}")
    if got.dtype != torch.bool:
        raise Hint(f"{what} has dtype {got.dtype}; return a bool tensor (True = may attend)")
    return got


def check_attention_masks(my_attention_masks: Callable[[int, int], Any] | None) -> None:
    """Check ``my_attention_masks(n_source, n_target)`` of an encoder-decoder Transformer.

    The answer returns three bool masks (True = may attend), rows = queries:
    the encoder's self-attention ``(n_source, n_source)``, bidirectional (all True);
    the decoder's self-attention ``(n_target, n_target)``, causal; the decoder's
    cross-attention ``(n_target, n_source)``, all True (every output position reads
    the whole input).

    Args:
        my_attention_masks: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    names = ("encoder self-attention", "decoder self-attention", "cross-attention")

    def trial(fn: Callable[[int, int], Any]) -> str:
        sizes = [(5, 3), (2, 4), (1, 1), (6, 6)]
        for n_src, n_tgt in sizes:
            got = _call(fn, n_src, n_tgt)
            if not isinstance(got, (tuple, list)) or len(got) != 3:
                raise Hint(
                    "return a tuple of three masks: (encoder self-attention, decoder "
                    f"self-attention, cross-attention), got {type(got).__name__}"
                )
            shapes = [(n_src, n_src), (n_tgt, n_tgt), (n_tgt, n_src)]
            expected = [
                torch.ones(n_src, n_src, dtype=torch.bool),
                causal_mask(n_tgt),
                torch.ones(n_tgt, n_src, dtype=torch.bool),
            ]
            args = f"my_attention_masks({n_src}, {n_tgt})"
            for name, mask, shape, want in zip(names, got, shapes, expected, strict=True):
                mask = _bool_mask(mask, f"the {name} mask of {args}", shape)
                if torch.equal(mask, want):
                    continue
                n = shape[0]
                if name == "encoder self-attention" and torch.equal(mask, causal_mask(n)):
                    raise Hint(
                        "the encoder reads the whole input at once: each source token may "
                        "attend to tokens on both sides (all True), no causal mask"
                    )
                if name == "decoder self-attention" and mask.all():
                    raise Hint(
                        "the decoder generates left to right: target position i may only "
                        "see target positions 0..i (a causal mask, torch.tril)"
                    )
                if name == "decoder self-attention" and torch.equal(mask, want.T):
                    raise Hint(
                        "the decoder mask is transposed: row i (query i) sees keys 0..i, so "
                        "True belongs on and below the diagonal"
                    )
                if name == "cross-attention" and torch.equal(mask, causal_mask(*shape)):
                    raise Hint(
                        "cross-attention needs no causal mask: the source is known in full "
                        "before decoding starts, so every target position may read every "
                        "source position"
                    )
                if torch.equal(mask, ~want):
                    raise Hint(
                        f"the {name} mask is inverted: True means 'may attend' (torch's convention)"
                    )
                raise Hint(
                    f"wrong {name} mask for {args}: expected\n{want.int()}\ngot\n{mask.int()}"
                )
        return f"{len(sizes)} source/target sizes, three masks each"

    run_check("exercise 1 (the three attention masks)", my_attention_masks, trial)


def check_next_token_probs(my_next_token_probs: Callable[[Any], Any] | None) -> None:
    """Check ``my_next_token_probs(logits)``: the next-token distribution of each sequence.

    ``logits`` has shape ``(B, T, V)`` (a model's output); the answer is ``(B, V)``:
    the softmax over the vocabulary of the logits at the **last** position.

    Args:
        my_next_token_probs: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[Any], Any]) -> str:
        gen = torch.Generator().manual_seed(2)
        shapes = [(1, 4, 6), (3, 5, 10), (2, 1, 7)]
        for shape in shapes:
            logits = torch.randn(shape, generator=gen) * 2
            what = f"logits of shape {shape}"
            expected = torch.softmax(logits[:, -1, :], dim=-1)
            wrong = [
                (
                    torch.softmax(logits[:, 0, :], dim=-1),
                    "that is the distribution after the first token: the prediction for "
                    "the token after the whole sequence sits at the last position, [:, -1]",
                ),
                (
                    logits[:, -1, :],
                    "those are the raw logits: apply softmax over the vocabulary (dim=-1) "
                    "to get probabilities",
                ),
                (
                    torch.softmax(logits, dim=1)[:, -1, :],
                    "the softmax runs over the vocabulary (the last dimension), not over "
                    "the positions",
                ),
            ]
            got = _as_tensor(_call(fn, logits), f"the result for {what}")
            if got.shape == logits.shape:
                raise Hint(
                    f"the result has the shape of the logits {shape}; keep only the last "
                    f"position: shape {(shape[0], shape[2])}"
                )
            expect_close(got, expected, what, wrong)
        return f"{len(shapes)} batches, including a sequence of one token"

    run_check("exercise 2 (next-token probabilities)", my_next_token_probs, trial)


def check_training_pairs(my_training_pairs: Callable[[Any], Any] | None) -> None:
    """Check ``my_training_pairs(ids)``: the inputs and next-token targets of one sequence.

    For token ids ``x_0 .. x_{T-1}`` the inputs are ``x_0 .. x_{T-2}`` and the
    targets ``x_1 .. x_{T-1}``: position t is trained to predict token t + 1, so a
    sequence of T tokens gives T - 1 predictions, all in one forward pass.

    Args:
        my_training_pairs: the learner's function, returning ``(inputs, targets)``.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[Any], Any]) -> str:
        cases = [
            torch.tensor([400, 308, 956, 524, 324]),
            torch.tensor([7, 7, 3]),
            torch.tensor([1, 2]),
            torch.arange(10, 30),
        ]
        for ids in cases:
            what = f"ids={ids.tolist()}"
            got = _call(fn, ids)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise Hint(f"return a pair (inputs, targets), got {type(got).__name__}")
            inputs = _as_tensor(got[0], f"the inputs for {what}")
            targets = _as_tensor(got[1], f"the targets for {what}")
            n = len(ids) - 1
            if inputs.shape == ids.shape and targets.shape == ids.shape:
                raise Hint(
                    f"a sequence of {len(ids)} tokens gives {n} predictions: the last token "
                    "has no next token to predict, and the first is never a target"
                )
            if torch.equal(inputs, ids[1:]) and torch.equal(targets, ids[:-1]):
                raise Hint(
                    "inputs and targets are swapped: the target at position t is the token "
                    "that comes after input t (targets = ids[1:])"
                )
            expect_close(inputs, ids[:-1], f"the inputs for {what}")
            expect_close(
                targets,
                ids[1:],
                f"the targets for {what}",
                [(ids[:-1], "the targets are the inputs shifted by one: ids[1:]")],
            )
        return f"{len(cases)} sequences: T tokens give T - 1 (input, target) pairs"

    run_check("exercise 3 (next-token training pairs)", my_training_pairs, trial)


#: The tasks of :func:`check_model_family` and the family whose design fits each.
FAMILY_TASKS = {
    "label the sentiment of a whole review": "encoder-only",
    "tag every word of a sentence as a person, place or neither": "encoder-only",
    "turn a sentence into one vector for semantic search": "encoder-only",
    "continue a story, one token at a time": "decoder-only",
    "answer in a chat, given the conversation so far": "decoder-only",
    "complete the code after the cursor": "decoder-only",
    "translate a sentence with the original 2017 Transformer": "encoder-decoder",
    "summarise an article with T5 (text in, text out)": "encoder-decoder",
}
FAMILIES = ("encoder-only", "decoder-only", "encoder-decoder")
_FAMILY_WHY = {
    "encoder-only": (
        "the whole text is given and the answer is a label or a vector, not new text: a "
        "bidirectional encoder (BERT) sees every token's left and right context"
    ),
    "decoder-only": (
        "the output is new text produced token by token after a prefix: a decoder with a "
        "causal mask (GPT)"
    ),
    "encoder-decoder": (
        "that model reads the input with a bidirectional encoder and writes the output with "
        "a decoder that cross-attends to it"
    ),
}


def check_model_family(my_family: Callable[[str], Any] | None) -> None:
    """Check ``my_family(task)``: which architecture family a task's design points to.

    The tasks are the keys of :data:`FAMILY_TASKS`; an answer is one of
    ``"encoder-only"``, ``"decoder-only"``, ``"encoder-decoder"``.

    Args:
        my_family: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[str], Any]) -> str:
        for task, family in FAMILY_TASKS.items():
            got = fn(task)
            if isinstance(got, str):
                got = got.strip().lower().replace(" ", "-").replace("_", "-")
            if got not in FAMILIES:
                raise Hint(f"answer one of {FAMILIES} for {task!r}, got {got!r}")
            if got != family:
                raise Hint(f"{task!r} is a job for {family}: {_FAMILY_WHY[family]}")
        return f"{len(FAMILY_TASKS)} tasks"

    run_check("exercise 4 (pick the family)", my_family, trial)


__all__ += [
    "check_attention_masks",
    "check_model_family",
    "check_next_token_probs",
    "check_training_pairs",
]


# ------------------------------------------------ chapter 3: neural networks, self-attention
def _central_difference(f: Callable[[torch.Tensor], Any], x: torch.Tensor, eps: float):
    """Reference numerical gradients: central, forward and a too-small denominator."""
    central, forward, half = (torch.zeros_like(x) for _ in range(3))
    flat_c, flat_f, flat_h = central.view(-1), forward.view(-1), half.view(-1)
    base = float(f(x))
    for i in range(x.numel()):
        plus, minus = x.clone(), x.clone()
        plus.view(-1)[i] += eps
        minus.view(-1)[i] -= eps
        f_plus, f_minus = float(f(plus)), float(f(minus))
        flat_c[i] = (f_plus - f_minus) / (2 * eps)
        flat_f[i] = (f_plus - base) / eps
        flat_h[i] = (f_plus - f_minus) / eps
    return central, forward, half


def check_numerical_gradient(my_numerical_grad: Callable[..., Any] | None) -> None:
    """Check ``my_numerical_grad(f, x, eps)``: the gradient of ``f`` at ``x``, numerically.

    ``f`` maps a tensor to a number; the answer has the shape of ``x`` and entry ``i`` is
    ``(f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps)``. It is compared with autograd.

    Args:
        my_numerical_grad: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        cases = [
            ("sum(x³)", lambda t: (t**3).sum(), torch.tensor([1.0, -2.0, 0.5])),
            (
                "sum(x · sin x)",
                lambda t: (t * torch.sin(t)).sum(),
                torch.randn(2, 3, generator=gen),
            ),
            ("logsumexp(x)", lambda t: torch.logsumexp(t, dim=0), torch.randn(4, generator=gen)),
            ("x₀ · x₁²", lambda t: t[0] * t[1] ** 2, torch.tensor([3.0, -1.5])),
        ]
        eps = 1e-3
        for name, f, x in cases:
            x = x.to(torch.float64)
            what = f"f(x) = {name} at x = {_short(x)}"
            leaf = x.clone().requires_grad_(True)
            f(leaf).backward()
            exact = leaf.grad.detach()
            _, forward, half = _central_difference(f, x, eps)
            given = x.clone()
            got = _as_tensor(fn(f, given, eps), f"the result for {what}")
            if not torch.equal(given, x) and tuple(got.shape) == tuple(x.shape):
                raise Hint(
                    "your function changed x: put every entry back after nudging it "
                    "(or nudge a copy, x.clone())"
                )
            wrong = [
                (
                    forward,
                    "that is the one-sided difference (f(x + ε) - f(x)) / ε, whose error "
                    "shrinks only like ε; use the central difference "
                    "(f(x + ε) - f(x - ε)) / (2ε), whose error shrinks like ε²",
                ),
                (half, "divide f(x + ε) - f(x - ε) by 2ε: the two points are 2ε apart"),
                (-exact, "check the sign: f(x + ε) - f(x - ε), not the other way round"),
            ]
            expect_close(got, exact, what, wrong, atol=1e-5)
        return f"{len(cases)} functions, compared with autograd (ε = {eps})"

    run_check("exercise 1 (numerical gradient)", my_numerical_grad, trial)


def _bigram_probs(train: torch.Tensor, vocab: int, alpha: float, how: str = "rows"):
    """Add-alpha bigram probabilities P[a, b] (and typical slips, for hints)."""
    counts = torch.zeros(vocab, vocab, dtype=torch.float64)
    if how == "reversed":
        prev, nxt = train[1:], train[:-1]
    else:
        prev, nxt = train[:-1], train[1:]
    counts.index_put_((prev, nxt), torch.ones(len(prev), dtype=counts.dtype), accumulate=True)
    smoothed = counts + alpha
    if how == "columns":
        return smoothed / smoothed.sum(0, keepdim=True)
    if how == "no_alpha_total":
        return smoothed / counts.sum(1, keepdim=True).clamp_min(1)
    return smoothed / smoothed.sum(1, keepdim=True)


def check_bigram_loss(my_bigram_loss: Callable[..., Any] | None) -> None:
    """Check ``my_bigram_loss(train_ids, eval_ids, vocab_size, alpha)``.

    The answer is the mean negative log-likelihood (in nats) of the pairs of ``eval_ids``
    under the add-alpha bigram model counted on ``train_ids``:
    ``P(b | a) = (N[a, b] + α) / (Σ_c N[a, c] + α·V)``.

    Args:
        my_bigram_loss: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(1)
        cases = [
            (torch.tensor([0, 1, 2, 0, 1, 1, 2, 0]), torch.tensor([0, 1, 2, 2, 0]), 3, 1.0),
            (torch.tensor([0, 1, 0, 1, 0, 2]), torch.tensor([1, 0, 2, 1]), 4, 0.5),
            (
                torch.randint(0, 6, (200,), generator=gen),
                torch.randint(0, 6, (50,), generator=gen),
                6,
                0.1,
            ),
        ]
        for train, held, vocab, alpha in cases:
            what = f"train {_short(train)}, eval {_short(held)}, V = {vocab}, α = {alpha}"
            got = _as_tensor(_call(fn, train, held, vocab, alpha), f"the result for {what}")
            if got.numel() != 1:
                raise Hint(f"return one number (the mean loss) for {what}, got {tuple(got.shape)}")
            got = got.reshape(()).to(torch.float64)
            if not torch.isfinite(got):
                raise Hint(
                    f"the loss is {got.item()} for {what}: a pair never seen in training has "
                    "probability 0 unless you add α to every count (and α·V to every row total)"
                )

            def loss(probs: torch.Tensor, held: torch.Tensor = held) -> torch.Tensor:
                return -torch.log(probs[held[:-1], held[1:]]).mean()

            nll = -torch.log(_bigram_probs(train, vocab, alpha)[held[:-1], held[1:]])
            wrong = [
                (
                    loss(_bigram_probs(train, vocab, alpha, "columns")),
                    "normalise each ROW: P(b | a) divides N[a, b] by the number of pairs that "
                    "start with a, N[a, :].sum()",
                ),
                (
                    loss(_bigram_probs(train, vocab, alpha, "reversed")),
                    "count the pairs in reading order: (train[t], train[t + 1]) is "
                    "(previous, next)",
                ),
                (
                    loss(_bigram_probs(train, vocab, alpha, "no_alpha_total")),
                    "after adding α to every count, add α·V to each row total as well, so every "
                    "row sums to 1",
                ),
                (nll.sum(), "average over the pairs (mean), do not sum"),
                (nll.mean() / math.log(2), "use the natural logarithm (nats), not log2"),
                (
                    -torch.log(_bigram_probs(train, vocab, alpha)[held[1:], held[:-1]]).mean(),
                    "look up P[previous, next]: row = held[t], column = held[t + 1]",
                ),
            ]
            expect_close(got, nll.mean(), what, wrong)
        return f"{len(cases)} cases, with unseen pairs and α from 0.1 to 1"

    run_check("exercise 2 (bigram loss)", my_bigram_loss, trial)


def _context_windows_ref(ids: torch.Tensor, k: int, start_id: int) -> torch.Tensor:
    """Row t = the k ids ending at position t, padded on the left with start_id."""
    padded = torch.cat([torch.full((k - 1,), start_id, dtype=torch.long), ids.long()])
    return padded.unfold(0, k, 1)


def check_context_windows(my_context_windows: Callable[..., Any] | None) -> None:
    """Check ``my_context_windows(ids, k, start_id)``: a ``(T, k)`` tensor of contexts.

    Row ``t`` holds ``ids[t - k + 1], ..., ids[t]`` (oldest first); positions before the
    start of the text hold ``start_id``.

    Args:
        my_context_windows: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        cases = [
            (torch.tensor([5, 6, 7, 8, 9]), 3, 0),
            (torch.tensor([1, 2, 3, 4]), 1, 10),
            (torch.tensor([4, 3]), 4, 65),
            (torch.arange(20, 32), 5, 99),
        ]
        for ids, k, start in cases:
            what = f"ids={ids.tolist()}, k={k}, start_id={start}"
            got = _as_tensor(_call(fn, ids, k, start), f"the result for {what}")
            T = len(ids)
            if tuple(got.shape) == (T - k + 1, k) and k > 1:
                raise Hint(
                    f"one row per position: {T} rows for {what}. Pad the first k - 1 positions "
                    "with start_id so that the first tokens get a (partly empty) context too"
                )
            if tuple(got.shape) != (T, k):
                raise Hint(
                    f"the result for {what} should have shape ({T}, {k}), got {tuple(got.shape)}"
                )
            if got.is_floating_point():
                raise Hint("return integer ids (dtype torch.long), not floats")
            expected = _context_windows_ref(ids, k, start)
            if torch.equal(got.long(), expected):
                continue
            if torch.equal(got.long(), expected.flip(1)):
                raise Hint("put the oldest token first: row t ends with ids[t]")
            shifted = _context_windows_ref(torch.cat([torch.tensor([start]), ids[:-1]]), k, start)
            if torch.equal(got.long(), shifted):
                raise Hint(
                    "row t must end with ids[t] itself: the model reads tokens up to t and "
                    "predicts token t + 1"
                )
            if start != 0 and torch.equal(got.long(), _context_windows_ref(ids, k, 0)):
                raise Hint("pad with start_id, not with 0 (0 is an ordinary character)")
            raise Hint(f"for {what} expected\n{expected}\ngot\n{got}")
        return f"{len(cases)} cases, k from 1 to 5, contexts longer than the text"

    run_check("exercise 3 (context windows)", my_context_windows, trial)


def check_mlp_lm_params(my_mlp_lm_params: Callable[..., Any] | None) -> None:
    """Check ``my_mlp_lm_params(vocab_size, context, n_embd, n_hidden)``.

    The chapter's MLP language model: an embedding table with ``vocab_size + 1`` rows (the
    extra row is the start marker), a hidden ``nn.Linear(context · n_embd, n_hidden)`` and an
    output ``nn.Linear(n_hidden, vocab_size)``, both with biases.

    Args:
        my_mlp_lm_params: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        cases = [(65, 8, 16, 256), (27, 3, 10, 200), (1000, 4, 32, 64), (5, 1, 2, 3)]
        for V, k, d, h in cases:
            what = f"vocab_size={V}, context={k}, n_embd={d}, n_hidden={h}"
            got = fn(V, k, d, h)
            got = got.item() if isinstance(got, torch.Tensor) and got.numel() == 1 else got
            if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
                raise Hint(f"return a whole number of parameters for {what}, got {got!r}")
            got = int(got)
            expected = (V + 1) * d + (k * d * h + h) + (h * V + V)
            if got == expected:
                continue
            hints = {
                V * d + k * d * h + h + h * V + V: "the embedding table has vocab_size + 1 rows: "
                "the extra row is the start marker",
                (V + 1) * d + k * d * h + h * V: "count the biases: n_hidden for the hidden "
                "layer and vocab_size for the output layer",
                (V + 1) * d + d * h + h + h * V + V: "the hidden layer reads the k embeddings "
                "side by side: context · n_embd inputs",
                k * (V + 1) * d + k * d * h + h + h * V + V: "there is one embedding table, "
                "shared by all context positions",
            }
            if got in hints:
                raise Hint(hints[got])
            raise Hint(f"for {what} expected {expected} parameters, got {got}")
        return f"{len(cases)} sizes"

    run_check("exercise 4 (parameters of the MLP language model)", my_mlp_lm_params, trial)


def _split_heads_ref(x: torch.Tensor, n_head: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def _merge_heads_ref(y: torch.Tensor) -> torch.Tensor:
    B, H, T, D = y.shape
    return y.transpose(1, 2).reshape(B, T, H * D)


def check_split_heads(my_split_heads: Callable[..., Any] | None) -> None:
    """Check ``my_split_heads(x, n_head)``: ``(B, T, C)`` -> ``(B, n_head, T, C // n_head)``.

    Head ``h`` gets the consecutive features ``h·D .. (h+1)·D - 1`` of every position.

    Args:
        my_split_heads: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        cases = [((2, 5, 12), 3), ((1, 4, 8), 2), ((3, 2, 6), 1), ((2, 3, 16), 4)]
        for shape, n_head in cases:
            x = torch.randn(shape, generator=gen)
            B, T, C = shape
            D = C // n_head
            what = f"x of shape {shape}, n_head={n_head}"
            got = _as_tensor(_call(fn, x, n_head), f"the result for {what}")
            if tuple(got.shape) == (B, T, n_head, D) and T != n_head:
                raise Hint(
                    "that is (B, T, n_head, head_dim): move the heads next to the batch "
                    "with .transpose(1, 2), giving (B, n_head, T, head_dim)"
                )
            wrong = [
                (
                    x.reshape(B, n_head, T, D),
                    "a plain view(B, n_head, T, head_dim) mixes positions: first "
                    "view(B, T, n_head, head_dim) (split each position's features), then "
                    "transpose(1, 2)",
                ),
                (
                    x.view(B, T, D, n_head).permute(0, 3, 1, 2),
                    "head h gets consecutive features h·head_dim … (h+1)·head_dim - 1: "
                    "view(B, T, n_head, head_dim), not (B, T, head_dim, n_head)",
                ),
            ]
            expect_close(got, _split_heads_ref(x, n_head), what, wrong, atol=0.0)
        return f"{len(cases)} shapes, 1 to 4 heads"

    run_check("exercise 1 (split heads)", my_split_heads, trial)


def check_merge_heads(my_merge_heads: Callable[..., Any] | None) -> None:
    """Check ``my_merge_heads(y)``: ``(B, H, T, D)`` -> ``(B, T, H·D)``, the inverse of splitting.

    Args:
        my_merge_heads: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        cases = [(2, 3, 5, 4), (1, 2, 4, 4), (3, 1, 2, 6), (2, 4, 3, 2)]
        for shape in cases:
            y = torch.randn(shape, generator=gen)
            B, H, T, D = shape
            what = f"y of shape {shape}"
            got = _as_tensor(_call(fn, y), f"the result for {what}")
            if tuple(got.shape) == (B, T, H, D) and H != T:
                raise Hint("the heads are side by side now; reshape (B, T, H, D) to (B, T, H·D)")
            wrong = [
                (
                    y.reshape(B, T, H * D),
                    "reshaping (B, H, T, D) directly mixes heads and positions: first "
                    "transpose(1, 2) to (B, T, H, D), then reshape to (B, T, H·D)",
                ),
                (
                    y.permute(0, 2, 3, 1).reshape(B, T, H * D),
                    "keep each head's features together: (B, T, H, D) -> (B, T, H·D), "
                    "head 0's D features first",
                ),
            ]
            expect_close(got, _merge_heads_ref(y), what, wrong, atol=0.0)
        return f"{len(cases)} shapes; merge(split(x)) gives x back"

    run_check("exercise 2 (merge heads)", my_merge_heads, trial)


def _softmax_rows(scores: torch.Tensor, allowed: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=dim)


def check_causal_attention_weights(my_causal_weights: Callable[..., Any] | None) -> None:
    """Check ``my_causal_weights(scores)``: causal softmax weights for ``(B, H, T, T)`` scores.

    Query ``i`` (row) gets weight 0 on every key ``j > i`` and its weights sum to 1, for
    every batch entry and head.

    Args:
        my_causal_weights: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        shapes = [(1, 1, 4, 4), (2, 3, 5, 5), (1, 2, 1, 1), (2, 4, 7, 7)]
        for shape in shapes:
            scores = 2 * torch.randn(shape, generator=gen)
            T = shape[-1]
            what = f"scores of shape {shape}"
            got = _as_tensor(_call(fn, scores), f"the result for {what}")
            allowed = causal_mask(T)
            if tuple(got.shape) == shape and not torch.isfinite(got).all():
                raise Hint(
                    "NaN in the weights: a row whose scores are all -inf has no softmax. "
                    "Keep the diagonal: query i may attend to key i itself"
                )
            wrong = [
                (
                    _softmax_rows(scores, allowed.T),
                    "the mask is transposed: query i (row i) may see keys 0..i, so keep "
                    "the lower triangle (torch.tril) and hide the upper one",
                ),
                (
                    torch.softmax(scores.masked_fill(~allowed, 0.0), dim=-1),
                    "a masked score of 0 still gets weight e⁰ > 0: fill the hidden scores "
                    "with float('-inf')",
                ),
                (
                    torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0),
                    "the rows no longer sum to 1: mask the scores (with -inf) BEFORE the "
                    "softmax, not the weights after it",
                ),
                (
                    _softmax_rows(scores, allowed, dim=-2),
                    "normalise over the keys (dim=-1): each query's weights sum to 1",
                ),
                (torch.softmax(scores, dim=-1), "apply the causal mask: key j > i is the future"),
            ]
            expect_close(got, _softmax_rows(scores, allowed), what, wrong)
        return f"{len(shapes)} shapes, up to 2 batches × 4 heads, one (T, T) mask for all"

    run_check("exercise 3 (causal attention weights)", my_causal_weights, trial)


def _mha(x, w_qkv, b_qkv, w_out, b_out, n_head, scale=None, causal=True, project=True):
    """Reference multi-head causal self-attention (GPT-2 layout), with variants for hints."""
    C = x.shape[-1]
    q, k, v = (x @ w_qkv.T + b_qkv).split(C, dim=-1)
    q, k, v = (_split_heads_ref(t, n_head) for t in (q, k, v))
    d = scale if scale is not None else C // n_head
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    T = x.shape[1]
    allowed = causal_mask(T) if causal else torch.ones(T, T, dtype=torch.bool)
    y = _merge_heads_ref(_softmax_rows(scores, allowed) @ v)
    return y @ w_out.T + b_out if project else y


def check_multihead_attention(my_mha: Callable[..., Any] | None) -> None:
    """Check ``my_mha(x, w_qkv, b_qkv, w_out, b_out, n_head)``: causal multi-head attention.

    The weights are those of ``llmwidgets.model.CausalSelfAttention`` (``c_attn`` and
    ``c_proj``, in ``nn.Linear``'s layout ``(out_features, in_features)``).

    Args:
        my_mha: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        cases = [(1, 4, 8, 2), (2, 6, 12, 3), (2, 5, 16, 4), (1, 3, 6, 1)]
        for B, T, C, n_head in cases:
            x = torch.randn(B, T, C, generator=gen, dtype=torch.float64)
            w_qkv = torch.randn(3 * C, C, generator=gen, dtype=torch.float64) / math.sqrt(C)
            b_qkv = 0.1 * torch.randn(3 * C, generator=gen, dtype=torch.float64)
            w_out = torch.randn(C, C, generator=gen, dtype=torch.float64) / math.sqrt(C)
            b_out = 0.1 * torch.randn(C, generator=gen, dtype=torch.float64)
            args = (x, w_qkv, b_qkv, w_out, b_out)
            what = f"x of shape {(B, T, C)}, n_head={n_head}"
            got = _call(fn, *args, n_head)
            wrong = [
                (
                    _mha(*args, n_head, project=False),
                    "finish with the output projection: merged heads @ w_out.T + b_out",
                ),
                (
                    _mha(*args, n_head, causal=False),
                    "apply the causal mask: position t may not see positions after t",
                ),
            ]
            if n_head > 1:
                wrong.append(
                    (
                        _mha(*args, n_head, scale=C),
                        "scale by √head_dim (the size of one head, C / n_head), not by √C",
                    )
                )
            expect_close(got, _mha(*args, n_head), what, wrong)
        return f"{len(cases)} cases, 1 to 4 heads, same output as CausalSelfAttention"

    run_check("exercise 4 (multi-head causal self-attention)", my_mha, trial)


__all__ += [
    "check_bigram_loss",
    "check_causal_attention_weights",
    "check_context_windows",
    "check_merge_heads",
    "check_mlp_lm_params",
    "check_multihead_attention",
    "check_numerical_gradient",
    "check_split_heads",
]


# ------------------------------------------------------------------ chapter 7: the widget kit
def _entropy_nats(p: torch.Tensor) -> torch.Tensor:
    """-Σ p log p over the last dimension, with 0 log 0 = 0."""
    return -torch.special.xlogy(p, p).sum(-1)


def check_entropy(my_entropy: Callable[[torch.Tensor], Any] | None) -> None:
    """Check ``my_entropy(probs)``: the entropy ``-Σ p log p`` of a 1-D distribution, in nats.

    Tokens with probability 0 contribute nothing (``0 · log 0 = 0``), as after a top-k or
    top-p cut.

    Args:
        my_entropy: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def trial(fn: Callable[[torch.Tensor], Any]) -> str:
        gen = torch.Generator().manual_seed(7)
        cases = [
            torch.full((4,), 0.25, dtype=torch.float64),
            torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64),
            torch.tensor([0.7, 0.3, 0.0, 0.0], dtype=torch.float64),
            torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
            torch.softmax(torch.randn(10, generator=gen, dtype=torch.float64), -1),
        ]
        for p in cases:
            what = f"probs={_short(p)}"
            got = _as_tensor(_call(fn, p), f"the result for {what}")
            if got.numel() != 1:
                raise Hint(f"return one number for {what}, got shape {tuple(got.shape)}")
            got = got.reshape(())
            if (p == 0).any() and not torch.isfinite(got):
                raise Hint(
                    f"{what} gives {got.item()}: a zero probability makes 0 · log 0 = 0 · (-inf) "
                    "= NaN. Skip the zeros (p[p > 0]) or use torch.special.xlogy(p, p)"
                )
            h = _entropy_nats(p)
            wrong = [
                (-h, "check the sign: entropy = -Σ p log p is >= 0"),
                (h / math.log(2), "that is in bits (log base 2); use the natural log for nats"),
                (-torch.log(p[p > 0]).mean(), "weight each -log p by its probability p"),
            ]
            expect_close(got, h, what, wrong)
        return f"{len(cases)} distributions (uniform over 4 gives log 4, one-hot gives 0)"

    run_check("exercise 1 (entropy)", my_entropy, trial)


def _top_p_ids(probs: torch.Tensor, top_p: float, keep_crossing: bool = True) -> list[int]:
    """The ids top-p keeps, most probable first (lower id first on ties)."""
    order = torch.sort(probs, descending=True, stable=True).indices
    before = torch.cumsum(probs[order], 0) - probs[order]
    if keep_crossing:
        keep = before < top_p
    else:
        keep = before + probs[order] <= top_p
    keep[0] = True
    return order[keep].tolist()


def check_top_p_kept(my_top_p_kept: Callable[[torch.Tensor, float], Any] | None) -> None:
    """Check ``my_top_p_kept(probs, top_p)``: the ids top-p (nucleus) sampling keeps.

    Sort the tokens from most to least probable and keep the smallest set whose
    probabilities add up to at least ``top_p``; the most probable token always stays.
    The answer may be a list (or tensor) of ids in any order, or a bool mask over the
    vocabulary.

    Args:
        my_top_p_kept: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def as_ids(got: Any, vocab: int, what: str) -> list[int]:
        t = _as_tensor(got, f"the result for {what}")
        if t.dtype == torch.bool:
            if tuple(t.shape) != (vocab,):
                raise Hint(f"a mask for {what} should have shape ({vocab},), got {tuple(t.shape)}")
            return sorted(torch.nonzero(t).flatten().tolist())
        if t.is_floating_point() and not torch.equal(t.round(), t):
            raise Hint(f"return the kept ids (or a bool mask) for {what}, not probabilities")
        return sorted(int(i) for i in t.flatten().tolist())

    def trial(fn: Callable[[torch.Tensor, float], Any]) -> str:
        gen = torch.Generator().manual_seed(3)
        cases = [
            (torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64), 0.9),
            (torch.tensor([0.1, 0.6, 0.05, 0.25], dtype=torch.float64), 0.7),
            (torch.tensor([0.1, 0.6, 0.05, 0.25], dtype=torch.float64), 0.5),
            (torch.tensor([0.3, 0.3, 0.2, 0.2], dtype=torch.float64), 0.65),
            (torch.softmax(2 * torch.randn(12, generator=gen, dtype=torch.float64), -1), 0.9),
        ]
        for probs, top_p in cases:
            what = f"probs={_short(probs)}, top_p={top_p}"
            got = as_ids(_call(fn, probs, top_p), len(probs), what)
            expected = sorted(_top_p_ids(probs, top_p))
            if got == expected:
                continue
            if got == sorted(_top_p_ids(probs, top_p, keep_crossing=False)):
                raise Hint(
                    f"for {what} keep the token that makes the sum reach top_p too: keep a "
                    "token while the probability of the tokens *before* it is below top_p"
                )
            low_first = torch.sort(probs, stable=True).indices
            if got == sorted(low_first[torch.cumsum(probs[low_first], 0) <= top_p].tolist()):
                raise Hint("sort from the most probable token down (descending=True)")
            unsorted = torch.cumsum(probs, 0) - probs < top_p
            if got == torch.nonzero(unsorted).flatten().tolist():
                raise Hint("sort the probabilities first: top-p adds up the most probable tokens")
            raise Hint(f"for {what} top-p keeps the ids {expected}, got {got}")
        return f"{len(cases)} distributions (unsorted, ties, the top token alone)"

    run_check("exercise 2 (which tokens top-p keeps)", my_top_p_kept, trial)


def _sampling_variant(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None,
    top_p: float,
    *,
    renormalise_top_k: bool = True,
    final_renormalise: bool = True,
    keep_crossing: bool = True,
) -> torch.Tensor:
    """Temperature → top-k → top-p with one step optionally done the usual wrong way."""
    if temperature == 0:
        out = torch.zeros_like(logits)
        out[logits.argmax()] = 1.0
        return out
    probs = torch.softmax(logits / temperature, -1)
    order = torch.sort(probs, descending=True, stable=True).indices
    keep = torch.ones(len(probs), dtype=torch.bool)
    if top_k is not None:
        keep[top_k:] = False
    if top_p < 1:
        left = probs[order] * keep
        if renormalise_top_k:
            left = left / left.sum()
        before = torch.cumsum(left, 0) - left
        cut = before < top_p if keep_crossing else before + left <= top_p
        keep &= cut
        keep[0] = True
    kept = torch.zeros_like(keep).scatter(0, order, keep)
    out = probs * kept
    return out / out.sum() if final_renormalise else out


def check_sampling_probs(my_sampling_probs: Callable[..., Any] | None) -> None:
    """Check ``my_sampling_probs(logits, temperature, top_k, top_p)`` for 1-D logits.

    The reference is :func:`llmwidgets.sampling_probs`: softmax of ``logits / T``
    (``T = 0``: greedy, one-hot on the largest logit), keep the ``top_k`` most probable
    tokens (``None``: no cut), renormalise, keep the smallest most-probable set whose
    probability reaches ``top_p`` (``1.0``: no cut), and renormalise what is kept.

    Args:
        my_sampling_probs: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.nn.sampling import sampling_probs

    def trial(fn: Callable[..., Any]) -> str:
        z = torch.tensor([2.0, 1.0, 0.1, -1.0, 0.5], dtype=torch.float64)
        skewed = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64))
        cases = [
            (z, 1.0, None, 1.0),
            (z, 0.5, None, 1.0),
            (z, 0.0, None, 1.0),
            (z, 1.0, 2, 1.0),
            (z, 1.0, None, 0.8),
            (z, 1.0, 10, 1.0),  # top_k larger than the vocabulary keeps every token
            (skewed, 1.0, 2, 0.5),  # top-p on the renormalised top-k distribution
            (z, 1.5, 3, 0.7),
        ]
        for logits, t, k, p in cases:
            what = f"logits={_short(logits)}, temperature={t}, top_k={k}, top_p={p}"
            got = _as_tensor(_call(fn, logits, t, k, p), f"the result for {what}")
            if t == 0 and got.shape == logits.shape and not torch.isfinite(got).all():
                raise Hint(
                    "temperature 0 divides by zero: treat it as greedy decoding and return "
                    "a one-hot vector on the largest logit"
                )
            expected = sampling_probs(logits, t, k, p).to(torch.float64)
            variant = {
                "renormalise_top_k": (
                    "apply top-p to the distribution left after top-k, renormalised to sum "
                    "to 1 (the order is temperature → top-k → top-p)"
                ),
                "final_renormalise": "renormalise the kept probabilities so they sum to 1",
                "keep_crossing": (
                    "keep the token that makes the running sum reach top_p too: keep a token "
                    "while the probability before it is below top_p"
                ),
            }
            wrong = [
                (_sampling_variant(logits, t, k, p, **{name: False}), hint)
                for name, hint in variant.items()
            ]
            if t > 0:
                wrong.append(
                    (
                        _sampling_variant(logits * t, 1.0, k, p),
                        "divide the logits by the temperature; you multiplied",
                    )
                )
            expect_close(got, expected, what, wrong)
        return f"{len(cases)} settings (greedy, top-k, top-p, both), same as llmwidgets"

    run_check("exercise 3 (temperature → top-k → top-p)", my_sampling_probs, trial)


def _ema(
    values: list[float],
    alpha: float,
    *,
    debias: bool = True,
    count_all: bool = False,
    start_first: bool = False,
) -> list[float]:
    """MetricHistory.smoothed's moving average, or a typical slip of it."""
    out: list[float] = []
    avg, n = 0.0, 0
    for x in values:
        if not math.isfinite(x):
            out.append(x)
            n += count_all
            continue
        n += 1
        if start_first and n == 1:  # m starts at the first value, no bias correction
            avg = x
        else:
            avg = alpha * avg + (1 - alpha) * x
        out.append(avg / (1 - alpha**n) if debias and not start_first else avg)
    return out


def check_ema(my_ema: Callable[[list, float], Any] | None) -> None:
    """Check ``my_ema(values, alpha)``: the smoothing of :meth:`MetricHistory.smoothed`.

    ``m = alpha · m + (1 - alpha) · x`` over the finite values in order, starting from
    ``m = 0``, and each output divided by ``1 - alpha ** n`` (``n`` finite values so far)
    so the start is not pulled towards 0. A NaN or inf value is returned as it is at
    its own position and does not enter the average.

    Args:
        my_ema: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.training.history import MetricHistory

    def trial(fn: Callable[[list, float], Any]) -> str:
        gen = torch.Generator().manual_seed(5)
        noisy = (3 - torch.linspace(0, 1, 20) + 0.2 * torch.randn(20, generator=gen)).tolist()
        nan, inf = float("nan"), float("inf")
        cases = [
            ([4.0, 3.0, 2.5, 2.0], 0.5),
            ([4.0, 3.0, 2.5, 2.0], 0.0),
            (noisy, 0.9),
            ([3.0, 2.8, nan, 2.6, 2.5, inf, 2.4], 0.6),
            ([nan, 2.0, 1.0], 0.5),
        ]
        for values, alpha in cases:
            what = f"values={_short(torch.tensor(values))}, alpha={alpha}"
            got = _as_tensor(_call(fn, list(values), alpha), f"the result for {what}")
            got = got.to(torch.float64).flatten()
            history = MetricHistory()
            for step, v in enumerate(values):
                history.record(step, {"loss": v})
            expected = torch.tensor(history.smoothed("loss", alpha)[1], dtype=torch.float64)
            if got.shape != expected.shape:
                raise Hint(
                    f"return one smoothed value per input value: {len(values)} for {what}, "
                    f"got {got.numel()}"
                )
            bad = ~torch.isfinite(expected)
            if (~torch.isfinite(got) & ~bad).any():
                raise Hint(
                    f"for {what} a NaN/inf spread into later values: skip non-finite values "
                    "in the average (keep them as they are, at their own position)"
                )
            same = torch.where(expected.isnan(), got.isnan(), got == expected)
            if not same[bad].all():
                raise Hint(
                    f"for {what} return a NaN/inf value as it is at its own position, so the "
                    "plot can mark it"
                )
            finite = ~bad
            wrong = [
                (
                    torch.tensor(_ema(values, alpha, debias=False))[finite],
                    "divide by 1 - alpha ** n (n = finite values so far): without this bias "
                    "correction the curve starts near 0",
                ),
                (
                    torch.tensor(_ema(values, alpha, count_all=True))[finite],
                    "count only the finite values in n for the bias correction",
                ),
                (
                    torch.tensor(_ema(values, alpha, start_first=True))[finite],
                    "start from m = 0 and divide by 1 - alpha ** n (bias correction, as "
                    "TensorBoard does) instead of starting from the first value",
                ),
            ]
            if alpha > 0:  # with alpha = 0 the swapped weights would divide by 1 - 1 ** n
                wrong.append(
                    (
                        torch.tensor(_ema(values, 1 - alpha))[finite],
                        "alpha is the weight of the past: m = alpha · m + (1 - alpha) · x",
                    )
                )
            expect_close(got[finite], expected[finite], what, wrong)
        return f"{len(cases)} series (with NaN and inf), same as MetricHistory.smoothed"

    run_check("exercise 4 (exponential moving average)", my_ema, trial)


__all__ += ["check_ema", "check_entropy", "check_sampling_probs", "check_top_p_kept"]


# ------------------------------------------------------- chapter 3: the GPT and its training
def _tiny_gpt_config(**overrides: Any) -> Any:
    """A GPT small enough to check an exercise in milliseconds."""
    from llmwidgets.nn.gpt import GPTConfig

    sizes = dict(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    return GPTConfig(**{**sizes, **overrides})


def check_gpt_param_count(my_param_count: Callable[[Any], Any] | None) -> None:
    """Check ``my_param_count(config)``: the parameters of ``GPT(config)``, by formula.

    Biases and LayerNorms are on (``bias=True``, as in GPT-2); ``config.tie_weights``
    says whether the output head shares the token embedding.

    Args:
        my_param_count: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.nn.gpt import GPTConfig, gpt_param_count

    def trial(fn: Callable[[Any], Any]) -> str:
        cases = [
            GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),
            GPTConfig.preset("gpt2"),
            GPTConfig(vocab_size=100, block_size=16, n_layer=2, n_head=2, n_embd=8),
            GPTConfig(
                vocab_size=65, block_size=32, n_layer=3, n_head=2, n_embd=32, tie_weights=False
            ),
            GPTConfig.preset("gpt2-medium"),
        ]
        for cfg in cases:
            what = (
                f"V={cfg.vocab_size}, T={cfg.block_size}, L={cfg.n_layer}, C={cfg.n_embd}, "
                f"tie_weights={cfg.tie_weights}"
            )
            got = fn(cfg)
            try:
                got = int(got)
            except (TypeError, ValueError) as err:
                raise Hint(f"return the count as an int for {what}, got {got!r}") from err
            total = gpt_param_count(cfg)
            if got == total:
                continue
            V, T, L, C = cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.n_embd
            head = V * C
            slips = [
                (total - T * C, "add the position embeddings wpe: block_size × n_embd"),
                (total - 2 * C, "add the final LayerNorm ln_f: a gain and a shift, 2·n_embd"),
                (
                    total - L * 4 * C - 2 * C,
                    "count the LayerNorms: a gain and a shift of n_embd each, two per block "
                    "plus the final one",
                ),
                (
                    total - L * 9 * C,
                    "count the biases of the four Linear layers of a block: "
                    "3C (c_attn) + C (attn.c_proj) + 4C (c_fc) + C (mlp.c_proj)",
                ),
                (
                    total - L * 4 * C * C,
                    "the MLP has two 4C-wide matrices (C→4C and 4C→C): 8C² per block, plus "
                    "4C² for attention (Q, K, V and the output projection)",
                ),
            ]
            if cfg.tie_weights:
                slips.append(
                    (
                        total + head,
                        "with tie_weights=True the output head IS the token embedding: "
                        "count its vocab_size × n_embd matrix once",
                    )
                )
            else:
                slips.append(
                    (
                        total - head,
                        "with tie_weights=False the output head lm_head has its own "
                        "vocab_size × n_embd matrix",
                    )
                )
            for wrong, hint in slips:
                if got == wrong:
                    raise Hint(f"{hint} (for {what})")
            raise Hint(f"for {what} GPT(config) has {total:,} parameters, got {got:,}")
        return f"{len(cases)} configurations, GPT-2 small (124,439,808) and medium among them"

    run_check("exercise 1 (parameter count)", my_param_count, trial)


def check_layer_norm(my_layer_norm: Callable[..., Any] | None) -> None:
    """Check ``my_layer_norm(x, weight, bias, eps=1e-5)`` over the last dimension.

    ``(x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance (divide
    by C), as ``torch.nn.LayerNorm`` computes it.

    Args:
        my_layer_norm: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    import torch.nn.functional as F

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.float64)

        cases = [
            (randn(2, 5, 4) * 3 + 1, 4, 1e-5),  # small C: the biased variance matters
            (randn(3, 16), 16, 1e-5),
            (randn(4, 8) * 1e-3, 8, 1e-5),  # tiny variance: where eps goes matters
            (randn(2, 3, 6), 6, 0.1),
        ]
        for x, c, eps in cases:
            weight, bias = 1 + 0.5 * randn(c), 0.5 * randn(c)
            what = f"x of shape {tuple(x.shape)}, eps={eps}"
            got = _call(fn, x, weight, bias, eps=eps)
            mean = x.mean(-1, keepdim=True)
            var_b = x.var(-1, unbiased=False, keepdim=True)
            var_u = x.var(-1, unbiased=True, keepdim=True)
            wrong = [
                (
                    (x - mean) / torch.sqrt(var_u + eps) * weight + bias,
                    "use the biased variance, dividing by C (not C − 1): "
                    "x.var(dim=-1, unbiased=False, keepdim=True), as nn.LayerNorm does",
                ),
                (
                    (x - mean) / (torch.sqrt(var_b) + eps) * weight + bias,
                    "add eps inside the square root: (x − mean) / sqrt(var + eps)",
                ),
                (
                    (x - mean) / torch.sqrt(var_b + eps),
                    "after normalising, scale by weight and add bias (the learned gain and shift)",
                ),
                (
                    (x - x.mean(0, keepdim=True))
                    / torch.sqrt(x.var(0, unbiased=False, keepdim=True) + eps)
                    * weight
                    + bias,
                    "normalise each position over its own features: mean and variance along "
                    "the LAST dimension (dim=-1, keepdim=True), not over the batch",
                ),
            ]
            expected = F.layer_norm(x, (c,), weight, bias, eps)
            expect_close(got, expected, what, wrong)
        return f"{len(cases)} cases (small C, tiny variance, eps=0.1, batched)"

    run_check("exercise 2 (LayerNorm)", my_layer_norm, trial)


def check_pre_ln_block(my_block: Callable[..., Any] | None) -> None:
    """Check ``my_block(x, ln_1, attn, ln_2, mlp)``: one pre-LayerNorm transformer block.

    ``x + attn(ln_1(x))``, then ``+ mlp(ln_2(·))`` of that, as in GPT-2.

    Args:
        my_block: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.nn.gpt import Block

    def trial(fn: Callable[..., Any]) -> str:
        torch_state = torch.get_rng_state()
        torch.manual_seed(0)
        try:
            sizes = [(2, 5, 16, 2), (1, 8, 24, 3)]  # (B, T, C, H)
            for B, T, C, H in sizes:
                block = Block(_tiny_gpt_config(n_embd=C, n_head=H)).eval()
                with torch.no_grad():  # random LayerNorm gains and shifts: not identities
                    for ln in (block.ln_1, block.ln_2):
                        ln.weight.normal_(1.0, 0.3)
                        ln.bias.normal_(0.0, 0.3)
                x = torch.randn(B, T, C)
                ln_1, attn, ln_2, mlp = block.ln_1, block.attn, block.ln_2, block.mlp
                what = f"x of shape {(B, T, C)}"
                with torch.no_grad():
                    got = fn(x.clone(), ln_1, attn, ln_2, mlp)
                    expected = block(x)
                    h = x + attn(ln_1(x))
                    post = ln_1(x + attn(x))
                    n = ln_1(x)
                    n = n + attn(n)
                    wrong = [
                        (
                            ln_2(post + mlp(post)),
                            "that is the original Transformer's post-LN order, "
                            "LayerNorm(x + sublayer(x)); GPT-2 normalises the INPUT of each "
                            "sub-layer: x + attn(ln_1(x))",
                        ),
                        (
                            mlp(ln_2(attn(ln_1(x)))),
                            "add each sub-layer's output to its input (the residual "
                            "connection): x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))",
                        ),
                        (
                            ln_2(n) + mlp(ln_2(n)),
                            "normalise only what goes INTO attn and mlp; the residual stream "
                            "x itself passes through unchanged: x + attn(ln_1(x))",
                        ),
                        (
                            x + attn(ln_1(x)) + mlp(ln_2(x)),
                            "the MLP reads the stream AFTER the attention output has been "
                            "added: h = x + attn(ln_1(x)); return h + mlp(ln_2(h))",
                        ),
                        (
                            h + mlp(ln_1(h)),
                            "the MLP has its own LayerNorm: mlp(ln_2(h)), not ln_1",
                        ),
                        (h, "add the MLP branch too: h + mlp(ln_2(h))"),
                    ]
                    expect_close(got, expected, what, wrong)
        finally:
            torch.set_rng_state(torch_state)
        return f"{len(sizes)} blocks with random LayerNorm gains"

    run_check("exercise 3 (pre-LN block)", my_block, trial)


def check_weight_tying(my_tie_weights: Callable[[Any], Any] | None) -> None:
    """Check ``my_tie_weights(model)``: make ``lm_head`` share the token embedding's weight.

    ``model`` is a :class:`llmwidgets.GPT` built with ``tie_weights=False``; afterwards
    ``model.lm_head.weight`` must be the very same Parameter as
    ``model.transformer.wte.weight``.

    Args:
        my_tie_weights: the learner's function (it may return the model or None).

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.nn.gpt import GPT

    def trial(fn: Callable[[Any], Any]) -> str:
        torch_state = torch.get_rng_state()
        torch.manual_seed(0)
        try:
            configs = [
                _tiny_gpt_config(tie_weights=False),
                _tiny_gpt_config(vocab_size=33, n_embd=8, tie_weights=False),
            ]
            for cfg in configs:
                model = GPT(cfg)
                before = model.num_parameters()
                out = fn(model)
                if out is not None and out is not model:
                    if not isinstance(out, GPT):
                        raise Hint(f"return the model (or None), got {type(out).__name__}")
                    model = out
                head, wte = model.lm_head.weight, model.transformer.wte.weight
                if head is wte:
                    shared = model.num_parameters()
                    if shared != before - cfg.vocab_size * cfg.n_embd:
                        raise Hint(
                            f"the model has {shared:,} parameters; tying should save exactly "
                            f"vocab_size × n_embd = {cfg.vocab_size * cfg.n_embd:,}"
                        )
                    idx = torch.randint(cfg.vocab_size, (2, cfg.block_size))
                    model(idx).sum().backward()  # one gradient, from both uses
                    if head.grad is None:
                        raise Hint("the shared weight gets no gradient: keep it trainable")
                    continue
                if head.data_ptr() == wte.data_ptr():
                    raise Hint(
                        "the two layers share memory but are two different Parameter objects: "
                        "the optimiser sees two parameters and gives each only its own "
                        "gradient. Assign the Parameter itself: "
                        "model.lm_head.weight = model.transformer.wte.weight"
                    )
                if head.shape == wte.shape and torch.equal(head, wte):
                    raise Hint(
                        "you copied the values: the two matrices drift apart after the first "
                        "optimiser step. Make lm_head use the same Parameter object as wte"
                    )
                raise Hint(
                    "lm_head.weight and transformer.wte.weight are still two separate "
                    "matrices; set model.lm_head.weight = model.transformer.wte.weight"
                )
        finally:
            torch.set_rng_state(torch_state)
        return f"{len(configs)} models: one shared Parameter, vocab_size × n_embd saved"

    run_check("exercise 4 (weight tying)", my_tie_weights, trial)


def _lr_slips(
    lr: float, min_lr: float, warmup: int, max_steps: int, steps: list[int]
) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong warm-up + cosine schedules over ``steps``, with their hints."""

    def progress(s: int, start: int) -> float:
        return min(max((s - start) / max(max_steps - start, 1), 0.0), 1.0)

    def cosine(s: int, floor: float = min_lr, start: int = warmup) -> float:
        return floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * progress(s, start)))

    def linear(s: int) -> float:
        return min_lr + (lr - min_lr) * (1 - progress(s, warmup))

    def warm(s: int, after: Callable[[int], float], shift: int = 0) -> float:
        return lr * (s + shift) / warmup if s < warmup else after(s)

    slips: list[tuple[Callable[[int], float], str]] = [
        (
            lambda s: warm(s, lambda t: cosine(t, floor=0.0)),
            "the cosine should end at min_lr, not 0: "
            "min_lr + (lr − min_lr) · (1 + cos(π · progress)) / 2",
        ),
        (
            lambda s: warm(s, lambda t: cosine(t, start=0)),
            "the cosine starts when the warm-up ends: progress = "
            "(step − warmup_steps) / (max_steps − warmup_steps)",
        ),
        (lambda s: warm(s, linear), "the decay follows a cosine, not a straight line"),
        (cosine, "start with a linear warm-up: lr · step / warmup_steps"),
        (
            lambda s: warm(s, cosine, shift=1),
            "warm-up off by one: step 0 has rate 0 and step warmup_steps reaches lr, "
            "so use lr · step / warmup_steps",
        ),
        (
            lambda s: warm(s, cosine) if s <= max_steps else 0.0,
            "after max_steps keep the rate at min_lr",
        ),
    ]
    return [(torch.tensor([f(s) for s in steps], dtype=torch.float64), h) for f, h in slips]


def check_lr_schedule(my_lr_at: Callable[..., Any] | None) -> None:
    """Check ``my_lr_at(step, lr, min_lr, warmup_steps, max_steps)``.

    Linear warm-up ``lr · step / warmup_steps`` for ``step < warmup_steps``, then a
    cosine from ``lr`` down to ``min_lr`` at ``max_steps``, and ``min_lr`` after
    that: :func:`llmwidgets.lr_at` with ``lr_decay_steps = max_steps``.

    Args:
        my_lr_at: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    from llmwidgets.training.trainer import TrainerConfig, lr_at

    def trial(fn: Callable[..., Any]) -> str:
        cases = [(1e-3, 1e-4, 10, 100), (6e-4, 6e-5, 0, 20), (2e-3, 2e-4, 50, 60)]
        for lr, min_lr, warmup, max_steps in cases:
            cfg = TrainerConfig(max_steps=max_steps, lr=lr, min_lr=min_lr, warmup_steps=warmup)
            steps = list(range(0, max_steps + 11))
            what = f"lr={lr:g}, min_lr={min_lr:g}, warmup_steps={warmup}, max_steps={max_steps}"
            got = []
            for s in steps:
                value = fn(s, lr, min_lr, warmup, max_steps)
                try:
                    got.append(float(value))
                except (TypeError, ValueError) as err:
                    raise Hint(f"return the rate as a number, got {value!r} at step {s}") from err
            expected = torch.tensor([lr_at(s, cfg) for s in steps], dtype=torch.float64)
            wrong = _lr_slips(lr, min_lr, warmup, max_steps, steps)
            expect_close(torch.tensor(got), expected, what, wrong, atol=1e-9)
        return f"{len(cases)} schedules, every step up to 10 past max_steps (no warm-up too)"

    run_check("exercise 1 (warm-up + cosine learning rate)", my_lr_at, trial)


def check_clip_grad_norm(my_clip_grad_norm: Callable[..., Any] | None) -> None:
    """Check ``my_clip_grad_norm(params, max_norm)``: clip the global gradient norm.

    The gradients of all parameters together are one long vector; when its norm is
    above ``max_norm``, every gradient is multiplied by ``max_norm / norm`` (in place).
    The function returns the norm measured before clipping, as
    ``torch.nn.utils.clip_grad_norm_`` does.

    Args:
        my_clip_grad_norm: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """

    def params_with(grads: list[torch.Tensor]) -> list[torch.nn.Parameter]:
        params = []
        for g in grads:
            p = torch.nn.Parameter(torch.zeros_like(g))
            p.grad = g.clone()
            params.append(p)
        return params

    def trial(fn: Callable[..., Any]) -> str:
        gen = torch.Generator().manual_seed(0)
        cases = [
            ([torch.tensor([3.0, 4.0])], 1.0),  # norm 5 -> (0.6, 0.8)
            ([torch.tensor([3.0]), torch.tensor([[4.0, 0.0]])], 2.5),  # global norm 5
            ([torch.randn(4, 3, generator=gen), torch.randn(5, generator=gen)], 0.5),
            ([torch.tensor([0.3, -0.4]), torch.tensor([0.0])], 1.0),  # below: unchanged
            ([torch.randn(7, generator=gen) * 10, torch.randn(2, 2, generator=gen)], 1.0),
        ]
        for grads, max_norm in cases:
            what = f"gradients {[tuple(g.shape) for g in grads]}, max_norm={max_norm}"
            ref, mine = params_with(grads), params_with(grads)
            expected_norm = torch.nn.utils.clip_grad_norm_(ref, max_norm)
            got_norm = fn(mine, max_norm)
            if got_norm is None:
                raise Hint("return the total gradient norm (measured before clipping)")
            got = torch.cat([p.grad.flatten() for p in mine])
            expected = torch.cat([p.grad.flatten() for p in ref])
            flat = torch.cat([g.flatten() for g in grads])
            total = float(flat.norm())
            per_param = torch.cat(
                [g.flatten() * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads]
            )
            wrong = [
                (
                    per_param,
                    "clip the GLOBAL norm: one norm over all gradients together "
                    "(sqrt of the sum of every squared entry), one factor for all",
                ),
                (
                    flat.clamp(-max_norm, max_norm),
                    "that clips each value (clip_grad_value_); scale the whole gradient "
                    "vector so that its norm becomes max_norm",
                ),
                (
                    flat * (max_norm / total),
                    "only scale DOWN: leave the gradients alone when their norm is already "
                    "at most max_norm",
                ),
                (flat, "the gradients were not changed: multiply each p.grad in place"),
            ]
            expect_close(got, expected, what, wrong)
            norm = _as_tensor(got_norm, "the returned norm")
            if norm.numel() != 1:
                raise Hint(f"return one number (the total norm), got shape {tuple(norm.shape)}")
            expect_close(
                norm.reshape(()),
                expected_norm.detach().reshape(()),
                f"the returned norm ({what})",
                [
                    (
                        torch.tensor(min(total, max_norm)),
                        "return the norm measured BEFORE clipping, as torch does",
                    )
                ],
            )
        return f"{len(cases)} cases (one and several tensors, below and above max_norm)"

    run_check("exercise 2 (gradient clipping by norm)", my_clip_grad_norm, trial)


def check_training_loop(my_train_steps: Callable[..., Any] | None) -> None:
    """Check ``my_train_steps(model, optimizer, batches) -> losses``.

    For every ``(x, y)`` in ``batches``: forward pass, next-token cross-entropy, zero
    the gradients, backward, optimiser step; return the list of losses (floats, each
    computed before its update).

    Args:
        my_train_steps: the learner's function.

    Returns:
        None; prints the result (see :func:`run_check`).
    """
    import copy

    from llmwidgets.nn.gpt import GPT
    from llmwidgets.training.losses import next_token_loss

    def reference(model: Any, opt: Any, batches: list, zero_grad: bool = True) -> list[float]:
        losses = []
        for x, y in batches:
            loss = next_token_loss(model(x), y)
            if zero_grad:
                opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    def trial(fn: Callable[..., Any]) -> str:
        torch_state = torch.get_rng_state()
        torch.manual_seed(0)
        try:
            cfg = _tiny_gpt_config()
            base = GPT(cfg)
            gen = torch.Generator().manual_seed(1)
            batches = []
            for _ in range(5):
                ids = torch.randint(cfg.vocab_size, (4, cfg.block_size + 1), generator=gen)
                batches.append((ids[:, :-1], ids[:, 1:]))

            def fresh() -> tuple[Any, Any]:
                model = copy.deepcopy(base)
                return model, torch.optim.AdamW(model.parameters(), lr=1e-2)

            model, opt = fresh()
            expected = reference(model, opt, batches)
            model_ns, opt_ns = fresh()
            no_zero = reference(model_ns, opt_ns, batches, zero_grad=False)
            mine, my_opt = fresh()
            try:
                got = fn(mine, my_opt, [(x.clone(), y.clone()) for x, y in batches])
            except RuntimeError as err:
                stale = ("backward through the graph a second time", "modified by an inplace")
                if any(text in str(err) for text in stale):
                    raise Hint(
                        "the forward pass runs once, before the loop, so the second "
                        "backward() has no graph left (or, with retain_graph=True, a graph "
                        "whose weights the optimiser has changed since): compute "
                        "logits = model(x) and the loss INSIDE the loop, for each batch"
                    ) from err
                raise
            if got is None:
                raise Hint("return the list of losses, one float per step")
            try:
                got = [float(v) for v in got]
            except (TypeError, ValueError) as err:
                raise Hint("return the losses as a list of numbers (loss.item())") from err
            if len(got) != len(batches):
                raise Hint(
                    f"{len(batches)} batches should give {len(batches)} losses, got {len(got)}"
                )
            if len(set(got)) == 1:
                raise Hint(
                    "every step reports the same loss: the forward pass runs once, before "
                    "the loop, and the weights' changes are never seen. Compute "
                    "model(x) and the loss inside the loop, for each batch"
                )
            unchanged = all(
                torch.equal(a, b) for a, b in zip(mine.parameters(), base.parameters(), strict=True)
            )
            if unchanged:
                raise Hint("the weights never changed: call optimizer.step() after backward()")
            wrong = [
                (
                    torch.tensor(no_zero),
                    "gradients add up across steps: call optimizer.zero_grad() before "
                    "loss.backward() in every step",
                )
            ]
            expect_close(torch.tensor(got), torch.tensor(expected), "the losses", wrong)
            for (name, p), q in zip(mine.named_parameters(), model.parameters(), strict=True):
                expect_close(p.detach(), q.detach(), f"the weights {name} after the steps")
        finally:
            torch.set_rng_state(torch_state)
        return f"{len(batches)} steps: same losses and same weights as the reference loop"

    run_check("exercise 3 (the fixed training loop)", my_train_steps, trial)


__all__ += [
    "check_clip_grad_norm",
    "check_gpt_param_count",
    "check_layer_norm",
    "check_lr_schedule",
    "check_pre_ln_block",
    "check_training_loop",
    "check_weight_tying",
]
