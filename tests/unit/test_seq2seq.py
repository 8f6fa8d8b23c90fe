"""Encoder-decoders: shapes, masking, teacher forcing, decoding, and training with the Trainer."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

import llmwidgets as lw
from llmwidgets.nn.gpt import MLP, Block, CausalSelfAttention
from llmwidgets.seq2seq import decoding
from llmwidgets.seq2seq import rnn as s2s
from llmwidgets.seq2seq.base import Seq2Seq
from llmwidgets.seq2seq.number_task import NumberTask, Seq2SeqBatcher
from llmwidgets.seq2seq.transformer import (
    DecoderBlock,
    EncoderBlock,
    MultiHeadAttention,
    TransformerSeq2Seq,
    TransformerSeq2SeqConfig,
)
from llmwidgets.seq2seq.translation import accuracy_by_length, translate, translate_split

V_SRC, V_TGT, BOS, EOS = 11, 9, 1, 2


def make(kind: str, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    if kind == "gru":
        model = s2s.GRUSeq2Seq(V_SRC, V_TGT, hidden=16)
    elif kind == "attention":
        model = s2s.AttentionGRUSeq2Seq(V_SRC, V_TGT, hidden=16)
    else:
        cfg = TransformerSeq2SeqConfig(V_SRC, V_TGT, block_size=16, n_layer=2, n_head=2, n_embd=16)
        model = TransformerSeq2Seq(cfg)
    return model.eval()


KINDS = ["gru", "attention", "transformer"]
SRC = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0], [9, 0, 0, 0]])  # right-padded with 0
TGT_IN = torch.tensor([[1, 3, 4, 5], [1, 6, 0, 0], [1, 7, 8, 0]])


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_attention(kind):
    model = make(kind)
    logits = model(SRC, TGT_IN)
    assert logits.shape == (3, 4, V_TGT)
    if kind == "gru":
        with pytest.raises(ValueError, match="no attention"):
            model(SRC, TGT_IN, return_attention=True)
        return
    again, attention = model(SRC, TGT_IN, return_attention=True)
    torch.testing.assert_close(again, logits)  # the explicit path gives the same logits
    heads = 1 if kind == "attention" else 2
    assert len(attention) == (1 if kind == "attention" else 2)
    for att in attention:
        assert att.shape == (3, heads, 4, 4)
        torch.testing.assert_close(att.sum(-1), torch.ones(3, heads, 4))
        assert (att[1, :, :, 2:] == 0).all() and (att[2, :, :, 1:] == 0).all()  # padding


@pytest.mark.parametrize("kind", KINDS)
def test_padding_is_irrelevant(kind):
    """An example alone, with extra padding, or next to longer ones: the same logits,
    even when the padding embedding is not zero."""
    model = make(kind)
    with torch.no_grad():
        for emb in (m for m in model.modules() if isinstance(m, torch.nn.Embedding)):
            emb.weight[0] = torch.randn(emb.weight.shape[1])  # a non-zero <pad> vector
    batch = model(SRC, TGT_IN)
    for i, length in enumerate([4, 2, 1]):
        alone = model(SRC[i : i + 1, :length], TGT_IN[i : i + 1])
        padded = model(F.pad(SRC[i : i + 1, :length], (0, 5)), TGT_IN[i : i + 1])
        torch.testing.assert_close(alone, batch[i : i + 1], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_decoder_is_causal(kind):
    """Position t depends on tgt_in[:, :t+1] only: changing later tokens changes nothing before."""
    model = make(kind)
    logits = model(SRC, TGT_IN)
    for t in range(TGT_IN.shape[1] - 1):
        changed = TGT_IN.clone()
        changed[:, t + 1 :] = torch.randint(3, V_TGT, changed[:, t + 1 :].shape)
        torch.testing.assert_close(model(SRC, changed)[:, : t + 1], logits[:, : t + 1])


def test_teacher_forced_loss_equals_a_hand_loop():
    model = make("gru")
    tgt_out = torch.tensor([[3, 4, 5, 2], [6, 2, -100, -100], [7, 8, 2, -100]])
    loss = lw.next_token_loss(model(SRC, TGT_IN), tgt_out)
    # By hand: run the decoder one token at a time, carrying its state, and average
    # -log p(right token) over the positions that are not padding.
    dec = model.decoder
    total, count = 0.0, 0
    for b in range(3):
        length = int((SRC[b] != 0).sum())
        _, h = model.encoder.gru(model.encoder.embedding(SRC[b : b + 1, :length]))
        for t in range(TGT_IN.shape[1]):
            out, h = dec.gru(dec.embedding(TGT_IN[b : b + 1, t : t + 1]), h)
            if tgt_out[b, t] == -100:
                continue
            logp = torch.log_softmax(dec.fc(out[0, 0]), dim=-1)
            total, count = total - logp[tgt_out[b, t]].item(), count + 1
    assert count == 9
    assert loss.item() == pytest.approx(total / count, rel=1e-5)
    # the Trainer's loss (F.cross_entropy's ignore_index=-100) is the same number
    assert lw.next_token_loss(model(SRC, TGT_IN), tgt_out).item() == pytest.approx(loss.item())
    with pytest.raises(ValueError, match=r"\(B, T, V\)"):
        lw.next_token_loss(model(SRC, TGT_IN).transpose(0, 1), tgt_out)


def test_source_bug_time_first_logits_break_cross_entropy():
    """The source passes (T, B, V) logits to CrossEntropyLoss: dimension 1 is taken as classes."""
    logits, targets = torch.randn(5, 3, 7), torch.randint(0, 7, (5, 3))
    with pytest.raises((RuntimeError, ValueError)):
        torch.nn.CrossEntropyLoss()(logits, targets)
    right = torch.nn.CrossEntropyLoss()(logits.permute(1, 2, 0), targets.T)  # (B, V, T)
    assert right.item() == pytest.approx(
        lw.next_token_loss(logits.transpose(0, 1), targets.T).item()
    )


def test_additive_attention_by_hand():
    torch.manual_seed(1)
    att = s2s.AdditiveAttention(3, 4, 5)
    q, keys = torch.randn(2, 3), torch.randn(2, 6, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    context, weights = att(q, keys, mask)
    for b in range(2):
        scores = []
        for j in range(6):
            e = att.v.weight[0] @ torch.tanh(att.W_q.weight @ q[b] + att.W_k(keys[b, j]))
            scores.append(e if mask[b, j] else torch.tensor(-math.inf))
        w = torch.softmax(torch.stack(scores), dim=0)
        torch.testing.assert_close(weights[b], w)
        torch.testing.assert_close(context[b], w @ keys[b])


def test_transformer_reuses_the_gpt_pieces():
    model = make("transformer")
    for block in model.encoder:
        assert isinstance(block, EncoderBlock) and isinstance(block, Block)
        assert isinstance(block.mlp, MLP) and isinstance(block.attn, MultiHeadAttention)
    for block in model.decoder:
        assert isinstance(block, DecoderBlock) and isinstance(block.attn, CausalSelfAttention)
    assert model.lm_head.weight is model.tgt_wte.weight  # tied
    with pytest.raises(ValueError, match="block_size=16"):
        model(torch.ones(1, 17, dtype=torch.long), TGT_IN[:1])


def test_multi_head_attention_fast_path_equals_explicit_and_a_loop_over_heads():
    torch.manual_seed(2)
    cfg = TransformerSeq2SeqConfig(5, 5, n_head=2, n_embd=8).gpt()
    mha = MultiHeadAttention(cfg).eval()
    x, mem = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    fast = mha(x, mem, mask)
    slow, att = mha(x, mem, mask, return_attention=True)
    torch.testing.assert_close(fast, slow)
    q = mha.q_proj(x)
    k, v = mha.kv_proj(mem).split(8, dim=-1)
    heads = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        s = q[..., sl] @ k[..., sl].transpose(1, 2) / 2.0
        w = torch.softmax(s.masked_fill(~mask[:, None, :], -math.inf), dim=-1)
        torch.testing.assert_close(w, att[:, h])
        heads.append(w @ v[..., sl])
    torch.testing.assert_close(mha.c_proj(torch.cat(heads, dim=-1)), fast)


def test_encode_refuses_bad_sources():
    model = make("gru")
    with pytest.raises(ValueError, match="src must hold integer token ids, got dtype torch.float"):
        model.encode(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"src must have shape \(B, T\) with T >= 1, got \(3,\)"):
        model.encode(torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one token"):
        model.encode(torch.tensor([[3, 4], [0, 0]]))
    with pytest.raises(ValueError, match="even hidden"):
        s2s.GRUEncoder(5, 7, bidirectional=True)
    assert model.encode(torch.tensor([[3, 4]], dtype=torch.int32))["hidden"].shape == (1, 16)


@pytest.mark.parametrize("kind", KINDS)
def test_ids_outside_the_vocabularies_are_named_not_index_errors(kind):
    model = make(kind)
    src = SRC.clone()
    src[1, 1] = 999
    with pytest.raises(ValueError, match=r"token id 999 at position \(1, 1\) is outside the voc"):
        model(src, TGT_IN)
    with pytest.raises(ValueError, match=r"token id 999 at position \(1, 1\) is outside"):
        decoding.greedy_decode(model, src, BOS, EOS, 4)
    tgt = TGT_IN.clone()
    tgt[0, 2] = V_TGT  # one past the target vocabulary
    with pytest.raises(ValueError, match=rf"token id {V_TGT} at position \(0, 2\)"):
        model(SRC, tgt)
    with pytest.raises(ValueError, match=r"token id -1 at position \(2, 0\) is negative"):
        model(torch.tensor([[3], [4], [-1]]), TGT_IN)
    with pytest.raises(ValueError, match=r"tgt_in is an empty batch, shape \(0, 4\)"):
        model.decode(model.encode(SRC), TGT_IN[:0])
    with pytest.raises(ValueError, match=r"memory\['.*'\] has shape .* tgt_in has a batch of 2"):
        model.decode(model.encode(SRC), TGT_IN[:2])
    with pytest.raises(ValueError, match=r"eos=9 but the model's target vocabulary has 9 tokens"):
        decoding.greedy_decode(model, SRC, BOS, V_TGT, 4)
    with pytest.raises(ValueError, match=r"bos=-1 but the model's target vocabulary has 9"):
        decoding.beam_search(model, SRC[0], -1, EOS, 2, 4)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: s2s.GRUSeq2Seq(0, 5), "src_vocab must be an int >= 1, got 0"),
        (lambda: s2s.AttentionGRUSeq2Seq(5, 2.5), r"tgt_vocab must be an int >= 1, got 2.5"),
        (lambda: s2s.GRUSeq2Seq(5, 5, hidden=0), "hidden must be an int >= 1, got 0"),
        (lambda: TransformerSeq2SeqConfig(5, -1), "tgt_vocab must be an int >= 1, got -1"),
        (lambda: TransformerSeq2SeqConfig(5, 5, n_embd=10, n_head=4), "not divisible by n_head"),
        (lambda: TransformerSeq2Seq({"src_vocab": 5}), "config must be a TransformerSeq2SeqCon"),
    ],
)
def test_bad_model_sizes_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_transformer_config_is_frozen():
    config = TransformerSeq2SeqConfig(5, 5)
    with pytest.raises(AttributeError):
        config.n_head = 3


def test_translate_refuses_a_model_built_for_other_vocabularies():
    task = NumberTask("en-zh")
    small = s2s.GRUSeq2Seq(len(task.src_vocab) - 4, len(task.tgt_vocab), hidden=8)
    with pytest.raises(ValueError, match=r"model's source vocabulary has \d+ ids but the task's"):
        translate(small, task, "twelve")
    other = s2s.GRUSeq2Seq(len(task.src_vocab), len(task.tgt_vocab) + 1, hidden=8)
    with pytest.raises(ValueError, match=r"target vocabulary has 17 ids but the task's has 16"):
        translate(other, task, "twelve")


# ------------------------------------------------------------------------------ decoding


def table_step(table: dict[tuple[int, ...], list[float]], vocab: int):
    """A scorer whose next-token probabilities depend on the whole prefix (after <bos>)."""

    def step(prefixes: torch.Tensor) -> torch.Tensor:
        rows = []
        for p in prefixes.tolist():
            probs = table.get(tuple(p[1:]), [1.0 / vocab] * vocab)
            rows.append(torch.log(torch.tensor(probs)))
        return torch.stack(rows)

    return step


# tokens: 0 pad, 1 bos, 2 eos, 3 "a", 4 "b". Greedy takes "a" (0.5) then is unsure;
# "b" (0.4) is followed by <eos> with 0.9: P(b) = 0.36 beats P(a, anything) <= 0.25.
TABLE = {
    (): [0.0, 0.0, 0.1, 0.5, 0.4],
    (3,): [0.0, 0.0, 0.5, 0.25, 0.25],
    (4,): [0.0, 0.0, 0.9, 0.05, 0.05],
}


def test_beam_finds_what_greedy_misses_and_matches_exhaustive_search():
    step = table_step(TABLE, 5)
    greedy = decoding.beam_search_steps(step, BOS, EOS, beam_width=1, max_len=4)
    assert greedy[0][0] == [3] and greedy[0][1] == pytest.approx(math.log(0.25))
    beam = decoding.beam_search_steps(step, BOS, EOS, beam_width=2, max_len=4)
    assert beam[0][0] == [4] and beam[0][1] == pytest.approx(math.log(0.36))
    assert [s for _, s in beam] == sorted((s for _, s in beam), reverse=True)
    # exhaustive: every sequence of up to 3 tokens followed by <eos>
    best = max(
        (
            sum(step(torch.tensor([[BOS, *seq[:i]]]))[0, tok].item() for i, tok in enumerate(seq))
            + step(torch.tensor([[BOS, *seq]]))[0, EOS].item(),
            seq,
        )
        for n in range(4)
        for seq in itertools.product([3, 4], repeat=n)
    )
    wide = decoding.beam_search_steps(step, BOS, EOS, beam_width=8, max_len=4)
    assert wide[0][0] == list(best[1]) and wide[0][1] == pytest.approx(best[0])


def test_length_penalty_and_bad_settings():
    step = table_step(TABLE, 5)
    raw = decoding.beam_search_steps(step, BOS, EOS, 3, 4)
    normalised = decoding.beam_search_steps(step, BOS, EOS, 3, 4, length_penalty=1.0)
    assert sorted(map(tuple, (h for h, _ in raw))) == sorted(map(tuple, (h for h, _ in normalised)))
    for ids, score in normalised:
        assert isinstance(score, float) and all(i not in (BOS, EOS) for i in ids)
    with pytest.raises(ValueError, match="beam_width"):
        decoding.beam_search_steps(step, BOS, EOS, 0, 4)
    with pytest.raises(ValueError, match="max_len"):
        decoding.beam_search_steps(step, BOS, EOS, 2, 0)


# The shorter wrong hypothesis wins on raw log-probability: "a" <eos> has
# log(0.9 * 0.4) = -1.022 and the right "a b b" <eos> log(0.9 * 0.55 * 0.95 * 0.75) =
# -1.036. GNMT's penalty divides by ((5 + 2) / 6) ** 0.6 = 1.097 and ((5 + 4) / 6) ** 0.6 =
# 1.275: -0.931 against -0.812, so the longer one wins once normalised.
SHORT_WINS_RAW = {
    (): [0.0, 0.0, 0.05, 0.9, 0.05],
    (3,): [0.0, 0.0, 0.4, 0.05, 0.55],
    (3, 4): [0.0, 0.0, 0.03, 0.02, 0.95],
    (3, 4, 4): [0.0, 0.0, 0.75, 0.125, 0.125],
}


def test_gnmt_penalty():
    assert decoding.gnmt_penalty(1, 0.6) == 1.0 and decoding.gnmt_penalty(9, 0.0) == 1.0
    assert decoding.gnmt_penalty(7, 1.0) == 2.0
    assert decoding.gnmt_penalty(4, 0.6) == pytest.approx(1.5**0.6)
    assert decoding.LENGTH_PENALTY == 0.6
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        decoding.gnmt_penalty(3, float("nan"))


def test_length_normalisation_prefers_the_longer_right_hypothesis():
    step = table_step(SHORT_WINS_RAW, 5)
    raw = decoding.beam_search_steps(step, BOS, EOS, 2, 6)
    assert [ids for ids, _ in raw] == [[3], [3, 4, 4]]  # raw log p: the short one first
    assert raw[0][1] == pytest.approx(math.log(0.9 * 0.4))
    assert raw[1][1] == pytest.approx(math.log(0.9 * 0.55 * 0.95 * 0.75))
    normalised = decoding.beam_search_steps(step, BOS, EOS, 2, 6, length_penalty=0.6)
    assert [ids for ids, _ in normalised] == [[3, 4, 4], [3]]
    assert normalised[0][1] == raw[1][1]  # the scores returned stay raw log-probabilities
    # where the beam keeps the same hypotheses, alpha = 0 is the raw ranking
    assert decoding.beam_search_steps(step, BOS, EOS, 2, 6, length_penalty=0.0) == raw


class TableModel(Seq2Seq):
    """A Seq2Seq whose next-token probabilities come from a table of prefixes; the table's
    token ids 3 and 4 are mapped to ``ids``."""

    def __init__(self, src_vocab: int, tgt_vocab: int, table: dict, ids: tuple[int, int]):
        super().__init__(src_vocab, tgt_vocab)
        self.table, self.ids = table, ids

    def _encode(self, src, mask):
        return {"mask": mask}

    def _decode(self, memory, tgt_in, return_attention):
        back = {self.ids[0]: 3, self.ids[1]: 4}
        out = torch.full((*tgt_in.shape, self.tgt_vocab_size), -30.0)
        for b, row in enumerate(tgt_in.tolist()):
            for t in range(len(row)):
                prefix = tuple(back.get(i, -1) for i in row[1 : t + 1])
                probs = self.table.get(prefix, [0.0, 0.0, 1.0, 0.0, 0.0])
                for table_id, target_id in ((2, EOS), (3, self.ids[0]), (4, self.ids[1])):
                    if probs[table_id] > 0:
                        out[b, t, target_id] = math.log(probs[table_id])
        return out


def test_translate_uses_length_normalised_beam_search_by_default():
    task = NumberTask("en-zh")
    one, zero = task.tgt_vocab.stoi["一"], task.tgt_vocab.stoi["零"]
    model = TableModel(len(task.src_vocab), len(task.tgt_vocab), SHORT_WINS_RAW, (one, zero))
    assert translate(model, task, "twelve") == "一零零"  # greedy: 0.9, then 0.55 over 0.4
    assert translate(model, task, "twelve", beam_width=2) == "一零零"  # normalised
    assert translate(model, task, "twelve", beam_width=2, length_penalty=0.0) == "一"
    src = torch.tensor(task.encode_source("twelve"))
    assert decoding.beam_search(model, src, BOS, EOS, 2, 6)[0][0] == [one, zero, zero]
    with pytest.raises(ValueError, match="length_penalty must be a finite number"):
        translate(model, task, "twelve", beam_width=2, length_penalty=float("inf"))


class OracleModel(Seq2Seq):
    """Translates the sources it was given right when their number has at most
    ``max_digits`` digits, and answers <eos> at once for longer ones."""

    def __init__(self, task: NumberTask, split: str, max_digits: int):
        super().__init__(len(task.src_vocab), len(task.tgt_vocab))
        data = task.dataset(split)
        self.answers = {}
        for n, src, tgt in zip(task.splits[split], data.src.tolist(), data.tgt_out.tolist(),
                               strict=True):  # fmt: skip
            self.answers[tuple(src)] = tgt if len(str(n)) <= max_digits else [EOS]

    def _encode(self, src, mask):
        return {"src": src}

    def _decode(self, memory, tgt_in, return_attention):
        out = torch.zeros(*tgt_in.shape, self.tgt_vocab_size)
        for b, src in enumerate(memory["src"].tolist()):
            answer = self.answers[tuple(src)]
            for t in range(tgt_in.shape[1]):
                tok = answer[t] if t < len(answer) and answer[t] >= 0 else EOS
                out[b, t, tok] = 10.0
        return out


def test_accuracy_by_length_counts_right_answers_per_length():
    task = NumberTask("en-zh", max_number=999_999, eval_size=12)
    model = OracleModel(task, "test", max_digits=5)
    for beam_width in (1, 3):
        result = accuracy_by_length(model, task, beam_width=beam_width, batch_size=7)
        assert result.by == "digits" and result.beam_width == beam_width
        assert result.lengths == [4, 5, 6] and result.count == [12, 12, 12]
        assert result.accuracy == [100.0, 100.0, 0.0]
        assert result.overall == pytest.approx(200 / 3)
    hyps = translate_split(model, task, "test")
    assert hyps[:12] == [t for _, t in task.pairs("test")[:12]] and hyps[-1] == ""
    by_tokens = accuracy_by_length(model, task, by="tokens")
    lengths = Counter(len(s.replace("-", " - ").split()) for s, _ in task.pairs("test"))
    assert by_tokens.lengths == sorted(lengths)
    assert by_tokens.count == [lengths[k] for k in sorted(lengths)]
    assert sum(by_tokens.count) == 36 and by_tokens.overall == pytest.approx(200 / 3)
    with pytest.raises(ValueError, match=r"by must be one of \('digits', 'tokens'\)"):
        accuracy_by_length(model, task, by="chars")
    with pytest.raises(ValueError, match="split must be one of"):
        accuracy_by_length(model, task, split="dev")


@pytest.mark.parametrize("kind", KINDS)
def test_beam_width_one_is_greedy_and_scores_are_log_probs(kind):
    model = make(kind, seed=3).train()  # decoding must switch to eval and back
    greedy = decoding.greedy_decode(model, SRC, BOS, EOS, max_len=6)
    assert model.training
    for i, length in enumerate([4, 2, 1]):
        src = SRC[i, :length]
        beam1 = decoding.beam_search(model, src, BOS, EOS, beam_width=1, max_len=6)
        assert beam1[0][0] == greedy[i]
        assert decoding.greedy_decode(model, src[None], BOS, EOS, 6)[0] == greedy[i]
        for ids, score in decoding.beam_search(model, src, BOS, EOS, beam_width=3, max_len=6):
            full = [BOS, *ids, EOS]  # recompute the score from the model's log-probs
            logp = model.eval()(src[None], torch.tensor([full[:-1]])).log_softmax(-1)[0]
            ended = len(ids) < 6  # else max_len stopped it: no <eos> in the score
            expected = sum(logp[t, full[t + 1]].item() for t in range(len(full) - 1 - (not ended)))
            assert score == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError, match="one source"):
        decoding.beam_search(model, SRC, BOS, EOS, 2, 6)


def test_greedy_stops_at_eos():
    model = make("gru")
    with torch.no_grad():
        model.decoder.fc.bias.fill_(0.0)
        model.decoder.fc.bias[EOS] = 100.0  # <eos> always wins
    assert decoding.greedy_decode(model, SRC, BOS, EOS, max_len=5) == [[], [], []]
    assert decoding.beam_search(model, SRC[0], BOS, EOS, 2, 5)[0][0] == []


# -------------------------------------------------------------- training with the Trainer


def test_trainer_trains_a_seq2seq_model_and_resumes_exactly(tmp_path):
    task = NumberTask("en-zh")
    train, val = task.dataset("train"), task.dataset("val")

    def trainer(path):
        torch.manual_seed(0)
        model = s2s.AttentionGRUSeq2Seq(len(task.src_vocab), len(task.tgt_vocab), hidden=16)
        cfg = lw.TrainerConfig(
            max_steps=6, lr=3e-3, warmup_steps=1, eval_every=3, eval_iters=1,
            checkpoint_path=str(path), device="cpu",
        )  # fmt: skip
        return lw.Trainer(
            model, cfg,
            Seq2SeqBatcher(train, 8, seed=1), Seq2SeqBatcher(val, 8),
        )  # fmt: skip

    full = trainer(tmp_path / "a.pt")
    history = full.fit()
    assert history.last("val_loss") < history.series("train_loss")[1][0]
    half = trainer(tmp_path / "b.pt")
    half.fit(3)
    resumed = trainer(tmp_path / "c.pt")
    assert resumed.resume(tmp_path / "b.pt") == 3
    resumed.fit()
    for a, b in zip(
        full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
