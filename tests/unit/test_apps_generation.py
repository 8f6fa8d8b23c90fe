"""llmwidgets.apps: examples, prompting, constrained decoding, records and QA."""

from __future__ import annotations

import pytest
import torch
from _apps_helpers import Counter, tiny_gpt

from llmwidgets.apps import constrained as ci
from llmwidgets.apps import qa
from llmwidgets.apps import records as rec
from llmwidgets.apps.examples import (
    IGNORE,
    RowBatcher,
    masked_example,
    pad_examples,
    prompt_answer_example,
)
from llmwidgets.apps.prompting import complete, complete_batch, sample_tokens
from llmwidgets.nn.generation import generate
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training.losses import next_token_loss

# --- examples ---


def test_prompt_answer_example_masks_the_prompt() -> None:
    x, y = prompt_answer_example([5, 6, 7], [8, 9])
    assert x == [5, 6, 7, 8]
    assert y == [IGNORE, IGNORE, 8, 9]


def test_masked_example_trains_only_flagged_tokens() -> None:
    x, y = masked_example([1, 2, 3, 4, 5], [False, True, False, True, True])
    assert x == [1, 2, 3, 4] and y == [2, IGNORE, 4, 5]


def test_pad_examples_pads_inputs_and_ignores_targets() -> None:
    x, y = pad_examples([([1, 2], [IGNORE, 3]), ([4], [5])], pad_id=9, length=3)
    assert x.tolist() == [[1, 2, 9], [4, 9, 9]]
    assert y.tolist() == [[IGNORE, 3, IGNORE], [5, IGNORE, IGNORE]]


def test_masked_loss_counts_only_the_answer() -> None:
    x, y = pad_examples([prompt_answer_example([0, 1], [2])])
    logits = torch.zeros(1, 2, 4)
    logits[0, 0, 3] = 100.0  # wrong at the prompt position: must not count
    logits[0, 1, 2] = 100.0  # right at the answer position
    assert next_token_loss(logits, y).item() == pytest.approx(0.0, abs=1e-6)


def test_example_batcher_repeats_fixed_batches_and_resumes() -> None:
    x, y = torch.arange(10)[:, None], torch.arange(10)[:, None] * 2
    b = RowBatcher((x, x + 100), y, batch_size=4, seed=3)
    first = [(xx[0].tolist(), yy.tolist()) for xx, yy in b.fixed_batches(2)]
    assert first[0][0] == [[0], [1], [2], [3]] and first[1][0] == [[4], [5], [6], [7]]
    assert first == [(xx[0].tolist(), yy.tolist()) for xx, yy in b.fixed_batches(2)]
    state = b.state_dict()
    (bx, bx2), by = b.get_batch()
    assert torch.equal(by, bx * 2) and torch.equal(bx2, bx + 100)
    b.load_state_dict(state)
    assert torch.equal(b.get_batch()[0][0], bx)


# --- prompting ---


def test_complete_stops_at_the_stop_token() -> None:
    tok = CharTokenizer("\nabcd")  # ids: \n 0, a 1, b 2, c 3, d 4
    assert complete(Counter(5), tok, "ab") == "cd"  # b -> c -> d -> \n (stop)
    assert complete(Counter(5), tok, "ab", stop=None, max_new_tokens=4) == "cd\na"


def test_sample_tokens_obeys_the_mask_and_stops_when_the_context_is_full() -> None:
    only_two = torch.zeros(5, dtype=torch.bool)
    only_two[2] = True
    out = sample_tokens(Counter(5, block_size=6), [0], 10, allowed=lambda done: only_two)
    assert out == [2, 2, 2, 2, 2]  # 1 prompt token + 5 = block_size: no sliding
    out = sample_tokens(Counter(5, block_size=6), [0], 3, allowed=lambda done: None)
    assert out == []


def test_masked_sampling_never_draws_a_masked_token() -> None:
    allowed = torch.tensor([False, True, False, True, False])
    gen = torch.Generator().manual_seed(0)
    out = sample_tokens(tiny_gpt(5, 64), [0], 40, allowed=lambda d: allowed, temperature=2.0,
                        generator=gen)  # fmt: skip
    assert set(out) == {1, 3}


