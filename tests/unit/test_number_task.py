"""The number-translation task: hand-written pairs, the grammar, splits, vocabularies,
batches, bad input.

The oracles here (``zh_to_int`` from tests/_helpers.py, shared with tests/checks, and
``parse_english``) are written independently of the package's readers in ``number_words``.
"""

from __future__ import annotations

import functools

import pytest
import torch
from _helpers import zh_to_int

from llmwidgets.seq2seq import number_task as tr
from llmwidgets.seq2seq import number_words as nw
from llmwidgets.seq2seq import translation
from llmwidgets.seq2seq.rnn import GRUSeq2Seq


@functools.cache
def cached_task(direction: str) -> tr.NumberTask:
    return tr.NumberTask(direction)


HAND = {
    0: ("zero", "零"),
    7: ("seven", "七"),
    10: ("ten", "十"),
    11: ("eleven", "十一"),
    19: ("nineteen", "十九"),
    20: ("twenty", "二十"),
    21: ("twenty-one", "二十一"),
    40: ("forty", "四十"),
    99: ("ninety-nine", "九十九"),
    100: ("one hundred", "一百"),
    101: ("one hundred and one", "一百零一"),
    105: ("one hundred and five", "一百零五"),
    110: ("one hundred and ten", "一百一十"),
    111: ("one hundred and eleven", "一百一十一"),
    312: ("three hundred and twelve", "三百一十二"),
    1000: ("one thousand", "一千"),
    1001: ("one thousand and one", "一千零一"),
    1005: ("one thousand and five", "一千零五"),
    1010: ("one thousand and ten", "一千零一十"),
    1011: ("one thousand and eleven", "一千零一十一"),
    1100: ("one thousand one hundred", "一千一百"),
    1110: ("one thousand one hundred and ten", "一千一百一十"),
    2050: ("two thousand and fifty", "二千零五十"),
    2222: ("two thousand two hundred and twenty-two", "二千二百二十二"),
    5000: ("five thousand", "五千"),
    9009: ("nine thousand and nine", "九千零九"),
    9090: ("nine thousand and ninety", "九千零九十"),
    9900: ("nine thousand nine hundred", "九千九百"),
    9999: ("nine thousand nine hundred and ninety-nine", "九千九百九十九"),
}


@pytest.mark.parametrize("n", HAND)
def test_hand_written_pairs(n):
    assert nw.number_to_english(n) == HAND[n][0]
    assert nw.number_to_chinese(n) == HAND[n][1]
    assert tr.make_pairs([n], "en-zh") == [HAND[n]]
    assert tr.make_pairs([n], "zh-en") == [HAND[n][::-1]]


ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def parse_english(text: str) -> int:
    small = dict(zip(ONES, range(20), strict=True))
    tens = {w: 10 * i for i, w in enumerate(TENS) if w != "_"}
    total = current = 0
    for word in text.replace("-", " ").split():
        if word in small:
            current += small[word]
        elif word in tens:
            current += tens[word]
        elif word == "hundred":
            current *= 100
        elif word == "thousand":
            total, current = total + current * 1000, 0
        else:
            assert word == "and"
    return total + current


def test_every_number_round_trips_and_follows_the_rules():
    seen_en, seen_zh = set(), set()
    for n in range(nw.MAX_NUMBER + 1):
        en, zh = nw.number_to_english(n), nw.number_to_chinese(n)
        assert zh_to_int(zh) == n and parse_english(en) == n, n
        seen_en.add(en)
        seen_zh.add(zh)
        if n:
            assert not zh.endswith("零") and "零零" not in zh, zh  # one 零, never trailing
        assert zh.startswith("一十") is False  # 10..19 drop the leading 一
        # British "and" before the last two digits, and only there
        assert (" and " in en) == (n >= 100 and n % 100 != 0), en
    assert len(seen_en) == len(seen_zh) == nw.MAX_NUMBER + 1  # one-to-one


@pytest.mark.parametrize("bad", [-1, 10000, 3.0, "12", True, None])
def test_numbers_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match="number must be an int"):
        nw.number_to_chinese(bad)
    with pytest.raises(ValueError, match="number must be an int"):
        nw.number_to_english(bad)


