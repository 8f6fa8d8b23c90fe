"""Where the memory of a GPT goes: an estimate, and a measurement on the CPU to check it.

Training holds four things (Rajbhandari et al., 2020, "ZeRO"; Korthikanti et al., 2022):

* **weights** - N parameters;
* **gradients** - one per parameter;
* **optimiser state** - AdamW keeps two fp32 moments per parameter (8 bytes); with mixed
  precision it also keeps an fp32 master copy of the weights (4 bytes);
* **activations** - what the forward pass saves for the backward pass. For the book's GPT
  with the fused attention kernel and no dropout, one block saves about ``17·B·T·C``
  numbers: the inputs of both LayerNorms (2), of ``c_attn`` (1), its output q, k, v (3),
  the attention output and its contiguous copy for ``c_proj`` (2), the inputs of
  ``c_fc`` (1), of GELU (4) and of the MLP's ``c_proj`` (4). Around the blocks: ``ln_f``'s
  input and output (2·B·T·C), the logits and their log-softmax (2·B·T·V).
  Assumptions: the fused attention kernel (the explicit path of ``return_attention=True``
  adds the ``(B, H, T, T)`` scores and weights of every layer), dropout 0 (dropout keeps a
  mask per dropped tensor), no activation checkpointing.

So fp32 training with AdamW costs 16 bytes per parameter (4 + 4 + 8) before activations,
and mixed-precision training also 16 (2 + 2 for bf16 weights and gradients, 4 + 8 for the
fp32 master weights and moments). Inference needs the weights and, when generating, the
KV cache (keys and values of every layer for every token so far: ``2·L·B·T·C`` numbers).

:func:`measure_peak_memory` measures what torch's CPU allocator hands out while a function
runs (torch's profiler with ``profile_memory=True``); :func:`training_step_peak` uses it on
one training step, so the activation estimate can be compared with a measurement.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from llmwidgets.analysis._inputs import check_config, check_module
from llmwidgets.core.validate import (
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_optional_int,
    check_real,
)
from llmwidgets.nn.gpt_config import GPTConfig, gpt_param_count
from llmwidgets.training.losses import next_token_loss

__all__ = [
    "BYTES_PER_VALUE",
    "MemoryEstimate",
    "activation_count",
    "fits_in_memory",
    "inference_memory",
    "measure_peak_memory",
    "training_memory",
    "training_step_peak",
]

#: Bytes per stored number, by dtype name.
BYTES_PER_VALUE: dict[str, float] = {
    "float32": 4,
    "bfloat16": 2,
    "float16": 2,
    "int8": 1,
    "int4": 0.5,
}
GIB = 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of each part of a training step or an inference (0 for a part not held)."""

    weights: float  # the parameters, in their storage dtype
    gradients: float  # one gradient per parameter (0 for inference)
    optimizer: float  # AdamW's moments (+ fp32 master weights in mixed precision)
    activations: float  # saved for the backward pass (training) / the KV cache (inference)

    @property
    def total(self) -> float:
        """All four parts added: the memory the step needs at most."""
        return self.weights + self.gradients + self.optimizer + self.activations

    def __str__(self) -> str:
        parts = ("weights", "gradients", "optimizer", "activations", "total")
        return ", ".join(f"{p} {getattr(self, p) / GIB:.3g} GiB" for p in parts)


def activation_count(config: GPTConfig, batch_size: int, seq_len: int | None = None) -> int:
    """Numbers saved for the backward pass of the GPT (see the module's docstring).

    Args:
        config: the model's sizes.
        batch_size: B.
        seq_len: T; ``None`` = ``config.block_size``.

    Returns:
        ``B·T·(17·L·C + 2·C + 2·V)``.
    """
    c = check_config(config).n_embd
    b = check_int("batch_size", batch_size, 1)
    t = check_optional_int("seq_len", seq_len, 1, config.block_size) or config.block_size
    return b * t * (17 * config.n_layer * c + 2 * c + 2 * config.vocab_size)


def training_memory(
    config: GPTConfig, batch_size: int, seq_len: int | None = None, mixed_precision: bool = False
) -> MemoryEstimate:
    """The memory of one training step with AdamW.

    Args:
        config: the model's sizes.
        batch_size: B.
        seq_len: T; ``None`` = ``config.block_size``.
        mixed_precision: bf16/fp16 weights, gradients and activations with fp32 master
            weights and moments; ``False``: everything in fp32.

    Returns:
        A :class:`MemoryEstimate` (bytes).
    """
    n = gpt_param_count(check_config(config))
    half = check_bool("mixed_precision", mixed_precision)
    value = 2 if half else 4
    acts = activation_count(config, batch_size, seq_len)
    return MemoryEstimate(value * n, value * n, (12 if half else 8) * n, value * acts)


def inference_memory(
    config: GPTConfig, batch_size: int = 1, seq_len: int | None = None, dtype: str = "float32"
) -> MemoryEstimate:
    """The memory of generating with a KV cache: weights, and keys and values of each layer.

    Args:
        config: the model's sizes.
        batch_size: B, sequences generated together.
        seq_len: T, tokens in the cache at the end; ``None`` = ``config.block_size``.
        dtype: of the weights and the cache, a key of :data:`BYTES_PER_VALUE`.

    Returns:
        A :class:`MemoryEstimate` with the cache as ``activations``
        (``2·L·B·T·C`` values); the transient activations of one step are left out.
    """
    n = gpt_param_count(check_config(config))
    size = BYTES_PER_VALUE[check_choice("dtype", dtype, BYTES_PER_VALUE)]
    b = check_int("batch_size", batch_size, 1)
    t = check_optional_int("seq_len", seq_len, 1, config.block_size) or config.block_size
    cache = 2 * config.n_layer * b * t * config.n_embd
    return MemoryEstimate(size * n, 0, 0, size * cache)