def test_sample_tokens_with_the_cache_matches_generate_without_it() -> None:
    model = tiny_gpt(7, block_size=12)
    ids = [1, 2, 3]
    want = generate(model, ids, 15, temperature=0.0, use_cache=False)[3:].tolist()
    # 15 tokens after 3 slide past block_size=12: the cache is dropped on the way
    assert sample_tokens(model, ids, 15, slide=True) == want
    assert sample_tokens(model, ids, 15) == want[:9]  # no sliding: stops at the context


def test_complete_batch_gives_complete_answers_in_order() -> None:
    tok = CharTokenizer("\nabcdefg")
    model = tiny_gpt(tok.vocab_size, block_size=10, seed=3)
    prompts = ["ab", "gfe", "c", "dd", "abc", "g"]
    want = [complete(model, tok, p, max_new_tokens=8) for p in prompts]
    assert complete_batch(model, tok, prompts, max_new_tokens=8, batch_size=2) == want
    assert complete_batch(Counter(5), CharTokenizer("\nabcd"), ["ab", "c"]) == ["cd", "d"]
    with pytest.raises(ValueError, match=r"prompts\[1\]: the prompt has 10 tokens"):
        complete_batch(model, tok, ["a", "a" * 10])
    with pytest.raises(ValueError, match="non-empty list"):
        complete_batch(model, tok, "ab")


# --- constrained decoding ---

_CORPUS = (
    "甲 · 张\n春风。\n花落，水流。\n\n甲 · 李\n秋月。\n山高，云淡。\n\n"
    "甲 · 王\n夜雨，灯。\n\n乙 · 张\n天。"
)


def test_text_form_replaces_han_characters_only() -> None:
    assert ci.text_form("近清明。\n 可惜一片，都付与黄昏。 ") == "□□□。\n□□□□，□□□□□。"


def test_tune_patterns_take_the_most_common_form() -> None:
    pats = ci.tune_patterns(_CORPUS)
    assert list(pats) == ["甲", "乙"]
    assert pats["甲"].form == "□□。\n□□，□□。"
    assert (pats["甲"].poems, pats["甲"].variants, pats["甲"].authors) == (2, 2, ("张", "李"))
    assert pats["甲"].n_chars == 6 and pats["甲"].prompt() == "甲 · 张\n"


def test_tune_patterns_of_songci300() -> None:
    pats = ci.tune_patterns()
    assert len(pats) == 167
    p = pats["浣溪沙"]
    assert (p.poems, p.variants, p.n_chars) == (5, 1, 42)
    assert p.lines[0] == "□□□□□□□。"


def test_form_kept_and_lines_kept() -> None:
    p = ci.tune_patterns(_CORPUS)["甲"]
    assert ci.form_kept("东风。\n月明，人静。", p)
    assert not ci.form_kept("东风。\n月明人静。", p)
    assert ci.lines_kept("东风。\n月明人静。", p) == 0.5
    assert ci.lines_kept("", p) == 0.0
    assert ci.first_poem("\n东风。\n月明。\n\n乙 · 张\n天。") == "东风。\n月明。"


def test_generate_constrained_keeps_the_form_where_free_sampling_does_not() -> None:
    tok = CharTokenizer(_CORPUS)
    pattern = ci.tune_patterns(_CORPUS)["甲"]
    model = tiny_gpt(tok.vocab_size, block_size=16)
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        poem = ci.generate_constrained(model, tok, pattern, temperature=1.0, generator=gen)
        assert ci.form_kept(poem, pattern), poem
    ids = tok.encode(pattern.prompt())
    free = tok.decode(sample_tokens(model, ids, 12, temperature=1.0, slide=True,
                                    generator=torch.Generator().manual_seed(0)))  # fmt: skip
    assert not ci.form_kept(free, pattern)  # an untrained model does not keep it by chance


