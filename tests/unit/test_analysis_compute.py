"""llmwidgets.analysis.compute and .memory: FLOPs and bytes, by formula and measured."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from llmwidgets.analysis import compute, memory
from llmwidgets.nn.gpt import GPT, GPTConfig, gpt_param_count
from llmwidgets.training.losses import next_token_loss

TINY = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)


def test_non_embedding_params_of_gpt2_small_and_without_biases():
    gpt2 = GPTConfig()
    assert compute.non_embedding_params(gpt2) == 85_056_000  # Kaplan's N for GPT-2 small
    assert compute.non_embedding_params(gpt2) == gpt_param_count(gpt2, False) - 50257 * 768
    plain = dataclasses.replace(TINY, bias=False, tie_weights=False)
    model = GPT(plain)
    blocks_and_ln = sum(p.numel() for n, p in model.named_parameters()
                        if n.startswith(("transformer.h.", "transformer.ln_f")))  # fmt: skip
    assert compute.non_embedding_params(plain) == blocks_and_ln == 2 * (12 * 64 + 16) + 8


def test_six_nd_and_the_gpt2_count_per_token():
    assert compute.six_nd(1000, 50) == 300_000.0
    gpt2 = GPTConfig()
    # 2·(12·L·C² + V·C + 2·L·T·C) per token forward, x3 for training.
    per_token = 2 * (12 * 12 * 768**2 + 50257 * 768 + 2 * 12 * 1024 * 768)
    assert compute.forward_flops(gpt2) == 1024 * per_token
    assert compute.training_flops(gpt2, 2, 1024) == 3 * 2 * 1024 * per_token
    assert compute.forward_flops(TINY, 3, 4) == 2 * 3 * 4 * (12 * 2 * 64 + 11 * 8 + 2 * 2 * 4 * 8)


@pytest.mark.parametrize("bias", [True, False])
def test_the_formula_equals_pytorchs_count(bias):
    config = dataclasses.replace(TINY, bias=bias)
    torch.manual_seed(0)
    model = GPT(config)
    idx = torch.randint(11, (3, 6))
    assert compute.count_flops(model, idx, backward=False) == compute.forward_flops(config, 3, 6)
    assert compute.count_flops(model, idx) == compute.training_flops(config, 3, 6)


def test_count_flops_of_a_model_without_return_attention():
    model = torch.nn.Sequential(torch.nn.Embedding(11, 8), torch.nn.Linear(8, 11))
    idx = torch.zeros(2, 5, dtype=torch.long)
    assert compute.count_flops(model, idx, backward=False) == 2 * 2 * 5 * 8 * 11


def test_activation_count_and_training_memory_by_hand():
    # B·T·(17·L·C + 2·C + 2·V) with B=3, T=4, L=2, C=8, V=11
    assert memory.activation_count(TINY, 3, 4) == 12 * (17 * 16 + 16 + 22)
    assert memory.activation_count(TINY, 1) == 8 * (17 * 16 + 16 + 22)  # T = block_size
    n = gpt_param_count(TINY)
    fp32 = memory.training_memory(TINY, 3, 4)
    assert (fp32.weights, fp32.gradients, fp32.optimizer) == (4 * n, 4 * n, 8 * n)
    assert fp32.activations == 4 * 12 * (17 * 16 + 16 + 22)
    assert fp32.total == 16 * n + fp32.activations
    mixed = memory.training_memory(TINY, 3, 4, mixed_precision=True)
    assert (mixed.weights, mixed.gradients, mixed.optimizer) == (2 * n, 2 * n, 12 * n)
    assert "total" in str(mixed)


def test_inference_memory_and_the_7b_question():
    est = memory.inference_memory(TINY, batch_size=2, seq_len=5, dtype="bfloat16")
    assert est.weights == 2 * gpt_param_count(TINY)
    assert est.activations == 2 * (2 * 2 * 2 * 5 * 8)  # 2 bytes · K and V · L · B · T · C
    fits, gib = memory.fits_in_memory(7e9, 24, dtype="bfloat16")
    assert fits and gib == pytest.approx(7e9 * 2 * 1.2 / 2**30)  # 15.6 GiB
    fits, gib = memory.fits_in_memory(7e9, 80, training=True, overhead=0.0)
    assert not fits and gib == pytest.approx(7e9 * 16 / 2**30)  # 104 GiB
    assert memory.fits_in_memory(7e9, 4, dtype="int4", overhead=0)[0]  # 3.26 GiB


def test_measure_peak_memory_sees_torch_allocations():
    def two_then_one():
        a, b = torch.ones(1000), torch.ones(1000)  # 4,000 bytes each
        del a
        c = torch.ones(500)
        return b, c

    peak, end = memory.measure_peak_memory(two_then_one)
    assert peak == 8000 and end == 0  # the results are dropped when fn returns


def test_measure_peak_memory_keeps_the_profiler_log_out_of_stderr_but_not_the_rest():
    """Kineto's ``USDT: ... profiler_start`` lines are dropped; other C-level stderr stays."""
    code = (
        "import os, torch\n"
        "from llmwidgets.analysis import memory\n"
        "def fn():\n"
        "    os.write(2, b'a line of our own\\n')\n"
        "    return torch.ones(10)\n"
        "print(memory.measure_peak_memory(fn))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(40, 0)"
    assert "a line of our own" in done.stderr
    assert "USDT" not in done.stderr and "profiler_start" not in done.stderr


def test_the_activation_estimate_is_within_10_percent_of_a_measured_step():
    config = GPTConfig.preset("char-tiny")
    torch.manual_seed(0)
    model = GPT(config)
    idx = torch.randint(65, (8, 32))
    optimizer = model.configure_optimizers(lr=1e-3)
    peak, baseline = memory.training_step_peak(model, idx, idx, optimizer)
    estimate = memory.training_memory(config, 8, 32)
    assert 0.9 < peak / estimate.activations < 1.1
    params = 4 * gpt_param_count(config)
    assert baseline - params - estimate.optimizer < 1000  # + AdamW's scalar step counters
    # two real steps were taken: the loss is below its value at initialisation, ln(65)
    assert next_token_loss(model(idx), idx).item() < 4.17  # ln(65) at initialisation
