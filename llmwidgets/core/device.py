"""Device, precision, seeding and the environment report every notebook prints first.

:func:`setup` does all of it in one call (``cfg = lw.setup(seed=0)`` gives ``cfg.device``
and ``cfg.precision``). The rules, in one place:

* device: CUDA if present, then Apple MPS, then CPU (``LLMW_DEVICE`` overrides);
* precision on CUDA: bf16 autocast when the compute capability is >= 8.0
  (Ampere and newer), fp16 autocast with a gradient scaler below that. T4s
  (capability 7.5) *report* bf16 support but only emulate it, so we never trust
  ``torch.cuda.is_bf16_supported()`` alone;
* precision elsewhere: plain fp32 (no autocast, no scaler);
* CPU threads: torch uses one per core; on a machine with few cores that other programs
  keep busy, fewer threads are faster (one thread ran 3x faster than two on a busy
  2-core machine), so the report says so (:func:`thread_advice`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from llmwidgets.core.validate import check_bool, check_int, check_optional_int

#: Environment variable that forces a device ("cpu", "cuda", "cuda:1", "mps").
DEVICE_ENV = "LLMW_DEVICE"

_VALID_KINDS = ("cpu", "cuda", "mps")


def pick_device(prefer: str | None = None) -> torch.device:
    """Pick the best available device: CUDA, then Apple MPS, then CPU.

    Args:
        prefer: a device string ("cpu", "cuda", "cuda:0", "mps") to use instead
            of the automatic choice. ``None`` reads ``LLMW_DEVICE``, and when
            that is unset chooses automatically.

    Returns:
        The chosen ``torch.device``.

    Raises:
        ValueError: if ``prefer`` names an unknown or unavailable device.
    """
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV) or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(choice)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {choice!r}; use one of {_VALID_KINDS}") from err
    if dev.type not in _VALID_KINDS:
        raise ValueError(f"unsupported device {choice!r}; use one of {_VALID_KINDS}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} asked for, but CUDA is not available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {choice!r} asked for, but only {torch.cuda.device_count()} "
                "CUDA device(s) exist"
            )
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"device {choice!r} asked for, but Apple MPS is not available here")
    return dev


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


@dataclass(frozen=True)
class Precision:
    """How to run the forward pass and scale the loss on one device.

    Attributes:
        device_type: "cuda", "mps" or "cpu".
        dtype: autocast dtype (``torch.bfloat16``/``torch.float16``), or ``None``
            for plain fp32.
        use_scaler: whether a gradient scaler is needed (fp16 only).
        reason: one sentence saying why this precision was chosen.
    """

    device_type: str  # "cuda" | "mps" | "cpu"
    dtype: torch.dtype | None  # autocast dtype; None means fp32 without autocast
    use_scaler: bool  # True only for fp16, whose small range needs loss scaling
    reason: str  # human-readable explanation, printed in the environment report

    @property
    def name(self) -> str:
        """Short name: "bf16", "fp16" or "fp32"."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[self.dtype]

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Context manager for the forward pass (a no-op in fp32).

        Returns:
            ``torch.autocast(...)`` for bf16/fp16, else ``contextlib.nullcontext()``.
        """
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled only when fp16 needs one.

        Returns:
            ``torch.amp.GradScaler``; disabled scalers pass losses through unchanged.
        """
        return torch.amp.GradScaler(self.device_type, enabled=self.use_scaler)


