"""Data-parallel training with PyTorch's DistributedDataParallel (DDP), launched by torchrun.

N processes (*ranks*) each hold a full copy of the model. Every step, each rank computes the
loss and gradients on its own shard of the batch; during the backward pass DDP averages the
gradients of all ranks (an all-reduce: ``gloo`` between CPU processes, ``NCCL`` between
GPUs), so every rank applies the same update and the copies stay equal. With equal shards
the averaged gradient is the gradient of the mean loss over the *combined* batch: N ranks
of b rows compute what one process computes on N·b rows.

What must match for that to hold exactly (up to the order of float additions):

* the same initial weights - every rank seeds before building the model (and DDP also
  copies rank 0's weights to the others when it wraps the model);
* disjoint shards of one global batch - every rank draws the same global batch from a
  batcher with the same seed and keeps its rows ``rank·b .. (rank+1)·b - 1``
  (:class:`ShardedBatcher`);
* no randomness inside the model - dropout is 0.

:func:`train_gpt` is the whole run (used by ``scripts/ddp_train.py``, which torchrun
starts once per rank, and by the test that compares 2 CPU ranks with one process).
:func:`init_distributed` reads what torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)
and starts the process group; without torchrun it is one process and no group.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist

from llmwidgets.core.validate import check_index, check_int, check_optional_int, check_real
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.gpt_config import GPTConfig
from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.datasets import text_data
from llmwidgets.training.trainer import Trainer

__all__ = ["ShardedBatcher", "init_distributed", "train_gpt"]


class ShardedBatcher:
    """This rank's rows of a global batch: rows ``rank·b .. (rank+1)·b - 1``, b = B / N.

    Args:
        batcher: the global batcher (the same seed on every rank, so the same batches).
        rank: this process's rank, ``0 .. world_size - 1``.
        world_size: N, which divides the global batch size B.
    """

    def __init__(self, batcher: TokenBatcher, rank: int, world_size: int) -> None:
        if not isinstance(batcher, TokenBatcher):
            raise ValueError(f"batcher must be a TokenBatcher, got {type(batcher).__name__}")
        self.world_size = check_int("world_size", world_size, 1)
        self.rank = check_index("rank", rank, self.world_size, "ranks")
        if batcher.batch_size % self.world_size:
            raise ValueError(
                f"the global batch of {batcher.batch_size} rows does not split into "
                f"{self.world_size} equal shards; use a multiple of {self.world_size}"
            )
        self.batcher = batcher
        self.batch_size = batcher.batch_size // self.world_size  # b, rows per rank
        self.rows = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)

    def get_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's shard of the next global batch."""
        x, y = self.batcher.get_batch()  # (B, T) each, equal on every rank
        return x[self.rows], y[self.rows]  # (b, T)

    def fixed_batches(self, n: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's shards of the global batcher's fixed batches."""
        for x, y in self.batcher.fixed_batches(n):
            yield x[self.rows], y[self.rows]

    def state_dict(self) -> dict[str, Any]:
        """The global batcher's state (the same on every rank)."""
        return self.batcher.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the global batcher's state."""
        self.batcher.load_state_dict(state)


def init_distributed(backend: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group torchrun describes in the environment (if any).

    Args:
        backend: ``"gloo"`` or ``"nccl"``; ``None``: NCCL when CUDA is available, else gloo.

    Returns:
        ``(rank, world_size, device)``; ``(0, 1, ...)`` without torchrun (no group). On
        CUDA each process uses the GPU ``LOCAL_RANK`` of its machine.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and backend != "gloo"
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world == 1:
        return 0, 1, device
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
    return dist.get_rank(), dist.get_world_size(), device


def train_gpt(
    source: str = "tinyshakespeare", preset: str = "char-tiny", batch_size: int = 32,
    steps: int = 100, lr: float = 3e-3, seed: int = 0, limit: int | None = None,
    backend: str | None = None, log: bool = True,
) -> GPT:  # fmt: skip
    """Train the book's GPT on every process torchrun started (or in this one alone).

    Args:
        source: a corpus name or the text itself (as :func:`llmwidgets.text_data` takes).
        preset: a :class:`~llmwidgets.GPTConfig` preset; dropout is set to 0 and the
            vocabulary to the data's.
        batch_size: the *global* batch B (divided among the ranks).
        steps: optimiser steps.
        lr: peak learning rate (warm-up for 10% of the steps, cosine to lr / 10).
        seed: seeds the initial weights (the same on every rank).
        limit: keep the first ``limit`` characters of the text.
        backend: see :func:`init_distributed`.
        log: rank 0 prints the final losses.

    Returns:
        The trained GPT (unwrapped), on every rank.
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    steps, lr = check_int("steps", steps, 1), check_real("lr", lr, 0, min_open=True)
    limit = check_optional_int("limit", limit, 1)
    rank, world, device = init_distributed(backend)
    config = dataclasses.replace(GPTConfig.preset(preset), dropout=0.0)
    data = text_data(source, block_size=config.block_size, batch_size=batch_size, limit=limit)
    config = dataclasses.replace(config, vocab_size=data.vocab_size)
    torch.manual_seed(check_int("seed", seed, 0))
    model = GPT(config).to(device)
    wrapped = model
    if world > 1:  # averages the gradients of the ranks during backward
        wrapped = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    trainer_config = TrainerConfig(max_steps=steps, lr=lr, min_lr=lr / 10,
                                   warmup_steps=max(1, steps // 10), eval_every=steps,
                                   eval_iters=4, device=str(device))  # fmt: skip
    shards = ShardedBatcher(data.train_batcher, rank, world)
    trainer = Trainer(wrapped, trainer_config, shards, data.val_batcher)
    history = trainer.fit()
    if log and rank == 0:
        print(f"{world} process(es), {steps} steps of {batch_size} rows: train loss "
              f"{history.last('train_loss'):.4f} (rank 0's shard), val loss "
              f"{history.last('val_loss'):.4f}", flush=True)  # fmt: skip
    return model
