"""Numbers 0..10^8 as English words and Chinese numerals, written and read back.

The oracles (``zh_to_int`` from tests/_helpers.py, ``parse_english``, ``read_zero_runs``
and ``and_count`` here) are written independently of the package's writers and parser.
"""

from __future__ import annotations

import random

import pytest
from _helpers import zh_to_int

from llmwidgets.seq2seq import number_parser as npar
from llmwidgets.seq2seq import number_words as nw

HAND = {
    0: ("zero", "零"),
    7: ("seven", "七"),
    10: ("ten", "十"),
    11: ("eleven", "十一"),
    19: ("nineteen", "十九"),
    20: ("twenty", "二十"),
    21: ("twenty-one", "二十一"),
    99: ("ninety-nine", "九十九"),
    100: ("one hundred", "一百"),
    101: ("one hundred and one", "一百零一"),
    105: ("one hundred and five", "一百零五"),
    110: ("one hundred and ten", "一百一十"),
    312: ("three hundred and twelve", "三百一十二"),
    1000: ("one thousand", "一千"),
    1005: ("one thousand and five", "一千零五"),
    1010: ("one thousand and ten", "一千零一十"),
    1100: ("one thousand one hundred", "一千一百"),
    2050: ("two thousand and fifty", "二千零五十"),
    9009: ("nine thousand and nine", "九千零九"),
    9999: ("nine thousand nine hundred and ninety-nine", "九千九百九十九"),
    # 10^4: 万; the zeros that start a group are read, the ones that end it are silent
    10000: ("ten thousand", "一万"),
    10005: ("ten thousand and five", "一万零五"),
    10010: ("ten thousand and ten", "一万零一十"),  # 一十 inside a number
    10100: ("ten thousand one hundred", "一万零一百"),
    11000: ("eleven thousand", "一万一千"),
    15000: ("fifteen thousand", "一万五千"),
    20000: ("twenty thousand", "二万"),  # 二, not the colloquial 两
    99999: ("ninety-nine thousand nine hundred and ninety-nine", "九万九千九百九十九"),
    # a leading 十 before 万, as before a digit
    100000: ("one hundred thousand", "十万"),
    100100: ("one hundred thousand one hundred", "十万零一百"),
    100500: ("one hundred thousand five hundred", "十万零五百"),
    105000: ("one hundred and five thousand", "十万五千"),
    110000: ("one hundred and ten thousand", "十一万"),
    150000: ("one hundred and fifty thousand", "十五万"),
    200000: ("two hundred thousand", "二十万"),
    # millions
    1000000: ("one million", "一百万"),
    1000005: ("one million and five", "一百万零五"),
    1000100: ("one million one hundred", "一百万零一百"),
    1001000: ("one million one thousand", "一百万一千"),
    1005000: ("one million five thousand", "一百万五千"),
    1050000: ("one million fifty thousand", "一百零五万"),
    1100000: ("one million one hundred thousand", "一百一十万"),
    10000000: ("ten million", "一千万"),
    10010000: ("ten million ten thousand", "一千零一万"),
    20000002: ("twenty million and two", "二千万零二"),
    20300400: ("twenty million three hundred thousand four hundred", "二千零三十万零四百"),
    21000000: ("twenty-one million", "二千一百万"),
    12345678: (
        "twelve million three hundred and forty-five thousand six hundred and seventy-eight",
        "一千二百三十四万五千六百七十八",
    ),
    99999999: (
        "ninety-nine million nine hundred and ninety-nine thousand nine hundred and ninety-nine",
        "九千九百九十九万九千九百九十九",
    ),
    # 10^8: 亿
    100000000: ("one hundred million", "一亿"),
}