def pick_precision(
    device: torch.device | str, capability: tuple[int, int] | None = None
) -> Precision:
    """Choose mixed precision for a device.

    Args:
        device: the device the model runs on.
        capability: CUDA compute capability ``(major, minor)``; ``None`` queries
            the device. Pass it explicitly to see what a T4 (7, 5) or an A100
            (8, 0) would get.

    Returns:
        A :class:`Precision`: bf16 on CUDA with capability >= 8, fp16 with a
        scaler below 8, fp32 on CPU and MPS.

    Raises:
        ValueError: for a malformed capability.
    """
    dev = torch.device(device)
    if dev.type != "cuda":
        return Precision(dev.type, None, False, f"{dev.type}: full fp32 (no autocast)")
    if capability is None:
        capability = torch.cuda.get_device_capability(dev)
    if (
        not isinstance(capability, tuple)
        or len(capability) != 2
        or not all(isinstance(c, int) and c >= 0 for c in capability)
    ):
        raise ValueError(f"capability must be a (major, minor) pair of ints, got {capability!r}")
    if capability >= (8, 0):
        return Precision(
            "cuda", torch.bfloat16, False, f"compute capability {capability} >= 8.0: bf16 autocast"
        )
    return Precision(
        "cuda",
        torch.float16,
        True,
        f"compute capability {capability} < 8.0 (bf16 would only be emulated): "
        "fp16 autocast + GradScaler",
    )


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and torch (all devices) for repeatable runs.

    Args:
        seed: a non-negative integer below 2**32.

    Returns:
        The seed, so a notebook can print it.
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def environment_report(device: torch.device | str | None = None) -> dict[str, str]:
    """Collect the facts a reader needs to reproduce a notebook's numbers.

    Args:
        device: the device to describe; ``None`` uses :func:`pick_device`.

    Returns:
        An ordered dict of strings: Python, torch, CUDA, device, memory,
        precision and quick mode. Print it with :func:`print_environment`.
    """
    from llmwidgets.core.quick import is_quick

    dev = pick_device() if device is None else torch.device(device)
    info: dict[str, str] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "none (CPU build)",
        "device": str(dev),
    }
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info["device name"] = props.name
        info["device memory"] = f"{props.total_memory / 2**30:.1f} GiB"
        info["compute capability"] = f"{props.major}.{props.minor}"
    else:
        info["device name"] = platform.processor() or platform.machine()
    threads, cores, load = torch.get_num_threads(), os.cpu_count() or 1, _load_average()
    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    info["torch threads"] = f"{threads} (of {cores} CPU cores; OMP_NUM_THREADS {omp})"
    if load is not None:
        info["load average"] = f"{load:.2f} (last minute, all programs)"
    advice = thread_advice(threads, cores, load) if dev.type == "cpu" else None
    if advice is not None:
        info["threads tip"] = advice
    info["precision"] = pick_precision(dev).name
    info["quick mode"] = "on" if is_quick() else "off"
    return info


def _load_average() -> float | None:
    """The 1-minute load average, or ``None`` where the system has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def thread_advice(threads: int, cores: int, load: float | None) -> str | None:
    """Whether fewer torch threads would help on this CPU, in one sentence.

    With few cores, torch's threads wait for each other at every operation; when other
    programs keep the cores busy, each wait can cost a whole time slice. On a busy 2-core
    machine one thread trained this book's GPT 3x faster than two.

    Args:
        threads: torch's CPU threads (``torch.get_num_threads()``).
        cores: the machine's CPU cores (``os.cpu_count()``).
        load: the 1-minute load average, or ``None`` when unknown.

    Returns:
        The advice, or ``None`` when there is nothing to lower (one thread, or more than
        four cores, where torch's default is fine).
    """
    threads, cores = check_int("threads", threads, 1), check_int("cores", cores, 1)
    if threads == 1 or cores > 4:
        return None
    how = "setup(threads=1), torch.set_num_threads(1), or OMP_NUM_THREADS=1 before Python starts"
    if load is not None and load >= cores / 2:
        return (
            f"the machine is busy (load {load:.1f} on {cores} cores): fewer threads are "
            f"likely faster (one thread ran 3x faster than two on a busy 2-core machine); "
            f"use {how}"
        )
    return f"if other programs keep the {cores} cores busy, fewer threads are faster: {how}"


def print_environment(device: torch.device | str | None = None) -> dict[str, str]:
    """Print :func:`environment_report` as aligned ``key: value`` lines.

    Args:
        device: as for :func:`environment_report`.

    Returns:
        The report dict.
    """
    info = environment_report(device)
    _print_report(info)
    return info


def _print_report(info: dict[str, str]) -> None:
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}} : {value}")


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` chose; pass ``device`` and ``precision`` on to models and trainers."""

    device: torch.device  # where models and batches go: pick_device's choice
    precision: Precision  # autocast and loss scaling on that device: pick_precision's choice
    seed: int  # the seed Python, NumPy and torch were seeded with
    threads: int  # torch's CPU threads after the set-up


def setup(
    seed: int = 0,
    device: str | None = None,
    threads: int | None = None,
    report: bool = True,
) -> Setup:
    """A notebook's whole set-up in one call: threads, seeds, device, precision, report.

    Args:
        seed: seeds Python, NumPy and torch (:func:`seed_everything`); an int in
            ``[0, 2**32)``.
        device: as for :func:`pick_device` (``None``: ``LLMW_DEVICE``, else the best one).
        threads: torch's CPU threads (``torch.set_num_threads``); ``None`` keeps torch's
            choice (one per core, or ``OMP_NUM_THREADS``). See :func:`thread_advice`.
        report: print the environment report (:func:`environment_report`) and the seed.

    Returns:
        A :class:`Setup` with the device, precision, seed and thread count.

    Raises:
        ValueError: for a bad seed, an unknown or unavailable device, or threads < 1.
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    threads = check_optional_int("threads", threads, 1)
    report = check_bool("report", report)
    dev = pick_device(device)  # before anything changes: a bad device changes nothing
    if threads is not None:
        torch.set_num_threads(threads)
    seed_everything(seed)
    config = Setup(dev, pick_precision(dev), seed, torch.get_num_threads())
    if report:
        _print_report({**environment_report(dev), "seed": str(seed)})
    return config
