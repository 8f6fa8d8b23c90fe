"""Core: what every other layer stands on. Imports nothing from the rest of the package.

* :mod:`~llmwidgets.core.device` - ``setup`` (the one set-up call), device, mixed precision,
  seeding, environment report;
* :mod:`~llmwidgets.core.quick` - the quick-mode switch CI uses to shrink notebooks;
* :mod:`~llmwidgets.core.data` - pinned, hash-verified corpora with a cache and a local mirror;
* :mod:`~llmwidgets.core.validate` - the package's one set of input checks.
"""

from llmwidgets.core.data import CORPORA, CorpusError, corpus_path, load_text
from llmwidgets.core.device import (
    Precision,
    Setup,
    environment_report,
    pick_device,
    pick_precision,
    print_environment,
    seed_everything,
    setup,
    thread_advice,
)
from llmwidgets.core.quick import is_quick, pick

__all__ = [
    "CORPORA",
    "CorpusError",
    "Precision",
    "Setup",
    "corpus_path",
    "environment_report",
    "is_quick",
    "load_text",
    "pick",
    "pick_device",
    "pick_precision",
    "print_environment",
    "seed_everything",
    "setup",
    "thread_advice",
]
