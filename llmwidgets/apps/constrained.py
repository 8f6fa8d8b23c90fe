"""Song ci to a tune's form: the tune patterns of ``songci300``, and decoding under a mask.

A ci (词) is written to a tune (词牌): the tune fixes how many lines there are, how many
characters each clause has and where the punctuation falls. This module reads those forms
from the corpus itself and makes a model keep them:

* :func:`text_form` writes a text with every Han character replaced by ``□`` (:data:`SLOT`)
  and everything else kept: ``"近清明。"`` -> ``"□□□。"``;
* :func:`tune_patterns` gives each tune of ``songci300`` its :class:`CiPattern`: the most
  common form among the tune's poems (a tune may have variant forms, 又一体; ties go to
  the form met first in the corpus), one line per line of the poems;
* :func:`slot_masks` and :func:`generate_constrained` - **constrained decoding**: at each
  step the next character must be what the pattern asks for (any Han character at a
  ``□``, exactly that punctuation mark or line break elsewhere); the logits of every other
  token are masked before sampling (:func:`llmwidgets.apps.prompting.sample_tokens`, on
  :mod:`llmwidgets.nn.sampling`). The form is then kept by construction; what the model
  still chooses is which characters fill the slots;
* :func:`form_kept` / :func:`lines_kept` - whether a text (e.g. an unconstrained sample,
  cut by :func:`first_poem`) has the pattern's form, whole or line by line.

The corpus layout is :func:`llmwidgets.load_text`'s: blocks separated by a blank line, a
``"tune · author"`` header, then one line per paragraph.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from llmwidgets.apps.prompting import encode_prompt, sample_tokens
from llmwidgets.core.data import load_text
from llmwidgets.core.validate import check_str

__all__ = [
    "SLOT",
    "CiPattern",
    "first_poem",
    "form_kept",
    "generate_constrained",
    "is_han",
    "lines_kept",
    "slot_masks",
    "text_form",
    "tune_pattern",
    "tune_patterns",
]

#: Stands for "any Han character" in a form.
SLOT = "□"
_HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))


def is_han(ch: str) -> bool:
    """Whether ``ch`` is one Han character (CJK unified or compatibility ideograph)."""
    return len(ch) == 1 and any(lo <= ord(ch) <= hi for lo, hi in _HAN_RANGES)


def text_form(text: str) -> str:
    """``text`` with each Han character replaced by :data:`SLOT`, lines stripped.

    Args:
        text: any text.

    Returns:
        The form, e.g. ``"□□□。\\n□□□□，□□□。"``.
    """
    check_str("text", text, allow_empty=True)
    lines = ("".join(SLOT if is_han(c) else c for c in line).strip() for line in text.split("\n"))
    return "\n".join(lines)


@dataclass(frozen=True)
class CiPattern:
    """The form of a tune, as its poems in the corpus write it."""

    tune: str  # the tune's name (词牌), e.g. "浣溪沙"
    form: str  # one line per line of the poem; □ = a Han character, punctuation kept
    poems: int  # how many poems of the corpus have exactly this form
    variants: int  # how many different forms the tune's poems have (1 = all agree)
    authors: tuple[str, ...]  # authors of the poems with this form, in corpus order

    @property
    def lines(self) -> tuple[str, ...]:
        """The form's lines."""
        return tuple(self.form.split("\n"))

    @property
    def n_chars(self) -> int:
        """How many Han characters a poem of this form has."""
        return self.form.count(SLOT)

    def prompt(self, author: str | None = None) -> str:
        """The header that starts a poem of this tune in the corpus: ``"tune · author\\n"``."""
        return f"{self.tune} · {author or self.authors[0]}\n"


def _poems(text: str) -> list[tuple[str, str, str]]:
    """``(tune, author, body)`` of every block of the corpus text."""
    poems = []
    for block in text.strip().split("\n\n"):
        header, _, body = block.partition("\n")
        tune, sep, author = header.rpartition(" · ")
        if sep and body.strip():
            poems.append((tune, author, body.strip()))
    return poems


def tune_patterns(text: str | None = None) -> dict[str, CiPattern]:
    """The form of every tune of the corpus.

    Args:
        text: the corpus text in :func:`llmwidgets.load_text`'s layout; ``None`` loads
            ``songci300``.

    Returns:
        ``{tune: CiPattern}``, tunes in corpus order.

    Raises:
        ValueError: when the text holds no ``"tune · author"`` block.
    """
    poems = _poems(load_text("songci300") if text is None else check_str("text", text))
    if not poems:
        raise ValueError("no poem found: expected blocks of 'tune · author' then lines")
    forms: dict[str, list[tuple[str, str]]] = {}
    for tune, author, body in poems:
        forms.setdefault(tune, []).append((text_form(body), author))
    patterns = {}
    for tune, items in forms.items():
        counts = Counter(f for f, _ in items)  # insertion order breaks ties: first seen wins
        form, n = counts.most_common(1)[0]
        authors = tuple(dict.fromkeys(a for f, a in items if f == form))
        patterns[tune] = CiPattern(tune, form, n, len(counts), authors)
    return patterns


