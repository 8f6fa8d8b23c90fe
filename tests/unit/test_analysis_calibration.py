"""llmwidgets.analysis.calibration and .digits: reliability by hand, confidence, the ViT data."""

from __future__ import annotations

import math

import pytest
import torch

from llmwidgets.analysis import calibration, digits
from llmwidgets.nn.vit import ViT, ViTConfig
from llmwidgets.seq2seq.number_task import NumberTask
from llmwidgets.seq2seq.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig


def test_reliability_and_ece_by_hand():
    conf = [0.05, 0.15, 0.15, 0.95, 1.0, 0.3]
    right = [False, True, False, True, True, True]
    r = calibration.reliability(conf, right, n_bins=10)
    assert r.counts.tolist() == [
        1, 2, 1, 0, 0, 0, 0, 0, 0, 2]  # fmt: skip
    assert r.accuracy[1].item() == 0.5 and r.confidence[1].item() == pytest.approx(0.15)
    assert r.confidence[2].item() == pytest.approx(0.3)  # 0.3 is in (0.2, 0.3]
    assert math.isnan(r.accuracy[5].item())  # an empty bin
    # (1·|0 - .05| + 2·|.5 - .15| + 1·|1 - .3| + 2·|1 - .975|) / 6 = 1.5 / 6
    assert r.ece == pytest.approx(0.25)
    assert calibration.expected_calibration_error(conf, right) == pytest.approx(0.25)
    assert calibration.expected_calibration_error([0.0, 1.0], [0, 1], n_bins=1) == 0.0
    assert calibration.expected_calibration_error([0.9] * 10, [1] * 9 + [0]) == pytest.approx(0)


def test_translation_confidence_is_the_product_of_the_greedy_choices():
    task = NumberTask("en-zh")
    torch.manual_seed(0)
    model = TransformerSeq2Seq(
        TransformerSeq2SeqConfig(
            len(task.src_vocab), len(task.tgt_vocab), n_layer=1, n_head=2, n_embd=16
        )
    ).eval()
    sources, refs = ["forty-two", "seven", "one thousand"], ["四十二", "七", "一千"]
    conf, correct, texts = calibration.translation_confidence(model, task, sources, refs)
    per_token, _, _ = calibration.translation_confidence(model, task, sources, refs, per_token=True)
    bos, eos = task.tgt_vocab.bos, task.tgt_vocab.eos
    for i, source in enumerate(sources):
        src, ys, logp = torch.tensor([task.encode_source(source)]), [bos], 0.0
        with torch.no_grad():
            for _ in range(task.max_tgt_len + 1):
                p = model(src, torch.tensor([ys]))[0, -1].double().softmax(-1)
                token = int(p.argmax())
                logp += math.log(p[token])
                ys.append(token)
                if token == eos:
                    break
        assert conf[i].item() == pytest.approx(math.exp(logp), rel=1e-6)
        assert per_token[i].item() == pytest.approx(math.exp(logp / (len(ys) - 1)), rel=1e-6)
        assert texts[i] == task.decode_target(ys[1:])
        assert correct[i].item() == (texts[i] == refs[i])


def test_digits_data_and_image_batcher():
    data = digits.digits_data(test_fraction=0.25, batch_size=16, seed=0)
    assert data.train_images.shape[1:] == (1, 8, 8)
    assert len(data.train_labels) + len(data.test_labels) == 1797 and len(data.test_labels) == 449
    assert 0.0 == data.train_images.min() and data.train_images.max() == 1.0
    x, y = data.train_batcher.get_batch()
    assert x.shape == (16, 1, 8, 8) and y.shape == (16, 1)
    a, b = list(data.test_batcher.fixed_batches(2)), list(data.test_batcher.fixed_batches(2))
    assert all(torch.equal(p[0], q[0]) for p, q in zip(a, b, strict=True))
    state = data.train_batcher.state_dict()
    first = data.train_batcher.get_batch()[1]
    data.train_batcher.load_state_dict(state)
    assert torch.equal(data.train_batcher.get_batch()[1], first)


def test_a_vit_learns_the_digits_with_the_trainer():
    data = digits.digits_data(batch_size=32)
    torch.manual_seed(0)
    model = ViT(ViTConfig(n_layer=1, n_head=2, n_embd=32))
    history = digits.train_classifier(model, data, steps=100, lr=1e-2, eval_every=50)
    steps, val = history.series("val_loss")
    assert steps == [50, 100] and val[-1] < val[0] < math.log(10)  # chance: ln 10 = 2.30
    assert digits.accuracy(model, data.test_images, data.test_labels) > 0.3  # chance: 0.1
