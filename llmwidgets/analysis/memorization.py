"""Memorisation, measured: canaries and their exposure, and verbatim regurgitation.

"The Secret Sharer" (Carlini et al., 2019) plants random *canaries* - e.g. ``"my pin is
381946"`` - in the training text, some once, some many times, and asks after training how
much more likely the model finds the planted secret than other secrets of the same form.
With R the set of candidates (the canary's secret and random others), the **rank** of the
canary is the number of candidates the model scores at least as likely (1 = the most
likely of all), and its **exposure** is::

    exposure = log2 |R| - log2 rank

0 bits when the canary is no likelier than the typical candidate ... log2 |R| bits when it
is the likeliest of all. Scoring every one of 10^6 secrets is costly, so, as the paper does
for large spaces, R is a random sample of candidates (its size bounds the exposure).

* :func:`make_canaries` - seeded random canaries ``prefix + secret``;
* :func:`insert_canaries` - a training text with canary i inserted ``repeats[i]`` times,
  each at the start of a random line;
* :func:`sequence_log_probs` - the model's log-likelihood of each text's last tokens;
* :func:`exposure` - rank and exposure of one canary among random candidates;
* :func:`verbatim_rate` - the share of prompts whose greedy continuation is exactly the
  text that followed them in training (regurgitation).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from llmwidgets.core.validate import check_int, check_real, check_str
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.nn.sampling import generate

__all__ = [
    "exposure",
    "insert_canaries",
    "make_canaries",
    "sequence_log_probs",
    "verbatim_rate",
]


def _random_secret(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def make_canaries(
    n: int, prefix: str = "my pin is ", length: int = 6, alphabet: str = "0123456789",
    seed: int = 0,
) -> list[str]:  # fmt: skip
    """``n`` different canaries ``prefix + secret``, the secrets random from ``alphabet``.

    Args:
        n: how many.
        prefix: the context the model will be asked to complete.
        length: characters of each secret.
        alphabet: the characters of the secrets (with a character-level model, build the
            tokenizer from the text *after* inserting them, so they are in its vocabulary).
        seed: seeds ``random.Random``.

    Returns:
        The canaries, e.g. ``["my pin is 864394", ...]``.
    """
    n, length = check_int("n", n, 1), check_int("length", length, 1)
    alphabet = check_str("alphabet", alphabet)
    if len(set(alphabet)) ** length < n:
        raise ValueError(f"{len(set(alphabet))}^{length} secrets cannot give {n} different ones")
    rng, secrets = random.Random(check_int("seed", seed, 0)), set()
    canaries = []
    while len(canaries) < n:
        secret = _random_secret(rng, alphabet, length)
        if secret not in secrets:
            secrets.add(secret)
            canaries.append(check_str("prefix", prefix, allow_empty=True) + secret)
    return canaries


def insert_canaries(
    text: str, canaries: Sequence[str], repeats: Sequence[int], seed: int = 0,
    within: float = 0.85,
) -> str:  # fmt: skip
    """``text`` with canary i inserted ``repeats[i]`` times, each as a line of its own.

    Args:
        text: the training text (lines separated by ``"\\n"``).
        canaries: the canaries, without line breaks.
        repeats: how often each canary is inserted (>= 1), e.g. ``[1, 4, 16, 64]``.
        seed: seeds the random positions (before random lines of ``text``).
        within: the share of the lines, from the start, that copies go before. The
            default keeps every copy in the training part of :func:`llmwidgets.text_data`
            (the first 90% of the text), with a margin for the inserted characters; 1.0
            spreads them over the whole text.

    Returns:
        The new text; every original line is kept, in order.
    """
    check_str("text", text)
    if len(canaries) != len(repeats) or not canaries:
        raise ValueError(f"{len(canaries)} canaries but {len(repeats)} repeat counts")
    inserts = []
    for i, (canary, k) in enumerate(zip(canaries, repeats, strict=True)):
        if "\n" in check_str(f"canaries[{i}]", canary):
            raise ValueError(f"canaries[{i}] holds a line break: {canary!r}")
        inserts += [canary] * check_int(f"repeats[{i}]", k, 1)
    lines = text.split("\n")
    rng = random.Random(check_int("seed", seed, 0))
    eligible = max(1, round(len(lines) * check_real("within", within, 0, 1, min_open=True)))
    where = sorted(rng.randrange(eligible) for _ in inserts)  # before line where[j]
    rng.shuffle(inserts)
    out, j = [], 0
    for i, line in enumerate(lines):
        while j < len(where) and where[j] == i:
            out.append(inserts[j])
            j += 1
        out.append(line)
    return "\n".join(out)


def _encode(tokenizer: Any, text: str, name: str) -> list[int]:
    try:
        return list(tokenizer.encode(text))
    except (KeyError, ValueError) as err:
        raise ValueError(f"{name} {text!r} cannot be encoded by the tokenizer: {err}") from None


def sequence_log_probs(
    model: nn.Module, tokenizer: Any, texts: Sequence[str], last: int, batch_size: int = 512
) -> torch.Tensor:
    """The model's log-likelihood (nats) of the last ``last`` tokens of each text.

    Every text must have the same number of tokens (candidates of one canary do), and at
    least ``last + 1`` (the first token is context only).

    Args:
        model: a language model ``model(idx) -> (B, T, V)``.
        tokenizer: with ``encode(text) -> ids``.
        texts: the texts.
        last: how many final tokens are scored (the secret's length).
        batch_size: texts per forward pass.

    Returns:
        ``(len(texts),)`` float64: ``sum log p(token_t | tokens before t)`` over the last
        ``last`` positions.
    """
    last, batch_size = check_int("last", last, 1), check_int("batch_size", batch_size, 1)
    ids = torch.tensor([_encode(tokenizer, t, "text") for t in texts])  # (N, T)
    if ids.dim() != 2 or ids.shape[1] < last + 1:
        raise ValueError(
            f"the texts must have the same number of tokens, at least last + 1 = {last + 1}"
        )
    out = []
    with eval_mode(model):
        for chunk in ids.split(batch_size):
            chunk = chunk.to(model_device(model))
            logp = model(chunk[:, :-1]).double().log_softmax(-1)  # (b, T-1, V)
            picked = logp.gather(-1, chunk[:, 1:, None])[..., 0]  # (b, T-1)
            out.append(picked[:, -last:].sum(-1).cpu())
    return torch.cat(out)


def exposure(
    model: nn.Module, tokenizer: Any, canary: str, secret_length: int, candidates: int = 1000,
    alphabet: str = "0123456789", seed: int = 0,
) -> tuple[int, float, int]:  # fmt: skip
    """Rank and exposure of a canary among random candidates (Carlini et al., 2019).

    The candidates share the canary's prefix and have random secrets of the same length
    (never the canary's own). R = the canary + ``candidates`` others.

    Args:
        model: the trained language model.
        tokenizer: its tokenizer (one token per character for the book's models).
        canary: ``prefix + secret``.
        secret_length: characters of the secret at the end of ``canary``.
        candidates: random other secrets scored (|R| - 1).
        alphabet: the characters secrets are drawn from.
        seed: seeds the candidates.

    Returns:
        ``(rank, exposure_bits, size_of_R)``: rank 1 is the likeliest; ties count against
        the canary (a candidate scored exactly as likely ranks before it).
    """
    canary = check_str("canary", canary)
    k = check_int("secret_length", secret_length, 1, len(canary) - 1)
    m = check_int("candidates", candidates, 1)
    if any(ch not in alphabet for ch in canary[-k:]):
        raise ValueError(f"the secret {canary[-k:]!r} has characters outside {alphabet!r}")
    space = len(set(alphabet)) ** k
    if m > space - 1:
        raise ValueError(f"only {space - 1} other secrets exist, fewer than candidates={m}")
    rng, prefix, others = random.Random(check_int("seed", seed, 0)), canary[:-k], set()
    while len(others) < m:
        secret = _random_secret(rng, alphabet, k)
        if secret != canary[-k:]:
            others.add(secret)
    texts = [canary] + [prefix + s for s in sorted(others)]
    n_tokens = len(_encode(tokenizer, canary[-k:], "secret"))
    scores = sequence_log_probs(model, tokenizer, texts, n_tokens)
    rank = int((scores[1:] >= scores[0]).sum()) + 1
    return rank, math.log2(m + 1) - math.log2(rank), m + 1


def verbatim_rate(
    model: nn.Module, tokenizer: Any, prompts: Sequence[str], continuations: Sequence[str]
) -> tuple[float, list[bool]]:
    """The share of prompts whose greedy continuation is exactly the given continuation.

    Args:
        model: the language model.
        tokenizer: with ``encode`` and ``decode``.
        prompts: texts of equal token length (decoded together as one batch).
        continuations: what followed each prompt in the training text.

    Returns:
        ``(rate, matched)``: the share in [0, 1] and, per prompt, whether greedy decoding
        reproduced the continuation character for character.
    """
    if len(prompts) != len(continuations) or not prompts:
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    ids = [_encode(tokenizer, p, "prompt") for p in prompts]
    if len({len(i) for i in ids}) != 1:
        raise ValueError("the prompts must have the same number of tokens (one batch)")
    targets = [_encode(tokenizer, c, "continuation") for c in continuations]
    new = max(len(t) for t in targets)
    out = generate(model, torch.tensor(ids), new, temperature=0.0)[:, len(ids[0]) :]  # greedy
    matched = [row[: len(t)] == t for row, t in zip(out.tolist(), targets, strict=True)]
    return sum(matched) / len(matched), matched
