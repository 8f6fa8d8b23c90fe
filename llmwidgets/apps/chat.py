"""Instruction tuning: a chat template with special tokens, and masked fine-tuning data.

**The template.** A conversation is written as turns, each a role token, the text, and
an end token, with nothing in between::

    <|user|>Greet Romeo.<|end|><|assistant|>Good morrow, Romeo!<|end|>

To answer, the model is given everything up to and including ``<|assistant|>`` and
generates until it produces ``<|end|>``. The three markers are **special tokens**: one id
each, which no text can produce by accident.

* :class:`ChatTokenizer` - a :class:`~llmwidgets.text.tokenizers.CharTokenizer` with the
  special tokens appended (ids ``V .. V+2`` after the ``V`` characters, so every
  character keeps its id and a pretrained model's embeddings stay valid);
* :func:`extend_vocab` - a copy of a GPT with rows for the new tokens (initialised to
  the mean of the existing embeddings, so their first logits are ordinary);
* :func:`chat_prompt` / :func:`chat_example` - the template, and one supervised example
  whose loss is **masked on the prompt side**: only the assistant's replies and their
  ``<|end|>`` are trained on (:data:`~llmwidgets.apps.examples.IGNORE` elsewhere);
* :func:`chat_reply` - the assistant's answer to a message, given the history;
* :func:`make_dialogues` - a small synthetic instruction set (greet a name, repeat a word,
  shout a word, say a word's opposite) with names and words from tinyshakespeare, some
  held out for testing.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from llmwidgets.apps.examples import masked_example
from llmwidgets.apps.prompting import complete
from llmwidgets.core.data import load_text
from llmwidgets.core.validate import check_int, check_real, check_str
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.text.tokenizers import CharTokenizer

__all__ = ["ASSISTANT", "END", "SPECIAL_TOKENS", "USER", "ChatTokenizer", "chat_example",
           "chat_prompt", "chat_reply", "extend_vocab", "make_dialogues"]  # fmt: skip

USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = (USER, ASSISTANT, END)
ROLES = {"user": USER, "assistant": ASSISTANT}


class ChatTokenizer:
    """A character tokenizer plus the chat's special tokens.

    Args:
        base: the model's :class:`CharTokenizer` (its ids are kept).
        specials: the special tokens, appended in this order.
    """

    def __init__(self, base: CharTokenizer, specials: Sequence[str] = SPECIAL_TOKENS) -> None:
        if not isinstance(base, CharTokenizer):
            raise ValueError(f"base must be a CharTokenizer, got {type(base).__name__}")
        self.base, self.specials = base, tuple(check_str("special", s) for s in specials)
        if len(set(self.specials)) != len(self.specials) or any(len(s) < 2 for s in self.specials):
            raise ValueError(f"specials must be distinct strings of 2+ characters, got {specials}")
        self.special_ids = {s: base.vocab_size + i for i, s in enumerate(self.specials)}
        self._split = re.compile("(" + "|".join(map(re.escape, self.specials)) + ")")

    @property
    def vocab_size(self) -> int:
        """Characters plus special tokens."""
        return self.base.vocab_size + len(self.specials)

    def encode(self, text: str) -> list[int]:
        """Ids of a text in which special tokens may appear (each becomes one id)."""
        check_str("text", text, allow_empty=True)
        ids: list[int] = []
        for part in self._split.split(text):
            ids += [self.special_ids[part]] if part in self.special_ids else self.base.encode(part)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids; special ids become their strings."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        by_id = {i: s for s, i in self.special_ids.items()}
        out = []
        for pos, i in enumerate(ids):
            if i in by_id:
                out.append(by_id[i])
            elif isinstance(i, int) and 0 <= i < self.base.vocab_size:
                out.append(self.base.chars[i])
            else:
                raise ValueError(f"id {i!r} at position {pos} is outside 0..{self.vocab_size - 1}")
        return "".join(out)

    def __repr__(self) -> str:
        return f"ChatTokenizer(chars={self.base.vocab_size}, specials={list(self.specials)})"


def extend_vocab(model: GPT, vocab_size: int) -> GPT:
    """A copy of ``model`` with a larger vocabulary; old ids keep their weights.

    The new rows of ``wte`` (and of ``lm_head``, tied to it or not) start as the mean of
    the old rows: a new token then looks like an average token rather than a random one.

    Args:
        model: the book's GPT.
        vocab_size: the new size, >= the old one.

    Returns:
        A new GPT (the original is untouched), in the original's training mode.
    """
    if not isinstance(model, GPT):
        raise ValueError(f"model must be the book's GPT, got {type(model).__name__}")
    old = model.config.vocab_size
    vocab_size = check_int("vocab_size", vocab_size, old)
    config = GPTConfig(**{**model.config.__dict__, "vocab_size": vocab_size})
    new = GPT(config).to(next(model.parameters()).device)
    state = model.state_dict()
    with torch.no_grad():
        for name in ("transformer.wte.weight", "lm_head.weight"):
            w = state[name]
            state[name] = torch.cat([w, w.mean(dim=0, keepdim=True).expand(vocab_size - old, -1)])
        new.load_state_dict(state)
    return new.train(model.training)


def chat_prompt(turns: Sequence[tuple[str, str]], reply: bool = True) -> str:
    """The template of a conversation; ``reply`` adds ``<|assistant|>`` to be answered.

    Args:
        turns: ``(role, text)`` pairs, role ``"user"`` or ``"assistant"``.
        reply: end with the assistant's role token (the prompt for its next reply).

    Raises:
        ValueError: for an unknown role, or a text that contains a special token.
    """
    parts = []
    for i, (role, text) in enumerate(turns):
        if role not in ROLES:
            raise ValueError(f"turn {i} has role {role!r}; roles are {sorted(ROLES)}")
        check_str(f"turn {i} text", text)
        if any(s in text for s in SPECIAL_TOKENS):
            raise ValueError(f"turn {i} text contains a special token: {text!r:.40}")
        parts.append(f"{ROLES[role]}{text}{END}")
    return "".join(parts) + (ASSISTANT if reply else "")


def chat_example(
    tokenizer: ChatTokenizer, turns: Sequence[tuple[str, str]]
) -> tuple[list[int], list[int]]:
    """One training example of a conversation, trained only on the assistant's turns.

    Returns:
        ``(x, y)`` as :func:`~llmwidgets.apps.examples.masked_example`: the targets are the
        assistant's text and its ``<|end|>``; the user's turns and every role token are
        :data:`~llmwidgets.apps.examples.IGNORE`.
    """
    ids: list[int] = []
    trained: list[bool] = []
    for role, text in turns:
        chat_prompt([(role, text)], reply=False)  # checks the role and the text
        head = tokenizer.encode(ROLES[role])
        body = tokenizer.encode(text + END)
        ids += head + body
        trained += [False] * len(head) + [role == "assistant"] * len(body)
    return masked_example(ids, trained)


def chat_reply(
    model: Any,
    tokenizer: ChatTokenizer,
    message: str,
    history: Sequence[tuple[str, str]] = (),
    max_new_tokens: int = 60,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
) -> str:
    """The assistant's reply to ``message`` after ``history`` (greedy by default).

    Raises:
        ValueError: for an empty message, a conversation longer than the model's context,
            or a character the tokenizer does not know.
    """
    prompt = chat_prompt([*history, ("user", check_str("message", message))])
    return complete(model, tokenizer, prompt, max_new_tokens, stop=END,
                    temperature=temperature, generator=generator)  # fmt: skip


_OPPOSITES = (("day", "night"), ("love", "hate"), ("war", "peace"), ("life", "death"),
              ("friend", "foe"), ("old", "young"), ("light", "dark"), ("heaven", "hell"),
              ("rich", "poor"), ("true", "false"), ("hot", "cold"), ("sweet", "sour"))  # fmt: skip
_SPEAKER = re.compile(r"^([A-Z]{3,10}):$", re.M)  # one-word speaker headers: "ROMEO:"
_WORD = re.compile(r"\b[a-z]{4,8}\b")


def _names_and_words(text: str, n: int) -> tuple[list[str], list[str]]:
    """The ``n`` most frequent one-word speakers (as "Romeo") and lower-case words."""
    names = [name.capitalize() for name, _ in Counter(_SPEAKER.findall(text)).most_common(n)]
    words = [w for w, _ in Counter(_WORD.findall(text)).most_common(n)]
    return names, words


def make_dialogues(
    seed: int = 0, n: int = 60, held_out: float = 0.2, text: str | None = None
) -> dict[str, list[tuple[str, str]]]:
    """A synthetic instruction set: ``{"train": [(user, assistant)], "test": [...]}``.

    Four tasks: ``"Greet NAME."`` -> ``"Good morrow, NAME!"``; ``"Repeat WORD."`` ->
    ``"WORD, WORD."``; ``"Shout WORD."`` -> ``"WORD!"`` in capitals; ``"What is the
    opposite of A?"`` -> ``"B."``. Names are the ``n`` most frequent one-word speakers of
    tinyshakespeare and words its ``n`` most frequent words of 4-8 letters, so the
    model's alphabet covers them all. After a seeded shuffle, the last ``held_out`` share
    of the names and words appear only in the test set: the test measures following the
    instruction (copying a name never seen in a greeting), not recalling an answer. The
    12 opposite pairs are facts: training shows each pair one way, and for the last
    ``held_out`` share of the pairs the test asks the other way round.

    Args:
        seed: the shuffle's seed.
        n: names and words to draw (>= 5 each).
        held_out: the share kept for testing, in (0, 1).
        text: the corpus (``None``: tinyshakespeare).
    """
    rng = random.Random(check_int("seed", seed, 0))
    n = check_int("n", n, 5)
    share = check_real("held_out", held_out, 0, 1, min_open=True, max_open=True)
    text = load_text("tinyshakespeare") if text is None else check_str("text", text)
    names, words = _names_and_words(text, n)
    if len(names) < 5 or len(words) < 5:
        raise ValueError(f"the text has {len(names)} speaker names and {len(words)} words; need 5+")
    pairs = list(_OPPOSITES)
    for xs in (names, words, pairs):
        rng.shuffle(xs)
    split: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    cut_n, cut_w = max(1, round(len(names) * share)), max(1, round(len(words) * share))
    for part, ns, ws in (("train", names[:-cut_n], words[:-cut_w]),
                         ("test", names[-cut_n:], words[-cut_w:])):  # fmt: skip
        split[part] += [(f"Greet {m}.", f"Good morrow, {m}!") for m in ns]
        split[part] += [(f"Repeat {w}.", f"{w}, {w}.") for w in ws]
        split[part] += [(f"Shout {w}.", f"{w.upper()}!") for w in ws]
    cut_p = max(1, round(len(pairs) * share))
    for i, (a, b) in enumerate(pairs):
        split["train"].append((f"What is the opposite of {a}?", f"{b.capitalize()}."))
        reverse = (f"What is the opposite of {b}?", f"{a.capitalize()}.")
        split["test" if i >= len(pairs) - cut_p else "train"].append(reverse)
    return split
