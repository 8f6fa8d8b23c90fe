"""Train the book's GPT on N processes with DistributedDataParallel (chapter 8).

torchrun starts this script once per process (rank) and tells each one its rank; the run
itself is :func:`llmwidgets.analysis.distributed.train_gpt` (gloo between CPU processes,
NCCL between GPUs; each rank trains on its shard of every global batch).

One machine, 2 CPU processes (or 2 GPUs, if the machine has them)::

    torchrun --standalone --nproc_per_node 2 scripts/ddp_train.py --steps 200 --batch-size 32

(``python -m torch.distributed.run`` is the same launcher as ``torchrun``.)

Several machines, e.g. 2 with 8 GPUs each: run the same command on every machine, with the
address of one of them as the rendezvous point (any free port; the same id on all)::

    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d \\
             --rdzv_endpoint node0.example.org:29500 --rdzv_id gpt-run-1 \\
             scripts/ddp_train.py --preset shakespeare-char-cpu --batch-size 256

``--out weights.pt`` makes rank 0 save the trained weights (a ``state_dict``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's llmwidgets

from llmwidgets.analysis.distributed import train_gpt  # noqa: E402


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="tinyshakespeare", help="a corpus name of llmwidgets")
    p.add_argument("--text-file", help="train on this UTF-8 text file instead of --corpus")
    p.add_argument("--limit", type=int, help="keep the first LIMIT characters")
    p.add_argument("--preset", default="char-tiny", help="a GPTConfig preset")
    p.add_argument("--batch-size", type=int, default=32, help="the global batch (all ranks)")
    p.add_argument("--steps", type=int, default=100, help="optimiser steps")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--seed", type=int, default=0, help="seeds the initial weights")
    p.add_argument("--backend", choices=["gloo", "nccl"], help="default: nccl on CUDA, else gloo")
    p.add_argument("--out", help="rank 0 saves the trained state_dict here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    source = Path(args.text_file).read_text(encoding="utf-8") if args.text_file else args.corpus
    model = train_gpt(source, args.preset, args.batch_size, args.steps, args.lr, args.seed,
                      args.limit, args.backend)  # fmt: skip
    if args.out and int(os.environ.get("RANK", "0")) == 0:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, args.out)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
