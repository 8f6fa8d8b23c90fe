"""The GPU check's pure parts: its arithmetic, its choices and its Markdown report.

No torch, no GPU: everything here is unit-tested on any machine
(``tests/unit/test_gpu_check.py``). ``benchmarks/gpu_check.py`` measures; this module turns
the measurements into figures (tokens per second, FLOP/s, model FLOP utilisation) and the
report into the Markdown table that the README quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: The check's phases, in the order they run.
PHASES = ("environment", "training", "recipe", "benchmarks", "notebooks")
#: Dense bf16 peak of the chips the check is written for (vendor datasheets, SXM), FLOP/s.
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def flops_per_token(n_params: int, n_layer: int, block_size: int, n_embd: int) -> float:
    """Training FLOPs per token: 6 N for the weights plus 12 L T C for attention.

    The estimate of the PaLM paper (appendix B): forward and backward pass cost 6 FLOPs
    per parameter per token, and the attention scores and their weighted sum add
    ``12 * n_layer * block_size * n_embd``.

    Args:
        n_params: the parameters that multiply activations (with tied weights, the
            embedding table counts once: it is the output layer too).
        n_layer: Transformer blocks.
        block_size: the context length ``T`` of the training windows.
        n_embd: the channels ``C``.

    Returns:
        FLOPs per training token.
    """
    for name, value in (
        ("n_params", n_params),
        ("n_layer", n_layer),
        ("block_size", block_size),
        ("n_embd", n_embd),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return 6.0 * n_params + 12.0 * n_layer * block_size * n_embd


def throughput(tokens_per_step: int, seconds: Sequence[float]) -> dict:
    """Tokens per second and milliseconds per step from the timed steps' seconds.

    The median step, so that one step slowed by something else (a garbage collection, a
    kernel chosen anew) does not move the figure.

    Args:
        tokens_per_step: batch size times context length.
        seconds: the wall time of each timed step.

    Returns:
        ``{"ms_per_step": ..., "tokens_per_second": ..., "steps_timed": ...}``.
    """
    if not isinstance(tokens_per_step, int) or tokens_per_step < 1:
        raise ValueError(f"tokens_per_step must be a positive int, got {tokens_per_step!r}")
    if not seconds or min(seconds) <= 0:
        raise ValueError(f"need positive step times, got {list(seconds)!r}")
    ordered = sorted(seconds)
    median = ordered[len(ordered) // 2]
    return {
        "ms_per_step": round(1e3 * median, 3),
        "tokens_per_second": round(tokens_per_step / median),
        "steps_timed": len(ordered),
    }


def peak_for(device_name: str) -> float | None:
    """The dense bf16 peak (FLOP/s) of a known chip named in ``device_name``, else ``None``."""
    return next((peak for chip, peak in PEAK_BF16.items() if chip in device_name), None)


def utilisation(tokens_per_second: float | None, fpt: float, peak: float | None) -> dict:
    """Achieved TFLOP/s and model FLOP utilisation (``None`` where a figure is missing)."""
    if not tokens_per_second:
        return {"tflops": None, "mfu": None}
    achieved = tokens_per_second * fpt
    return {"tflops": round(achieved / 1e12, 2), "mfu": round(achieved / peak, 3) if peak else None}


def speedup(eager: dict, compiled: dict) -> float | None:
    """Compiled tokens/s over eager tokens/s, or ``None`` when either is missing."""
    e, c = eager.get("tokens_per_second"), compiled.get("tokens_per_second")
    return round(c / e, 3) if e and c else None


def notebook_summary(rows: Sequence[dict]) -> dict:
    """Counts by status and the total and longest wall times of the notebook runs."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    seconds = [row["seconds"] for row in rows if row.get("seconds") is not None]
    return {
        "counts": counts,
        "total_seconds": round(sum(seconds), 1),
        "longest_seconds": round(max(seconds), 1) if seconds else None,
    }


