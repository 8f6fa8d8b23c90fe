"""Sizing chapter 6's applications on a CPU: what each reaches in a given time budget.

Usage:  .venv/bin/python benchmarks/apps_sizing.py TASK [--seconds 90 | --steps N] [--quick]

TASK is one of ci, report, translate, search, rag, recommend, classify, chat, all. Each
trains the book's GPT for its budget with the Trainer and prints the metrics chapter 6
quotes; ``--quick`` shrinks everything to seconds (the notebooks' quick mode). A budget
in seconds depends on the machine and its load (the script prints the load average);
``--steps N`` fixes the optimiser steps instead (every model of the task gets N), and the
script prints the seconds and tokens per step, to convert to another machine.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import torch

from llmwidgets import apps
from llmwidgets.apps import chat, recommend, records
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training.datasets import text_data
from llmwidgets.training.trainer import Trainer, TrainerConfig

Q = False  # --quick
STEPS: int | None = None  # --steps


def gpt(vocab: int, block: int, n_layer: int = 4, n_embd: int = 128, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=4,
                         n_embd=n_embd, dropout=0.0))  # fmt: skip


def train(model, batcher, seconds, lr=3e-3, val=None, max_steps=100_000):
    if STEPS is not None and not Q:
        max_steps, seconds = STEPS, None
    config = TrainerConfig(max_steps=max_steps, max_seconds=seconds, lr=lr, min_lr=lr / 10,
                           warmup_steps=min(50, max_steps // 5), eval_every=10**6,
                           device="cpu")  # fmt: skip
    trainer = Trainer(model, config, batcher, val)
    t0 = time.perf_counter()
    trainer.fit()
    last = trainer.history.series("train_loss")[1][-20:]
    x, _ = batcher.get_batch()
    tokens = sum(t.numel() for t in x) if isinstance(x, tuple) else x.numel()
    spent = time.perf_counter() - t0
    print(
        f"  trained {trainer.step} steps in {spent:.0f} s ({spent / trainer.step:.2f} s and "
        f"{tokens} input tokens a step), train loss (last 20) {sum(last) / len(last):.3f}"
    )
    return model.eval()


def examples_batcher(tok, pairs, block, batch=32):  # block None: pad to the longest
    ex = [apps.prompt_answer_example(tok.encode(p), tok.encode(a)) for p, a in pairs]
    x, y = apps.pad_examples(ex, length=block)
    return apps.RowBatcher(x, y, batch, seed=1)


def run_ci(seconds):
    data = text_data("songci300", block_size=128, batch_size=32)
    model = train(gpt(data.vocab_size, 128), data.train_batcher, seconds)
    pats = [p for p in apps.tune_patterns().values() if p.poems >= 4]
    n = 2 if Q else 3
    gen = torch.Generator().manual_seed(0)
    free_form = free_lines = cons_form = 0
    total = 0
    for p in pats:
        prompt_ids = data.tokenizer.encode(p.prompt())
        for _ in range(n):
            out = apps.sample_tokens(model, prompt_ids, len(p.form) + 20, temperature=0.8,
                                     generator=gen, slide=True)  # fmt: skip
            poem = apps.first_poem(data.tokenizer.decode(out))
            free_form += apps.form_kept(poem, p)
            free_lines += apps.lines_kept(poem, p)
            c = apps.generate_constrained(model, data.tokenizer, p, temperature=0.8, generator=gen)
            cons_form += apps.form_kept(c, p)
            total += 1
    print(
        f"  {len(pats)} tunes x {n} samples: form kept free {free_form / total:.0%} "
        f"(lines {free_lines / total:.0%}), constrained {cons_form / total:.0%}"
    )
    print("  example (constrained, 浣溪沙):")
    poem = apps.generate_constrained(model, data.tokenizer, apps.tune_pattern("浣溪沙"),
                                     temperature=0.8, generator=gen)  # fmt: skip
    print("   ", poem.replace("\n", " / "))


def report_pairs(matches):
    return [(records.record_text(m) + "\n", records.write_report(m) + "\n") for m in matches]


def run_report(seconds):
    train_m, test_m = (
        records.make_matches(4000, seed=0),
        records.make_matches(30 if not Q else 10, seed=99),
    )
    text = "".join(p + a for p, a in report_pairs(train_m))
    tok = CharTokenizer(text)
    block = 256
    model = train(
        gpt(tok.vocab_size, block), examples_batcher(tok, report_pairs(train_m), block), seconds
    )
    reports = [apps.complete(model, tok, records.record_text(m) + "\n", 160) for m in test_m]
    refs = [records.write_report(m) for m in test_m]
    checks = [records.fact_check(r, m) for r, m in zip(reports, test_m, strict=True)]
    print(f"  ROUGE {records.rouge(reports, refs)}")
    print(
        f"  fact accuracy {sum(c.accuracy for c in checks) / len(checks):.3f}, "
        f"reports all true {sum(c.all_true for c in checks) / len(checks):.0%}"
    )
    kinds: dict[str, int] = {}
    for c in checks:
        for cl in c.invented:
            kinds[cl.kind] = kinds.get(cl.kind, 0) + 1
    print(f"  invented claims by kind: {kinds}")
    bad = (
        next((r, c) for r, c in zip(reports, checks, strict=True) if c.invented) if kinds else None
    )
    if bad:
        print(f"  a wrong report: {bad[0]!r}\n    invented: {[x.text for x in bad[1].invented]}")
    # summarisation: the other way round, report -> record
    rev = [(records.write_report(m) + "\n", records.record_text(m) + "\n") for m in train_m]
    global STEPS
    STEPS = STEPS // 2 if STEPS else None  # the easier direction: half the steps
    model2 = train(gpt(tok.vocab_size, block, seed=1), examples_batcher(tok, rev, block), seconds)
    ok = fields = 0
    for m in test_m:
        out = apps.complete(model2, tok, records.write_report(m) + "\n", 160)
        try:
            got = records.parse_record(out)
            ok += got == m
            fields += sum(getattr(got, f) == getattr(m, f) for f in m.__dataclass_fields__)
        except ValueError:
            pass
    print(
        f"  report -> record: exact {ok / len(test_m):.0%}, "
        f"fields right {fields / (9 * len(test_m)):.0%}"
    )


def run_translate(seconds):
    from llmwidgets.seq2seq.number_task import NumberTask, Seq2SeqBatcher
    from llmwidgets.seq2seq.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
    from llmwidgets.seq2seq.translation import score_translations, translate

    task = NumberTask("en-zh")
    train_pairs, test_pairs = task.pairs("train"), task.pairs("test")
    if Q:
        test_pairs = test_pairs[:30]
    lines = [(s + " = ", t + "\n") for s, t in train_pairs]
    tok = CharTokenizer("".join(s + t for s, t in lines))
    block = 80
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=block, n_layer=2, n_head=4,
                          n_embd=64, dropout=0.0))  # fmt: skip
    print(f"  decoder-only {model.num_parameters():,} parameters")
    model = train(model, examples_batcher(tok, lines, None, 64), seconds)
    hyp = [apps.complete(model, tok, s + " = ", 30) for s, _ in test_pairs]
    print(
        "  decoder-only (prompt 'english = '):",
        score_translations(hyp, [t for _, t in test_pairs], "zh"),
    )
    torch.manual_seed(0)
    cfg = TransformerSeq2SeqConfig(src_vocab=len(task.src_vocab), tgt_vocab=len(task.tgt_vocab),
                                   n_layer=2, n_head=4, n_embd=64)  # fmt: skip
    s2s = TransformerSeq2Seq(cfg)
    print(f"  encoder-decoder {sum(p.numel() for p in s2s.parameters()):,} parameters")
    s2s = train(s2s, Seq2SeqBatcher(task.dataset("train"), 128, seed=1), seconds)
    hyp2 = [translate(s2s, task, s) for s, _ in test_pairs]
    print(
        "  encoder-decoder (chapter 5):",
        score_translations(hyp2, [t for _, t in test_pairs], "zh"),
    )


def run_search(seconds):
    passages = apps.lunyu_passages()
    docs = [p.text for p in passages]
    queries = list(apps.LUNYU_QUERIES)
    rel = [apps.relevant_passages(passages, q.key) for q in queries]

    def report(name, index):
        ranked = [index.search(q.text, 10) for q in queries]
        print(
            f"  {name:18s} recall@10 {apps.recall_at_k(ranked, rel, 10):.3f}  "
            f"MRR@10 {apps.mrr(ranked, rel):.3f}"
        )

    bm = {a: apps.BM25Index(docs, a) for a in ("char", "bigram", "char+bigram")}
    for a, ix in bm.items():
        report(f"BM25 {a}", ix)
    data = text_data("lunyu", block_size=64, batch_size=32)
    model = train(gpt(data.vocab_size, 64, n_layer=4, n_embd=128), data.train_batcher, seconds)
    for pooling in ("mean", "last"):
        dense = apps.DenseIndex(model, data.tokenizer, docs, pooling)
        report(f"dense {pooling}", dense)
    dense = apps.DenseIndex(model, data.tokenizer, docs, "mean")
    report("hybrid char+dense", apps.HybridIndex([bm["char"], dense]))
    report("hybrid bm25 c+b", apps.HybridIndex([bm["char"], bm["bigram"]]))


def run_rag(seconds):
    from llmwidgets.apps import qa

    train_m = records.make_matches(3000 if not Q else 200, seed=0)
    db = records.make_matches(300 if not Q else 30, seed=7)
    train_q = qa.make_questions(train_m, per_record=2, seed=1)
    pairs = [qa.qa_example(q, train_m) for q in train_q]
    tok = CharTokenizer("".join(p + a for p, a in pairs) + "?")
    block = 256
    model = train(gpt(tok.vocab_size, block), examples_batcher(tok, pairs, block), seconds)
    test_q = qa.make_questions(db, per_record=1, seed=2)[: 60 if not Q else 20]
    index = apps.BM25Index([records.record_text(m) for m in db], analyzer="word")
    found = [index.search(q.text, 1)[0] for q in test_q]
    right = sum(f == q.record for f, q in zip(found, test_q, strict=True))
    print(f"  retrieval top-1 right: {right / len(test_q):.0%}")
    refs = [q.answer for q in test_q]
    contexts = (
        ("no retrieval", lambda q, f: None),
        ("BM25 top-1 record", lambda q, f: records.record_text(db[f])),
        ("right record (oracle)", lambda q, f: records.record_text(db[q.record])),
    )
    for name, ctx in contexts:
        answers = [apps.complete(model, tok, qa.qa_prompt(q.text, ctx(q, f)), 20)
                   for q, f in zip(test_q, found, strict=True)]  # fmt: skip
        by_kind = {}
        for q, a in zip(test_q, answers, strict=True):
            by_kind.setdefault(q.kind, []).append(a == q.answer)
        kinds = {k: f"{sum(v) / len(v):.0%}" for k, v in by_kind.items()}
        print(f"  {name:22s} accuracy {qa.exact_match(answers, refs):.0%} {kinds}")


def run_recommend(seconds):
    cfg = recommend.SessionConfig()
    gen = recommend.SessionGenerator(cfg)
    train_s, test_s = gen.sessions(10000 if not Q else 1000, seed=0), gen.sessions(1000, seed=1)
    x, y = recommend.session_examples(train_s, cfg.n_items, length=cfg.max_len)
    batcher = apps.RowBatcher(x, y, 64, seed=1)
    model = train(gpt(cfg.n_items + 1, cfg.max_len, n_layer=2, n_embd=64), batcher, seconds)
    targets = [s[-1] for s in test_s]
    popular = recommend.popularity_scores(train_s, cfg.n_items).expand(len(test_s), -1)
    for name, scores in (("popularity", popular),
                         ("GPT", recommend.next_item_scores(model, test_s, cfg.n_items)),
                         ("oracle", recommend.oracle_scores(gen, test_s))):  # fmt: skip
        ranked = recommend.top_items(scores, 10)
        print(
            f"  {name:10s} HR@10 {apps.hit_rate_at_k(ranked, targets, 10):.3f} "
            f"NDCG@10 {apps.ndcg_at_k(ranked, [[t] for t in targets], 10):.3f}"
        )


def _char():
    from llmwidgets.training.recipes import char_model

    saved = char_model()
    print(f"  pretrained: {saved.metadata.get('val_loss')}")
    return saved.model, saved.tokenizer


def run_classify(seconds):
    import copy

    pre, tok = _char()
    data = apps.speaker_lines(4)
    n = len(data.speakers)
    block = pre.config.block_size
    x, y = apps.classification_tensors(data.train, tok, block, n)
    xt, yt = apps.classification_tensors(data.test, tok, block, n)
    print(
        f"  {n} speakers, {len(data.train)} train / {len(data.test)} test lines; majority "
        f"{(yt == yt.mode().values).float().mean():.0%}"
    )

    def fit_eval(name, clf, lr):
        from llmwidgets.apps.lora import trainable_parameters

        tr, tot = trainable_parameters(clf)
        train(clf, apps.RowBatcher(x, y, 32, seed=1), seconds, lr=lr)
        pred = apps.predict_classes(clf, *xt)
        acc = (pred == yt[:, 0]).float().mean().item()
        print(f"  {name:22s} trainable {tr:,}/{tot:,}  test accuracy {acc:.1%}")
        print("   confusion", apps.confusion_matrix(yt[:, 0], pred, n).tolist())

    fit_eval("pretrained, full FT", apps.GPTClassifier(copy.deepcopy(pre), n), 1e-3)
    torch.manual_seed(0)
    fit_eval("from scratch", apps.GPTClassifier(GPT(pre.config), n), 1e-3)
    clf = apps.GPTClassifier(copy.deepcopy(pre), n)
    apps.add_lora(clf, r=8, alpha=16, trainable=("head",))
    fit_eval("pretrained, LoRA r=8", clf, 3e-3)
    clf = apps.GPTClassifier(copy.deepcopy(pre), n)
    for p in clf.gpt.parameters():
        p.requires_grad_(False)
    fit_eval("pretrained, head only", clf, 3e-3)


def run_chat(seconds):
    pre, base_tok = _char()
    tok = chat.ChatTokenizer(base_tok)
    model = chat.extend_vocab(pre, tok.vocab_size)
    d = chat.make_dialogues()
    block = model.config.block_size

    def score(m):
        got = [chat.chat_reply(m, tok, u, max_new_tokens=30) for u, _ in d["test"]]
        return sum(g == a for g, (_, a) in zip(got, d["test"], strict=True)) / len(got), got

    acc0, got0 = score(model)
    print(f"  before: test exact {acc0:.0%}; e.g. {d['test'][0][0]!r} -> {got0[0]!r}")
    ex = [chat.chat_example(tok, [("user", u), ("assistant", a)]) for u, a in d["train"]]
    x, y = apps.pad_examples(ex, length=block)
    model = train(model, apps.RowBatcher(x, y, 16, seed=1), seconds, lr=1e-3)
    acc1, got1 = score(model)
    print(f"  after:  test exact {acc1:.0%}")
    for (u, a), g in list(zip(d["test"], got1, strict=True))[:16]:
        print(f"    {u!r:40s} -> {g!r}  (want {a!r})")


TASKS = {"ci": run_ci, "report": run_report, "translate": run_translate, "search": run_search,
         "rag": run_rag, "recommend": run_recommend, "classify": run_classify,
         "chat": run_chat}  # fmt: skip


def main() -> None:
    global Q, STEPS
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=[*TASKS, "all"])
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    Q, STEPS = args.quick, args.steps
    random.seed(0)
    print(f"load average {os.getloadavg()}, threads {torch.get_num_threads()}")
    for name in TASKS if args.task == "all" else [args.task]:
        budget = "quick" if Q else f"{STEPS} steps" if STEPS else f"{args.seconds} s"
        print(f"== {name} ({budget})")
        t0 = time.perf_counter()
        TASKS[name](5.0 if Q else args.seconds)
        print(f"  total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
