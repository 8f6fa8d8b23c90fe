"""The GPU check: the book's notebooks and its GPU figures on one CUDA machine, in minutes.

Usage:  python benchmarks/gpu_check.py --out DIR [--cpu] [--jobs 4] [--deadline 540]
            [--notebooks all|none|02_core_concepts,03e_training] [--phases training,recipe]
            [--compile | --no-compile]
        (``scripts/gpu_check.sh`` sets up Python and calls this; see its header.)

The phases, each one's result written to ``DIR/gpu_check.json`` (and the Markdown
``DIR/gpu_check.md``) as soon as it is known, so a run cut short still leaves the phases
done; a phase that would start after the ``--deadline`` is skipped:

1. ``environment``: the GPU, its compute capability and memory, torch and CUDA versions,
   and the precision path the book takes there (:func:`llmwidgets.pick_precision`:
   capability >= 8.0 bf16 autocast, below it fp16 autocast + GradScaler);
2. ``training``: tokens per second of the book's :class:`~llmwidgets.Trainer` on random
   tokens, eager and after ``torch.compile`` (the speed-up and the compile time), with the
   peak memory (``torch.cuda.max_memory_allocated``) and the model FLOP utilisation: the
   character model of chapter 3 (``shakespeare-char-cpu``, batch 32 x 64 tokens) and a
   GPT-2 small (124M parameters, dropout 0, batch 16 x 1024 tokens);
3. ``recipe``: chapter 3e's CPU recipe as the book runs it (2,000 steps, evaluations
   included; :func:`llmwidgets.train_char_model`): its wall time and validation loss. The
   model goes into the check's fresh model store, where the notebooks find it;
4. ``benchmarks``: ``benchmarks/gpt_speed.py --device cuda`` (ours against torch's own
   layers); the other benchmarks measure the CPU and are not run here;
5. ``notebooks``: every notebook in full mode (``LLMW_QUICK`` unset), ``--jobs`` at a time
   (:mod:`gpu_check_notebooks`), each in its own kernel, with a timeout each and the whole
   phase within the ``--deadline``: the wall time and the status of each.

``--cpu`` runs the same pipeline on the CPU with tiny settings (char-tiny, a few steps,
quick-mode notebooks, no ``torch.compile`` unless ``--compile``), to test it on a machine
without a GPU: ``--cpu --notebooks none`` is the unit tests' smoke run.
The pure parts (arithmetic, the report) are in :mod:`gpu_check_report`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]  # the sibling modules, llmwidgets

from gpu_check_notebooks import run_notebooks  # noqa: E402
from gpu_check_report import (  # noqa: E402
    PHASES,
    flops_per_token,
    markdown,
    notebook_summary,
    peak_for,
    pick_notebooks,
    pick_phases,
    speedup,
    throughput,
    utilisation,
)


def environment(device) -> dict:
    """The facts a reader needs to compare these figures with another machine."""
    import torch

    from llmwidgets.core.device import pick_precision

    precision = pick_precision(device)
    facts = {
        "device": str(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "none",
        "precision": precision.name,
        "precision_reason": precision.reason,
        "grad_scaler": precision.use_scaler,
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        facts.update(
            device_name=props.name,
            capability=f"{props.major}.{props.minor}",
            memory_gib=round(props.total_memory / 2**30, 1),
        )
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            facts["driver"] = smi.stdout.strip().splitlines()[0] if smi.stdout.strip() else None
        except (OSError, subprocess.TimeoutExpired):
            facts["driver"] = None
    else:
        facts.update(device_name="CPU", capability="-", memory_gib=None)
    return facts


def time_training(model_cfg, batch: int, steps: int, warm: int, device, compiled: bool) -> dict:
    """The Trainer on random tokens: per-step times after ``warm`` steps, peak memory.

    Returns:
        :func:`~gpu_check_report.throughput`'s figures, ``first_seconds`` (the ``warm``
        steps, compilation included), ``compile_seconds`` (their excess over ``warm``
        timed steps) and on CUDA ``peak_bytes``.
    """
    import torch

    from llmwidgets import GPT, Trainer, TrainerConfig
    from llmwidgets.training.batches import TokenBatcher

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(model_cfg.vocab_size, (200_000,), generator=gen)
    torch.manual_seed(0)
    model = GPT(model_cfg)
    cfg = TrainerConfig(
        max_steps=warm + steps, lr=3e-4, min_lr=3e-5, warmup_steps=0, device=str(device)
    )
    trainer = Trainer(model, cfg, TokenBatcher(ids, model_cfg.block_size, batch))
    if compiled:
        trainer.model = torch.compile(trainer.model)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    sync()
    start = time.perf_counter()
    trainer.fit(steps=warm)  # kernels chosen, allocator warmed, the graph compiled
    sync()
    first = time.perf_counter() - start
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        trainer.fit(steps=1)
        sync()
        times.append(time.perf_counter() - t0)
    result = throughput(batch * model_cfg.block_size, times)
    result["first_seconds"] = round(first, 2)
    result["compile_seconds"] = round(max(first - warm * statistics.median(times), 0.0), 1)
    if device.type == "cuda":
        result["peak_bytes"] = torch.cuda.max_memory_allocated(device)
    del trainer, model
    return result


def training(device, cpu: bool, compile_too: bool, device_name: str) -> list[dict]:
    """Eager and compiled tokens/s of the char model and of a GPT-2 small."""
    from llmwidgets import GPTConfig, gpt_param_count

    cases = [
        ("char (shakespeare-char-cpu)", GPTConfig.preset("shakespeare-char-cpu"), 32),
        ("GPT-2 small (124M)", GPTConfig.preset("gpt2", dropout=0.0), 16),
    ]
    steps, warm = (100, 10) if not cpu else (4, 2)
    if cpu:  # the same pipeline, tiny: char-tiny stands in for both
        cases = [(name, GPTConfig.preset("char-tiny"), 4) for name, _, _ in cases]
    rows = []
    for name, cfg, batch in cases:
        n = steps if cfg.n_embd < 512 else max(steps // 5, 4)
        row = {
            "model": name,
            "tokens_per_step": batch * cfg.block_size,
            "parameters": gpt_param_count(cfg),
            "batch": batch,
            "block_size": cfg.block_size,
        }
        for key, compiled in (("eager", False), ("compiled", True)):
            if compiled and not compile_too:
                row[key] = {"skipped": "--no-compile"}
                continue
            print(f"  training {name}, {key}", flush=True)
            try:
                row[key] = time_training(cfg, batch, n, warm, device, compiled)
            except Exception as err:  # noqa: BLE001 - one failed case must not end the check
                row[key] = {"error": f"{type(err).__name__}: {err}"[:300]}
        row["speedup"] = speedup(row["eager"], row["compiled"])
        peaks = [row[k].get("peak_bytes") for k in ("eager", "compiled")]
        row["peak_gib"] = round(max(p for p in peaks if p) / 2**30, 3) if any(peaks) else None
        best = max([row[k].get("tokens_per_second") or 0 for k in ("eager", "compiled")])
        fpt = flops_per_token(row["parameters"], cfg.n_layer, cfg.block_size, cfg.n_embd)
        row.update(utilisation(best, fpt, peak_for(device_name)))
        rows.append(row)
    return rows


def recipe(device) -> dict:
    """Chapter 3e's CPU recipe as the book trains it, on this device, into the store."""
    from llmwidgets.training.recipes import train_char_model

    os.environ["LLMW_DEVICE"] = str(device)  # quick mode (--cpu) shrinks it to 20 steps
    start = time.perf_counter()
    _, _, trainer = train_char_model()  # saved: the notebooks load it, not train it again
    seconds = time.perf_counter() - start
    speeds = trainer.history.series("tokens_per_sec")[1]
    return {
        "steps": trainer.step,
        "seconds": round(seconds, 1),
        "val_loss": round(trainer.best_val_loss, 4),
        "best_step": trainer.best_step,
        "tokens_per_second": round(statistics.median(speeds[5:] or speeds)),
    }


