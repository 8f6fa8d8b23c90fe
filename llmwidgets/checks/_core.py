"""The checking framework shared by the notebooks' exercise checks.

An exercise's check is written as a *trial*: a function that takes the learner's answer,
runs it on a few cases, raises :class:`Hint` at the first wrong result and returns a
short success note. :func:`exercise` turns a trial into the public check::

    @exercise("exercise 1 (softmax with temperature)")
    def check_softmax_temperature(my_softmax: Callable[..., Any]) -> str:
        # the docstring says what my_softmax must compute
        for logits, t in cases:
            expect_close(call(my_softmax, logits, t), softmax(logits, t), what, wrong)
        return "5 cases, including large logits"

:func:`run_check` reports the result: ``✓ correct — …`` for a right answer; for a wrong
one it prints the hint, and then:

* in a learner's notebook (a Jupyter kernel) it stops there, so *Run All* on an untouched
  student notebook reaches the end: each exercise reports on its own;
* under nbgrader's autograder or validator (``NBGRADER_EXECUTION`` is set), in plain
  Python and in tests, it raises ``AssertionError``, so the test cell scores 0.

``LLMW_CHECKS=raise`` (or ``print``) forces one behaviour. An answer that is still ``None``
or raises ``NotImplementedError`` is reported as "not answered yet".

Hints follow two rules. They aim at the most likely slip and say what to do next
(:func:`expect_close` takes the typical wrong results with their hints). And they never
show the reference's result, which would turn the check into an answer key: a learner
could copy the expected values case by case instead of writing the function.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from llmwidgets.nn.gpt import GPTConfig
from llmwidgets.widgets.display import in_kernel

__all__ = [
    "Hint",
    "as_tensor",
    "bool_mask",
    "call",
    "exercise",
    "expect_close",
    "failures_raise",
    "fixed_seed",
    "mask_hint",
    "one_number",
    "pair",
    "run_check",
    "short",
    "tiny_gpt_config",
    "when_answered",
]

#: What a failed comparison suggests when no typical slip matches.
NEXT_STEP = (
    "run your function on this case in a cell of its own and compare each intermediate "
    "result with the exercise's description"
)


class Hint(Exception):
    """Raised inside a check when an answer is wrong; the message says what to try."""


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """A learner's result as a CPU tensor, or a :class:`Hint` naming ``what`` it should be."""
    try:
        return torch.as_tensor(value).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise Hint(f"{what} should be a tensor (or numbers), got {type(value).__name__}") from err


def short(t: torch.Tensor) -> str:
    """A tensor as a compact string with 4 decimals (first 8 entries)."""
    flat = [f"{x:.4f}" for x in t.flatten()[:8].tolist()]
    more = ", …" if t.numel() > 8 else ""
    return f"[{', '.join(flat)}{more}]" if t.dim() else flat[0]


