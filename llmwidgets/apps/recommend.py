"""Recommendation as next-item prediction: synthetic sessions with a known structure.

A session is the list of items a user viewed, in order. :class:`SessionGenerator` makes
them with a structure chosen in advance, so the notebook can say what a perfect model
would reach. The ``n_items`` items fall into ``n_categories`` equal categories (item i is
in category ``i // per_category``); think of each category as a series whose items are
episodes in order. After viewing item i, a user views

* with probability ``p_next``: the **next episode**, the next item of the same category
  (the last one wraps round to the first);
* with probability ``p_same``: any item of the same category, uniformly;
* otherwise: any item of a category drawn by **popularity**, category c with weight
  ``1 / (c + 1)`` (Zipf), uniformly within it. Sessions start this way too.

The next item depends only on the current one (a Markov chain), so
:meth:`SessionGenerator.next_item_probs` is the exact distribution a perfect model would
predict, and :func:`oracle_scores` ranks by it: its hit rate@10 is the ceiling.
:func:`popularity_scores` is the classic baseline (the most viewed items, the same for
every user). A GPT over item ids is trained with :func:`session_examples` (the Trainer's
form: each session behind a start token, predicting every next item) and scored with
:func:`next_item_scores`; :func:`top_items` turns any scores into ranked lists for
:mod:`llmwidgets.apps.metrics` (hit rate@k, NDCG@k), predicting each session's last item
from the ones before it (leave-last-out).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmwidgets.apps.examples import masked_example, pad_examples
from llmwidgets.core.validate import check_int, check_real
from llmwidgets.nn.modes import eval_mode, model_device

__all__ = ["SessionConfig", "SessionGenerator", "check_sessions", "next_item_scores",
           "oracle_scores", "popularity_scores", "session_examples", "top_items"]  # fmt: skip


@dataclass(frozen=True)
class SessionConfig:
    """The structure of the synthetic sessions (see the module's docstring)."""

    n_items: int = 600  # items 0..n_items-1
    n_categories: int = 30  # equal categories of n_items / n_categories items
    p_next: float = 0.5  # probability of viewing the next item of the category
    p_same: float = 0.3  # probability of any item of the same category
    min_len: int = 5  # the shortest session (>= 2: one item to predict from, one to predict)
    max_len: int = 20  # the longest session

    def __post_init__(self) -> None:
        check_int("n_items", self.n_items, 2)
        check_int("n_categories", self.n_categories, 1, self.n_items)
        if self.n_items % self.n_categories:
            raise ValueError(
                f"n_items={self.n_items} must be a multiple of n_categories={self.n_categories}"
            )
        check_real("p_next", self.p_next, 0, 1)
        check_real("p_same", self.p_same, 0, 1)
        if self.p_next + self.p_same > 1:
            raise ValueError(f"p_next + p_same must be <= 1, got {self.p_next + self.p_same}")
        check_int("min_len", self.min_len, 2)
        check_int("max_len", self.max_len, self.min_len)

    @property
    def per_category(self) -> int:
        """Items per category."""
        return self.n_items // self.n_categories


class SessionGenerator:
    """Seeded sessions with the structure of a :class:`SessionConfig`."""

    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = SessionConfig() if config is None else config
        if not isinstance(self.config, SessionConfig):
            raise ValueError(f"config must be a SessionConfig, got {type(config).__name__}")
        c = self.config
        w = torch.tensor([1.0 / (k + 1) for k in range(c.n_categories)], dtype=torch.float64)
        self.category_weights = w / w.sum()  # (n_categories,), Zipf popularity

    def _jump_probs(self) -> Tensor:
        """(n_items,): a category by popularity, then an item uniformly within it."""
        c = self.config
        return self.category_weights.repeat_interleave(c.per_category) / c.per_category

    def next_item_probs(self, item: int) -> Tensor:
        """The exact distribution of the item viewed after ``item``: shape (n_items,)."""
        c = self.config
        item = check_int("item", item, 0, c.n_items - 1)
        cat = item // c.per_category
        first = cat * c.per_category
        probs = (1 - c.p_next - c.p_same) * self._jump_probs()
        probs[first : first + c.per_category] += c.p_same / c.per_category
        probs[first + (item - first + 1) % c.per_category] += c.p_next
        return probs

    def sessions(self, n: int, seed: int = 0) -> list[list[int]]:
        """``n`` sessions, the same for the same seed.

        Args:
            n: how many (>= 1).
            seed: the seed of a private ``random.Random``.

        Returns:
            Lists of item ids, each ``min_len..max_len`` long.
        """
        c = self.config
        rng = random.Random(check_int("seed", seed, 0))
        jump = self._jump_probs().tolist()
        items = range(c.n_items)
        # Cumulative next-item probabilities of every item, computed once: (n_items, n_items).
        cum = torch.stack([self.next_item_probs(i) for i in items]).cumsum(dim=1).tolist()
        out = []
        for _ in range(check_int("n", n, 1)):
            session = [rng.choices(items, jump)[0]]
            for _ in range(rng.randint(c.min_len, c.max_len) - 1):
                session.append(rng.choices(items, cum_weights=cum[session[-1]])[0])
            out.append(session)
        return out


def check_sessions(sessions: Sequence[Sequence[int]], n_items: int) -> list[list[int]]:
    """Check sessions of item ids; each needs at least 2 items (a history and a target).

    Raises:
        ValueError: for no sessions, a session too short, or an unknown item id (named,
            with its session and position).
    """
    n_items = check_int("n_items", n_items, 1)
    if isinstance(sessions, (str, Tensor)) or not sessions:
        raise ValueError("sessions must be a non-empty list of lists of item ids")
    out = []
    for s, session in enumerate(sessions):
        session = list(session)
        if len(session) < 2:
            raise ValueError(f"session {s} has {len(session)} item(s); it needs at least 2")
        for p, item in enumerate(session):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < n_items:
                raise ValueError(
                    f"item id {item!r} at position {p} of session {s} is not an item "
                    f"(0..{n_items - 1})"
                )
        out.append(session)
    return out


def session_examples(sessions: Sequence[Sequence[int]], n_items: int, length: int | None = None):
    """Training tensors for a GPT over item ids: vocabulary ``n_items + 1``.

    Token ``n_items`` starts every session; the model reads ``[start] + s[:-1]`` and is
    trained to predict ``s`` (every next item).

    Args:
        sessions: lists of item ids.
        n_items: the number of items.
        length: T, the model's context (``None``: the longest session).

    Returns:
        ``(x, y)``, two ``(N, T)`` tensors for :class:`~llmwidgets.apps.examples.RowBatcher`.
    """
    sessions = check_sessions(sessions, n_items)
    examples = [masked_example([n_items, *s], [False] + [True] * len(s)) for s in sessions]
    return pad_examples(examples, pad_id=n_items, length=length)


def next_item_scores(model, sessions: Sequence[Sequence[int]], n_items: int) -> Tensor:
    """The model's scores for each session's last item, from the items before it.

    Args:
        model: a GPT over ``n_items + 1`` tokens (see :func:`session_examples`).
        sessions: lists of item ids (the last one is what is predicted).
        n_items: the number of items.

    Returns:
        ``(N, n_items)`` logits (the start token's column dropped), on the CPU.
    """
    sessions = check_sessions(sessions, n_items)
    x, _ = session_examples([s for s in sessions], n_items)
    lengths = torch.tensor([len(s) for s in sessions])  # [start] + s[:-1] has len(s) tokens
    with eval_mode(model):
        logits = model(x.to(model_device(model)))  # (N, T, n_items + 1)
    last = logits[torch.arange(len(sessions)), lengths.to(logits.device) - 1]  # (N, V)
    return last[:, :n_items].float().cpu()


def popularity_scores(train_sessions: Sequence[Sequence[int]], n_items: int) -> Tensor:
    """How often each item was viewed in the training sessions: shape (n_items,)."""
    sessions = check_sessions(train_sessions, n_items)
    counts = torch.zeros(n_items)
    for s in sessions:
        counts += torch.bincount(torch.tensor(s), minlength=n_items).float()
    return counts


def oracle_scores(generator: SessionGenerator, sessions: Sequence[Sequence[int]]) -> Tensor:
    """The true probabilities of each session's last item given the one before: (N, n_items)."""
    sessions = check_sessions(sessions, generator.config.n_items)
    return torch.stack([generator.next_item_probs(s[-2]) for s in sessions]).float()


def top_items(scores: Tensor, k: int) -> list[list[int]]:
    """The ``k`` best items of each row of ``scores`` (N, n_items) or of one (n_items,) row
    shared by ``N`` sessions - pass ``scores.expand(N, -1)`` for popularity."""
    k = check_int("k", k, 1)
    if not isinstance(scores, Tensor) or scores.dim() != 2 or scores.shape[1] < k:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be (N, n_items) with n_items >= k={k}, got {shape}")
    # A stable sort: equal scores keep the lower item first.
    order = torch.sort(scores.float(), dim=1, descending=True, stable=True).indices
    return order[:, :k].tolist()