def benchmarks(cpu: bool, timeout: float) -> list[dict]:
    """The repository's benchmarks that measure the GPU, each in its own process."""
    runs = [["gpt_speed.py", "--device", "cuda", "--rounds", "5", "--steps", "2"]]
    if cpu:
        runs = [["gpt_speed.py", "--smoke", "--threads", "1"]]
    rows = []
    for args in runs:
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / args[0]), *args[1:]],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            status, text = ("ok" if done.returncode == 0 else "error"), done.stdout + done.stderr
        except subprocess.TimeoutExpired as err:
            out = err.stdout or ""
            status, text = (
                "timeout",
                out.decode(errors="replace") if isinstance(out, bytes) else out,
            )
        rows.append(
            {
                "command": " ".join(args),
                "status": status,
                "seconds": round(time.perf_counter() - start, 1),
                "output_tail": text[-3000:],
            }
        )
    return rows


def notebook_phase(args: argparse.Namespace, deadline: float) -> dict:
    """Make sure the char model is in the fresh store, then run the notebooks side by side."""
    paths = pick_notebooks(args.notebooks, ROOT / "notebooks")
    if not paths:
        return {"rows": [], "summary": notebook_summary([])}
    from llmwidgets.training.recipes import char_model

    char_model()  # loaded (the recipe phase saved it), or trained once before the notebooks
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": str(threads), "MPLBACKEND": "Agg"}
    env.pop("LLMW_DEVICE", None)
    rows = run_notebooks(paths, args.work, args.jobs, deadline, args.timeout, env)
    return {
        "rows": rows,
        "summary": notebook_summary(rows),
        "jobs": args.jobs,
        "threads_per_kernel": threads,
    }


