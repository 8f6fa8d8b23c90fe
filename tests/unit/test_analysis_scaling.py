"""llmwidgets.analysis.scaling and .quantize: the sweep, the power law, the frontier, int8."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from llmwidgets.analysis import quantize, scaling
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.training.datasets import text_data

TEXT = "\n".join(f"line {i}: to be, or not to be, that is the question" for i in range(60))


def test_fit_power_law_recovers_a_known_law():
    n = np.array([1e4, 3e4, 1e5, 3e5, 1e6, 3e6])
    fit = scaling.fit_power_law(n, 40.0 * n**-0.35 + 1.25)
    assert fit.alpha == pytest.approx(0.35, rel=1e-4)
    assert fit.a == pytest.approx(40.0, rel=1e-3) and fit.c == pytest.approx(1.25, abs=1e-4)
    assert fit(1e5) == pytest.approx(40.0 * 1e5**-0.35 + 1.25, rel=1e-6)
    assert str(fit).startswith("L(N) = 40")
    with pytest.raises(ValueError, match="at least 4 different sizes"):
        scaling.fit_power_law([1, 2, 3], [3, 2, 1])


def test_compute_frontier_by_hand():
    compute = [1, 2, 2, 4, 8, 3]
    loss = [5.0, 4.0, 3.0, 3.5, 2.0, 2.5]
    # by compute: 1 (5.0, new best), 2 (3.0 beats 4.0 at the same compute), 3 (2.5),
    # 4 (3.5: worse than 2.5, not on the frontier), 8 (2.0)
    assert scaling.compute_frontier(compute, loss) == [0, 2, 5, 4]


def test_sweep_configs_and_a_tiny_sweep_on_the_same_batches():
    configs = scaling.sweep_configs([(1, 16), (2, 32)], vocab_size=20, block_size=16)
    assert [(c.n_layer, c.n_head, c.n_embd) for c in configs] == [(1, 1, 16), (2, 2, 32)]
    data = text_data(TEXT, block_size=16, batch_size=4)
    configs = scaling.sweep_configs([(1, 16), (1, 16)], data.vocab_size, 16)
    seen = []
    runs = scaling.run_sweep(configs, data, tokens=640, lr=1e-2, evaluations=2, eval_iters=2,
                             on_run=seen.append)  # fmt: skip
    assert seen == runs and len(runs) == 2
    assert runs[0].tokens == 640 and runs[0].tokens_seen == (320, 640)  # 10 steps of 64
    assert runs[0].val_loss == runs[1].val_loss  # same size, seed and batches: same run
    assert runs[0].val_loss < np.log(data.vocab_size)  # it learned something
    assert runs[0].flops == 6 * runs[0].n_params * 640
    compute, loss, index = scaling.run_points(runs)
    assert compute.tolist() == [6 * runs[0].n_params * t for t in (320, 640)] * 2
    assert index.tolist() == [0, 0, 1, 1] and loss[1] == runs[0].val_loss


def test_quantize_int8_shrinks_the_linear_layers_and_keeps_the_outputs():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=4, n_embd=128)
    model = GPT(config).eval()
    q = quantize.quantize_int8(model)
    assert type(model.lm_head) is nn.Linear  # the original is untouched
    assert "quantized" in type(q.lm_head).__module__
    assert "quantized" in type(q.transformer.h[0].attn.c_attn).__module__
    idx = torch.randint(65, (2, 16))
    with torch.no_grad():
        before, after = model(idx), q(idx)
    assert (after - before).abs().max() < 0.1 * before.abs().max()  # int8 rounding only
    assert quantize.model_size(q) < 0.4 * quantize.model_size(model)
    assert quantize.forward_seconds(q, idx, repeats=2) > 0


def test_compare_quantized_reports_both_models():
    torch.manual_seed(0)
    data = text_data(TEXT, block_size=16, batch_size=4)
    model = GPT(GPTConfig(vocab_size=data.vocab_size, block_size=16, n_layer=1, n_head=2,
                          n_embd=32))  # fmt: skip
    out = quantize.compare_quantized(model, data.val_batcher, eval_iters=2, repeats=1)
    assert set(out) == {f"{k}_{m}" for k in ("size", "loss", "seconds") for m in ("fp32", "int8")}
    assert out["loss_int8"] == pytest.approx(out["loss_fp32"], abs=0.05)
    assert out["size_int8"] < out["size_fp32"]
