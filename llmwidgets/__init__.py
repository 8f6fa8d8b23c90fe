"""llmwidgets: the reusable pieces of *The LLM Ecosystem* book.

Modules (one concept each):

* :mod:`llmwidgets.device` - device, mixed precision, seeding, environment report;
* :mod:`llmwidgets.quick` - the quick-mode switch CI uses to shrink notebooks;
* :mod:`llmwidgets.data` - pinned, hash-verified corpora with a local mirror;
* :mod:`llmwidgets.display` - plotly figures that render in every frontend and the book;
* :mod:`llmwidgets.functional` - chapter 4's formulas from scratch (dense, softmax, attention,
  cross-entropy, perplexity);
* :mod:`llmwidgets.checks` - checks for the notebooks' exercises;
* :mod:`llmwidgets.student` - writes student versions of the notebooks.
"""

from .data import CORPORA, CorpusError, corpus_path, load_text
from .device import (
    Precision,
    environment_report,
    pick_device,
    pick_precision,
    print_environment,
    seed_everything,
)
from .display import figure_bundle, show, update
from .functional import (
    causal_mask,
    cross_entropy,
    dense,
    perplexity,
    scaled_dot_product_attention,
    softmax,
)
from .quick import is_quick, pick

__version__ = "0.1.0"

__all__ = [
    "CORPORA",
    "CorpusError",
    "Precision",
    "causal_mask",
    "corpus_path",
    "cross_entropy",
    "dense",
    "environment_report",
    "figure_bundle",
    "is_quick",
    "load_text",
    "perplexity",
    "pick",
    "pick_device",
    "pick_precision",
    "print_environment",
    "scaled_dot_product_attention",
    "seed_everything",
    "show",
    "softmax",
    "update",
]