def test_generate_constrained_refuses_punctuation_the_model_lacks() -> None:
    tok = CharTokenizer("甲 · 张\n春风花落")
    pattern = ci.tune_patterns(_CORPUS)["甲"]
    with pytest.raises(ValueError, match=r"needs \['。', '，'\]"):
        ci.generate_constrained(tiny_gpt(tok.vocab_size), tok, pattern)


# --- records ---


def test_make_matches_is_seeded_and_valid() -> None:
    a, b = rec.make_matches(50, seed=1), rec.make_matches(50, seed=1)
    assert a == b and a != rec.make_matches(50, seed=2)
    for m in a:
        assert m.home != m.away and m.venue == rec.GROUNDS[rec.TEAMS.index(m.home)]
        assert 0 <= m.home_goals <= 5 and 1000 <= m.crowd <= 39999 and 1 <= m.day <= 28


def test_record_text_round_trip() -> None:
    m = rec.make_matches(1, seed=5)[0]
    assert rec.parse_record(rec.record_text(m)) == m


_M = rec.Match("Ashford", "Carlow", 1, 3, 12, "March", "Mill Lane", 12345, "Baker")


def test_reference_reports_follow_the_result() -> None:
    assert rec.write_report(_M) == (
        "Carlow won 3-1 away at Ashford on 12 March. Baker was player of the match and the "
        "crowd at Mill Lane was 12345."
    )
    draw = rec.Match("Ashford", "Carlow", 2, 2, 1, "May", "Mill Lane", 1000, "Shaw")
    assert rec.write_report(draw).startswith("Ashford and Carlow drew 2-2 at Mill Lane")


def test_fact_check_of_the_reference_is_all_true() -> None:
    for m in [*rec.make_matches(30, seed=0), _M]:
        check = rec.fact_check(rec.write_report(m), m)
        assert check.all_true and check.accuracy == 1.0, (rec.write_report(m), check)


def test_fact_check_finds_the_invented_facts() -> None:
    report = ("Ashford beat Carlow 3-1 at Mill Lane on 12 March. Bakr was player of the match "
              "in front of 2000 fans.")  # fmt: skip
    check = rec.fact_check(report, _M)
    wrong = [(c.kind, c.text) for c in check.invented]
    assert wrong == [("result", "Ashford beat"), ("name", "Bakr"), ("number", "2000")]
    assert check.accuracy == pytest.approx(6 / 9)  # 9 claims, 3 invented
    assert rec.fact_accuracy(report, _M) == check.accuracy
    assert set(check.missing) == {"star", "crowd", "result"}
    empty = rec.fact_check("", _M)
    assert empty.accuracy == 1.0 and len(empty.missing) == 9


def test_rouge_on_a_hand_computed_case() -> None:
    pytest.importorskip("rouge_score", reason="rouge-score is not installed")
    scores = rec.rouge(["the cat sat"], ["the cat sat on the mat"])
    # ROUGE-1: precision 3/3, recall 3/6 -> F1 2/3; ROUGE-2: 2/2 and 2/5 -> F1 4/7.
    assert scores["rouge1"] == pytest.approx(200 / 3)
    assert scores["rouge2"] == pytest.approx(400 / 7)
    assert scores["rougeL"] == pytest.approx(200 / 3)


# --- QA ---


def test_questions_and_prompts() -> None:
    qs = qa.make_questions([_M], per_record=4, seed=0)
    answers = {q.kind: q.answer for q in qs}
    assert answers == {"crowd": "12345", "venue": "Mill Lane", "star": "Baker", "score": "1-3"}
    crowd = next(q for q in qs if q.kind == "crowd")
    assert crowd.text == "How many fans saw Ashford v Carlow on 12 March?"
    prompt, answer = qa.qa_example(crowd, [_M])
    assert prompt == f"{rec.record_text(_M)}\nQ: {crowd.text}\nA: " and answer == "12345\n"
    assert qa.qa_example(crowd, [_M], with_context=False)[0] == f"Q: {crowd.text}\nA: "
    assert qa.exact_match(["12345 ", "x"], ["12345", "y"]) == 0.5
