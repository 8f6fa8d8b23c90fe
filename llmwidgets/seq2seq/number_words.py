"""Numbers 0..9999 in English words and in Chinese numerals: writing them, and reading them.

``number_to_english(312) == "three hundred and twelve"`` (British, with "and") and
``number_to_chinese(312) == "三百一十二"``. Edge cases of the Chinese numerals (all written
with 二, never the colloquial 两):

* 0 is 零; 10..19 drop the leading 一 (10 = 十, 11 = 十一) but inside a larger number
  the tens digit is always spoken (110 = 一百一十, 1010 = 一千零一十);
* a run of zeros *between* non-zero digits is one 零 (105 = 一百零五, 1005 = 一千零五,
  2050 = 二千零五十); trailing zeros are silent (1100 = 一千一百).

English: "and" before the last two digits when a hundred or thousand precedes them
(105 = "one hundred and five", 1005 = "one thousand and five"); 21..99 are hyphenated
("twenty-one"), and the hyphen is a token of its own.

:func:`english_to_number` and :func:`chinese_to_number` read exactly these forms back,
as a parser of that grammar: anything else - "ten thousand", "twelve hundred", "twenty
one", "zero zero", 一十五, 一千五 - is refused with the reason. The translation task uses
them to refuse input that is not one of its numbers, instead of translating it wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llmwidgets.core.validate import check_int

__all__ = [
    "LANGS",
    "MAX_NUMBER",
    "chinese_to_number",
    "detokenize",
    "english_to_number",
    "number_to_chinese",
    "number_to_english",
    "parse_number",
    "render",
    "tokenize",
]

MAX_NUMBER = 9999
LANGS = ("en", "zh")
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()  # fmt: skip
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
_FOREIGN = {"en": re.compile(r"[^a-z\s-]"), "zh": re.compile(f"[^{_ZH_DIGITS}十百千]")}
_EN_TOKEN = re.compile(r"[a-z]+|-")


def number_to_english(n: int) -> str:
    """British English words: 1005 -> "one thousand and five", 21 -> "twenty-one"."""
    n = check_int("number", n, 0, MAX_NUMBER)
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    hundreds, tail = divmod(rest, 100)
    words = [_ONES[thousands], "thousand"] if thousands else []
    words += [_ONES[hundreds], "hundred"] if hundreds else []
    if tail:
        if words:
            words.append("and")  # British: "and" before the last two digits
        ones = _ONES[tail % 10] if tail % 10 else ""
        words.append(_ONES[tail] if tail < 20 else _TENS[tail // 10] + ("-" + ones) * bool(ones))
    return " ".join(words)


def number_to_chinese(n: int) -> str:
    """Chinese numerals: 10 -> 十, 110 -> 一百一十, 105 -> 一百零五, 1005 -> 一千零五."""
    n = check_int("number", n, 0, MAX_NUMBER)
    if n == 0:
        return "零"
    if 10 <= n < 20:  # a leading 一十 is shortened to 十
        return "十" + (_ZH_DIGITS[n - 10] if n > 10 else "")
    parts: list[str] = []
    zero_pending = False  # a gap of zeros seen after a non-zero digit
    for value, unit in _ZH_UNITS:
        digit = n // value % 10
        if digit == 0:
            zero_pending = bool(parts)
            continue
        if zero_pending:
            parts.append("零")  # one 零 for the whole run of zeros
            zero_pending = False
        parts.append(_ZH_DIGITS[digit] + unit)
    return "".join(parts)


def tokenize(text: str, lang: str) -> list[str]:
    """English: lower-cased words, with "-" a token; Chinese: one token per character.

    Raises:
        ValueError: for a non-string, empty input, or a character outside the language.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    if not isinstance(text, str):
        raise ValueError(f"the input must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the input is empty: give a number in words, e.g. 'three hundred'")
    text = text.strip().lower() if lang == "en" else "".join(text.split())
    bad = _FOREIGN[lang].search(text)  # the first character the language does not use
    if bad:
        ch, kind = bad.group(), "English number words" if lang == "en" else "Chinese numerals"
        hint = {"万": f"; the numbers of the task end at {MAX_NUMBER}", "两": "; write 二"}
        raise ValueError(
            f"unknown character {ch!r} at position {bad.start()}: not used in {kind}"
            + hint.get(ch, "")
        )
    return _EN_TOKEN.findall(text) if lang == "en" else list(text)