def run_all(args: argparse.Namespace) -> dict:
    """The phases of ``args.phases`` in turn; the report is saved after each one."""
    start = time.monotonic()
    deadline = start + args.deadline
    if args.cpu:
        os.environ["LLMW_QUICK"] = "1"  # tiny settings everywhere, the notebooks' too
    else:
        os.environ.pop("LLMW_QUICK", None)  # full mode
    os.environ["LLMW_CACHE_DIR"] = str(args.work / "cache")  # a fresh model store
    import torch

    if not args.cpu and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available here: run with --cpu to test the pipeline")
    device = torch.device("cpu" if args.cpu else "cuda")
    compile_too = (not args.cpu) if args.compile is None else args.compile
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "mode": "cpu" if args.cpu else "gpu",
        "deadline_seconds": args.deadline,
        "phase_seconds": {},
    }
    phases = {
        "environment": lambda: environment(device),
        "training": lambda: training(device, args.cpu, compile_too, name),
        "recipe": lambda: recipe(device),
        "benchmarks": lambda: benchmarks(args.cpu, max(30.0, deadline - time.monotonic() - 300)),
        "notebooks": lambda: notebook_phase(args, deadline),
    }
    for phase_name in args.phases:
        began = time.monotonic()
        print(f"[{began - start:5.0f} s] {phase_name}", flush=True)
        if began >= deadline - 10:
            report[phase_name] = {"error": "skipped: the check's deadline had come"}
        else:
            try:
                report[phase_name] = phases[phase_name]()
            except Exception as err:  # noqa: BLE001 - record it, go on with the next phase
                report[phase_name] = {"error": f"{type(err).__name__}: {err}"[:500]}
        report["phase_seconds"][phase_name] = round(time.monotonic() - began, 1)
        save(report, args.out)
    report["total_seconds"] = round(time.monotonic() - start, 1)
    save(report, args.out)
    return report


def save(report: dict, out: Path) -> None:
    """``gpu_check.json`` and ``gpu_check.md`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "gpu_check.md").write_text(markdown(report) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "_build" / "gpu_check",
        help="where gpu_check.json and gpu_check.md go",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="executed notebooks and the model store (default: --out)",
    )
    p.add_argument("--cpu", action="store_true", help="the pipeline on the CPU, tiny settings")
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time torch.compile too (default: on a GPU yes, with --cpu no)",
    )
    p.add_argument("--jobs", type=int, default=4, help="notebooks run at once")
    p.add_argument("--deadline", type=float, default=540.0, help="seconds for the whole check")
    p.add_argument("--timeout", type=float, default=420.0, help="seconds per notebook")
    p.add_argument("--notebooks", default="all", help="all, none, or names (comma-separated)")
    p.add_argument("--phases", default=",".join(PHASES), help=f"some of {','.join(PHASES)}")
    args = p.parse_args(argv)
    try:
        args.phases = pick_phases(args.phases)
        pick_notebooks(args.notebooks, ROOT / "notebooks")
    except ValueError as err:
        p.error(str(err))
    if args.jobs < 1 or args.deadline <= 0 or args.timeout <= 0:
        p.error("--jobs, --deadline and --timeout must be positive")
    args.work = args.work or args.out
    return args


def main(argv: list[str] | None = None) -> int:
    report = run_all(parse_args(argv))
    print(markdown(report))
    failed = [k for k in PHASES if isinstance(report.get(k), dict) and "error" in report[k]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
