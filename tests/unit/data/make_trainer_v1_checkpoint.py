"""Write ``trainer_v1.pt``, a checkpoint in the layout of version 0.2, and what follows it.

It was run once with the code at commit aa1c142 (the Trainer before the split into
schedule / checkpoints / callbacks modules)::

    git worktree add /tmp/llmw-v1 aa1c142
    PYTHONPATH=/tmp/llmw-v1 python tests/unit/data/make_trainer_v1_checkpoint.py

``tests/unit/test_checkpoints.py`` resumes the file with today's code and checks that the
run continues exactly as the old code continued it (``trainer_v1.json``).
"""

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.trainer import Trainer, TrainerConfig

HERE = Path(__file__).resolve().parent


def weights_sha256(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    torch.set_num_threads(1)
    tokens = torch.arange(400) % 8
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(8, 16), nn.Dropout(0.1), nn.Linear(16, 8))
    config = TrainerConfig(
        max_steps=8, lr=1e-2, min_lr=1e-3, warmup_steps=2, eval_every=2, eval_iters=2,
        device="cpu", seed=0,
    )  # fmt: skip
    train = TokenBatcher(tokens[:320], block_size=8, batch_size=4, seed=0)
    val = TokenBatcher(tokens[320:], block_size=8, batch_size=4, seed=1)
    trainer = Trainer(model, config, train, val)
    trainer.fit(steps=4)
    trainer.save_checkpoint(HERE / "trainer_v1.pt")
    history = trainer.fit()
    expected = {
        name: [float(v).hex() for v in history.series(name)[1]]
        for name in ("train_loss", "val_loss", "grad_norm", "lr")
    }
    expected["weights_sha256"] = weights_sha256(trainer.model)
    expected["best_val_loss"] = float(trainer.best_val_loss).hex()
    (HERE / "trainer_v1.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
