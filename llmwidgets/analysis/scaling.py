"""Scaling laws at small scale: a sweep of GPT sizes, a power-law fit, the compute frontier.

Kaplan et al. (2020) found that the loss of a language model trained to convergence falls
as a power of its size, ``L(N) = a·N^(-α) + c``, with ``c`` the loss no model of this family
gets below on this data. Hoffmann et al. (2022, "Chinchilla") asked which (N, D) gives the
lowest loss for a compute ``C ≈ 6·N·D``. At the book's scale (10k to 1M parameters, a few
million characters of Shakespeare, minutes of CPU) the same questions can be measured:

* :func:`sweep_configs` - GPT sizes from a list of (n_layer, n_embd);
* :func:`train_for_tokens` / :func:`run_sweep` - train each size on a fixed number of tokens
  with the book's :class:`~llmwidgets.training.trainer.Trainer`, recording the validation
  loss against tokens seen (a :class:`ScalingRun` per size);
* :func:`fit_power_law` - ``a``, ``α`` and ``c`` by least squares (``scipy.optimize.curve_fit``);
* :func:`compute_frontier` - of many (compute, loss) points, those that no point of less or
  equal compute beats: the lowest loss reachable at each compute.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from llmwidgets.analysis._inputs import check_config
from llmwidgets.analysis.compute import non_embedding_params, six_nd
from llmwidgets.core.validate import check_int, check_real
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.gpt_config import GPTConfig
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.datasets import TextData
from llmwidgets.training.trainer import Trainer

__all__ = [
    "PowerLaw",
    "ScalingRun",
    "compute_frontier",
    "fit_power_law",
    "run_points",
    "run_sweep",
    "sweep_configs",
    "train_for_tokens",
]


@dataclass(frozen=True)
class ScalingRun:
    """One size of a sweep, trained on a fixed number of tokens."""

    config: GPTConfig  # the model's sizes
    n_params: int  # Kaplan's N: non-embedding parameters
    tokens: int  # D: training tokens (steps x batch x block_size)
    val_loss: float  # the validation loss at the end
    seconds: float  # wall time of the training
    tokens_seen: tuple[int, ...]  # tokens trained on at each evaluation
    val_losses: tuple[float, ...]  # the validation loss at each evaluation

    @property
    def flops(self) -> float:
        """Training compute by the 6·N·D rule."""
        return six_nd(self.n_params, self.tokens)


@dataclass(frozen=True)
class PowerLaw:
    """``L(N) = a·N^(-alpha) + c``."""

    a: float  # scale
    alpha: float  # exponent: doubling N divides the reducible loss L - c by 2^alpha
    c: float  # irreducible loss (the asymptote as N grows)

    def __call__(self, n: float | np.ndarray) -> float | np.ndarray:
        """The law at ``n`` (a number or an array)."""
        return self.a * np.power(np.asarray(n, dtype=float), -self.alpha) + self.c

    def __str__(self) -> str:
        return f"L(N) = {self.a:.4g}·N^(-{self.alpha:.3f}) + {self.c:.3f}"


def sweep_configs(
    shapes: Iterable[tuple[int, int]], vocab_size: int, block_size: int, head_dim: int = 16
) -> list[GPTConfig]:
    """GPT sizes for a sweep: one config per ``(n_layer, n_embd)``.

    Args:
        shapes: ``(n_layer, n_embd)`` pairs, e.g. ``[(1, 16), (2, 32), (4, 64)]``.
        vocab_size: the tokenizer's vocabulary.
        block_size: the context of every model.
        head_dim: width of one head; ``n_head = max(1, n_embd // head_dim)``.

    Returns:
        The configs (dropout 0), in the order given.
    """
    head_dim = check_int("head_dim", head_dim, 1)
    configs = []
    for i, shape in enumerate(shapes):
        if not isinstance(shape, (tuple, list)) or len(shape) != 2:
            raise ValueError(f"shapes[{i}] must be (n_layer, n_embd), got {shape!r}")
        n_layer, n_embd = shape
        n_head = max(1, check_int(f"shapes[{i}] n_embd", n_embd, 1) // head_dim)
        configs.append(GPTConfig(vocab_size=vocab_size, block_size=block_size,
                                 n_layer=n_layer, n_head=n_head, n_embd=n_embd))  # fmt: skip
    if not configs:
        raise ValueError("shapes is empty: give at least one (n_layer, n_embd)")
    return configs


def train_for_tokens(
    config: GPTConfig, data: TextData, tokens: int, lr: float = 3e-3, seed: int = 0,
    evaluations: int = 10, eval_iters: int = 10,
) -> ScalingRun:  # fmt: skip
    """Train a fresh GPT of ``config`` on ``tokens`` tokens of ``data``.

    Args:
        config: the model's sizes (``block_size`` must be the data's).
        data: from :func:`llmwidgets.text_data`, with a validation part.
        tokens: D; the steps are ``ceil(D / (batch_size·block_size))``.
        lr: peak learning rate (warm-up of 10% of the steps, cosine to lr / 10).
        seed: seeds the initial weights.
        evaluations: validation losses recorded along the run (the last at the end).
        eval_iters: validation batches per evaluation.

    Returns:
        A :class:`ScalingRun`. The data's training batcher is first reset to its seed, so
        every run of a sweep trains on the same batches.
    """
    check_config(config)
    if not isinstance(data, TextData) or data.val_batcher is None:
        raise ValueError("data must be a TextData with a validation part (val_fraction > 0)")
    batch = data.train_batcher
    if batch.block_size != config.block_size or data.vocab_size != config.vocab_size:
        raise ValueError(
            f"config has block_size={config.block_size}, vocab_size={config.vocab_size} but "
            f"the data block_size={batch.block_size}, vocab_size={data.vocab_size}"
        )
    per_step = batch.batch_size * batch.block_size
    steps = math.ceil(check_int("tokens", tokens, 1) / per_step)
    every = max(1, steps // check_int("evaluations", evaluations, 1))
    lr = check_real("lr", lr, 0, min_open=True)
    torch.manual_seed(check_int("seed", seed, 0))
    model = GPT(config)
    trainer_config = TrainerConfig(max_steps=steps, lr=lr, min_lr=lr / 10,
                                   warmup_steps=max(1, steps // 10), eval_every=every,
                                   eval_iters=check_int("eval_iters", eval_iters, 1),
                                   device="cpu")  # fmt: skip
    batch.load_state_dict({**batch.state_dict(), "generator": _fresh_state(batch.seed)})
    trainer = Trainer(model, trainer_config, batch, data.val_batcher)
    start = time.perf_counter()
    history = trainer.fit()
    steps_done, losses = history.series("val_loss")
    return ScalingRun(config, non_embedding_params(config), steps * per_step, losses[-1],
                      time.perf_counter() - start, tuple(s * per_step for s in steps_done),
                      tuple(losses))  # fmt: skip


def _fresh_state(seed: int) -> torch.Tensor:
    """A generator state as if just seeded: every run of a sweep sees the same batches."""
    return torch.Generator().manual_seed(seed).get_state()


def run_sweep(
    configs: Sequence[GPTConfig], data: TextData, tokens: int, lr: float = 3e-3, seed: int = 0,
    evaluations: int = 10, eval_iters: int = 10,
    on_run: Callable[[ScalingRun], None] | None = None,
) -> list[ScalingRun]:  # fmt: skip
    """:func:`train_for_tokens` for each config, on the same batches.

    Args:
        configs: the sizes, e.g. from :func:`sweep_configs`.
        data, tokens, lr, seed, evaluations, eval_iters: as in :func:`train_for_tokens`.
        on_run: called with each finished run (e.g. to print a line).

    Returns:
        One :class:`ScalingRun` per config, in order.
    """
    runs = []
    for config in configs:
        run = train_for_tokens(config, data, tokens, lr, seed, evaluations, eval_iters)
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return runs


def _as_positive(name: str, values: Iterable[float]) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite numbers > 0, got {arr.tolist()!r:.80}")
    return arr


def fit_power_law(n: Iterable[float], loss: Iterable[float]) -> PowerLaw:
    """Fit ``L(N) = a·N^(-alpha) + c`` by least squares on the losses.

    The fit is done in ``log a`` (so ``a`` stays positive), with ``0 <= c < min(loss)`` and
    ``0 < alpha < 5``, starting from ``alpha = 0.3``, ``c = 0.8·min(loss)``.

    Args:
        n: model sizes (N > 0), at least 4 of them (3 parameters are fitted).
        loss: the loss of each size (> 0).

    Returns:
        A :class:`PowerLaw`.

    Raises:
        ValueError: for fewer than 4 points, sizes and losses of different lengths,
            non-positive values, or a fit that does not converge.
    """
    from scipy.optimize import curve_fit

    x, y = _as_positive("n", n), _as_positive("loss", loss)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} sizes but {len(y)} losses")
    if len(x) < 4 or len(set(x.tolist())) < 4:
        raise ValueError(f"fitting 3 parameters needs at least 4 different sizes, got {len(x)}")

    def law(log_n: np.ndarray, log_a: float, alpha: float, c: float) -> np.ndarray:
        return np.exp(log_a - alpha * log_n) + c

    c0 = 0.8 * y.min()
    log_a0 = math.log(max(y[np.argmin(x)] - c0, 1e-9)) + 0.3 * math.log(x.min())
    try:
        (log_a, alpha, c), _ = curve_fit(
            law, np.log(x), y, p0=(log_a0, 0.3, c0),
            bounds=([-50.0, 1e-6, 0.0], [50.0, 5.0, y.min()]), maxfev=20_000,
        )  # fmt: skip
    except RuntimeError as err:  # scipy: "Optimal parameters not found"
        raise ValueError(f"the power law did not fit these points: {err}") from None
    return PowerLaw(float(math.exp(log_a)), float(alpha), float(c))


def compute_frontier(compute: Iterable[float], loss: Iterable[float]) -> list[int]:
    """The compute-optimal frontier: the points no cheaper (or equal) point beats.

    Args:
        compute: the compute of each point (FLOPs, > 0), e.g. of every evaluation of every
            run of a sweep (``6·N·tokens_seen``).
        loss: the loss of each point.

    Returns:
        The indices of the frontier points, by increasing compute: each has a lower loss
        than every point of less compute, and no point of equal compute is lower (of two
        equal points, the first listed is kept).
    """
    c, y = _as_positive("compute", compute), np.asarray(list(loss), dtype=float)
    if y.shape != c.shape or not np.all(np.isfinite(y)):
        raise ValueError(f"loss must be {len(c)} finite numbers, one per compute value")
    frontier, best = [], math.inf
    for i in sorted(range(len(c)), key=lambda i: (c[i], y[i])):  # equal compute: best first
        if y[i] < best:
            frontier.append(i)
            best = y[i]
    return frontier


def run_points(runs: Sequence[ScalingRun]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every evaluation of every run as (compute, loss, run index), for the frontier.

    Args:
        runs: from :func:`run_sweep`.

    Returns:
        Three arrays: ``6·N·tokens_seen``, the validation loss, and the run's index.
    """
    if not runs or not all(isinstance(r, ScalingRun) for r in runs):
        raise ValueError("runs must be a non-empty list of ScalingRun")
    compute = [six_nd(r.n_params, t) for r in runs for t in r.tokens_seen]
    loss = [v for r in runs for v in r.val_losses]
    index = [i for i, r in enumerate(runs) for _ in r.tokens_seen]
    return np.array(compute), np.array(loss), np.array(index)
