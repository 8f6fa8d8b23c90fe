"""Data-to-text: synthetic football matches, their reports, and how true a report is.

"Automated reporting" turns a structured record into prose. To measure it honestly we
need records whose every fact is known, so they are generated (:func:`make_matches`,
seeded): a :class:`Match` of a small league. Each one has

=================  ===========================================================
``home``, ``away``  two different teams of :data:`TEAMS` (one-word town names)
``home_goals``      0..5 goals each (0-1-2 most often, as in real football)
``away_goals``
``day``, ``month``  the date, day 1..28 of a month of :data:`MONTHS`
``venue``           the home team's ground (:data:`GROUNDS`)
``crowd``           the attendance, 1,000..39,999 (written without separators)
``star``            the player of the match, a surname of :data:`PLAYERS`
=================  ===========================================================

* :func:`record_text` - the record as the model reads it, one line of ``key=value;``;
  :func:`parse_record` reads such a line back (and refuses one missing a field);
* :func:`write_report` - the reference report, from three templates (home win, away win,
  draw): the winner is always named first, with the score written winner first;
* :func:`fact_check` - every checkable claim of a report (names, numbers, the score, who
  won) compared with the record: which are true, which are invented, which facts of the
  record the report leaves out. This is the honest measure of hallucination that ROUGE
  (:func:`rouge`, Google's ``rouge-score``) is not: a report can share most of its words
  with the reference and still give the wrong score.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

from llmwidgets.core.validate import check_int, check_str

__all__ = [
    "GROUNDS",
    "MONTHS",
    "PLAYERS",
    "TEAMS",
    "Claim",
    "FactCheck",
    "Match",
    "fact_accuracy",
    "fact_check",
    "make_matches",
    "parse_record",
    "record_text",
    "rouge",
    "write_report",
]

TEAMS = ("Ashford", "Brampton", "Carlow", "Dunmore", "Eastleigh", "Fairview", "Glenford",
         "Harwick", "Ironbridge", "Kingsley", "Langford", "Millbrook", "Northam", "Oakham",
         "Redcliff", "Stanmore")  # fmt: skip
#: Each team's home ground, in the order of TEAMS.
GROUNDS = ("Mill Lane", "Castle Road", "The Meadow", "Quarry Field", "Station Park",
           "Bridge End", "The Hollow", "Abbey Road", "Foundry Lane", "Royal Park",
           "Church Walk", "Water Lane", "North Bank", "Elm Grove", "Cliff Top",
           "The Common")  # fmt: skip
PLAYERS = ("Adams", "Baker", "Clarke", "Davies", "Evans", "Fisher", "Green", "Hughes", "Irwin",
           "Jones", "Kelly", "Lewis", "Moore", "Nolan", "Owens", "Parker", "Quinn", "Reid",
           "Shaw", "Turner", "Walsh", "Young")  # fmt: skip
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
_GOALS = (0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5)  # drawn uniformly: few goals are common


@dataclass(frozen=True)
class Match:
    """One football match: every fact a report may state (see the module's table)."""

    home: str  # the home team, one of TEAMS
    away: str  # the away team, another of TEAMS
    home_goals: int  # 0..5
    away_goals: int  # 0..5
    day: int  # 1..28
    month: str  # one of MONTHS
    venue: str  # the home team's ground, one of GROUNDS
    crowd: int  # attendance, 1000..39999
    star: str  # player of the match, one of PLAYERS

    @property
    def winner(self) -> str | None:
        """The team with more goals, or None for a draw."""
        if self.home_goals == self.away_goals:
            return None
        return self.home if self.home_goals > self.away_goals else self.away

    @property
    def score(self) -> str:
        """The score winner first (home first in a draw), as the reports write it."""
        hi, lo = max(self.home_goals, self.away_goals), min(self.home_goals, self.away_goals)
        return f"{hi}-{lo}"


def make_matches(n: int, seed: int = 0) -> list[Match]:
    """``n`` random matches, the same for the same seed.

    Args:
        n: how many (>= 1).
        seed: the seed of a private ``random.Random``.

    Returns:
        A list of :class:`Match`.
    """
    rng = random.Random(check_int("seed", seed, 0))
    out = []
    for _ in range(check_int("n", n, 1)):
        h, a = rng.sample(range(len(TEAMS)), 2)
        out.append(Match(TEAMS[h], TEAMS[a], rng.choice(_GOALS), rng.choice(_GOALS),
                         rng.randint(1, 28), rng.choice(MONTHS), GROUNDS[h],
                         rng.randint(1000, 39999), rng.choice(PLAYERS)))  # fmt: skip
    return out


_FIELDS = tuple(f.name for f in fields(Match))
_INTS = {"home_goals", "away_goals", "day", "crowd"}


def record_text(match: Match) -> str:
    """The record as one line, ``"home=Ashford; away=Carlow; ...; star=Baker"``."""
    if not isinstance(match, Match):
        raise ValueError(f"match must be a Match, got {type(match).__name__}")
    return "; ".join(f"{k}={v}" for k, v in asdict(match).items())


def parse_record(text: str) -> Match:
    """Read a line written by :func:`record_text` back into a :class:`Match`.

    Raises:
        ValueError: for a missing field (named), an unknown field, or a number that is
            not one.
    """
    check_str("text", text)
    values = {}
    for part in text.strip().split(";"):
        key, sep, value = part.strip().partition("=")
        if not sep or key not in _FIELDS:
            raise ValueError(f"{part.strip()!r} is not a field of a match ({', '.join(_FIELDS)})")
        values[key] = value
    missing = [k for k in _FIELDS if k not in values]
    if missing:
        raise ValueError(f"the record is missing the field(s) {', '.join(missing)}")
    for key in _INTS:
        if not values[key].isdigit():
            raise ValueError(f"{key} must be a whole number, got {values[key]!r}")
        values[key] = int(values[key])
    return Match(**values)


def write_report(match: Match) -> str:
    """The reference report: one of three templates, chosen by the result."""
    m = match
    if not isinstance(m, Match):
        raise ValueError(f"match must be a Match, got {type(m).__name__}")
    date = f"{m.day} {m.month}"
    if m.winner == m.home:
        return (f"{m.home} beat {m.away} {m.score} at {m.venue} on {date}. {m.star} was "
                f"player of the match in front of {m.crowd} fans.")  # fmt: skip
    if m.winner == m.away:
        return (f"{m.away} won {m.score} away at {m.home} on {date}. {m.star} was player "
                f"of the match and the crowd at {m.venue} was {m.crowd}.")  # fmt: skip
    return (f"{m.home} and {m.away} drew {m.score} at {m.venue} on {date}. The crowd was "
            f"{m.crowd} and {m.star} was player of the match.")  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """One checkable statement of a report."""

    # "team", "venue", "player", "month", "number", "score", "result", or "name": a
    # capitalised word that is no name of the league (a misspelt or made-up one)
    kind: str
    text: str  # the words of the report that make it
    true: bool  # whether the record agrees


@dataclass(frozen=True)
class FactCheck:
    """What a report claims, checked against its record."""

    claims: tuple[Claim, ...]  # in the order they appear in the report
    missing: tuple[str, ...]  # fields of the record the report never states

    @property
    def invented(self) -> tuple[Claim, ...]:
        """The false claims: hallucinations."""
        return tuple(c for c in self.claims if not c.true)

    @property
    def accuracy(self) -> float:
        """The share of claims that are true (1.0 for a report that claims nothing)."""
        return sum(c.true for c in self.claims) / len(self.claims) if self.claims else 1.0

    @property
    def all_true(self) -> bool:
        """No invented claim and nothing missing."""
        return not self.invented and not self.missing


def _names(words: Sequence[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_NAME_KINDS = (("team", TEAMS), ("venue", GROUNDS), ("player", PLAYERS), ("month", MONTHS))
_TOKEN = re.compile(
    "|".join(f"(?P<{kind}>\\b(?:{_names(words)})\\b)" for kind, words in _NAME_KINDS)
    + r"|(?P<score>\b\d+-\d+\b)|(?P<number>\b\d+\b)|(?P<name>\b(?!The\b)[A-Z][a-z]+\b)"
)
_RESULT = re.compile(rf"\b(?P<a>{_names(TEAMS)}) (?P<verb>beat|won)\b|\b(?P<drew>drew)\b")


def fact_check(report: str, match: Match) -> FactCheck:
    """Check every name, number, score and result a report states against the record.

    A team is true if it played, a venue if it is the match's, a player if it is the star,
    a month if it is the match's; a capitalised word that is none of these names is an
    invented ``"name"``; a score ``X-Y`` if it is the score written winner first
    (:attr:`Match.score`); any other number if it is the day or the crowd; a result
    (``"A beat"`` / ``"A won"`` / ``"drew"``) if it names the winner, or the match was a
    draw. Facts of the record that no true claim states are ``missing``.

    Args:
        report: the text (may be empty: it then claims nothing and misses everything).
        match: the record it should describe.

    Returns:
        A :class:`FactCheck`.
    """
    check_str("report", report, allow_empty=True)
    if not isinstance(match, Match):
        raise ValueError(f"match must be a Match, got {type(match).__name__}")
    truth = {"team": {match.home, match.away}, "venue": {match.venue}, "player": {match.star},
             "month": {match.month}, "score": {match.score},
             "number": {str(match.day), str(match.crowd)}, "name": set()}  # fmt: skip
    found = []
    for tok in _TOKEN.finditer(report):
        kind = tok.lastgroup
        found.append((tok.start(), Claim(kind, tok.group(), tok.group() in truth[kind])))
    for res in _RESULT.finditer(report):
        true = match.winner is None if res.group("drew") else res.group("a") == match.winner
        found.append((res.start(), Claim("result", res.group(), true)))
    claims = tuple(c for _, c in sorted(found, key=lambda item: item[0]))
    stated = {c.text for c in claims if c.true}
    facts = {"home": match.home, "away": match.away, "venue": match.venue, "star": match.star,
             "month": match.month, "day": str(match.day), "crowd": str(match.crowd),
             "score": match.score}  # fmt: skip
    missing = tuple(k for k, v in facts.items() if v not in stated)
    if not any(c.kind == "result" and c.true for c in claims):
        missing += ("result",)
    return FactCheck(claims, missing)


def fact_accuracy(report: str, match: Match) -> float:
    """The share of a report's checkable claims that are true: ``fact_check(...).accuracy``."""
    return fact_check(report, match).accuracy


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (x100), with Google's ``rouge-score``.

    ``rouge-score`` reimplements the original ROUGE-1.5.5 Perl script; its tokenizer
    lowercases and keeps ``[a-z0-9]`` runs only, so it suits English text (a Chinese text
    has no token for it: refused rather than scored 0).

    Args:
        predictions: the generated texts.
        references: the reference texts, as many.

    Returns:
        ``{"rouge1": ..., "rouge2": ..., "rougeL": ...}`` in 0..100.

    Raises:
        ValueError: for lists of different lengths, empty lists, or a reference with no
            token ROUGE can count.
        ImportError: without ``rouge-score`` (``pip install rouge-score``).
    """
    from rouge_score import rouge_scorer, tokenize

    if isinstance(predictions, str) or isinstance(references, str):
        raise ValueError("predictions and references must be lists of texts, not one text")
    if len(predictions) != len(references) or not references:
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    for i, ref in enumerate(references):
        if not tokenize.tokenize(check_str(f"references[{i}]", ref), None):
            raise ValueError(f"reference {i} ({ref!r:.30}) has no word ROUGE can count")
    keys = ("rouge1", "rouge2", "rougeL")
    scorer = rouge_scorer.RougeScorer(list(keys), use_stemmer=False)
    totals = dict.fromkeys(keys, 0.0)
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, check_str("prediction", pred, allow_empty=True))
        for k in keys:
            totals[k] += scores[k].fmeasure
    return {k: 100.0 * v / len(references) for k, v in totals.items()}
