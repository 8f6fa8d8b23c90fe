"""Quick mode: one switch that shrinks every notebook so CI runs it in seconds.

Committed notebook outputs and the online book come from *full* mode. CI sets
``LLMW_QUICK=1`` and the same notebooks then train on a few hundred characters
for a handful of steps. Every notebook reads the switch through :func:`is_quick`
and picks sizes with :func:`pick`, so there is exactly one place that decides.
"""

from __future__ import annotations

import os
from typing import TypeVar

#: The environment variable that turns quick mode on ("1", "true", "yes", "on").
QUICK_ENV = "LLMW_QUICK"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


def is_quick() -> bool:
    """Tell whether quick mode is on.

    Returns:
        ``True`` when ``LLMW_QUICK`` is set to 1/true/yes/on, ``False`` when it is
        unset or 0/false/no/off.

    Raises:
        ValueError: if the variable holds anything else (a typo should not
            silently run a 20-minute full training in CI).
    """
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{QUICK_ENV}={os.environ[QUICK_ENV]!r} is not understood; "
        "use 1/true/yes/on for quick mode or 0/false/no/off (or unset) for full mode"
    )


def pick(full: T, quick: T) -> T:
    """Choose a size (steps, batch, corpus length, ...) by mode.

    Args:
        full: the value used for the committed outputs and the book.
        quick: the value used in CI; must have the same type as ``full``.

    Returns:
        ``quick`` in quick mode, else ``full``.

    Raises:
        ValueError: if the two values have different types (``pick(100, 0.5)`` is a typo
            that would change a notebook's behaviour only in CI).
    """
    if type(full) is not type(quick):
        raise ValueError(
            f"pick(full={full!r}, quick={quick!r}): both values must have the same type, "
            f"got {type(full).__name__} and {type(quick).__name__}"
        )
    return quick if is_quick() else full
