"""Training speed of the book's GPT against a reference built from torch's own layers.

Usage:  .venv/bin/python benchmarks/gpt_speed.py [--sizes char-tiny,shakespeare-char-cpu]
            [--batch 16] [--rounds 7] [--steps 4] [--device cpu|cuda|all] [--compile]
            [--smoke]

``--smoke`` times one round of one step of ``char-tiny`` on the CPU (a few seconds, for CI).

Both arms get the same sizes and do the same work per training step - forward, loss,
backward and an AdamW step (:func:`llmwidgets.nn.optim.adamw`: decay on the matrices only,
fused on CUDA):

* ``ours``: :class:`llmwidgets.nn.gpt.GPT` (``F.scaled_dot_product_attention`` with
  ``is_causal=True``, GELU with the tanh approximation);
* ``reference``: the same embeddings, final LayerNorm and tied head around an
  ``nn.TransformerEncoder`` of ``nn.TransformerEncoderLayer(norm_first=True,
  activation="gelu", batch_first=True, dim_feedforward=4·C)`` with a causal mask.
  It has exactly as many parameters as ours (12·C² + 13·C per block). Its GELU is the
  exact one by default; ``--ref-gelu tanh`` gives it GPT-2's tanh approximation, which
  torch computes ~2x slower on CPU (a few % of a step), for a like-for-like comparison.

On CUDA the step runs under the autocast that ``llmwidgets.pick_precision`` picks
(bf16, or fp16 with a gradient scaler), optionally after ``torch.compile`` (both arms).
The arms alternate within each round (the order flips every round), so load from other
processes hits both alike; the table gives the median step time of each arm, the tokens
per second, and the median over rounds of the ratio ours / reference (target: <= 1.0,
i.e. the readable model costs nothing); ``best/best`` is the ratio of each arm's fastest
round, the figure least disturbed by other processes on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmwidgets.core.device import Precision, pick_precision  # noqa: E402
from llmwidgets.nn.gpt import GPT, GPTConfig  # noqa: E402
from llmwidgets.nn.optim import adamw  # noqa: E402

WEIGHT_DECAY, LR, BETAS = 0.1, 3e-4, (0.9, 0.95)


class Reference(nn.Module):
    """GPT-2's shape from stock torch layers: nn.TransformerEncoder, pre-LayerNorm."""

    def __init__(self, config: GPTConfig, gelu: str = "exact") -> None:
        super().__init__()
        c = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, c)
        self.wpe = nn.Embedding(config.block_size, c)
        self.drop = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(
            c,
            config.n_head,
            dim_feedforward=4 * c,
            dropout=config.dropout,
            activation="gelu" if gelu == "exact" else nn.GELU(approximate="tanh"),
            batch_first=True,
            norm_first=True,
            bias=config.bias,
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(c, bias=config.bias)
        self.lm_head = nn.Linear(c, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.masks: dict[tuple[int, str], torch.Tensor] = {}

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        key = (T, str(idx.device))
        if key not in self.masks:  # built once, as a model would keep it in a buffer
            self.masks[key] = nn.Transformer.generate_square_subsequent_mask(T, idx.device)
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T, device=idx.device)))
        x = self.encoder(x, mask=self.masks[key], is_causal=True)
        return self.lm_head(self.ln_f(x))


class Arm:
    """One model with its optimizer, gradient scaler and a fixed batch."""

    def __init__(self, name, model, optimizer, precision, batch, compile_model) -> None:
        self.name, self.optimizer, self.precision = name, optimizer, precision
        self.model = torch.compile(model) if compile_model else model
        self.scaler = precision.grad_scaler()
        self.x, self.y = batch
        self.times: list[float] = []

    def step(self) -> None:
        with self.precision.autocast():
            logits = self.model(self.x)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), self.y.flatten())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def run(self, steps: int, device: torch.device) -> float:
        """Seconds per step over ``steps`` steps."""
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        sync()
        return (time.perf_counter() - start) / steps


