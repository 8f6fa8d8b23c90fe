"""Input checks shared by the whole package: one home, one wording.

Every public function of ``llmwidgets`` checks its arguments with these helpers, so a
bad value gives the same kind of message everywhere: the argument's name, the rule
and the value received, e.g. ``ValueError: block_size must be an int >= 1, got 0``.

* :func:`check_int` / :func:`check_optional_int` - integers (NumPy integers too, never
  ``bool``), with optional bounds;
* :func:`check_real` - real numbers (ints, floats, NumPy scalars; never ``bool`` or
  complex), finite unless allowed, with open or closed bounds;
* :func:`check_bool`, :func:`check_str`, :func:`check_choice`, :func:`check_callable`;
* :func:`check_index` - a position in ``range(size)``, naming how many there are.

All raise ``ValueError`` (never ``TypeError``), so callers and tests can rely on one
exception class for "bad argument".
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "check_bool",
    "check_callable",
    "check_choice",
    "check_index",
    "check_int",
    "check_optional_int",
    "check_real",
    "check_str",
]


def _bounds(minimum: Any, maximum: Any, min_open: bool = False, max_open: bool = False) -> str:
    """`` >= 1``, `` in [0, 1)``, ... for the messages."""
    if minimum is not None and maximum is not None:
        left, right = "(" if min_open else "[", ")" if max_open else "]"
        return f" in {left}{minimum}, {maximum}{right}"
    if minimum is not None:
        return f" {'>' if min_open else '>='} {minimum}"
    if maximum is not None:
        return f" {'<' if max_open else '<='} {maximum}"
    return ""


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer within bounds.

    Args:
        name: the argument's name, for the message.
        value: what the caller passed; ``int`` or a NumPy integer (``bool`` is refused).
        minimum: the smallest allowed value, or ``None``.
        maximum: the largest allowed value, or ``None``.

    Returns:
        ``value`` as a Python ``int``.

    Raises:
        ValueError: naming ``name``, the rule and the value.
    """
    rule = f"an int{_bounds(minimum, maximum)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {rule}, got {value!r} ({type(value).__name__})")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def check_optional_int(
    name: str, value: Any, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """Like :func:`check_int`, but ``None`` is allowed and returned as is.

    Args:
        name: the argument's name.
        value: an integer or ``None``.
        minimum: the smallest allowed value, or ``None``.
        maximum: the largest allowed value, or ``None``.

    Returns:
        ``None`` or the value as an ``int``.
    """
    if value is None:
        return None
    try:
        return check_int(name, value, minimum, maximum)
    except ValueError as err:
        raise ValueError(f"{err} (or None)") from None


def check_real(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    min_open: bool = False,
    max_open: bool = False,
    finite: bool = True,
) -> float:
    """Check that ``value`` is a real number within bounds.

    Args:
        name: the argument's name.
        value: an ``int``, ``float`` or NumPy real scalar (``bool``, complex, strings and
            tensors are refused).
        minimum: lower bound or ``None``.
        maximum: upper bound or ``None``.
        min_open: the lower bound itself is not allowed (``> minimum``).
        max_open: the upper bound itself is not allowed (``< maximum``).
        finite: refuse NaN and infinities (NaN is always refused).

    Returns:
        ``value`` as a Python ``float``.

    Raises:
        ValueError: naming ``name``, the rule and the value.
    """
    rule = f"a {'finite ' if finite else ''}number{_bounds(minimum, maximum, min_open, max_open)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {rule}, got {value!r} ({type(value).__name__})")
    x = float(value)
    bad = math.isnan(x) or (finite and math.isinf(x))
    if minimum is not None:
        bad = bad or (x <= minimum if min_open else x < minimum)
    if maximum is not None:
        bad = bad or (x >= maximum if max_open else x > maximum)
    if bad:
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return x


def check_bool(name: str, value: Any) -> bool:
    """Check that ``value`` is ``True`` or ``False`` (not 0/1, not a string).

    Args:
        name: the argument's name.
        value: what the caller passed.

    Returns:
        The bool.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def check_str(name: str, value: Any, allow_empty: bool = False) -> str:
    """Check that ``value`` is a string (not empty, unless allowed).

    Args:
        name: the argument's name.
        value: what the caller passed.
        allow_empty: accept ``""``.

    Returns:
        The string.
    """
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {value!r} ({type(value).__name__})")
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices``.

    Args:
        name: the argument's name.
        value: what the caller passed.
        choices: the allowed values.

    Returns:
        The value.
    """
    options = tuple(choices)
    try:
        ok = value in options
    except TypeError:  # unhashable or incomparable values
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_index(name: str, value: Any, size: int, plural: str, *, owner: str | None = None) -> int:
    """Check a position (a layer, a head, a row ...) in ``range(size)``.

    Args:
        name: the argument's name, e.g. ``"layer"``.
        value: the index given.
        size: how many there are.
        plural: what there are, e.g. ``"layers"``, for the message.
        owner: what has them, e.g. ``"attention"``: the message then reads
            ``layer=4 but attention has 4 layers (0..3)`` instead of ``... but there are
            4 layers (0..3)``.

    Returns:
        The index as an ``int``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if not 0 <= value < size:
        has = f"{owner} has" if owner else "there are"
        raise ValueError(f"{name}={value} but {has} {size} {plural} (0..{size - 1})")
    return int(value)


def check_callable(name: str, value: Any) -> Callable[..., Any]:
    """Check that ``value`` can be called.

    Args:
        name: the argument's name.
        value: what the caller passed.

    Returns:
        The callable.
    """
    if not callable(value):
        raise ValueError(f"{name} must be callable, got {value!r}")
    return value