@pytest.mark.parametrize("n", HAND)
def test_hand_written_pairs_are_written_and_read_back(n):
    en, zh = HAND[n]
    assert nw.number_to_english(n) == en and nw.number_to_chinese(n) == zh
    assert npar.english_to_number(en) == n and npar.chinese_to_number(zh) == n
    assert parse_english(en) == n and zh_to_int(zh) == n  # the table agrees with the oracles


ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def parse_english(text: str) -> int:
    """English number words back to an int, by rule (an oracle)."""
    small = dict(zip(ONES, range(20), strict=True))
    tens = {w: 10 * i for i, w in enumerate(TENS) if w != "_"}
    scales = {"thousand": 1000, "million": 10**6}
    total = current = 0
    for word in text.replace("-", " ").split():
        if word in small:
            current += small[word]
        elif word in tens:
            current += tens[word]
        elif word == "hundred":
            current *= 100
        elif word in scales:
            total, current = total + current * scales[word], 0
        else:
            assert word == "and"
    return total + current


def read_zero_runs(n: int) -> int:
    """How many 零 the reading rules ask for: runs of zeros that are read (not the ones
    ending a non-zero group of four, nor the number's trailing ones)."""
    s = str(n)
    s = "0" * (-len(s) % 4) + s
    first = len(s) - len(str(n))  # the padding is not part of the number
    runs, open_run = 0, False
    for g in range(0, len(s), 4):
        group = s[g : g + 4]
        last_nonzero = len(group.rstrip("0"))  # 0 for a group of zeros
        for i, ch in enumerate(group):
            if g + i < first:
                continue
            if ch != "0":
                runs, open_run = runs + open_run, False
            elif not (last_nonzero and i >= last_nonzero):  # not a group's silent end
                open_run = True
    return runs