def detokenize(tokens: Sequence[str], lang: str) -> str:
    """The inverse of :func:`tokenize` for well-formed output."""
    return " ".join(tokens).replace(" - ", "-") if lang == "en" else "".join(tokens)


def render(n: int, lang: str) -> str:
    """The number ``n`` written in ``lang`` ("en" or "zh")."""
    return number_to_english(n) if lang == "en" else number_to_chinese(n)


# ------------------------------------------------------------------------------ reading

_DIGIT = {w: i for i, w in enumerate(_ONES) if 1 <= i <= 9}  # one..nine
_BELOW_20 = {w: i for i, w in enumerate(_ONES) if i >= 1}  # one..nineteen
_TENS_OF = {w: 10 * i for i, w in enumerate(_TENS) if w != "_"}  # twenty..ninety
_SCALES = {"thousand": 1000, "hundred": 100}


def _unexpected(tokens: Sequence[str], i: int, tail: int, big: bool, after_and: bool) -> str:
    """Why ``tokens[i]`` cannot come where it is (``tail``: the value of the last words)."""
    tok, prev = tokens[i], (tokens[i - 1] if i else None)
    if tok in _SCALES:
        if prev is None:
            return "needs a digit one..nine before it"
        if prev in _SCALES or prev in ("and", "-"):
            return f"cannot follow {prev!r}"
        if after_and:
            return "comes after 'and': thousands and hundreds come before it"
        if tok == "thousand":
            if big:
                return "is out of order or repeated: the thousands come first, once"
            return f"would make {tail} thousand, but the numbers of the task end at {MAX_NUMBER}"
        hint = f" (the task writes {tail * 100} as {render(tail * 100, 'en')!r})"
        fits = not big and tail * 100 <= MAX_NUMBER
        return f"must follow a single digit one..nine, not {prev!r}" + (hint if fits else "")
    if tok == "zero":
        return "is only the number 0 on its own"
    if tok == "and":
        return "comes twice" if after_and else "must come after 'hundred' or 'thousand'"
    if tok == "-":
        return "must join a tens word and a digit, as in 'twenty-one'"
    if prev in _TENS_OF and tok in _DIGIT:
        return f"after {prev!r} needs a hyphen: '{prev}-{tok}'"
    return f"cannot follow {prev!r}" if prev else "cannot start a number"


def _english(tokens: Sequence[str]) -> int:
    """The grammar of :func:`number_to_english`, read left to right; ValueError with a reason.

    number = "zero" | [digit "thousand"] [digit "hundred"] ["and"] [below-100], where
    "and" comes exactly when a thousand or hundred precedes the last two digits, and
    below-100 = one..nineteen | tens ["-" digit].
    """
    known = {"zero", "and", "-", *_BELOW_20, *_TENS_OF, *_SCALES}
    for i, tok in enumerate(tokens):
        if tok not in known:
            raise ValueError(f"unknown word {tok!r} at position {i}")
    if list(tokens) == ["zero"]:
        return 0

    def at(i: int) -> str | None:
        return tokens[i] if i < len(tokens) else None

    value, i, big, after_and = 0, 0, False, False
    for scale, size in _SCALES.items():  # "N thousand", then "N hundred"
        if at(i) in _DIGIT and at(i + 1) == scale:
            value, i, big = value + _DIGIT[tokens[i]] * size, i + 2, True
    if big and at(i) == "and":
        i, after_and = i + 1, True
        if at(i) is None:
            raise ValueError("the input ends after 'and': the last two digits are missing")
    elif big and (at(i) in _BELOW_20 or at(i) in _TENS_OF) and at(i + 1) not in _SCALES:
        raise ValueError(
            f"'and' is missing before {at(i)!r} at position {i}: the task writes e.g. "
            "'one hundred and five'"
        )
    tail = 0
    if at(i) in _BELOW_20:
        tail, i = _BELOW_20[tokens[i]], i + 1
    elif at(i) in _TENS_OF:
        tail, i = _TENS_OF[tokens[i]], i + 1
        if at(i) == "-":
            if at(i + 1) not in _DIGIT:
                raise ValueError(f"'-' at position {i} must be followed by a digit one..nine")
            tail, i = tail + _DIGIT[tokens[i + 1]], i + 2
    if i < len(tokens):
        reason = _unexpected(tokens, i, tail, big, after_and)
        raise ValueError(f"{tokens[i]!r} at position {i} {reason}")
    return value + tail


