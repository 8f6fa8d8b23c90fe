"""Checks of notebook 09 (the FAQ): the memory a model needs, a loss in other units, where
greedy decoding starts to loop, and how long training takes.

The references are the library's memory estimate
(:func:`~llmwidgets.analysis.memory.fits_in_memory`) and compute rule
(:func:`~llmwidgets.analysis.compute.six_nd`), the definitions of perplexity and bits, and a
cycle finder written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from llmwidgets.analysis.compute import six_nd
from llmwidgets.analysis.memory import fits_in_memory
from llmwidgets.checks._core import Hint, call, exercise, one_number, pair

__all__ = ["check_find_cycle", "check_loss_units", "check_model_memory", "check_training_days"]

_USES = {
    "bfloat16": {"dtype": "bfloat16"},
    "int4": {"dtype": "int4"},
    "training": {"training": True},
}


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= 1e-6 * max(abs(want), 1e-12)


@exercise("exercise 1 (the memory a model needs)")
def check_model_memory(predicted_gib: Callable[[float, str], Any]) -> str:
    """Check ``predicted_gib(n_params, use)``: GiB for ``use`` = ``"bfloat16"`` or ``"int4"``
    (the weights, to run the model) or ``"training"`` (AdamW in mixed precision), with no
    overhead and no activations.
    """
    sizes = (7e9, 1.3e9, 70e9, 2.0**30)
    for n in sizes:
        for use, kwargs in _USES.items():
            what = f"n_params={n:.3g}, use={use!r}"
            got = float(one_number(call(predicted_gib, n, use), what))
            want = fits_in_memory(n, 1.0, overhead=0.0, **kwargs)[1]
            if _close(got, want):
                continue
            if _close(got, want * 2**30 / 1e9):
                raise Hint(f"for {what}: that is in GB (10^9 bytes); a GiB is 2^30 bytes")
            if use == "training" and got < want:
                raise Hint(
                    f"for {what}: training keeps more than the weights: a gradient per weight, "
                    "AdamW's two moments in fp32, and an fp32 copy of the 16-bit weights"
                )
            if _close(got, want * 8) or _close(got * 8, want):
                raise Hint(f"for {what}: mind bits and bytes: a byte is 8 bits")
            raise Hint(f"for {what}: how many bytes does one parameter take here?")
    return f"{len(sizes)} model sizes, to run in bfloat16 and int4 and to train"


@exercise("exercise 2 (a loss in other units)")
def check_loss_units(loss_units: Callable[[float], Any]) -> str:
    """Check ``loss_units(loss_nats)``: ``(perplexity, bits)`` of an average cross-entropy
    of ``loss_nats`` nats per token.
    """
    cases = (0.0, 1.643, math.log(65), 0.5, 3.0)
    for loss in cases:
        what = f"loss_nats={loss:.4g}"
        ppl, bits = (
            float(one_number(v, what))
            for v in pair(call(loss_units, loss), f"return (perplexity, bits) for {what}")
        )
        if not _close(ppl, math.exp(loss)):
            if _close(ppl, 2**loss):
                raise Hint(f"for {what}: the loss is in nats, natural logarithms: use e, not 2")
            raise Hint(f"for {what}: perplexity undoes the logarithm of the average loss")
        if not _close(bits, loss / math.log(2)):
            if _close(bits, loss * math.log(2)):
                raise Hint(
                    f"for {what}: a bit is more than a nat (ln 2 nats): divide, not multiply"
                )
            raise Hint(f"for {what}: log2(p) = ln(p) / ln(2); what does that make of the loss?")
    return f"{len(cases)} losses, 0 and ln 65 among them"


def _find_cycle(ids: list[int], window: int) -> tuple[int, int] | None:
    """The reference: the first window that occurred before, and the distance to it."""
    seen: dict[tuple[int, ...], int] = {}
    for start in range(len(ids) - window + 1):
        key = tuple(ids[start : start + window])
        if key in seen:
            return start, start - seen[key]
        seen[key] = start
    return None


def _orbit(length: int, states: int, seed: int) -> list[int]:
    """A deterministic walk x -> f(x) for a fixed pseudo-random f: it ends in a cycle."""
    table = [(i * 7919 + seed * 104729) % states for i in range(states)]
    table = [(t * t + seed) % states for t in table]
    walk = [seed % states]
    for _ in range(length - 1):
        walk.append(table[walk[-1]])
    return walk


@exercise("exercise 3 (where greedy decoding starts to loop)")
def check_find_cycle(find_cycle: Callable[[list, int], Any]) -> str:
    """Check ``find_cycle(ids, window)``: ``(start, period)`` for the first position whose
    ``window`` tokens occurred before, and the distance to that earlier occurrence, or
    ``None`` when no window occurs twice.
    """
    cases = [
        ([1, 2, 3, 1, 2, 3, 1], 2),
        ([1, 2, 3, 4], 2),
        ([5, 5, 5, 5], 1),
        ([7, 1, 2, 9, 1, 2, 8, 1, 2], 2),
        ([1, 2, 1, 3, 1, 2, 1, 3], 3),
        ([4, 4], 3),
        (_orbit(200, 97, 3), 1),
        (_orbit(300, 1000, 11), 4),
    ]
    for ids, window in cases:
        shown = ids if len(ids) <= 10 else f"{ids[:6]} … ({len(ids)} ids)"
        what = f"ids={shown}, window={window}"
        got = call(find_cycle, list(ids), window)
        want = _find_cycle(ids, window)
        if want is None:
            if got is not None:
                raise Hint(f"for {what}: no window of {window} ids occurs twice; return None")
            continue
        if got is None:
            raise Hint(f"for {what}: a window of {window} ids does occur twice")
        start, period = pair(got, f"return (start, period) or None for {what}")
        if (start, period) == want:
            continue
        if (start + period, period) == want:
            raise Hint(
                f"for {what}: start is the position of the *second* occurrence, where the "
                "repetition is noticed"
            )
        if start == want[0]:
            raise Hint(
                f"for {what}: the start is right; the period is the distance between the two"
            )
        raise Hint(
            f"for {what}: compare whole windows ids[s : s + window], not single ids, and "
            "stop at the first one you have seen before"
        )
    return f"{len(cases)} sequences (no repeat, period 1, walks that fall into a cycle)"


@exercise("exercise 4 (how long training takes)")
def check_training_days(training_days: Callable[[float, float, float], Any]) -> str:
    """Check ``training_days(n_params, tokens, flops_per_second)``: days at 6 FLOPs per
    parameter and token.
    """
    cases = [(1e9, 1e12, 1e15), (7e9, 2e12, 1000 * 0.4 * 312e12), (4.6e5, 4.1e6, 8.7e9)]
    for n, d, rate in cases:
        what = f"n_params={n:.3g}, tokens={d:.3g}, flops_per_second={rate:.3g}"
        got = float(one_number(call(training_days, n, d, rate), what))
        want = six_nd(int(n), int(d)) / rate / 86_400
        if _close(got, want):
            continue
        if _close(got, want * 86_400) or _close(got, want * 24):
            raise Hint(f"for {what}: that is not in days (a day is 86,400 seconds)")
        if _close(got, want / 3) or _close(got, want / 6):
            raise Hint(f"for {what}: count the backward pass too: 6 FLOPs per parameter and token")
        raise Hint(f"for {what}: FLOPs needed / FLOPs per second gives seconds; then days")
    return f"{len(cases)} runs, from the book's model to a 7B model on 1,000 GPUs"