def measure(name: str, device: torch.device, args: argparse.Namespace) -> dict:
    config = GPTConfig.preset(name)
    precision: Precision = pick_precision(device)
    gen = torch.Generator().manual_seed(0)
    data = torch.randint(0, config.vocab_size, (args.batch, config.block_size + 1), generator=gen)
    batch = data[:, :-1].to(device), data[:, 1:].to(device)
    torch.manual_seed(0)
    ours = GPT(config).to(device).train()
    reference = Reference(config, args.ref_gelu).to(device).train()
    n_ours = ours.num_parameters()
    n_ref = sum(p.numel() for p in reference.parameters())
    assert n_ours == n_ref, (n_ours, n_ref)
    arms = [
        Arm("ours", ours, adamw(ours, LR, WEIGHT_DECAY, BETAS), precision, batch, args.compile),
        Arm(
            "reference",
            reference,
            adamw(reference, LR, WEIGHT_DECAY, BETAS),
            precision,
            batch,
            args.compile,
        ),
    ]
    for arm in arms:  # warm-up: allocator, kernels, torch.compile
        arm.run(args.warmup, device)
    ratios = []
    for r in range(args.rounds):
        for arm in arms if r % 2 == 0 else arms[::-1]:
            arm.times.append(arm.run(args.steps, device))
        ratios.append(arms[0].times[-1] / arms[1].times[-1])
    ours_s, ref_s = (statistics.median(arm.times) for arm in arms)
    return dict(
        device=device.type,
        precision=precision.name + ("+compile" if args.compile else ""),
        size=name,
        params=n_ours,
        tokens=args.batch * config.block_size,
        ours_ms=1e3 * ours_s,
        ref_ms=1e3 * ref_s,
        ours_tps=args.batch * config.block_size / ours_s,
        ref_tps=args.batch * config.block_size / ref_s,
        ratio=statistics.median(ratios),
        spread=(min(ratios), max(ratios)),
        best=min(arms[0].times) / min(arms[1].times),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="char-tiny,shakespeare-char-cpu", help="presets")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per arm and round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--compile", action="store_true", help="torch.compile both arms")
    parser.add_argument(
        "--ref-gelu", choices=["exact", "tanh"], default="exact", help="the reference's GELU"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--smoke", action="store_true", help="char-tiny, CPU, 1 round of 1 step: for CI"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.device, args.rounds, args.steps, args.warmup = "char-tiny", "cpu", 1, 1, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    elif args.device == "cuda":
        parser.error("--device cuda asked for, but CUDA is not available")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, batch {args.batch}")
    print(f"{args.rounds} rounds x {args.steps} steps per arm (after {args.warmup} warm-up)")
    print(f"reference GELU: {args.ref_gelu} (ours: tanh approximation, as GPT-2)\n")
    header = (
        f"{'device':<7}{'precision':<14}{'size':<22}{'params':>10}{'tokens':>8}"
        f"{'ours ms':>10}{'ref ms':>10}{'ours tok/s':>12}{'ref tok/s':>12}"
        f"{'ours/ref':>10}  {'(min..max)':<13}{'best/best':>9}"
    )
    print(header)
    print("-" * len(header))
    start = time.perf_counter()
    for device in devices:
        for name in args.sizes.split(","):
            row = measure(name.strip(), device, args)
            print(
                f"{row['device']:<7}{row['precision']:<14}{row['size']:<22}"
                f"{row['params']:>10,}{row['tokens']:>8}{row['ours_ms']:>10.1f}"
                f"{row['ref_ms']:>10.1f}{row['ours_tps']:>12,.0f}{row['ref_tps']:>12,.0f}"
                f"{row['ratio']:>10.3f}  ({row['spread'][0]:.2f}..{row['spread'][1]:.2f}){'':<2}"
                f"{row['best']:>9.3f}",
                flush=True,
            )
    print(f"\ntarget: ours/ref <= 1.0 (median over rounds); {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