def _chinese(tokens: Sequence[str]) -> int:
    """The grammar of :func:`number_to_chinese`, read left to right; ValueError with a reason.

    number = 零 | groups of a digit and its unit (千, 百, 十; the last digit may stand
    alone), places strictly decreasing, one 零 exactly where places are skipped before
    a later digit, and 十 without 一 when it leads (10..19).
    """
    units = {"千": 3, "百": 2, "十": 1}
    if list(tokens) == ["零"]:
        return 0
    value, last, zero_at, i = 0, 4, None, 0  # last: the place of the previous group
    while i < len(tokens):
        pos, ch = i, tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if ch == "零":
            if i == 0:
                raise ValueError("零 at position 0: only the number 0 itself starts with 零")
            if zero_at is not None:
                raise ValueError(f"零 at position {i} repeats 零: one 零 stands for a run of zeros")
            if nxt is None:
                raise ValueError(f"零 at position {i} ends the number: trailing zeros are silent")
            zero_at, i = i, i + 1
            continue
        if ch == "十" and i == 0:
            digit, place, i = 1, 1, 1  # a leading 十 is 10 (10..19)
        elif ch in units:
            raise ValueError(f"{ch} at position {i} needs a digit 一..九 before it")
        elif nxt in units:
            digit, place, i = _ZH_DIGITS.index(ch), units[nxt], i + 2
        elif nxt is None:
            digit, place, i = _ZH_DIGITS.index(ch), 0, i + 1
        else:
            raise ValueError(
                f"{nxt} at position {i + 1} follows the digit {ch}: every digit but the last "
                "needs its unit 千, 百 or 十"
            )
        if place >= last:
            raise ValueError(
                f"{''.join(tokens[pos:i])} at position {pos} is out of order: 千, then 百, "
                "then 十, each once"
            )
        if last == 4 and place == 1 and ch == "一":
            raise ValueError("一十 at position 0: 10..19 are written without 一 (十五, not 一十五)")
        skipped = last < 4 and place < last - 1
        if skipped and zero_at is None:
            with_zero, without = value + digit * 10**place, value + digit * 10 ** (last - 1)
            raise ValueError(
                f"{ch} at position {pos} skips a place without 零: the task writes "
                f"{with_zero} as {number_to_chinese(with_zero)} and {without} as "
                f"{number_to_chinese(without)}"
            )
        if zero_at is not None and not skipped:
            raise ValueError(f"零 at position {zero_at} stands for a skipped place, but none is")
        value, last, zero_at = value + digit * 10**place, place, None
    return value


def english_to_number(text: str) -> int:
    """The number of English words written as :func:`number_to_english` writes them.

    Args:
        text: e.g. "three hundred and twelve" (case and outer spaces do not matter).

    Returns:
        The number, 0..9999.

    Raises:
        ValueError: naming the reason for anything else: unknown words, "ten thousand"
            (out of range), "twelve hundred", "twenty one", "one hundred five", ...
    """
    return parse_number(text, "en")


def chinese_to_number(text: str) -> int:
    """The number of Chinese numerals written as :func:`number_to_chinese` writes them.

    Args:
        text: e.g. "三百一十二" (spaces are ignored).

    Returns:
        The number, 0..9999.

    Raises:
        ValueError: naming the reason for anything else: 万 or 两 (unknown characters),
            一十五 (10..19 drop 一), 一千五 (a skipped place needs 零), 零零, ...
    """
    return parse_number(text, "zh")


def parse_number(text: str, lang: str) -> int:
    """Read ``text`` in ``lang`` ("en" or "zh") against the task's grammar.

    Args:
        text: the number in words or numerals.
        lang: "en" or "zh".

    Returns:
        The number, 0..9999; ``render(parse_number(t, lang), lang)`` is ``t`` normalised.

    Raises:
        ValueError: ``"<text> is not a number of the task (0..9999): <reason>"``.
    """
    tokens = tokenize(text, lang)
    try:
        value = _english(tokens) if lang == "en" else _chinese(tokens)
    except ValueError as err:
        raise ValueError(f"{text!r} is not a number of the task (0..{MAX_NUMBER}): {err}") from None
    if render(value, lang) != detokenize(tokens, lang):  # a last check of the whole form
        raise ValueError(
            f"{text!r} is not a number of the task (0..{MAX_NUMBER}): {value} is written "
            f"{render(value, lang)!r}"
        )
    return value
