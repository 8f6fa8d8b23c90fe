"""Reading number words back: a parser of exactly the forms of :mod:`number_words`.

:func:`english_to_number` and :func:`chinese_to_number` accept what
:func:`~llmwidgets.seq2seq.number_words.number_to_english` and
:func:`~llmwidgets.seq2seq.number_words.number_to_chinese` write for 0..10^8, and refuse
anything else with the reason: "twenty one" (the hyphen), "one hundred five" (the
"and"), "twelve hundred", "zero zero", 一十五 (10..19 drop 一), 一千五 and 一万五 (a
skipped place needs 零), 一百万零一千 (a group's trailing zeros are silent), 两千 (the task
writes 二), and numbers beyond the range asked for (``max_number``): a
:class:`~llmwidgets.seq2seq.number_task.NumberTask` of 0..9999 refuses "ten thousand" and
一万 instead of letting a model translate what it never saw.

The grammars, read left to right:

* English: number = "zero" | [group "million"] [group "thousand"] [group], where
  group = [digit "hundred"] ["and"] [below-100] and below-100 = one..nineteen | tens
  ["-" digit]; "and" comes exactly before a non-zero below-100 after "hundred" in its
  group, or, in the last group, after anything larger;
* Chinese: number = 零 | sections, each a number below 10^4 followed by 亿 or 万 (in that
  order, each once) except the last; a digit carries its unit 千, 百 or 十 unless it is the
  last of its section; one 零 exactly where a read run of zeros is skipped; 十 without 一
  only at the very start.

As a last check the number is written back and compared with the input, so only the
writers' forms are accepted even where a specific reason is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmwidgets.core.validate import check_int
from llmwidgets.seq2seq.number_words import (
    EN_SCALES,
    MAX_NUMBER,
    ONES,
    TENS,
    ZH_DIGITS,
    detokenize,
    render,
    tokenize,
)

__all__ = ["chinese_to_number", "english_to_number", "parse_number"]

_DIGIT = {w: i for i, w in enumerate(ONES) if 1 <= i <= 9}  # one..nine
_BELOW_20 = {w: i for i, w in enumerate(ONES) if i >= 1}  # one..nineteen
_TENS_OF = {w: 10 * i for i, w in enumerate(TENS) if w != "_"}  # twenty..ninety
_SCALES = {name: size for size, name in EN_SCALES}  # million, thousand
_AND_AFTER = "'hundred' or 'thousand' or 'million'"


def _written(n: int, lang: str) -> str:
    """``"N as <words>"`` for a hint (``n`` in 0..10^8)."""
    text = render(n, lang)
    return f"{n} as {text!r}" if lang == "en" else f"{n} as {text}"


def _unexpected(tokens: Sequence[str], i: int, tail: int, value: int, after_and: bool) -> str:
    """Why ``tokens[i]`` cannot come where it is (``tail``: the value of the last words)."""
    tok, prev = tokens[i], (tokens[i - 1] if i else None)
    if tok == "hundred" or tok in _SCALES:
        if prev is None:
            return f"needs {'a digit one..nine' if tok == 'hundred' else 'a number'} before it"
        if prev in _SCALES or prev in ("hundred", "and", "-"):
            return f"cannot follow {prev!r}"
        if after_and:
            return "comes after 'and': millions, thousands and hundreds come before it"
        if tok in _SCALES:
            return "is out of order or repeated: millions, then thousands, each once"
        hint = f" (the task writes {_written(tail * 100, 'en')})" if value == 0 else ""  # < 10^4
        return f"must follow a single digit one..nine, not {tail}" + hint
    if tok == "and":
        return "comes twice" if after_and else f"must come after {_AND_AFTER}"
    if tok == "-":
        return "must join a tens word and a digit, as in 'twenty-one'"
    if prev in _TENS_OF and tok in _DIGIT:
        return f"after {prev!r} needs a hyphen: '{prev}-{tok}'"
    return f"cannot follow {prev!r}" if prev else "cannot start a number"


def _english(tokens: Sequence[str]) -> int:
    """The English grammar (see the module's docstring); ValueError with a reason."""
    known = {"zero", "and", "-", "hundred", *_BELOW_20, *_TENS_OF, *_SCALES}
    for i, tok in enumerate(tokens):
        if tok not in known:
            raise ValueError(f"unknown word {tok!r} at position {i}")
    if list(tokens) == ["zero"]:
        return 0
    if "zero" in tokens:
        where = tokens.index("zero")
        raise ValueError(f"'zero' at position {where} is only the number 0 on its own")

    def at(i: int) -> str | None:
        return tokens[i] if i < len(tokens) else None

    value, i, last_scale = 0, 0, 10**9  # last_scale: the size of the last scale word read
    while i < len(tokens):
        start, group, hundred, and_at = i, 0, False, None
        if at(i) in _DIGIT and at(i + 1) == "hundred":
            group, i, hundred = 100 * _DIGIT[tokens[i]], i + 2, True
        if at(i) == "and":
            if i == 0 or tokens[i - 1] not in ("hundred", *_SCALES):
                raise ValueError(f"'and' at position {i} must come after {_AND_AFTER}")
            and_at, i = i, i + 1
            if at(i) is None:
                raise ValueError("the input ends after 'and': the last two digits are missing")
        tail_at = i
        if at(i) in _BELOW_20:
            group, i = group + _BELOW_20[tokens[i]], i + 1
        elif at(i) in _TENS_OF:
            group, i = group + _TENS_OF[tokens[i]], i + 1
            if at(i) == "-":
                if at(i + 1) not in _DIGIT:
                    raise ValueError(f"'-' at position {i} must be followed by a digit one..nine")
                group, i = group + _DIGIT[tokens[i + 1]], i + 2
        has_tail = i > tail_at
        if and_at is not None and not has_tail:
            raise ValueError(f"{tokens[i]!r} at position {i} cannot follow 'and'")
        scale = at(i) if i > start else None
        last = scale not in _SCALES
        needs_and = has_tail and (hundred or (last and value > 0))
        if needs_and and and_at is None:
            raise ValueError(
                f"'and' is missing before {tokens[tail_at]!r} at position {tail_at}: the task "
                "writes e.g. 'one hundred and five', 'one thousand and five'"
            )
        if and_at is not None and has_tail and not needs_and:
            raise ValueError(
                f"'and' at position {and_at} comes before {scale!r}: it is written after "
                "'hundred', or before the last two digits of the number"
            )
        if last:
            if i < len(tokens):
                reason = _unexpected(tokens, i, group % 100, value, and_at is not None)
                raise ValueError(f"{tokens[i]!r} at position {i} {reason}")
            return value + group
        size = _SCALES[scale]
        if size >= last_scale:
            reason = _unexpected(tokens, i, group, value, False)
            raise ValueError(f"{scale!r} at position {i} {reason}")
        value, last_scale, i = value + group * size, size, i + 1
    return value


def _sections(tokens: Sequence[str]) -> list[tuple[int, int, int]]:
    """``(start, end, shift)`` of each group of four digits: 亿 shifts by 8, 万 by 4."""
    shifts = {"亿": 8, "万": 4}
    out, start, last = [], 0, 12
    for i, ch in enumerate(tokens):
        if ch not in shifts:
            continue
        if i == start:
            before = f"cannot follow {tokens[i - 1]}" if i else "needs a number before it"
            raise ValueError(f"{ch} at position {i} {before}")
        if shifts[ch] >= last:
            raise ValueError(f"{ch} at position {i} is out of order: 亿, then 万, each once")
        out.append((start, i, shifts[ch]))
        start, last = i + 1, shifts[ch]
    if start < len(tokens):
        out.append((start, len(tokens), 0))
    return out


def _chinese(tokens: Sequence[str]) -> int:
    """The Chinese grammar (see the module's docstring); ValueError with a reason."""
    units = {"千": 3, "百": 2, "十": 1}
    if list(tokens) == ["零"]:
        return 0
    value, last, zero_at = 0, None, None  # last: the place (0..11) of the previous digit
    for start, end, shift in _sections(tokens):
        i = start
        while i < end:
            pos, ch = i, tokens[i]
            nxt = tokens[i + 1] if i + 1 < end else None
            if ch == "零":
                if i == 0:
                    raise ValueError("零 at position 0: only the number 0 itself starts with 零")
                if zero_at is not None:
                    raise ValueError(f"零 at position {i} repeats 零: one 零 stands for a run")
                if nxt is None:
                    where = f"the group before {tokens[end]}" if end < len(tokens) else "the number"
                    raise ValueError(f"零 at position {i} ends {where}: trailing zeros are silent")
                zero_at, i = i, i + 1
                continue
            if ch == "十" and i == 0:
                digit, place, i = 1, 1, 1  # a leading 十 is 一十
            elif ch in units:
                raise ValueError(f"{ch} at position {i} needs a digit 一..九 before it")
            elif nxt in units:
                digit, place, i = ZH_DIGITS.index(ch), units[nxt], i + 2
            elif nxt is None:
                digit, place, i = ZH_DIGITS.index(ch), 0, i + 1
            else:
                raise ValueError(
                    f"{nxt} at position {i + 1} follows the digit {ch}: every digit but the last "
                    "of a group needs its unit 千, 百 or 十"
                )
            place += shift
            if last is None and place % 4 == 1 and ch == "一":
                raise ValueError(
                    "一十 at position 0: a leading 一十 is written 十 (十五, 十万, not "
                    "一十五, 一十万)"
                )
            if last is not None and place >= last:
                raise ValueError(
                    f"{''.join(tokens[pos:i])} at position {pos} is out of order: 千, then 百, "
                    "then 十, each once in a group"
                )
            _check_zero(tokens, value, last, place, digit, zero_at, pos)
            value, last, zero_at = value + digit * 10**place, place, None
    return value


def _check_zero(
    tokens: Sequence[str], value: int, last: int | None, place: int, digit: int,
    zero_at: int | None, pos: int,
) -> None:  # fmt: skip
    """A 零 before the digit at ``place`` exactly when a run of zeros that is read ends there.

    The zeros between places ``last`` and ``place`` are read unless they all end ``last``'s
    group (silent) and ``place`` starts the next one.
    """
    if last is None or place == last - 1:
        needed = False
    elif last // 4 == place // 4:
        needed = True  # zeros inside one group
    else:
        needed = place % 4 != 3 or last // 4 - place // 4 > 1  # zeros that start a group
    if needed and zero_at is None:
        with_zero, without = value + digit * 10**place, value + digit * 10 ** (last - 1)
        hint = ""
        if max(with_zero, without) <= MAX_NUMBER:
            hint = f": the task writes {_written(with_zero, 'zh')} and {_written(without, 'zh')}"
        raise ValueError(f"{tokens[pos]} at position {pos} skips a place without 零{hint}")
    if zero_at is not None and not needed:
        why = "" if last // 4 == place // 4 else ": the zeros that end a group are silent"
        raise ValueError(f"零 at position {zero_at} stands for a skipped place, but none is{why}")


def _too_big(tokens: Sequence[str], lang: str, value: int, max_number: int) -> str:
    """Why ``value`` is refused: the first named group that overshoots, or the value."""
    end = f"but the numbers of the task end at {max_number}"
    names = {"million": 10**6, "thousand": 1000} if lang == "en" else {"亿": 10**8, "万": 10**4}
    for i, tok in enumerate(tokens):
        if tok in names:
            group = _english(tokens[:i]) if lang == "en" else _chinese(tokens[:i])
            if group * names[tok] > max_number:
                if lang == "en":
                    return f"{tok!r} at position {i} would make {group} {tok}, {end}"
                return f"{tok} at position {i} would make {group * names[tok]}, {end}"
            break
    return f"it is {value}, {end}"


def parse_number(text: str, lang: str, max_number: int = MAX_NUMBER) -> int:
    """Read ``text`` in ``lang`` ("en" or "zh") against the task's grammar.

    Args:
        text: the number in words or numerals (case and spaces do not matter).
        lang: "en" or "zh".
        max_number: the largest number accepted, at most 10^8 (a task's range).

    Returns:
        The number; ``render(parse_number(t, lang), lang)`` is ``t`` normalised.

    Raises:
        ValueError: ``"<text> is not a number of the task (0..<max_number>): <reason>"``.
    """
    max_number = check_int("max_number", max_number, 0, MAX_NUMBER)
    tokens = tokenize(text, lang)
    prefix = f"{text!r} is not a number of the task (0..{max_number})"
    try:
        value = _english(tokens) if lang == "en" else _chinese(tokens)
    except ValueError as err:
        raise ValueError(f"{prefix}: {err}") from None
    if value > max_number:
        raise ValueError(f"{prefix}: {_too_big(tokens, lang, value, max_number)}")
    if render(value, lang) != detokenize(tokens, lang):  # a last check of the whole form
        raise ValueError(f"{prefix}: {value} is written {render(value, lang)!r}")
    return value


def english_to_number(text: str, max_number: int = MAX_NUMBER) -> int:
    """The number of English words written as :func:`number_to_english` writes them.

    Args:
        text: e.g. "three hundred and twelve" (case and outer spaces do not matter).
        max_number: the largest number accepted (at most 10^8).

    Returns:
        The number, 0..max_number.

    Raises:
        ValueError: naming the reason for anything else: unknown words, "twelve hundred",
            "twenty one", "one hundred five", numbers above ``max_number``, ...
    """
    return parse_number(text, "en", max_number)


def chinese_to_number(text: str, max_number: int = MAX_NUMBER) -> int:
    """The number of Chinese numerals written as :func:`number_to_chinese` writes them.

    Args:
        text: e.g. "三百一十二" (spaces are ignored).
        max_number: the largest number accepted (at most 10^8).

    Returns:
        The number, 0..max_number.

    Raises:
        ValueError: naming the reason for anything else: 两 (an unknown character),
            一十五 (10..19 drop 一), 一千五 (a skipped place needs 零), 零零, 二亿 (above
            ``max_number``), ...
    """
    return parse_number(text, "zh", max_number)