def pick_notebooks(spec: str, folder: Path) -> list[Path]:
    """The notebooks of ``folder`` that ``spec`` names: ``all``, ``none`` or names.

    Args:
        spec: ``"all"``, ``"none"`` or comma-separated names, with or without ``.ipynb``.
        folder: where the notebooks are.

    Returns:
        Their paths, sorted for ``all``, in the order given otherwise.

    Raises:
        ValueError: for a name that is not a notebook of ``folder``.
    """
    every = sorted(folder.glob("*.ipynb"))
    if spec == "all":
        return every
    if spec == "none":
        return []
    names = [n.strip().removesuffix(".ipynb") for n in spec.split(",") if n.strip()]
    known = {p.stem: p for p in every}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown notebook(s) {unknown or spec!r}; there are {sorted(known)}")
    return [known[n] for n in names]


def pick_phases(spec: str) -> list[str]:
    """The phases named in ``spec`` (comma-separated), in :data:`PHASES` order."""
    names = {x.strip() for x in spec.split(",") if x.strip()}
    bad = sorted(names - set(PHASES))
    if bad or not names:
        raise ValueError(f"unknown phase(s) {bad or spec!r}; use some of {list(PHASES)}")
    return [p for p in PHASES if p in names]


def fmt(value: float | None, spec: str = ",.0f", missing: str = "-") -> str:
    """``value`` formatted with ``spec``, or ``missing`` for ``None``."""
    return missing if value is None else format(value, spec)


def markdown(report: dict) -> str:
    """The README's tables from a ``gpu_check.json`` report (phases may be missing)."""
    env = report.get("environment", {})
    lines = [
        f"GPU check of {report.get('date', '?')} ({report.get('mode', '?')} mode): "
        f"{env.get('device_name', '?')} (compute capability {env.get('capability', '?')}, "
        f"{fmt(env.get('memory_gib'), '.0f')} GiB), torch {env.get('torch', '?')}, "
        f"CUDA {env.get('cuda', '?')}; precision path: {env.get('precision', '?')}"
        f"{' + GradScaler' if env.get('grad_scaler') else ''} "
        f"({env.get('precision_reason', '')}). "
        f"Whole check: {fmt(report.get('total_seconds'), '.0f')} s.",
        "",
    ]
    rows = report.get("training", [])
    if isinstance(rows, list) and rows:
        lines += [
            "| model | tokens / step | eager tokens/s | compiled tokens/s "
            "| torch.compile speed-up | compile s | peak memory GiB | TFLOP/s (MFU) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rows:
            e, c = r.get("eager", {}), r.get("compiled", {})
            mfu = f"{fmt(r.get('tflops'), '.1f')} ({fmt(r.get('mfu'), '.0%')})"
            times = fmt(r.get("speedup"), ".2f") + ("x" if r.get("speedup") else "")
            lines.append(
                f"| {r['model']} | {r['tokens_per_step']:,} | {fmt(e.get('tokens_per_second'))} "
                f"| {fmt(c.get('tokens_per_second'))} | {times} "
                f"| {fmt(c.get('compile_seconds'), '.0f')} | {fmt(r.get('peak_gib'), '.2f')} "
                f"| {mfu} |"
            )
        lines.append("")
    recipe = report.get("recipe")
    if recipe and "steps" in recipe:
        lines += [
            f"Chapter 3e's CPU recipe on this device: {recipe['steps']:,} steps in "
            f"{recipe['seconds']:.0f} s, best validation loss {recipe['val_loss']:.3f} "
            f"({fmt(recipe.get('tokens_per_second'))} tokens/s).",
            "",
        ]
    nbs = report.get("notebooks", {})
    if isinstance(nbs, dict) and nbs.get("rows"):
        lines += ["| notebook | status | wall time s |", "| --- | --- | ---: |"]
        for r in nbs["rows"]:
            status = r["status"] + (f": {r['error']}" if r.get("error") else "")
            status = status.replace("|", "/").replace("\n", " ")
            lines.append(f"| {r['notebook']} | {status} | {fmt(r.get('seconds'), '.0f')} |")
        lines.append("")
    failed = [k for k in PHASES if isinstance(report.get(k), dict) and "error" in report[k]]
    for name in failed:
        lines += [f"Phase {name} failed: {report[name]['error']}", ""]
    return "\n".join(lines)
