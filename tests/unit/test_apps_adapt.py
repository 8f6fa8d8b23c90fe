"""llmwidgets.apps: classification head, chat template and SFT data, LoRA (checked with PEFT)."""

from __future__ import annotations

import pytest
import torch
from _apps_helpers import tiny_gpt

from llmwidgets.apps import chat
from llmwidgets.apps.classify import (
    GPTClassifier,
    classification_tensors,
    confusion_matrix,
    predict_classes,
    speaker_lines,
)
from llmwidgets.apps.examples import IGNORE, RowBatcher
from llmwidgets.apps.lora import (
    LoRALinear,
    add_lora,
    merge_lora,
    trainable_parameters,
    unmerge_lora,
)
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training.trainer import Trainer, TrainerConfig

# --- classification ---

PLAY = """ROMEO:
But soft, what light through yonder window breaks?
It is the east.

JULIET:
O Romeo, Romeo, wherefore art thou Romeo?

ROMEO:
Shall I hear more, or shall I speak at this?

NURSE:
Madam!

ROMEO:
Ay.
I take thee at thy word.

JULIET:
What man art thou that thus bescreened in night?
"""


def test_speaker_lines_split_by_speech() -> None:
    data = speaker_lines(2, text=PLAY, test_every=2, min_chars=5)
    assert data.speakers == ("ROMEO", "JULIET")
    assert data.train == [
        ("But soft, what light through yonder window breaks?", 0),
        ("It is the east.", 0),
        ("O Romeo, Romeo, wherefore art thou Romeo?", 1),
        ("I take thee at thy word.", 0),  # "Ay." is shorter than min_chars
    ]
    assert data.test == [
        ("Shall I hear more, or shall I speak at this?", 0),
        ("What man art thou that thus bescreened in night?", 1),
    ]


def test_speaker_lines_of_tinyshakespeare() -> None:
    data = speaker_lines(4)
    assert data.speakers == ("GLOUCESTER", "DUKE VINCENTIO", "MENENIUS", "ROMEO")
    assert len(data.test) > 500 and len(data.train) > 3 * len(data.test) - 500
    assert max(len(t) for t, _ in data.train) <= 64


def test_classifier_ignores_padding_and_confusion_matrix() -> None:
    clf = GPTClassifier(tiny_gpt(10, block_size=8), 3).eval()
    ids = torch.tensor([[1, 2, 3, 0, 0], [1, 2, 3, 7, 7]])
    out = clf(ids, torch.tensor([3, 3]))
    assert out.shape == (2, 1, 3) and torch.allclose(out[0], out[1], atol=1e-6)
    assert confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], 3).tolist() == [[1, 0, 0], [0, 1, 1],
                                                                       [0, 0, 1]]  # fmt: skip


def test_classifier_learns_a_separable_task_with_the_trainer() -> None:
    tok = CharTokenizer("abxy")
    examples = [("a" + "xy"[i % 2] * (1 + i % 3), 0) for i in range(12)]
    examples += [("b" + "xy"[i % 2] * (1 + i % 3), 1) for i in range(12)]
    x, y = classification_tensors(examples, tok, block_size=8, n_classes=2)
    assert x[0].shape == (24, 4) and y.shape == (24, 1) and x[1][:3].tolist() == [2, 3, 4]
    clf = GPTClassifier(tiny_gpt(tok.vocab_size, block_size=8), 2, pooling="mean")
    config = TrainerConfig(max_steps=60, lr=1e-2, warmup_steps=5, device="cpu", seed=0)
    Trainer(clf, config, RowBatcher(x, y, batch_size=8)).fit()
    assert (predict_classes(clf, *x) == y[:, 0]).float().mean().item() == 1.0


# --- chat ---


def test_chat_tokenizer_keeps_character_ids_and_adds_specials() -> None:
    base = CharTokenizer("Hello, Romeo!")
    tok = chat.ChatTokenizer(base)
    v = base.vocab_size
    assert tok.vocab_size == v + 3
    text = "<|user|>Hello<|end|><|assistant|>"
    ids = tok.encode(text)
    assert ids[0] == v and ids[6] == v + 2 and ids[7] == v + 1
    assert ids[1:6] == base.encode("Hello") and tok.decode(ids) == text


