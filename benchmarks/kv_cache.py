"""Time per generated token with and without the KV cache, at several context lengths.

Usage:  .venv/bin/python benchmarks/kv_cache.py [--contexts 64,128,256,512]
            [--new-tokens 32] [--rounds 5] [--batch 1] [--threads 1] [--json PATH] [--smoke]

``--smoke`` runs a tiny GPT at two short contexts, one round (a few seconds, for CI).

The model is a GPT big enough for attention to matter: 6 layers, 6 heads, 384 channels,
``block_size`` 1024, a character vocabulary (65), untrained weights (the timing does not
depend on them). For each context length L, a prompt of L random tokens is extended by
``--new-tokens`` tokens with :func:`llmwidgets.nn.generation.generate`, greedily:

* ``cached``: ``use_cache=True`` - the prompt once (the prefill), then one token per step;
* ``uncached``: ``use_cache=False`` - the whole sequence at every step (O(L²) per token).

A token's time is the call's time divided by the number of new tokens, so the cached
figure includes its share of the prefill; ``decode`` is the cached step alone: the
call's time less that of a call making one token (the prefill), over the other tokens.
Both arms run in every round, their order
flipping from round to round, so load from other processes hits both alike; the table
gives each arm's median and the median over rounds of the speedup uncached / cached
(target: >= 5 at L = 512 on the CPU). The arms' tokens are compared too (``same``): the
cache changes the speed, not the output. ``--json`` writes the figures, the settings and
the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmwidgets.nn.generation import generate  # noqa: E402
from llmwidgets.nn.gpt import GPT, GPTConfig  # noqa: E402

BIG = GPTConfig(vocab_size=65, block_size=1024, n_layer=6, n_head=6, n_embd=384, dropout=0.0)
TINY = GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=2, n_embd=32, dropout=0.0)
TARGET_CONTEXT, TARGET_SPEEDUP = 512, 5.0


def time_generate(model: GPT, prompt: torch.Tensor, new: int, use_cache: bool):
    """Seconds per new token, and the generated ids."""
    start = time.perf_counter()
    out = generate(model, prompt, new, temperature=0, use_cache=use_cache)
    return (time.perf_counter() - start) / new, out


def measure(model: GPT, context: int, args: argparse.Namespace) -> dict:
    """Both arms at one context length, interleaved over ``args.rounds`` rounds."""
    gen = torch.Generator().manual_seed(context)
    prompt = torch.randint(0, model.config.vocab_size, (args.batch, context), generator=gen)
    arms = {"cached": True, "uncached": False}
    times: dict[str, list[float]] = {name: [] for name in arms}
    outputs = {}
    for name, use_cache in arms.items():  # warm-up: allocator, kernels
        outputs[name] = time_generate(model, prompt, 2, use_cache)[1]
    speedups, decode = [], []
    for r in range(args.rounds):
        for name in list(arms) if r % 2 == 0 else list(arms)[::-1]:
            seconds, outputs[name] = time_generate(model, prompt, args.new_tokens, arms[name])
            times[name].append(seconds)
        speedups.append(times["uncached"][-1] / times["cached"][-1])
        prefill = time_generate(model, prompt, 1, True)[0]  # one token: the prefill
        total = times["cached"][-1] * args.new_tokens
        decode.append(max(total - prefill, 0.0) / (args.new_tokens - 1))
    return dict(
        context=context,
        cached_ms_per_token=1e3 * statistics.median(times["cached"]),
        decode_ms_per_token=1e3 * statistics.median(decode),
        uncached_ms_per_token=1e3 * statistics.median(times["uncached"]),
        speedup=statistics.median(speedups),
        speedup_range=[min(speedups), max(speedups)],
        same_tokens=bool(torch.equal(outputs["cached"], outputs["uncached"])),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", default="64,128,256,512", help="prompt lengths")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per call")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--smoke", action="store_true", help="a tiny GPT, 1 round: for CI")
    args = parser.parse_args(argv)
    config = TINY if args.smoke else BIG
    if args.smoke:
        args.contexts, args.new_tokens, args.rounds = "8,16", 4, 1
    contexts = [int(c) for c in args.contexts.split(",")]
    if args.new_tokens < 2:
        parser.error("--new-tokens must be >= 2 (the decode time is that of tokens 2..)")
    if min(contexts) < 1 or max(contexts) + args.new_tokens > config.block_size:
        parser.error(f"contexts + new tokens must lie in 1..block_size={config.block_size}")
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    torch.manual_seed(0)
    model = GPT(config).eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, load {load_before}")
    print(
        f"GPT {config.n_layer} layers x {config.n_head} heads x {config.n_embd} channels, "
        f"block_size {config.block_size}, {model.num_parameters():,} parameters; batch "
        f"{args.batch}, {args.new_tokens} new tokens per call, {args.rounds} rounds\n"
    )
    header = f"{'context':>8}{'cached ms/tok':>15}{'decode':>8}{'uncached ms/tok':>17}"
    header += f"{'speedup':>9}"
    header += "  (min..max)  same"
    print(header)
    print("-" * len(header))
    start = time.perf_counter()
    rows = []
    for context in contexts:
        row = measure(model, context, args)
        rows.append(row)
        low, high = row["speedup_range"]
        print(
            f"{context:>8}{row['cached_ms_per_token']:>15.2f}{row['decode_ms_per_token']:>8.2f}"
            f"{row['uncached_ms_per_token']:>17.2f}"
            f"{row['speedup']:>9.1f}  ({low:.1f}..{high:.1f}){'':<2}{row['same_tokens']}",
            flush=True,
        )
    at_target = [r["speedup"] for r in rows if r["context"] == TARGET_CONTEXT]
    met = bool(at_target) and at_target[0] >= TARGET_SPEEDUP
    print(
        f"\ntarget: speedup >= {TARGET_SPEEDUP:g} at context {TARGET_CONTEXT}: "
        f"{'met' if met else 'not met' if at_target else 'not measured'}; "
        f"{time.perf_counter() - start:.0f} s, load {os.getloadavg()}"
    )
    if args.json is not None:
        report = dict(
            torch=torch.__version__,
            threads=torch.get_num_threads(),
            load_before=list(load_before),
            load_after=list(os.getloadavg()),
            config=asdict(config),
            parameters=model.num_parameters(),
            batch=args.batch,
            new_tokens=args.new_tokens,
            rounds=args.rounds,
            results=rows,
            target=dict(context=TARGET_CONTEXT, speedup=TARGET_SPEEDUP, met=met),
        )
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
