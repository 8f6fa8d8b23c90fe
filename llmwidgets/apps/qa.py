"""Questions about the match records, asked with or without the record in the prompt.

Retrieval-augmented answering in miniature. A "database" of :class:`~llmwidgets.apps.
records.Match` records is searched for the one a question is about, and the record is
put in the prompt before the question; the model only has to read the answer off it.
Without retrieval the same model gets the question alone and can only guess (or recall
what it memorised in training).

* :func:`make_questions` - four kinds of question per record (crowd, venue, star, score),
  each naming the teams and the date, so the record can be found from the question;
* :func:`qa_prompt` / :func:`qa_example` - the prompt layout, with or without context::

      home=Ashford; away=Carlow; ...; star=Baker      <- the context line (optional)
      Q: How many fans saw Ashford v Carlow on 12 March?
      A: 12345                                          <- the answer, then "\\n"

* :func:`exact_match` - the share of answers equal to the reference (stripped).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from llmwidgets.apps.records import Match, record_text
from llmwidgets.core.validate import check_int, check_str

__all__ = ["KINDS", "Question", "exact_match", "make_questions", "qa_example", "qa_prompt"]

#: The kinds of question, and the record field that answers each.
KINDS = ("crowd", "venue", "star", "score")


@dataclass(frozen=True)
class Question:
    """A question about one record, with its answer."""

    text: str  # e.g. "How many fans saw Ashford v Carlow on 12 March?"
    answer: str  # e.g. "12345"
    kind: str  # one of KINDS
    record: int  # the index of the record it is about, in the list it was made from


def _ask(m: Match, kind: str) -> tuple[str, str]:
    game = f"{m.home} v {m.away} on {m.day} {m.month}"
    if kind == "crowd":
        return f"How many fans saw {game}?", str(m.crowd)
    if kind == "venue":
        return f"Where was {game} played?", m.venue
    if kind == "star":
        return f"Who was player of the match in {game}?", m.star
    return f"What was the score of {game}?", f"{m.home_goals}-{m.away_goals}"


def make_questions(matches: Sequence[Match], per_record: int = 1, seed: int = 0) -> list[Question]:
    """Questions about records, the kinds drawn at random (without repeats per record).

    The score is asked and answered home team first (``"2-1"`` = home 2, away 1).

    Args:
        matches: the records.
        per_record: questions per record, 1..4.
        seed: the seed of a private ``random.Random``.

    Returns:
        ``len(matches) * per_record`` questions, record by record.
    """
    per_record = check_int("per_record", per_record, 1, len(KINDS))
    rng = random.Random(check_int("seed", seed, 0))
    if not matches:
        raise ValueError("make_questions needs at least one record")
    out = []
    for i, m in enumerate(matches):
        if not isinstance(m, Match):
            raise ValueError(f"matches[{i}] must be a Match, got {type(m).__name__}")
        for kind in rng.sample(KINDS, per_record):
            text, answer = _ask(m, kind)
            out.append(Question(text, answer, kind, i))
    return out


def qa_prompt(question: str, context: str | None = None) -> str:
    """The prompt for a question: the context line first, if any, then ``Q: ...\\nA: ``.

    Args:
        question: the question's text.
        context: a record line (:func:`~llmwidgets.apps.records.record_text`), or
            ``None`` to ask without retrieval.
    """
    check_str("question", question)
    if "\n" in question:
        raise ValueError("question must be one line")
    head = "" if context is None else check_str("context", context).strip() + "\n"
    return f"{head}Q: {question}\nA: "


def qa_example(
    question: Question, matches: Sequence[Match], with_context: bool = True
) -> tuple[str, str]:
    """``(prompt, answer + "\\n")`` for training or testing a reader model.

    Args:
        question: a :class:`Question`.
        matches: the records it was made from (``matches[question.record]`` is the context).
        with_context: put the record in the prompt.
    """
    if not isinstance(question, Question):
        raise ValueError(f"question must be a Question, got {type(question).__name__}")
    if not 0 <= question.record < len(matches):
        raise ValueError(f"question.record={question.record} but there are {len(matches)} records")
    context = record_text(matches[question.record]) if with_context else None
    return qa_prompt(question.text, context), question.answer + "\n"


def exact_match(answers: Sequence[str], references: Sequence[str]) -> float:
    """The share of answers equal to their reference, after stripping spaces (0..1)."""
    if isinstance(answers, str) or len(answers) != len(references) or not references:
        raise ValueError(f"{len(answers)} answers for {len(references)} references")
    return sum(a.strip() == r.strip() for a, r in zip(answers, references, strict=True)) / len(
        references
    )