def test_chat_prompt_and_masked_example() -> None:
    assert chat.chat_prompt([("user", "Hi")]) == "<|user|>Hi<|end|><|assistant|>"
    tok = chat.ChatTokenizer(CharTokenizer("HiYo"))
    x, y = chat.chat_example(tok, [("user", "Hi"), ("assistant", "Yo")])
    u, a, e = (
        tok.special_ids["<|user|>"],
        tok.special_ids["<|assistant|>"],
        tok.special_ids["<|end|>"],
    )
    ids = tok.encode("<|user|>Hi<|end|><|assistant|>Yo<|end|>")
    assert ids == [u, *tok.encode("Hi"), e, a, *tok.encode("Yo"), e] and x == ids[:-1]
    assert y == [IGNORE] * 4 + [*tok.encode("Yo"), e]  # only the reply and its end


def test_extend_vocab_keeps_the_old_logits() -> None:
    model = tiny_gpt(6, block_size=8).eval()
    bigger = chat.extend_vocab(model, 9).eval()
    idx = torch.tensor([[0, 5, 2, 3]])
    assert torch.allclose(bigger(idx)[..., :6], model(idx), atol=1e-6)
    assert bigger.config.vocab_size == 9 and model.config.vocab_size == 6


def test_dialogues_hold_out_names_and_words() -> None:
    d = chat.make_dialogues(seed=0, n=20, held_out=0.25)
    train_users = {u for u, _ in d["train"]}
    assert len(d["test"]) == 5 * 3 + 3 and not train_users & {u for u, _ in d["test"]}
    assert ("Greet Romeo.", "Good morrow, Romeo!") in d["train"] + d["test"]
    assert len(d["train"]) == 15 * 3 + 12 + 9
    base = CharTokenizer(chat.load_text("tinyshakespeare"))
    tok = chat.ChatTokenizer(base)
    assert all(tok.encode(u + a) for u, a in d["train"] + d["test"])  # every character known


# --- LoRA ---


def test_lora_linear_starts_as_the_base_and_merges_exactly() -> None:
    torch.manual_seed(0)
    base = torch.nn.Linear(6, 4)
    lora = LoRALinear(base, r=2, alpha=4.0)
    x = torch.randn(3, 6)
    assert torch.equal(lora(x), base(x))  # B = 0 at initialisation
    with torch.no_grad():
        lora.lora_B.normal_()
    want = base(x) + 2.0 * (x @ lora.lora_A.T @ lora.lora_B.T)  # alpha / r = 2
    assert torch.allclose(lora(x), want, atol=1e-5)
    lora.merge()
    assert torch.allclose(lora(x), want, atol=1e-5)
    lora.unmerge()
    assert torch.allclose(lora.base.weight, base.weight) and torch.allclose(
        lora(x), want, atol=1e-5
    )


def test_add_lora_counts_and_freezes() -> None:
    model = tiny_gpt(10, block_size=8, n_embd=16)
    names = add_lora(model, r=4, alpha=8)
    assert names == ["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj",
                     "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"]  # fmt: skip
    c = 16  # r (in + out) for each: c_attn c->3c, c_proj c->c, c_fc c->4c, c_proj 4c->c
    want = 4 * ((c + 3 * c) + (c + c) + (c + 4 * c) + (4 * c + c))
    trainable, total = trainable_parameters(model)
    assert trainable == want and total > trainable
    assert merge_lora(model) == 4 and unmerge_lora(model) == 4


def test_lora_matches_peft() -> None:
    peft = pytest.importorskip("peft", reason="peft is not installed (pip install peft)")
    ours, theirs = tiny_gpt(10, block_size=8, seed=1), tiny_gpt(10, block_size=8, seed=1)
    idx = torch.randint(10, (2, 8), generator=torch.Generator().manual_seed(0))
    before = ours.eval()(idx)
    add_lora(ours, r=4, alpha=8)
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, bias="none",
                             target_modules=["c_attn", "c_proj", "c_fc"])  # fmt: skip
    theirs = peft.get_peft_model(theirs, config).eval()
    assert trainable_parameters(ours)[0] == theirs.get_nb_trainable_parameters()[0]
    assert torch.allclose(ours.eval()(idx), before) and torch.allclose(
        theirs(idx), before, atol=1e-6
    )
    # Same A and B, non-zero: same outputs, so the scaling alpha / r is the same too.
    torch.manual_seed(2)
    peft_layers = {n.removeprefix("base_model.model."): m for n, m in theirs.named_modules()
                   if hasattr(m, "lora_A") and not isinstance(m, LoRALinear)}  # fmt: skip
    with torch.no_grad():
        for name, m in ours.named_modules():
            if isinstance(m, LoRALinear):
                m.lora_B.normal_()
                peft_layers[name].lora_A["default"].weight.copy_(m.lora_A)
                peft_layers[name].lora_B["default"].weight.copy_(m.lora_B)
    assert not torch.allclose(ours(idx), before, atol=1e-3)
    assert torch.allclose(ours(idx), theirs(idx), atol=1e-5)
