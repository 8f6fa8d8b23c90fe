"""Notebook 05's checks (the translation project): right answers pass, typical slips get
their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _helpers import contract_tests, expect_hint, zh_to_int

from llmwidgets import checks
from llmwidgets.seq2seq.number_task import number_to_chinese

# ------------------------------------------------------------------ correct answers


def loss_ok(logits, targets, pad_id):
    return F.cross_entropy(
        logits.permute(1, 2, 0), targets.transpose(0, 1), ignore_index=pad_id
    )  # (B, V, T) and (B, T): the other layout cross_entropy accepts


def teacher_forcing_ok(seqs, bos, eos, pad):
    width = max(map(len, seqs)) + 1
    tgt_in = [[bos, *s] + [pad] * (width - len(s) - 1) for s in seqs]
    tgt_out = [[*s, eos] + [-100] * (width - len(s) - 1) for s in seqs]
    return torch.tensor(tgt_in), torch.tensor(tgt_out)


def beam_ok(step, bos, eos, beam_width, max_len):
    beam = [([], 0.0, False)]
    for _ in range(max_len):
        if all(done for _, _, done in beam):
            break
        candidates = [h for h in beam if h[2]]
        for ids, score, done in beam:
            if done:
                continue
            logp = step([bos, *ids])
            for tok in range(len(logp)):
                ended = tok == eos
                candidates.append((ids if ended else [*ids, tok], score + float(logp[tok]), ended))
        beam = sorted(candidates, key=lambda h: -h[1])[:beam_width]
    return beam[0][0]


CHECKS = {
    "loss": (checks.check_seq2seq_loss, loss_ok),
    "teacher_forcing": (checks.check_teacher_forcing, teacher_forcing_ok),
    "beam": (checks.check_beam_search, beam_ok),
    "chinese_to_int": (checks.check_chinese_to_int, zh_to_int),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ typical slips


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda lg, t, p: F.cross_entropy(lg.reshape(-1, lg.shape[-1]), t.reshape(-1)), ["skip"]),
        (
            lambda lg, t, p: F.cross_entropy(
                lg.reshape(-1, lg.shape[-1]), t.T.reshape(-1), ignore_index=p
            ),
            ["different orders"],
        ),
        (lambda lg, t, p: F.cross_entropy(lg, t, ignore_index=p), ["raised RuntimeError"]),
        (lambda lg, t, p: torch.tensor(1.0), ["wrong values"]),
    ],
    ids=["padding counted", "orders mixed", "source's (T, B, V) call", "constant"],
)
def test_loss_hints(answer, words, capsys):
    prefix = "your function raised" if "raised" in words[0] else "Hint:"
    expect_hint(checks.check_seq2seq_loss, answer, words, capsys, prefix)


def _no_shift(seqs, bos, eos, pad):  # the source's bug: the target fed as the input
    _, out = teacher_forcing_ok(seqs, bos, eos, pad)
    return out.clone(), out


def _pad_targets_with_pad(seqs, bos, eos, pad):
    tgt_in, tgt_out = teacher_forcing_ok(seqs, bos, eos, pad)
    return tgt_in, tgt_out.masked_fill(tgt_out == -100, pad)


def _no_eos(seqs, bos, eos, pad):
    tgt_in, tgt_out = teacher_forcing_ok(seqs, bos, eos, pad)
    return tgt_in, tgt_out.masked_fill(tgt_out == eos, -100)


@pytest.mark.parametrize(
    "answer, words",
    [
        (_no_shift, ["<bos>", "shifted"]),
        (_pad_targets_with_pad, ["-100"]),
        (_no_eos, ["<eos>"]),
        (lambda s, b, e, p: teacher_forcing_ok(s, b, e, p)[0], ["two tensors"]),
        (lambda s, b, e, p: (torch.zeros(1, 1), torch.zeros(1, 1)), ["shape"]),
    ],
    ids=["not shifted", "targets padded with pad", "no eos", "one tensor", "wrong shape"],
)
def test_teacher_forcing_hints(answer, words, capsys):
    expect_hint(checks.check_teacher_forcing, answer, words, capsys)


def _greedy(step, bos, eos, beam_width, max_len):
    ids = []
    for _ in range(max_len):
        tok = int(torch.as_tensor(step([bos, *ids])).argmax())
        if tok == eos:
            break
        ids.append(tok)
    return ids


def _stops_at_first_finished(step, bos, eos, beam_width, max_len):
    beam = [([], 0.0)]
    for _ in range(max_len):
        candidates = []
        for ids, score in beam:
            logp = step([bos, *ids])
            candidates += [([*ids, t], score + float(logp[t])) for t in range(len(logp))]
        beam = sorted(candidates, key=lambda h: -h[1])[:beam_width]
        for ids, _ in beam:
            if ids[-1] == eos:
                return ids[:-1]
    return beam[0][0]


@pytest.mark.parametrize(
    "answer, words",
    [
        (_greedy, ["greedy's answer", "SUM of log-probs"]),
        (_stops_at_first_finished, ["first finished"]),
        (lambda *a: [1, *beam_ok(*a), 2], ["without them"]),
        (lambda *a: [3, 3, 3], ["beam_width=1", "returned [3, 3, 3]"]),
    ],
    ids=["greedy", "stops early", "keeps bos/eos", "constant"],
)
def test_beam_hints(answer, words, capsys):
    expect_hint(checks.check_beam_search, answer, words, capsys)


def _ignores_leading_ten(text):
    return zh_to_int(text) - (10 if text.startswith("十") else 0)


def _zero_counts(text):
    return zh_to_int(text) + text.count("零") * (len(text) > 1)


@pytest.mark.parametrize(
    "answer, words",
    [
        (_ignores_leading_ten, ["十", "一十"]),
        (_zero_counts, ["零 only marks a gap"]),
        (lambda text: str(zh_to_int(text)), ["return an int", "got '0'"]),
        (lambda text: zh_to_int(text) + (text == "九千九百九十九"), ["九千九百九十九 gave 10000"]),
    ],
    ids=["leading 十", "零 adds", "returns str", "other"],
)
def test_chinese_to_int_hints(answer, words, capsys):
    expect_hint(checks.check_chinese_to_int, answer, words, capsys)


def test_hints_do_not_show_the_answer(capsys):
    message = expect_hint(checks.check_beam_search, lambda *a: [4], ["beam_width=1"], capsys)
    assert "[3]" not in message  # greedy's answer on the first toy model
    message = expect_hint(checks.check_chinese_to_int, lambda t: -1, ["零 gave -1"], capsys)
    assert " 0" not in message


def test_checks_do_not_depend_on_the_answer_mutating_inputs(capsys):
    def mutating(logits, targets, pad_id):
        out = loss_ok(logits, targets, pad_id)
        logits.zero_()
        return out

    checks.check_seq2seq_loss(mutating)
    assert capsys.readouterr().out.startswith("✓")
    assert number_to_chinese(15) == "十五"