def slot_masks(tokenizer: Any) -> tuple[Tensor, dict[str, int]]:
    """Which tokens are Han characters, and the id of every other single character.

    Args:
        tokenizer: a character tokenizer (``vocab_size``, ``decode([id])``).

    Returns:
        ``(han, ids)``: a bool tensor ``(V,)``, True for Han characters, and
        ``{character: id}`` for the tokens that are one non-Han character.
    """
    pieces = [tokenizer.decode([i]) for i in range(tokenizer.vocab_size)]
    han = torch.tensor([is_han(p) for p in pieces])
    others = {p: i for i, p in enumerate(pieces) if len(p) == 1 and not is_han(p)}
    if not han.any():
        raise ValueError("the tokenizer has no Han character: train the model on songci300")
    return han, others


def generate_constrained(
    model: Any,
    tokenizer: Any,
    pattern: CiPattern,
    prompt: str | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> str:
    """A poem in the pattern's form: each step sampled only among the tokens it allows.

    The poem may be longer than the model's context: the window slides over it (as
    :func:`llmwidgets.generate` does), so the prompt must fit but the poem need not.

    Args:
        model: the book's GPT trained on the ci (character tokens).
        tokenizer: its character tokenizer.
        pattern: the form to keep (from :func:`tune_patterns`).
        prompt: the text before the poem; ``None``: ``pattern.prompt()``, the header the
            corpus writes before a poem of this tune.
        temperature, top_k, top_p, generator: as in :func:`llmwidgets.sampling_probs`
            (0 = greedy), applied to the allowed tokens.

    Returns:
        The poem (without the prompt); ``form_kept(poem, pattern)`` is True.

    Raises:
        ValueError: for a pattern that is not a :class:`CiPattern`, a punctuation mark of
            the pattern that the tokenizer does not have, or a prompt that does not fit.
    """
    if not isinstance(pattern, CiPattern):
        raise ValueError(f"pattern must be a CiPattern, got {type(pattern).__name__}")
    han, ids = slot_masks(tokenizer)
    missing = sorted({c for c in pattern.form if c != SLOT and c not in ids})
    if missing:
        raise ValueError(f"the pattern needs {missing}, which the tokenizer does not have")
    steps = []  # one mask per character of the form
    for c in pattern.form:
        if c == SLOT:
            steps.append(han)
        else:
            only = torch.zeros_like(han)
            only[ids[c]] = True
            steps.append(only)
    prompt_ids = encode_prompt(tokenizer, pattern.prompt() if prompt is None else prompt,
                               model.config.block_size)  # fmt: skip
    out = sample_tokens(
        model,
        prompt_ids,
        len(steps),
        allowed=lambda done: steps[len(done)] if len(done) < len(steps) else None,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        generator=generator,
        slide=True,
    )
    return tokenizer.decode(out)


def first_poem(text: str) -> str:
    """The poem at the start of a generated text: up to the first blank line, stripped."""
    return check_str("text", text, allow_empty=True).strip("\n").split("\n\n")[0].strip()


def form_kept(text: str, pattern: CiPattern) -> bool:
    """Whether ``text`` has exactly the pattern's form (lines, lengths and punctuation)."""
    if not isinstance(pattern, CiPattern):
        raise ValueError(f"pattern must be a CiPattern, got {type(pattern).__name__}")
    return text_form(text.strip()) == pattern.form


def lines_kept(text: str, pattern: CiPattern) -> float:
    """The share of the pattern's lines that ``text`` writes in the right form, in order.

    Line i of the text is compared with line i of the pattern; missing lines count as
    wrong and extra lines are ignored (:func:`form_kept` is the strict test).
    """
    if not isinstance(pattern, CiPattern):
        raise ValueError(f"pattern must be a CiPattern, got {type(pattern).__name__}")
    got = text_form(text.strip()).split("\n")
    want = pattern.lines
    return sum(g == w for g, w in zip(got, want, strict=False)) / len(want)


def tune_pattern(tune: str, patterns: dict[str, CiPattern] | None = None) -> CiPattern:
    """The pattern of one tune, or a clear error naming some known tunes.

    Args:
        tune: the tune's name, e.g. ``"浣溪沙"``.
        patterns: from :func:`tune_patterns`; ``None`` reads ``songci300``.
    """
    check_str("tune", tune)
    patterns = tune_patterns() if patterns is None else patterns
    if tune not in patterns:
        known = ", ".join(list(patterns)[:8])
        raise ValueError(f"unknown tune {tune!r}; {len(patterns)} tunes, e.g. {known}")
    return patterns[tune]