def expect_close(
    got: Any,
    expected: torch.Tensor,
    what: str,
    wrong: Iterable[tuple[torch.Tensor, str]] = (),
    atol: float = 1e-5,
    next_step: str = NEXT_STEP,
) -> None:
    """Compare an answer with the reference; raise :class:`Hint` if it differs.

    Args:
        got: the learner's result (tensor, array, list or number).
        expected: the correct result.
        what: a short description of the case, used in messages.
        wrong: pairs ``(typical wrong result, hint)``; the first that matches
            ``got`` gives the hint.
        atol: absolute tolerance (the relative tolerance is 1e-4).
        next_step: what the message suggests when no typical slip matches.

    Returns:
        None.

    Raises:
        Hint: with a targeted or a generic message; neither shows ``expected``.
    """
    got_t = as_tensor(got, f"the result for {what}")
    if got_t.is_complex() or got_t.dtype == torch.bool:
        raise Hint(f"the result for {what} should hold real numbers, got dtype {got_t.dtype}")
    if tuple(got_t.shape) != tuple(expected.shape):
        raise Hint(
            f"for {what} the result should have shape {tuple(expected.shape)}, "
            f"got {tuple(got_t.shape)}: check which dimensions you kept, summed or dropped"
        )
    got_t = got_t.to(torch.float64)
    expected = expected.detach().cpu().to(torch.float64)

    def close(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.isclose(a, b.detach().cpu().to(torch.float64), rtol=1e-4, atol=atol)

    matches = close(got_t, expected)
    if matches.all():
        return
    if not torch.isfinite(got_t).all():
        raise Hint(
            f"the result for {what} contains NaN or inf: {short(got_t)}. Look for an exp "
            "that overflows, a log of 0 or a division by 0"
        )
    for alternative, hint in wrong:
        if tuple(alternative.shape) == tuple(got_t.shape) and close(got_t, alternative).all():
            raise Hint(hint)
    off = int((~matches).sum())
    where = f" ({off} of {matches.numel()} entries are off)" if matches.numel() > 1 else ""
    raise Hint(f"wrong values for {what}: got {short(got_t)}{where}; {next_step}")


def one_number(value: Any, what: str) -> torch.Tensor:
    """A result that must be one number, as a 0-dim float64 tensor (or a :class:`Hint`)."""
    t = as_tensor(value, f"the result for {what}")
    if t.numel() != 1:
        raise Hint(f"return one number for {what}, got shape {tuple(t.shape)}")
    return t.reshape(()).to(torch.float64)


def pair(value: Any, hint: str) -> tuple[Any, Any]:
    """A result that must be a pair ``(a, b)``; otherwise a :class:`Hint` with ``hint``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise Hint(f"{hint}, got {type(value).__name__}")
    return value[0], value[1]


def bool_mask(value: Any, what: str, shape: tuple[int, int]) -> torch.Tensor:
    """A learner's attention mask as a bool tensor of ``shape``, or a :class:`Hint`."""
    got = as_tensor(value, what)
    if tuple(got.shape) == tuple(reversed(shape)) and shape[0] != shape[1]:
        raise Hint(
            f"{what} has shape {tuple(got.shape)}, the transpose of {shape}: rows are the "
            "queries (the positions that look), columns the keys (the positions looked at)"
        )
    if tuple(got.shape) != shape:
        raise Hint(
            f"{what} has shape {tuple(got.shape)}, which does not fit: it needs one row per "
            "query (a position that looks) and one column per key (a position looked at)"
        )
    if got.dtype != torch.bool:
        raise Hint(
            f"{what} has dtype {got.dtype}; return a bool tensor (True = may attend), "
            "e.g. with dtype=torch.bool or a comparison"
        )
    return got


def mask_hint(got: torch.Tensor, want: torch.Tensor, what: str) -> Hint:
    """The last resort for a wrong bool mask: how many entries are off, and what to do."""
    off = int((got != want).sum())
    return Hint(
        f"wrong {what}: {off} of {want.numel()} entries are off. Print it for a small size "
        "and check it row by row: row i is query i, True where it may attend to key j"
    )


def call(answer: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the answer on copies, so an in-place edit cannot spoil the reference."""
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    return answer(*args, **kwargs)


def tiny_gpt_config(**overrides: Any) -> GPTConfig:
    """A GPT small enough to check an exercise in milliseconds (``overrides`` change sizes)."""
    sizes = dict(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    return GPTConfig(**{**sizes, **overrides})


@contextlib.contextmanager
def fixed_seed(seed: int = 0) -> Iterator[None]:
    """Seed torch's global RNG for a check's random models, and restore it afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


#: Forces how a failed check reports: "raise" (AssertionError) or "print" (message only).
CHECKS_ENV = "LLMW_CHECKS"


def failures_raise() -> bool:
    """Whether a failed check raises ``AssertionError`` (else it only prints its message).

    Returns:
        ``True`` under nbgrader (``NBGRADER_EXECUTION`` set), outside a Jupyter kernel
        (scripts, tests) and with ``LLMW_CHECKS=raise``; ``False`` in a learner's kernel
        and with ``LLMW_CHECKS=print``.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return True  # first: a submission cannot switch grading off with LLMW_CHECKS=print
    forced = os.environ.get(CHECKS_ENV, "").strip().lower()
    if forced in ("raise", "print"):
        return forced == "raise"
    if forced:
        raise ValueError(f"{CHECKS_ENV}={forced!r} is not understood; use 'raise' or 'print'")
    return not in_kernel()


@contextlib.contextmanager
def when_answered(exercise: str = "the exercise above") -> Iterator[None]:
    """Run a demonstration that uses an exercise's answer, once there is one.

    In a student notebook the answer is a stub that raises ``NotImplementedError``; a cell
    that uses it inside ``with checks.when_answered("exercise 1"):`` then prints a note
    instead of stopping *Run All*. Any other error is raised as usual.

    Args:
        exercise: how the note names the exercise.

    Returns:
        A context manager.
    """
    try:
        yield
    except NotImplementedError:
        print(f"(this cell shows its result once {exercise} is answered)")


def run_check(exercise: str, answer: Any, trial: Callable[[Callable[..., Any]], str]) -> None:
    """Run one exercise's check and report the result.

    Args:
        exercise: e.g. ``"exercise 1 (softmax with temperature)"``.
        answer: the learner's function (or ``None`` when not answered).
        trial: calls ``answer`` on the cases, raises :class:`Hint` when something
            is wrong, and returns a short success note.

    Returns:
        None; prints ``✓ correct — …`` on success, ``✗ …`` with the hint otherwise.

    Raises:
        AssertionError: for a wrong or missing answer, after printing the hint, when
            :func:`failures_raise` says so (autograder, scripts, tests).
    """
    if answer is None:
        problem = "not answered yet: the answer is still None"
    elif not callable(answer):
        problem = (
            f"expected a function, got {type(answer).__name__}: pass the function itself, "
            "without calling it (my_function, not my_function(...))"
        )
    else:
        try:
            note = trial(answer)
        except NotImplementedError:
            problem = (
                "not answered yet: replace `raise NotImplementedError(...)` in the exercise "
                "cell with your code, run that cell, then run this one again"
            )
        except Hint as hint:
            problem = f"not correct yet. Hint: {hint}"
        except Exception as err:  # the learner's code crashed: say where to look
            problem = (
                f"your function raised {type(err).__name__}: {err}. Call it on a small "
                "input in a cell of its own to see which line fails"
            )
        else:
            print(f"✓ correct — {exercise}: {note}")
            return
    message = f"✗ {exercise}: {problem}"
    print(message)
    if failures_raise():
        raise AssertionError(message)


_CHECK_DOC = """

Args:
    {name}: the learner's function (``None`` while the exercise is not answered).

Returns:
    None; prints ``✓ correct — …`` when the answer is right.

Raises:
    AssertionError: for a wrong or missing answer, after printing what to try (under an
        autograder, in scripts and tests; in a notebook it only prints)."""


def exercise(title: str) -> Callable[[Callable[[Any], str]], Callable[[Any], None]]:
    """Turn a trial into an exercise's public check (see the module docstring).

    Args:
        title: how messages name the exercise, e.g. ``"exercise 2 (causal mask)"``.

    Returns:
        A decorator. The check it makes keeps the trial's name, docstring (with the
        Args, Returns and Raises sections added) and parameter name, and passes the
        learner's function, the trial and ``title`` to :func:`run_check`.
    """

    def decorate(trial: Callable[[Any], str]) -> Callable[[Any], None]:
        (param,) = inspect.signature(trial).parameters.values()
        annotation = param.annotation
        if annotation is not inspect.Parameter.empty:
            annotation = f"{annotation} | None"
        signature = inspect.Signature(
            [param.replace(annotation=annotation, default=inspect.Parameter.empty)],
            return_annotation=None,
        )

        def check(*args: Any, **kwargs: Any) -> None:
            answer = signature.bind(*args, **kwargs).arguments[param.name]
            run_check(title, answer, trial)

        check.__name__ = trial.__name__
        check.__qualname__ = trial.__qualname__
        check.__module__ = trial.__module__
        check.__doc__ = inspect.cleandoc(trial.__doc__ or "") + _CHECK_DOC.format(name=param.name)
        check.__signature__ = signature  # type: ignore[attr-defined]
        return check

    return decorate