def test_splits_hold_out_whole_ranges_deterministically():
    a, b, c = tr.make_splits(0), tr.make_splits(0), tr.make_splits(1)
    assert a == b and a != c
    everything = sorted(a["train"] + a["val"] + a["test"])
    assert everything == list(range(nw.MAX_NUMBER + 1))
    assert len(a["test"]) == 300 and len(a["val"]) == 200
    assert all(n < 1000 or n in a["train"] for n in range(1000))  # the building blocks train
    for name in ("val", "test"):
        starts = {n // 100 * 100 for n in a[name]}
        for start in starts:  # whole blocks of 100 consecutive numbers
            assert all(m in a[name] for m in range(start, start + 100))
            assert start >= 1000
    with pytest.raises(ValueError, match="held-out blocks"):
        tr.make_splits(0, n_test_blocks=80, n_val_blocks=20)


def test_tokenize_detokenize_and_vocab():
    assert nw.tokenize("Twenty-One ", "en") == ["twenty", "-", "one"]
    assert nw.detokenize(["twenty", "-", "one"], "en") == "twenty-one"
    assert nw.tokenize("一 百零五", "zh") == ["一", "百", "零", "五"]
    assert nw.detokenize(["一", "百"], "zh") == "一百"
    v = tr.Vocab(["b", "a", "b"])
    assert v.itos == ["<pad>", "<bos>", "<eos>", "a", "b"] and len(v) == 5
    assert v.encode(["a", "b"]) == [3, 4]
    assert v.decode([1, 3, 0, 4, 2, 3]) == ["a", "b"]  # skips pad/bos, stops at eos
    with pytest.raises(ValueError, match="unknown word 'c' at position 1"):
        v.encode(["a", "c"])
    with pytest.raises(ValueError, match="unknown word '<eos>'"):
        v.encode(["<eos>"])


def test_task_vocabularies_and_lengths():
    en_zh, zh_en = tr.NumberTask("en-zh"), tr.NumberTask("zh-en")
    assert len(en_zh.tgt_vocab) == 3 + 13  # 零..九 十 百 千
    assert en_zh.src_vocab.itos == zh_en.tgt_vocab.itos
    assert en_zh.max_src_len == 8  # seven thousand seven hundred and seventy - seven
    assert en_zh.max_tgt_len == 7  # 七千七百七十七
    with pytest.raises(ValueError, match="direction"):
        tr.NumberTask("en-fr")


def test_encode_pairs_builds_the_teacher_forcing_pair():
    data = tr.encode_pairs([([5, 6], [7]), ([5], [8, 9])], min_lengths=(3, 0))
    assert data.src.tolist() == [[5, 6, 0], [5, 0, 0]]
    assert data.tgt_in.tolist() == [[1, 7, 0], [1, 8, 9]]  # <bos> + y, padded with <pad>
    assert data.tgt_out.tolist() == [[7, 2, -100], [8, 9, 2]]  # y + <eos>, padded with IGNORE
    assert len(data) == 2
    with pytest.raises(ValueError, match="empty source"):
        tr.encode_pairs([([], [1])])
    with pytest.raises(ValueError, match="at least one"):
        tr.encode_pairs([])


def test_datasets_share_one_width_and_decode_back():
    task = tr.NumberTask("en-zh")
    test = task.dataset("test")
    assert test.src.shape == (300, 8) and test.tgt_in.shape == (300, 8)
    assert task.dataset("val").src.shape[1] == test.src.shape[1]
    src_text, tgt_text = task.pairs("test")[0]
    assert task.decode_target(test.tgt_out[0].clamp(min=0).tolist()) == tgt_text
    assert task.encode_source(src_text) == [i for i in test.src[0].tolist() if i]
    with pytest.raises(ValueError, match="split"):
        task.pairs("dev")


@pytest.mark.parametrize(
    "direction, text, message",
    [
        ("en-zh", "", "empty"),
        ("en-zh", "   ", "empty"),
        ("en-zh", "three hundred and 12", "unknown character '1' at position 18"),
        ("en-zh", "three hundred!", "unknown character '!'"),
        ("en-zh", "fourty-two", "unknown word 'fourty' at position 0"),
        ("en-zh", "one two three four five six seven eight nine", "9 tokens, more than the 8"),
        ("zh-en", "三百a", "unknown character 'a' at position 2"),
        ("zh-en", "两百", "unknown character '两'"),
        ("zh-en", "一" * 9, "9 tokens, more than the 7"),
        # Outside the task's grammar or range: refused with the reason, as a parser would.
        ("en-zh", "ten thousand", "would make 10 thousand, but the numbers of the task end at"),
        ("en-zh", "eleven thousand", "would make 11 thousand"),
        ("en-zh", "ninety-nine thousand", "would make 99 thousand"),
        ("en-zh", "twelve hundred", "the task writes 1200 as 'one thousand two hundred'"),
        ("en-zh", "twenty one", "'one' at position 1 after 'twenty' needs a hyphen: 'twenty-one'"),
        ("en-zh", "zero zero", "'zero' at position 0 is only the number 0 on its own"),
        ("en-zh", "and and and", "'and' at position 0 must come after 'hundred' or 'thousand'"),
        ("en-zh", "-", "'-' at position 0 must join a tens word and a digit"),
        ("en-zh", "one two three", "'two' at position 1 cannot follow 'one'"),
        ("en-zh", "one hundred hundred hundred", "'hundred' at position 2 cannot follow 'hund"),
        ("en-zh", "one hundred five", "'and' is missing before 'five' at position 2"),
        ("en-zh", "three hundred and", "the input ends after 'and'"),
        ("en-zh", "one thousand and one hundred", "'hundred' at position 4 comes after 'and'"),
        ("en-zh", "two hundred one thousand", "'thousand' at position 3 is out of order"),
        ("en-zh", "hundred", "'hundred' at position 0 needs a digit one..nine before it"),
        ("zh-en", "一十五", "10..19 are written without 一"),
        ("zh-en", "一千五", "skips a place without 零: the task writes 1005 as 一千零五 and 1500"),
        ("zh-en", "零零", "零 at position 0: only the number 0 itself starts with 零"),
        ("zh-en", "二千零零五", "零 at position 3 repeats 零"),
        ("zh-en", "二百零", "零 at position 2 ends the number"),
        ("zh-en", "二千零三百", "零 at position 2 stands for a skipped place, but none is"),
        ("zh-en", "九九", "九 at position 1 follows the digit 九"),
        ("zh-en", "百", "百 at position 0 needs a digit 一..九 before it"),
        ("zh-en", "五十五十", "五十 at position 2 is out of order"),
        ("zh-en", "一万", "unknown character '万' at position 1: .*the numbers of the task end"),
    ],
)
def test_bad_input_gives_clear_value_errors(direction, text, message):
    task = cached_task(direction)
    with pytest.raises(ValueError, match=message):
        task.encode_source(text)
    model = GRUSeq2Seq(len(task.src_vocab), len(task.tgt_vocab), hidden=8)
    with pytest.raises(ValueError, match=message):  # never a confident wrong translation
        translation.translate(model, task, text)
    with pytest.raises(ValueError):  # the reader refuses it too (long input for its grammar)
        nw.parse_number(text, task.src_lang)


def test_translate_returns_text_for_good_input_even_untrained():
    task = tr.NumberTask("en-zh")
    torch.manual_seed(0)
    model = GRUSeq2Seq(len(task.src_vocab), len(task.tgt_vocab), hidden=8)
    out = translation.translate(model, task, "three hundred and twelve")
    assert isinstance(out, str) and len(out) <= task.max_tgt_len + 1
    assert isinstance(translation.translate(model, task, "twelve", beam_width=3), str)
    with pytest.raises(ValueError, match="must be a str"):
        translation.translate(model, task, 312)


def test_batcher_gives_src_and_tgt_in_as_a_tuple():
    task = tr.NumberTask("en-zh")
    data = task.dataset("val")
    b1, b2 = tr.Seq2SeqBatcher(data, 4, seed=3), tr.Seq2SeqBatcher(data, 4, seed=3)
    (src, tgt_in), y = b1.get_batch()
    assert src.shape == (4, 8) and tgt_in.shape == (4, 8) and y.shape == (4, 8)
    assert torch.equal(tgt_in[:, 1:], torch.where(y[:, :-1] == -100, 0, y[:, :-1]))
    state = b1.state_dict()
    (nxt_src, _), _ = b1.get_batch()
    assert torch.equal(b2.get_batch()[0][0], src)
    b2.load_state_dict(state)
    assert torch.equal(b2.get_batch()[0][0], nxt_src)
    fixed = [xb for xb, _ in b1.fixed_batches(2)]
    assert torch.equal(fixed[0][0], [xb for xb, _ in b1.fixed_batches(2)][0][0])
    assert torch.equal(fixed[0][0], data.src[:4])
    with pytest.raises(ValueError, match="batch_size"):
        tr.Seq2SeqBatcher(data, 5).load_state_dict(state)


def test_score_translations():
    scores = translation.score_translations(["一百", "二百"], ["一百", "三百"], "zh")
    assert scores["exact_match"] == 50.0
    assert 0 < scores["chrF"] < 100 and 0 <= scores["BLEU"] < 100
    text = "nine thousand nine hundred and ninety-nine"
    perfect = translation.score_translations([text], [text], "en")
    assert perfect == pytest.approx({"exact_match": 100.0, "chrF": 100.0, "BLEU": 100.0})
    with pytest.raises(ValueError, match="hypotheses"):
        translation.score_translations(["a"], ["a", "b"], "en")


# ----------------------------------------------------------- the grammar of the task


def candidates() -> set[str]:
    """Near misses of the task's own forms, built by hand-written edits."""
    out = set()
    for n in list(range(0, 130)) + list(range(990, 1130)) + [2050, 5005, 9999, 7777]:
        en, zh = nw.number_to_english(n), nw.number_to_chinese(n)
        out |= {en.replace(" and ", " "), en.replace("-", " "), en + " thousand", "one " + en}
        out |= {en.replace("one thousand", "ten hundred"), en.replace("hundred", "hundred and")}
        out |= {"一" + zh, zh.replace("零", ""), zh + "零", zh.replace("零", "零零"), zh + "十"}
    return out


def test_the_readers_accept_exactly_the_task_s_forms():
    english = {nw.number_to_english(n): n for n in range(nw.MAX_NUMBER + 1)}
    chinese = {nw.number_to_chinese(n): n for n in range(nw.MAX_NUMBER + 1)}
    for text in sorted(candidates()):
        for lang, forms, read in (
            ("en", english, nw.english_to_number),
            ("zh", chinese, nw.chinese_to_number),
        ):
            if not text.strip() or (lang == "zh") != ("\u4e00" <= text[0] <= "\u9fff"):
                continue
            if text in forms:
                assert read(text) == forms[text], text
            else:
                with pytest.raises(ValueError, match="not a number of the task"):
                    read(text)


def test_the_readers_invert_the_writers_checked_by_the_oracles():
    for n in range(nw.MAX_NUMBER + 1):
        en, zh = nw.number_to_english(n), nw.number_to_chinese(n)
        assert nw.english_to_number(en) == parse_english(en) == n
        assert nw.chinese_to_number(zh) == zh_to_int(zh) == n
    assert nw.english_to_number("  Twenty-One ") == 21
    assert nw.chinese_to_number("三 百 一十二") == 312


@pytest.mark.parametrize(
    "ids, message",
    [
        ([-1], r"ids\[0\]=-1 but the vocabulary has 16 tokens \(0\.\.15\)"),
        ([3, 999], r"ids\[1\]=999 but the vocabulary has 16 tokens"),
        (["a"], r"ids\[0\] must be an int, got 'a'"),
        ([3, 1.0], r"ids\[1\] must be an int, got 1.0"),
    ],
)
def test_decode_target_refuses_bad_ids(ids, message):
    task = cached_task("en-zh")
    with pytest.raises(ValueError, match=message):
        task.decode_target(ids)
    assert task.decode_target(torch.tensor([1, 4, 2, 999])) == task.tgt_vocab.itos[4]


def test_translate_checks_its_settings():
    task = tr.NumberTask("en-zh")
    model = GRUSeq2Seq(len(task.src_vocab), len(task.tgt_vocab), hidden=8)
    with pytest.raises(ValueError, match=r"max_len must be an int >= 1, got 0 \(or None\)"):
        translation.translate(model, task, "twelve", max_len=0)
    with pytest.raises(ValueError, match="beam_width must be an int >= 1, got 0"):
        translation.translate(model, task, "twelve", beam_width=0)
    with pytest.raises(ValueError, match="task must be a NumberTask, got str"):
        translation.translate(model, "en-zh", "twelve")
    assert len(translation.translate(model, task, "twelve", max_len=1)) <= 1
