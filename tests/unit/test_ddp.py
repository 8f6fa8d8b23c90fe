"""Data-parallel training: 2 CPU processes under torchrun equal one process on the combined batch.

``test_two_ranks_equal_one_process`` launches ``scripts/ddp_train.py`` with
``python -m torch.distributed.run --standalone --nproc_per_node 2`` (gloo), so it takes
20-40 s; it is marked ``distributed`` (``pytest -m "not distributed"`` leaves it out).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmwidgets.analysis.distributed import ShardedBatcher, init_distributed, train_gpt
from llmwidgets.training.batches import TokenBatcher

ROOT = Path(__file__).resolve().parents[2]
STEPS, BATCH, LR = 5, 8, 1e-2


def make_text() -> str:
    rng = random.Random(0)
    words = "the king shall come to night and my lord is dead what say you good".split()
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9)))
                     for _ in range(800))  # fmt: skip


def test_shards_split_the_global_batch_in_rank_order():
    ids = torch.arange(500)
    shards = [ShardedBatcher(TokenBatcher(ids, 4, 6, seed=3), r, 3) for r in range(3)]
    whole = TokenBatcher(ids, 4, 6, seed=3)
    for _ in range(2):
        x, y = whole.get_batch()
        parts = [s.get_batch() for s in shards]
        assert all(p[0].shape == (2, 4) for p in parts)
        torch.testing.assert_close(torch.cat([p[0] for p in parts]), x)
        torch.testing.assert_close(torch.cat([p[1] for p in parts]), y)
    fixed = torch.cat([next(iter(s.fixed_batches(1)))[0] for s in shards])
    torch.testing.assert_close(fixed, next(iter(whole.fixed_batches(1)))[0])
    assert shards[1].state_dict()["seed"] == 3
    with pytest.raises(ValueError, match="global batch of 6 rows does not split into 4"):
        ShardedBatcher(whole, 0, 4)


def test_without_torchrun_it_is_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    rank, world, device = init_distributed("gloo")
    assert (rank, world, device.type) == (0, 1, "cpu")


@pytest.mark.distributed
def test_two_ranks_equal_one_process(tmp_path):
    text_file = tmp_path / "text.txt"
    text_file.write_text(make_text(), encoding="utf-8")
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", str(ROOT / "scripts" / "ddp_train.py"), "--text-file", str(text_file),
           "--preset", "char-tiny", "--batch-size", str(BATCH), "--steps", str(STEPS),
           "--lr", str(LR), "--backend", "gloo", "--out", str(out)]  # fmt: skip
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "2 process(es), 5 steps of 8 rows" in run.stdout
    ddp = torch.load(out, weights_only=True)

    def single(batch_size: int) -> dict[str, torch.Tensor]:
        return train_gpt(make_text(), "char-tiny", batch_size, STEPS, LR, log=False).state_dict()

    one = single(BATCH)  # one process, the combined batch of 8 rows
    assert ddp.keys() == one.keys()
    for name in one:
        torch.testing.assert_close(ddp[name], one[name], atol=1e-4, rtol=1e-3, msg=name)
    torch.manual_seed(0)
    start = train_gpt(make_text(), "char-tiny", BATCH, 1, 1e-12, log=False).state_dict()
    moved = max((one[k] - start[k]).abs().max().item() for k in one)
    half = single(BATCH // 2)  # one rank's share alone is a different run
    differs = max((one[k] - half[k]).abs().max().item() for k in one)
    assert moved > 1e-2 and differs > 1e-2  # far above the tolerance: the test can fail
