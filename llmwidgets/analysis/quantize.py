"""int8 dynamic quantisation of the GPT: size, loss and speed before and after.

*Dynamic* quantisation stores every Linear layer's weight as 8-bit integers with one scale
(a quarter of fp32's bytes) and, at run time, quantises each layer's input on the fly,
multiplies in int8 with int32 accumulation, and scales the result back to float. Nothing
is retrained and no calibration data is needed; embeddings and LayerNorms stay in float.

The tool is PyTorch's own ``torch.ao.quantization.quantize_dynamic`` (eager mode, CPU
kernels of fbgemm/x86 or qnnpack on ARM). torch 2.13 still ships it, with a deprecation
warning pointing to ``torchao.quantization.quantize_`` (``Int8DynamicActivationInt8Weight``)
as its successor; that path targets GPUs and ``torch.compile``. :func:`quantize_int8`
silences the warning once, here, so notebooks stay clean.

* :func:`quantize_int8` - a quantised copy of a model (the original is untouched);
* :func:`model_size` - bytes of the saved ``state_dict`` (how big the file would be);
* :func:`forward_seconds` - median time of a forward pass;
* :func:`compare_quantized` - the three numbers, before and after, in one dict.
"""

from __future__ import annotations

import copy
import io
import statistics
import time
import warnings

import torch
from torch import Tensor, nn

from llmwidgets.analysis._inputs import check_module
from llmwidgets.core.validate import check_int
from llmwidgets.nn.modes import eval_mode
from llmwidgets.training.batches import Batcher, check_batcher
from llmwidgets.training.losses import evaluate_loss

__all__ = ["compare_quantized", "forward_seconds", "model_size", "quantize_int8"]


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers are int8 dynamically quantised.

    Args:
        model: a float model on the CPU (the book's GPT, or any module with Linear layers).

    Returns:
        The quantised copy, in eval mode, on the CPU. With the GPT's tied head the token
        embedding stays fp32 and ``lm_head`` gets its own int8 copy of the matrix.

    Raises:
        ValueError: for a model with no Linear layer, or one not on the CPU.
    """
    check_module(model)
    if not any(isinstance(m, nn.Linear) for m in model.modules()):
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to quantise")
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ValueError(f"quantize_int8 runs on the CPU; the model is on {sorted(devices)}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        from torch.ao.quantization import quantize_dynamic

        copied = copy.deepcopy(model).eval()
        return quantize_dynamic(copied, {nn.Linear}, dtype=torch.qint8)


def model_size(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: the size of the model's file.

    Tensors sharing storage (a tied head) are saved once; int8 weights take 1 byte each.

    Args:
        model: any module.

    Returns:
        The number of bytes.
    """
    buffer = io.BytesIO()
    torch.save(check_module(model).state_dict(), buffer)
    return buffer.getbuffer().nbytes


def forward_seconds(model: nn.Module, idx: Tensor, repeats: int = 10) -> float:
    """Median wall time of ``model(idx)`` in eval mode, without gradients.

    Args:
        model: the model.
        idx: an input batch.
        repeats: timed runs, after one untimed warm-up run.

    Returns:
        Seconds (the median: robust to a busy machine's outliers).
    """
    check_module(model)
    repeats = check_int("repeats", repeats, 1)
    times = []
    with eval_mode(model):
        model(idx)  # warm-up: first-call allocations and kernel selection
        for _ in range(repeats):
            start = time.perf_counter()
            model(idx)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare_quantized(
    model: nn.Module, batcher: Batcher, eval_iters: int = 10, repeats: int = 10
) -> dict[str, float]:
    """Quantise ``model`` and measure size, validation loss and forward time, both ways.

    Args:
        model: a float model on the CPU.
        batcher: validation batches (its fixed batches: the same for both models); the
            first one is also the timed input.
        eval_iters: batches averaged for the loss.
        repeats: timed forward passes per model.

    Returns:
        ``{"size_fp32", "size_int8"}`` (bytes), ``{"loss_fp32", "loss_int8"}`` and
        ``{"seconds_fp32", "seconds_int8"}`` (median forward pass).
    """
    check_batcher("batcher", batcher)
    quantized = quantize_int8(model)
    x, _ = next(iter(batcher.fixed_batches(1)))
    out: dict[str, float] = {}
    for name, m in (("fp32", model), ("int8", quantized)):
        out[f"size_{name}"] = model_size(m)
        out[f"loss_{name}"] = evaluate_loss(m, batcher, eval_iters)
        out[f"seconds_{name}"] = forward_seconds(m, x, repeats)
    return out
