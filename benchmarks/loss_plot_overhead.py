"""How much a LiveLossPlot slows down a real (small) training run.

Usage:  .venv/bin/python benchmarks/loss_plot_overhead.py [--seconds-per-arm 25] [--rounds 5]

Trains a character-level MLP language model on tinyshakespeare (CPU, one thread by
default) in three arms, each its own model trained for the same number of steps:

* ``baseline`` - the training loop alone;
* ``text`` - with ``LiveLossPlot(mode="text")`` (the plain lines of scripts and CI),
  written to ``os.devnull``;
* ``notebook`` - with ``LiveLossPlot(mode="notebook")`` and a fake ``LiveFigure``:
  every redraw builds the figure and the output the live figure sends (plotly JSON,
  ``display.figure_output``; the final one the full bundle with HTML) and JSON-encodes
  it as the kernel would before sending; only the message itself is not sent.

The callback gets ``train_loss`` every step (``loss.item()``, counted against the
callback), ``lr`` every step and ``val_loss`` every 200 steps (evaluation runs in
every arm). The arms are interleaved in rounds (order rotated each round) so that
load from other processes hits all arms alike. Two figures per arm:

* **inside callback**: seconds spent inside the callback (and ``loss.item()``) over
  the baseline's training seconds - the direct measure, little affected by noise;
* **wall difference**: the arm's wall time over the baseline's, minus 1 - the
  end-to-end measure, noisy on a shared machine.

The project's target is an overhead of at most 2 %. One-time costs (plotly's first
figure imports its validators and templates: seconds) are paid in a warm-up before
timing, as they are in a notebook that has shown any plotly figure before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmwidgets.core.data import load_text  # noqa: E402
from llmwidgets.widgets import display  # noqa: E402
from llmwidgets.widgets.loss_plot import LiveLossPlot  # noqa: E402

CONTEXT = 16
BATCH = 128
EVAL_EVERY = 200
ARMS = ("baseline", "text", "notebook")


class CharMLP(nn.Module):
    """Bengio-style MLP: embed the last CONTEXT characters, two hidden layers."""

    def __init__(self, vocab: int, embed: int = 32, hidden: int = 512) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.net = nn.Sequential(
            nn.Linear(CONTEXT * embed, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, vocab),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.embed(x).flatten(1))


class FakeLiveFigure:
    """display.LiveFigure without a kernel: JSON-encodes what it would send."""

    def __init__(self, fig, *, controls=None, fallback=None) -> None:
        self.updates = 0
        self.bytes = 0
        self.update(fig)

    def update(self, fig) -> None:
        self.updates += 1
        self.bytes = len(json.dumps(display.figure_output(fig), default=str))

    def finish(self, fig) -> None:
        self.updates += 1
        self.bytes = len(json.dumps(display.figure_bundle(fig), default=str))


class ArmClock:
    """A monotonic clock that stands still while other arms run.

    The arms take turns; each plot should see an uninterrupted run, as in a notebook
    (else every turn would start with a long pause and an immediate redraw).
    """

    def __init__(self) -> None:
        self.paused_total = 0.0
        self.paused_at: float | None = time.perf_counter()

    def resume(self) -> None:
        if self.paused_at is not None:
            self.paused_total += time.perf_counter() - self.paused_at
            self.paused_at = None

    def pause(self) -> None:
        self.paused_at = time.perf_counter()

    def __call__(self) -> float:
        now = self.paused_at if self.paused_at is not None else time.perf_counter()
        return now - self.paused_total


class Arm:
    """One model, optimiser and (maybe) plot, trained chunk by chunk."""

    def __init__(self, name: str, data: torch.Tensor, vocab: int, total_steps: int) -> None:
        self.name = name
        torch.manual_seed(0)
        self.model = CharMLP(vocab)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=3e-3)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, total_steps)
        self.gen = torch.Generator().manual_seed(1)
        split = int(0.9 * len(data))
        self.train, self.val = data[:split], data[split:]
        self.step = 0
        self.wall = 0.0
        self.callback = 0.0
        self.last_loss = float("nan")
        self.val_loss = float("nan")
        self.devnull = open(os.devnull, "w")  # closed in finish()
        self.clock = ArmClock()
        self.plot = None
        if name != "baseline":
            self.plot = LiveLossPlot(
                total_steps,
                mode=name,
                smooth=0.9,
                title="char MLP",
                file=self.devnull,
                clock=self.clock,
            )

    def batch(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ix = torch.randint(len(source) - CONTEXT - 1, (BATCH,), generator=self.gen)
        offsets = torch.arange(CONTEXT)
        return source[ix[:, None] + offsets], source[ix + CONTEXT]

    @torch.no_grad()
    def evaluate(self) -> float:
        x, y = self.batch(self.val)
        return F.cross_entropy(self.model(x), y).item()

    def run(self, steps: int) -> None:
        self.clock.resume()
        start = time.perf_counter()
        inside = 0.0
        for _ in range(steps):
            self.step += 1
            x, y = self.batch(self.train)
            loss = F.cross_entropy(self.model(x), y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
            val = self.evaluate() if self.step % EVAL_EVERY == 0 else None
            if self.plot is not None:
                t = time.perf_counter()
                metrics = {"train_loss": loss.item(), "lr": self.sched.get_last_lr()[0]}
                if val is not None:
                    metrics["val_loss"] = val
                self.plot.on_step_end(self.step, metrics)
                inside += time.perf_counter() - t
            if val is not None:
                self.val_loss = val
        self.last_loss = loss.item()
        self.wall += time.perf_counter() - start
        self.callback += inside
        self.clock.pause()

    def finish(self) -> None:
        if self.plot is not None:
            self.clock.resume()
            t = time.perf_counter()
            self.plot.on_train_end()
            spent = time.perf_counter() - t
            self.callback += spent
            self.wall += spent
        self.devnull.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-arm", type=float, default=25.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shared = ROOT.parent / "shared" / "data"
    if not os.environ.get("LLMW_DATA_DIR") and shared.is_dir():
        os.environ["LLMW_DATA_DIR"] = str(shared)

    text = load_text("tinyshakespeare")
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([lookup[c] for c in text], dtype=torch.long)

    # Warm-up: plotly's one-time imports, torch's first kernels; and calibration.
    display.LiveFigure = FakeLiveFigure  # notebook arm: real figures and outputs, no kernel
    t = time.perf_counter()
    warm = LiveLossPlot(10, mode="notebook", smooth=0.9)
    warm.on_step_end(1, {"train_loss": 1.0, "lr": 1e-3})
    warm.on_train_end()
    first_figure = time.perf_counter() - t
    probe = Arm("baseline", data, len(chars), 1000)
    probe.run(100)
    t = time.perf_counter()
    probe.run(200)
    per_step = (time.perf_counter() - t) / 200
    probe.finish()
    steps_per_round = max(50, int(args.seconds_per_arm / args.rounds / per_step))
    total = steps_per_round * args.rounds
    print(
        f"char MLP on tinyshakespeare ({len(text):,} chars, vocab {len(chars)}), "
        f"{args.threads} thread(s): {per_step * 1e3:.2f} ms/step; "
        f"{args.rounds} rounds x {steps_per_round} steps per arm = {total} steps "
        f"(~{total * per_step:.0f} s per arm). First plotly figure (warm-up, not timed): "
        f"{first_figure:.1f} s",
        flush=True,
    )

    arms = {name: Arm(name, data, len(chars), total) for name in ARMS}
    per_round: dict[str, list[float]] = {name: [] for name in ARMS}
    for r in range(args.rounds):
        order = ARMS[r % 3 :] + ARMS[: r % 3]
        for name in order:
            before = arms[name].wall
            arms[name].run(steps_per_round)
            per_round[name].append(arms[name].wall - before)
        print(
            f"  round {r + 1}: " + ", ".join(f"{n} {per_round[n][-1]:.2f} s" for n in ARMS),
            flush=True,
        )
    for arm in arms.values():
        arm.finish()

    base = arms["baseline"]
    print(
        f"\nbaseline: {base.wall:.2f} s for {base.step} steps, "
        f"final train_loss {base.last_loss:.3f}, val_loss {base.val_loss:.3f}"
    )
    print(f"{'arm':<10}{'wall s':>9}{'redraws':>9}{'inside callback':>17}"
          f"{'wall difference':>17}{'median round diff':>19}")  # fmt: skip
    for name in ARMS[1:]:
        arm = arms[name]
        inside = arm.callback / base.wall
        diff = arm.wall / base.wall - 1
        rounds = zip(per_round[name], per_round["baseline"], strict=True)
        med = statistics.median(a / b - 1 for a, b in rounds)
        print(
            f"{name:<10}{arm.wall:>9.2f}{arm.plot.redraws:>9}{inside:>16.2%}"
            f"{diff:>+17.2%}{med:>+19.2%}"
        )
    print("target: overhead <= 2 % (the 'inside callback' column is the direct measure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
