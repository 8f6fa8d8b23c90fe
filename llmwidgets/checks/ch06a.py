"""Checks of notebook 06a (generation and automated writing): why few reports are right,
what ROUGE and the fact check say of a report with the teams swapped, ROUGE-1 by hand,
and the rule of the reports' scores.

The references are the package's own: :func:`~llmwidgets.apps.records.rouge` (Google's
``rouge-score``), :func:`~llmwidgets.apps.records.fact_check` and
:func:`~llmwidgets.apps.records.write_report`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.apps.records import Match, fact_check, make_matches, rouge, write_report
from llmwidgets.checks._core import Hint, call, exercise, expect_close, one_number, pair

__all__ = [
    "check_all_true_rate",
    "check_rouge1",
    "check_score_claim",
    "check_swap_scores",
]


@exercise("exercise 1 (why few reports are entirely right)")
def check_all_true_rate(predicted_all_true: Callable[[float, int], Any]) -> str:
    """Check ``predicted_all_true(claim_rate, n_claims)``: every claim true, independently.

    Each of ``n_claims`` claims is true with probability ``claim_rate``, independently of
    the others; the answer is the probability that all of them are true.
    """
    cases = [(0.9, 8), (0.5, 3), (0.3, 1), (1.0, 12), (0.0, 5), (0.75, 10)]
    for p, n in cases:
        what = f"claim_rate = {p}, n_claims = {n}"
        got = one_number(call(predicted_all_true, p, n), what)
        expected = torch.tensor(p**n, dtype=torch.float64)
        wrong = [
            (torch.tensor(p * n, dtype=torch.float64),
             "a product of n probabilities, not p times n: a report is entirely right only "
             "if its first claim AND its second AND ... are true"),
            (torch.tensor(1 - (1 - p) ** n, dtype=torch.float64),
             "that is the probability that at least one claim is true; the report needs "
             "every claim true"),
            (torch.tensor(p, dtype=torch.float64),
             "the number of claims matters: each further claim is one more chance to go wrong"),
        ]  # fmt: skip
        expect_close(got, expected, what, wrong)
    return f"{len(cases)} cases: independent claims multiply, so long reports are rarely all true"


def _swap_case() -> tuple[str, str, Match]:
    match = Match("Ashford", "Carlow", 2, 1, 3, "May", "Mill Lane", 12345, "Adams")
    original = write_report(match)
    swapped = original.replace("Ashford", "@").replace("Carlow", "Ashford").replace("@", "Carlow")
    return original, swapped, match


@exercise("exercise 2 (a report with the teams swapped)")
def check_swap_scores(predicted_swap_scores: Callable[[], Any]) -> str:
    """Check ``predicted_swap_scores() -> (rouge1, n_false)`` for a report with the teams swapped.

    The reference report of a home win has its two team names exchanged; the answer is its
    ROUGE-1 F1 against the original (0..100) and the number of claims
    :func:`~llmwidgets.apps.records.fact_check` finds false.
    """
    original, swapped, match = _swap_case()
    want_r1 = rouge([swapped], [original])["rouge1"]
    want_false = len(fact_check(swapped, match).invented)
    r1, n_false = pair(call(predicted_swap_scores), "return two numbers: (rouge1, n_false)")
    r1 = float(one_number(r1, "the ROUGE-1 F1"))
    if abs(r1 - want_r1 / 100) < 1e-6 and want_r1 > 1:
        raise Hint("the exercise asks for ROUGE on the 0..100 scale the notebook prints")
    if abs(r1 - want_r1) > 0.5:
        raise Hint(
            "ROUGE-1 counts the words the two texts share, whatever their order: list the "
            "words of both reports and see which ones differ"
        )
    n = one_number(n_false, "the number of false claims")
    if float(n) != float(want_false):
        if float(n) < want_false:
            raise Hint(
                "look beyond names and numbers: fact_check also checks who the report says "
                "won ('A beat ...'), against the record"
            )
        raise Hint(
            "a team claim is true when that team played the match, a ground when it is the "
            "match's ground, and the score is written winner first: recount which claims "
            "the swap makes false"
        )
    return "same words, same ROUGE-1; one false claim that ROUGE cannot see"


def _rouge1_f(prediction: str, reference: str) -> float:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1"]).score(reference, prediction)["rouge1"].fmeasure


def _slip(pred: list[str], ref: list[str], kind: str) -> float:
    """ROUGE-1 computed with one typical slip."""
    if kind == "unclipped":
        shared = sum(1 for w in pred if w in set(ref))
    else:
        shared = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or shared == 0:
        return 0.0
    p, r = min(shared / len(pred), 1.0), min(shared / len(ref), 1.0)
    if kind == "recall":
        return r
    if kind == "precision":
        return p
    return 2 * p * r / (p + r)


def _words(text: str, lower: bool = True) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower()) if lower else re.findall(r"[A-Za-z0-9]+", text)


def _rouge_cases() -> list[tuple[str, str]]:
    matches = make_matches(4, seed=3)
    reports = [write_report(m) for m in matches]
    return [
        (reports[0], reports[0]),
        (reports[1], reports[0]),
        (reports[2], reports[3]),
        (reports[3].upper(), reports[3]),
        ("the the the cat", "the cat sat on the mat"),
        ("Draw: 2-2, at Elm Grove!", "They drew 2-2 at Elm Grove."),
        ("", "Ashford beat Carlow"),
        ("nothing shared here", "Ashford beat Carlow 2-1"),
    ]


@exercise("exercise 3 (ROUGE-1 by hand)")
def check_rouge1(my_rouge1: Callable[[str, str], Any]) -> str:
    """Check ``my_rouge1(prediction, reference)``: ROUGE-1 F1 in 0..1, as ``rouge-score``.

    Both texts are lower-cased and split into ``[a-z0-9]+`` runs; shared words are counted
    with clipping (a word counts as often as it occurs in the text where it is rarer);
    F1 is the harmonic mean of precision and recall, 0 when nothing is shared.
    """
    cases = _rouge_cases()
    for prediction, reference in cases:
        what = f"prediction {prediction!r:.40}, reference {reference!r:.40}"
        expected = torch.tensor(_rouge1_f(prediction, reference), dtype=torch.float64)
        pred, ref = _words(prediction), _words(reference)
        slips = [
            ("recall", "that is the recall; ROUGE-1 F1 combines recall and precision"),
            ("precision", "that is the precision; ROUGE-1 F1 combines recall and precision"),
        ]
        upper = _slip(_words(prediction, False), _words(reference, False), "f1")
        split = _slip(prediction.lower().split(), reference.lower().split(), "f1")
        wrong = [
            (_slip(pred, ref, "unclipped"), "a repeated word counts only as often as the other "
             "text has it: clip each word's count (collections.Counter's & does it)"),
            (upper, "lower-case both texts first: 'Ashford' and 'ashford' are one word"),
            (split, "split into runs of letters and digits, not on spaces: 'grove.' and "
             "'grove' are one word, and '2-1' is two"),
            (100 * float(expected), "return a score in 0..1, not a percentage"),
        ] + [(_slip(pred, ref, k), h) for k, h in slips]  # fmt: skip
        wrong = [(torch.tensor(w, dtype=torch.float64), h) for w, h in wrong]
        wrong = [(w, h) for w, h in wrong if not torch.isclose(w, expected, atol=1e-9)]
        expect_close(one_number(call(my_rouge1, prediction, reference), what), expected, what,
                     wrong, atol=1e-6)  # fmt: skip
    return f"{len(cases)} pairs agree with rouge-score"


def _score_cases() -> list[tuple[str, int, int]]:
    cases = []
    for h, a in [(2, 1), (1, 3), (0, 0), (2, 2), (5, 0), (0, 4), (3, 3), (1, 0)]:
        hi, lo = max(h, a), min(h, a)
        cases += [(f"{h}-{a}", h, a), (f"{a}-{h}", h, a), (f"{hi + 1}-{lo}", h, a)]
    return list(dict.fromkeys(cases))


@exercise("exercise 4 (is the score true?)")
def check_score_claim(score_is_true: Callable[[str, int, int], Any]) -> str:
    """Check ``score_is_true(score, home_goals, away_goals)``: the reports' score rule.

    A score ``"X-Y"`` is true when it is the match's score written winner first (home first
    in a draw), as :func:`~llmwidgets.apps.records.fact_check` judges a score claim.
    """
    cases = _score_cases()
    for score, h, a in cases:
        match = Match("Ashford", "Carlow", h, a, 1, "May", "Mill Lane", 1000, "Adams")
        (claim,) = [c for c in fact_check(score, match).claims if c.kind == "score"]
        got = call(score_is_true, score, h, a)
        if not isinstance(got, (bool, torch.Tensor)) and got not in (0, 1):
            raise Hint(f"return True or False, got {type(got).__name__}")
        if bool(got) == claim.true:
            continue
        kind = "a draw" if h == a else "a home win" if h > a else "an away win"
        if bool(got) == (score == f"{h}-{a}") and h < a:
            raise Hint(
                "the reports write the winner's goals first, not the home side's: "
                "'Carlow won 3-1 away' means the away side scored 3"
            )
        raise Hint(
            f"wrong for {kind} (home {h}, away {a}, score {score!r}): compare both numbers "
            "of the score with the goals, the larger one first"
        )
    return f"{len(cases)} scores of home wins, away wins and draws"