def fits_in_memory(
    n_params: float, memory_gib: float, dtype: str = "bfloat16", training: bool = False,
    overhead: float = 0.2,
) -> tuple[bool, float]:  # fmt: skip
    """Will a model of ``n_params`` parameters fit in ``memory_gib`` GiB?

    A rule of thumb for any model (a 7B Llama as well as the book's GPT): inference needs
    the weights (``BYTES_PER_VALUE[dtype]`` bytes each); training with AdamW needs 16 bytes
    per parameter (fp32, or mixed precision: see the module's docstring). ``overhead`` adds
    a share for activations, the KV cache and the framework (CUDA context, allocator
    fragmentation); 20% is a common allowance for inference with short contexts.

    Args:
        n_params: the number of parameters, e.g. ``7e9``.
        memory_gib: the accelerator's memory in GiB (an "80 GB" H100 has 79.6 GiB).
        dtype: of the weights for inference, a key of :data:`BYTES_PER_VALUE`.
        training: full training with AdamW instead of inference.
        overhead: extra share on top, >= 0.

    Returns:
        ``(fits, needed_gib)``.
    """
    n = check_real("n_params", n_params, 0, min_open=True)
    memory = check_real("memory_gib", memory_gib, 0, min_open=True)
    size = BYTES_PER_VALUE[check_choice("dtype", dtype, BYTES_PER_VALUE)]
    per_param = 16 if check_bool("training", training) else size
    needed = n * per_param * (1 + check_real("overhead", overhead, 0)) / GIB
    return needed <= memory, needed


@contextlib.contextmanager
def _without_profiler_log() -> Iterator[None]:
    """Keep the profiler's C-level log lines (``USDT: ... profiler_start``) out of the output.

    Kineto writes them to file descriptor 2, which Jupyter shows under the cell. They are
    caught in a temporary file; every other line written there meanwhile is passed on.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if not line.startswith("USDT:"):
                    print(line, file=sys.stderr)


def measure_peak_memory(fn: Callable[[], Any]) -> tuple[int, int]:
    """The peak of CPU tensor memory that torch allocates while ``fn()`` runs.

    ``tracemalloc`` does not see torch's allocator, and the process's resident size (RSS)
    mixes in Python objects, libraries and memory the C allocator keeps after a free. Here
    torch's profiler records every allocation and free of its CPU allocator
    (``profile_memory=True``); the running sum, in time order, peaks at the answer.

    Limits: only tensors allocated during the call count (those alive before it are the
    baseline, and freeing one of them is not subtracted); memory outside torch's allocator
    (scratch buffers of oneDNN/MKL kernels, Python objects) is not seen; the profiler slows
    the call down several times (do not time it); the events are read from the profiler's
    raw results (``prof.profiler.kineto_results``, which torch's own exporters read); on a
    GPU, use ``torch.cuda.max_memory_allocated`` instead.

    Args:
        fn: a function of no arguments.

    Returns:
        ``(peak_bytes, end_bytes)``: the most allocated at once above the baseline, and
        what was still allocated when ``fn`` returned.
    """
    from torch.profiler import ProfilerActivity, profile

    check_callable("fn", fn)
    with (
        _without_profiler_log(),
        profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof,
    ):
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    running = peak = 0
    for event in events:
        if str(event.device_type()).endswith("CPU"):  # DeviceType.CPU
            running += event.nbytes()  # > 0: allocated, < 0: freed
            peak = max(peak, running)
    return peak, running


def training_step_peak(
    model: nn.Module, idx: Tensor, targets: Tensor, optimizer: torch.optim.Optimizer
) -> tuple[int, int]:
    """Measure one training step on the CPU (forward, backward, update, ``zero_grad``).

    One step is run first, unmeasured, so that AdamW's moments exist (they are part of the
    baseline, like the weights); the second step is measured with :func:`measure_peak_memory`.
    Its peak is the activations and gradients (plus temporaries) - compare it with
    ``estimate.activations + estimate.gradients`` of :func:`training_memory`.

    Args:
        model: a next-token model on the CPU.
        idx: inputs ``(B, T)``.
        targets: targets ``(B, T)``.
        optimizer: the model's optimiser (two steps are taken).

    Returns:
        ``(peak_bytes, baseline_bytes)``: the measured peak above the baseline, and the
        baseline (the bytes of the weights and the optimiser's state tensors).
    """
    check_module(model)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {optimizer!r:.60}")

    def step() -> None:
        next_token_loss(model(idx), targets).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    peak, _ = measure_peak_memory(step)
    tensors = {id(p): p for p in model.parameters()}
    for state in optimizer.state.values():
        tensors.update({id(v): v for v in state.values() if isinstance(v, Tensor)})
    return peak, sum(t.numel() * t.element_size() for t in tensors.values())
