"""Checks for the notebooks' exercises.

Each exercise ends with a cell such as ``checks.check_softmax_temperature(my_softmax)``.
A check prints ``✓ correct …`` when the answer is right. When it is wrong, it prints a
hint (aimed at the most likely slip, saying what to try next); under nbgrader's autograder,
in scripts and in tests it then raises ``AssertionError``, so the cell scores 0 (in a
learner's notebook it only prints, so *Run All* reaches the end; see
:func:`~llmwidgets.checks._core.failures_raise`). An answer that is still ``None`` or
raises ``NotImplementedError`` is reported as "not answered yet".

One module per notebook holds its checks - ``ch02`` for ``02_core_concepts``, ``ch03a``
for ``03a_neural_networks`` and so on - over the shared framework in
:mod:`~llmwidgets.checks._core` (:class:`Hint`, :func:`expect_close`, :func:`run_check`
and the ``@exercise`` decorator). This package exports every name in the ``__all__`` of
every ``ch*`` module, found when it is imported: a new chapter adds its module, nothing else.
"""

from __future__ import annotations

import importlib as _importlib
import pkgutil as _pkgutil

from llmwidgets.checks._core import Hint, expect_close, run_check, when_answered

__all__ = ["Hint", "expect_close", "run_check", "when_answered"]

for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda info: info.name):
    if _info.name.startswith("ch"):
        _module = _importlib.import_module(f"{__name__}.{_info.name}")
        for _name in _module.__all__:
            globals()[_name] = getattr(_module, _name)
        __all__ += list(_module.__all__)
