"""The number-translation task: splits, vocabularies, batches, bad input, over 0..9999
and over 0..10^8. The number words themselves: test_number_words.py.
"""

from __future__ import annotations

import functools
from collections import Counter

import pytest
import torch
from _helpers import zh_to_int

from llmwidgets.seq2seq import number_parser as npar
from llmwidgets.seq2seq import number_splits as ns
from llmwidgets.seq2seq import number_task as tr
from llmwidgets.seq2seq import number_words as nw
from llmwidgets.seq2seq import translation
from llmwidgets.seq2seq.rnn import GRUSeq2Seq


@functools.cache
def cached_task(direction: str, max_number: int = 9999) -> tr.NumberTask:
    return tr.NumberTask(direction, max_number=max_number)


def test_splits_hold_out_whole_ranges_deterministically():
    a, b, c = tr.make_splits(0), tr.make_splits(0), tr.make_splits(1)
    assert a == b and a != c
    everything = sorted(a["train"] + a["val"] + a["test"])
    assert everything == list(range(10_000))
    assert len(a["test"]) == 300 and len(a["val"]) == 200
    assert all(n < 1000 or n in a["train"] for n in range(1000))  # the building blocks train
    for name in ("val", "test"):
        starts = {n // 100 * 100 for n in a[name]}
        for start in starts:  # whole blocks of 100 consecutive numbers
            assert all(m in a[name] for m in range(start, start + 100))
            assert start >= 1000
    with pytest.raises(ValueError, match="held-out blocks"):
        tr.make_splits(0, n_test_blocks=80, n_val_blocks=20)


def test_vocab():
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
        ("zh-en", "两百", "unknown character '两' at position 0: .*every 2 as 二"),
        ("zh-en", "一" * 9, "9 tokens, more than the 7"),
        # Outside the task's grammar or range: refused with the reason, as a parser would.
        (
            "en-zh",
            "ten thousand",
            r"\(0\.\.9999\): 'thousand' at position 1 would make 10 "
            "thousand, but the numbers of the task end at 9999",
        ),  # fmt: skip
        ("en-zh", "one million", "'million' at position 1 would make 1 million"),
        ("en-zh", "eleven thousand", "would make 11 thousand"),
        ("en-zh", "ninety-nine thousand", "would make 99 thousand"),
        ("en-zh", "twelve hundred", "the task writes 1200 as 'one thousand two hundred'"),
        ("en-zh", "one hundred five thousand", "'and' is missing before 'five' at position 2"),
        ("en-zh", "twenty one", "'one' at position 1 after 'twenty' needs a hyphen: 'twenty-one'"),
        ("en-zh", "zero zero", "'zero' at position 0 is only the number 0 on its own"),
        ("en-zh", "and and and", "'and' at position 0 must come after 'hundred' or 'thousand'"),
        ("en-zh", "-", "'-' at position 0 must join a tens word and a digit"),
        ("en-zh", "one two three", "'two' at position 1 cannot follow 'one'"),
        ("en-zh", "one hundred hundred hundred", "'hundred' at position 2 cannot follow 'hund"),
        ("en-zh", "one hundred five", "'and' is missing before 'five' at position 2"),
        ("en-zh", "three hundred and", "the input ends after 'and'"),
        ("en-zh", "one thousand and one hundred", "'hundred' at position 4 comes after 'and'"),
        ("en-zh", "two thousand one million", "'million' at position 3 is out of order"),
        ("en-zh", "hundred", "'hundred' at position 0 needs a digit one..nine before it"),
        ("zh-en", "一十五", "a leading 一十 is written 十"),
        ("zh-en", "一千五", "skips a place without 零: the task writes 1005 as 一千零五 and 1500"),
        ("zh-en", "零零", "零 at position 0: only the number 0 itself starts with 零"),
        ("zh-en", "二千零零五", "零 at position 3 repeats 零"),
        ("zh-en", "二百零", "零 at position 2 ends the number"),
        ("zh-en", "二千零三百", "零 at position 2 stands for a skipped place, but none is"),
        ("zh-en", "九九", "九 at position 1 follows the digit 九"),
        ("zh-en", "百", "百 at position 0 needs a digit 一..九 before it"),
        ("zh-en", "五十五十", "五十 at position 2 is out of order"),
        ("zh-en", "一万", r"\(0\.\.9999\): 万 at position 1 would make 10000, but the numbers"),
        ("zh-en", "一万五", "skips a place without 零: the task writes 10005 as 一万零五"),
        ("zh-en", "一亿", "亿 at position 1 would make 100000000, but the numbers of the task"),
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
        npar.parse_number(text, task.src_lang, task.max_number)


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


# ------------------------------------------------------------- a harder task: 0..10^8


def test_held_out_blocks_share_two_leading_digits_at_every_length():
    held = ns.held_out_blocks(0, max_number=10**8)
    assert held == ns.held_out_blocks(0, max_number=10**8)
    assert held["test"][:3] == ns.held_out_blocks(0)["test"]  # 0..9999's blocks first
    by_digits = Counter((len(str(r.start)), name) for name, rs in held.items() for r in rs)
    assert by_digits == {(d, name): k for d in range(4, 9) for name, k in (("test", 3), ("val", 2))}
    for r in held["test"] + held["val"]:
        d = len(str(r.start))
        assert len(r) == 10 ** (d - 2) and r.start % len(r) == 0  # e.g. 23000000..23999999
        assert len(str(r.stop - 1)) == d
    with pytest.raises(ValueError, match="max_number must be an int in"):
        ns.held_out_blocks(0, max_number=10**8 + 1)


def test_even_shares_fill_small_digit_counts_first():
    assert ns._even_shares([10, 90, 900, 8500, 85000], 1000) == [10, 90, 300, 300, 300]
    assert ns._even_shares([10, 90, 900], 100) == [10, 45, 45]
    assert ns._even_shares([5, 5], 10) == [5, 5]
    assert sum(ns._even_shares([3, 70, 70, 70], 100)) == 100


def test_training_sample_is_even_over_digit_counts_and_avoids_held_out_ranges():
    splits = ns.make_splits(0, max_number=10**8, train_size=20_000, eval_size=50)
    assert splits == ns.make_splits(0, max_number=10**8, train_size=20_000, eval_size=50)
    train = splits["train"]
    assert len(train) == len(set(train)) == 20_000 and train == sorted(train)
    digits = Counter(len(str(n)) for n in train)
    assert digits[1] == 10 and digits[2] == 90 and digits[3] == 900 and digits[9] == 1
    rest = [digits[d] for d in range(4, 9)]
    assert max(rest) - min(rest) <= 1 and sum(rest) == 20_000 - 1001  # 3,800 each
    held = ns.held_out_blocks(0, max_number=10**8)
    for name in ("val", "test"):
        numbers = splits[name]
        assert all(any(n in r for r in held[name]) for n in numbers)
        assert Counter(len(str(n)) for n in numbers) == {d: 50 for d in range(4, 9)}
    assert not set(train) & (set(splits["val"]) | set(splits["test"]))
    with pytest.raises(ValueError, match="too many to list: give train_size"):
        ns.make_splits(0, max_number=10**7)
    with pytest.raises(ValueError, match="train_size=99999 but 0..99999 has 94500 training"):
        ns.make_splits(0, max_number=99_999, train_size=99_999)


def test_a_task_up_to_10_8():
    task = tr.NumberTask("en-zh", max_number=10**8, train_size=2000, eval_size=20)
    assert task.max_number == 10**8 and len(task.splits["train"]) == 2000
    assert "万" in task.tgt_vocab.stoi and "亿" in task.tgt_vocab.stoi
    assert "million" in task.src_vocab.stoi and len(task.src_vocab) == 35 + 1
    assert len(task.tgt_vocab) == 16 + 2
    # 77777777: seventy - seven million seven hundred and seventy - seven thousand ...
    assert task.max_src_len == 17 and task.max_tgt_len == 15
    longest = max(task.splits["train"] + task.splits["test"], key=lambda n: len(str(n)))
    assert len(nw.tokenize(nw.number_to_english(longest), "en")) <= task.max_src_len
    data = task.dataset("test")
    assert data.src.shape == (100, 17) and data.tgt_in.shape == (100, 16)
    src, tgt = task.pairs("test")[-1]
    assert zh_to_int(tgt) == task.splits["test"][-1]
    assert task.encode_source(src) == [i for i in data.src[-1].tolist() if i]
    assert task.decode_target(data.tgt_out[-1].clamp(min=0).tolist()) == tgt
    assert task.encode_source("one hundred million") == task.src_vocab.encode(
        ["one", "hundred", "million"]
    )
    assert "0..100000000: train 2000, val 100, test 100" in repr(task)
    reverse = tr.NumberTask("zh-en", max_number=10**8, train_size=2000, eval_size=20)
    assert reverse.max_src_len == 15 and reverse.max_tgt_len == 17
    text = "二千零三十万零四百"
    assert reverse.encode_source(text) == reverse.src_vocab.encode(list(text))


def test_default_sizes_and_bad_settings_of_a_task():
    small = cached_task("en-zh")
    assert small.max_number == 9999 and small.train_size is None
    listed = tr.NumberTask("en-zh", max_number=49_999)  # 50,000 - 500 - 5,000 train: all
    assert listed.train_size is None and len(listed.splits["train"]) == 44_500
    sampled = tr.NumberTask("zh-en", max_number=99_999)  # 94,500: a sample
    assert sampled.train_size == tr.DEFAULT_TRAIN_SIZE == len(sampled.splits["train"])
    for kwargs, message in [
        ({"max_number": 999}, r"max_number must be an int in \[9999, 100000000\], got 999"),
        ({"max_number": 10**9}, "max_number must be an int in"),
        ({"train_size": 0}, r"train_size must be an int >= 1, got 0 \(or None\)"),
        ({"eval_size": 0}, "eval_size must be an int >= 1, got 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            tr.NumberTask("en-zh", **kwargs)


@pytest.mark.parametrize(
    "text, message",
    [
        ("one hundred million and one", "it is 100000001, but the numbers of the task end at"),
        ("two hundred million", "'million' at position 2 would make 200 million"),
        ("one million and five thousand", "'and' at position 2 comes before 'thousand'"),
        ("seven " * 18, "18 tokens, more than the 17"),
    ],
)
def test_a_task_up_to_10_8_refuses_what_is_not_one_of_its_numbers(text, message):
    task = cached_task("en-zh", 10**8)
    with pytest.raises(ValueError, match=message):
        task.encode_source(text)