def and_count(n: int) -> int:
    """British "and": before the last two digits of a group after its hundreds, and
    before the number's last two digits after anything larger."""
    groups = [n // 10**6, n // 1000 % 1000, n % 1000]
    count = sum(g >= 100 and g % 100 != 0 for g in groups)
    last = groups[2]
    return count + (last < 100 and last != 0 and n >= 1000)


def sample_numbers(k: int, seed: int) -> list[int]:
    """Numbers of every digit count (uniform over 1..9 digits), and 10^8."""
    rng = random.Random(seed)
    out = [10**8]
    for _ in range(k):
        d = rng.randint(1, 8)
        out.append(rng.randint(0 if d == 1 else 10 ** (d - 1), 10**d - 1))
    return out


def test_every_number_below_10_000_round_trips_and_follows_the_rules():
    seen_en, seen_zh = set(), set()
    for n in range(10_000):
        en, zh = nw.number_to_english(n), nw.number_to_chinese(n)
        assert zh_to_int(zh) == n and parse_english(en) == n, n
        assert npar.english_to_number(en) == n and npar.chinese_to_number(zh) == n
        assert zh.count("零") == read_zero_runs(n) + (n == 0), zh
        assert en.count(" and ") == and_count(n), en
        seen_en.add(en)
        seen_zh.add(zh)
    assert len(seen_en) == len(seen_zh) == 10_000  # one-to-one


def test_random_numbers_up_to_10_8_round_trip_and_follow_the_rules():
    for n in sample_numbers(20_000, seed=1):
        en, zh = nw.number_to_english(n), nw.number_to_chinese(n)
        assert zh_to_int(zh) == n and parse_english(en) == n, n
        assert npar.english_to_number(en) == n and npar.chinese_to_number(zh) == n, n
        assert zh.count("零") == read_zero_runs(n) + (n == 0), (n, zh)
        assert en.count(" and ") == and_count(n), (n, en)
        assert n == 0 or not zh.endswith("零"), zh
        assert "零零" not in zh and not zh.startswith("一十"), zh
        assert "两" not in zh and ("万" in zh) == (n >= 10**4 and n // 10**4 % 10**4 > 0)
        assert ("亿" in zh) == (n == 10**8) and ("million" in en) == (n >= 10**6)


def test_the_zero_rules_at_group_boundaries():
    # a group's trailing zeros are silent; the zeros that start the next are one 零
    assert nw.number_to_chinese(1_001_000) == "一百万一千"
    assert nw.number_to_chinese(1_000_100) == "一百万零一百"
    assert nw.number_to_chinese(10_001_000) == "一千万一千"
    assert nw.number_to_chinese(10_000_010) == "一千万零一十"
    assert nw.number_to_chinese(30_000_001) == "三千万零一"
    assert read_zero_runs(20_300_400) == 2 and read_zero_runs(1_001_000) == 0


@pytest.mark.parametrize("bad", [-1, 10**8 + 1, 3.0, "12", True, None])
def test_numbers_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match=r"number must be an int in \[0, 100000000\]"):
        nw.number_to_chinese(bad)
    with pytest.raises(ValueError, match=r"number must be an int in \[0, 100000000\]"):
        nw.number_to_english(bad)


def test_tokenize_and_detokenize():
    assert nw.tokenize("Twenty-One Million ", "en") == ["twenty", "-", "one", "million"]
    assert nw.detokenize(["twenty", "-", "one"], "en") == "twenty-one"
    assert nw.tokenize("一 万零五", "zh") == ["一", "万", "零", "五"]
    assert nw.detokenize(["一", "亿"], "zh") == "一亿"
    with pytest.raises(ValueError, match="unknown character '两' at position 0: .* 二"):
        nw.tokenize("两万", "zh")
    with pytest.raises(ValueError, match="lang must be one of"):
        nw.tokenize("one", "fr")


# --------------------------------------------------------------------- the grammar


def near_misses() -> set[str]:
    """Hand-written edits of the task's own forms, over the whole range."""
    out = set()
    numbers = [*range(0, 130), *range(990, 1130), 2050, 5005, 9999, 7777]
    numbers += [*HAND, *sample_numbers(300, seed=2)]
    for n in numbers:
        en, zh = nw.number_to_english(n), nw.number_to_chinese(n)
        out |= {en.replace(" and ", " "), en.replace("-", " "), en + " thousand", "one " + en}
        out |= {en.replace("one thousand", "ten hundred"), en.replace("hundred", "hundred and")}
        out |= {en.replace(" thousand", " and thousand"), en.replace("million", "thousand")}
        out |= {en.replace("million ", "million and "), en.replace("thousand ", "thousand and ")}
        out |= {en + " million", "a " + en, en.replace("ten thousand", "one ten thousand")}
        out |= {"一" + zh, zh.replace("零", ""), zh + "零", zh.replace("零", "零零"), zh + "十"}
        out |= {zh.replace("万", "万零"), zh.replace("万", ""), zh + "万", zh.replace("十", "一十")}
        out |= {zh.replace("万", "亿"), zh.replace("百万", "百零万"), "一" + zh + "亿"}
    return out


def form_of(text: str) -> int | None:
    """The number whose form ``text`` is, decided with the oracles (None: not a form)."""
    try:
        if "\u4e00" <= text[0] <= "\u9fff":
            n, write = zh_to_int(text), nw.number_to_chinese
        else:
            n, write = parse_english(text), nw.number_to_english
        return n if 0 <= n <= nw.MAX_NUMBER and write(n) == text else None
    except (AssertionError, KeyError, ValueError):
        return None


def test_the_readers_accept_exactly_the_writers_forms():
    accepted = refused = 0
    for text in sorted(near_misses()):
        if not text.strip():
            continue
        read = npar.chinese_to_number if "\u4e00" <= text[0] <= "\u9fff" else npar.english_to_number
        n = form_of(text)
        if n is not None:
            assert read(text) == n, text
            accepted += 1
        else:
            with pytest.raises(ValueError, match=r"not a number of the task \(0\.\.100000000\)"):
                read(text)
            refused += 1
    assert accepted > 100 and refused > 1000  # the edits make both kinds


M = nw.MAX_NUMBER


@pytest.mark.parametrize(
    "text, max_number, message",
    [
        ("twenty one", M, "'one' at position 1 after 'twenty' needs a hyphen"),
        ("zero zero", M, "'zero' at position 0 is only the number 0 on its own"),
        ("and and and", M, "'and' at position 0 must come after 'hundred' or"),
        ("-", M, "'-' at position 0 must join a tens word and a digit"),
        ("one two three", M, "'two' at position 1 cannot follow 'one'"),
        ("twelve hundred", M, "the task writes 1200 as 'one thousand two hundred'"),
        ("twenty-one hundred", M, "must follow a single digit one..nine, not 21"),
        ("one hundred five", M, "'and' is missing before 'five' at position 2"),
        ("one hundred five thousand", M, "'and' is missing before 'five' at po"),
        ("one million five", M, "'and' is missing before 'five' at position 2"),
        (
            "one million and five thousand",
            M,
            "'and' at position 2 comes before 'thousand'",
        ),
        ("one hundred and thousand", M, "'thousand' at position 3 cannot follow 'and"),
        ("three hundred and", M, "the input ends after 'and'"),
        ("one thousand and one hundred", M, "'hundred' at position 4 comes after"),
        ("two thousand one million", M, "'million' at position 3 is out of order"),
        ("one thousand one thousand", M, "'thousand' at position 3 is out of order"),
        ("thousand", M, "'thousand' at position 0 needs a number before it"),
        ("hundred", M, "'hundred' at position 0 needs a digit one..nine before it"),
        (
            "two hundred million",
            M,
            "'million' at position 2 would make 200 million,"
            " but the numbers of the task end at 100000000",
        ),
        ("one hundred million and one", M, "it is 100000001, but the numbers of"),
        ("ten thousand", 9999, r"\(0\.\.9999\): 'thousand' at position 1 would make 10 thous"),
        ("one million", 99_999, "'million' at position 1 would make 1 million, but the numbers"),
        ("一十五", M, "a leading 一十 is written 十"),
        ("一十万", M, "a leading 一十 is written 十"),
        (
            "一千五",
            M,
            "skips a place without 零: the task writes 1005 as 一千零五 and 1500 as 一千五百",
        ),
        ("一万五", M, "the task writes 10005 as 一万零五 and 15000 as 一万五千"),
        ("一百万一百", M, "the task writes 1000100 as 一百万零一百 and 1100000"),
        (
            "一百万零一千",
            M,
            "零 at position 3 stands for a skipped place, but none"
            " is: the zeros that end a group are silent",
        ),
        ("二千零零五", M, "零 at position 3 repeats 零"),
        ("二百零", M, "零 at position 2 ends the number"),
        ("一千零万", M, "零 at position 2 ends the group before 万"),
        ("一零万", M, "零 at position 1 follows the digit 一"),
        ("零零", M, "零 at position 0: only the number 0 itself starts with 零"),
        ("九九", M, "九 at position 1 follows the digit 九"),
        ("万", M, "万 at position 0 needs a number before it"),
        ("一万万", M, "万 at position 2 cannot follow 万"),
        ("一万一亿", M, "亿 at position 3 is out of order: 亿, then 万"),
        ("一万零十", M, "十 at position 3 needs a digit 一..九 before it"),
        ("五十五十", M, "五十 at position 2 is out of order"),
        ("二亿", M, "亿 at position 1 would make 200000000, but the numbers of"),
        ("一亿零一", M, "it is 100000001, but the numbers of the task end at 1000"),
        ("一万", 9999, r"\(0\.\.9999\): 万 at position 1 would make 10000, but the numbers"),
        ("十万", 99_999, "万 at position 1 would make 100000, but the numbers of the task end"),
    ],
)
def test_refusals_name_the_reason(text, max_number, message):
    with pytest.raises(ValueError, match=message):
        npar.parse_number(text, "zh" if "\u4e00" <= text[0] <= "\u9fff" else "en", max_number)


def test_parse_number_checks_its_range_and_normalises():
    assert npar.english_to_number("  Twenty-One MILLION ") == 21_000_000
    assert npar.chinese_to_number("三 百 一十二") == 312
    assert npar.parse_number("nine thousand nine hundred and ninety-nine", "en", 9999) == 9999
    with pytest.raises(ValueError, match=r"max_number must be an int in \[0, 100000000\]"):
        npar.parse_number("one", "en", 10**9)
