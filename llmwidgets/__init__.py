"""llmwidgets: the reusable pieces of *The LLM Ecosystem* book.

The package is in layers; each one imports only from the layers above it in this list:

* :mod:`llmwidgets.core` - device and precision, seeding, quick mode, corpora, input checks;
* :mod:`llmwidgets.nn` - chapter 4's functional pieces, the GPT, attention capture,
  optimiser groups, sampling and generation;
* :mod:`llmwidgets.text` - tokenizers, and the alignment of token pieces to text;
* :mod:`llmwidgets.training` - batches, the loss and evaluation, the metric history, the
  trainer and its callbacks;
* :mod:`llmwidgets.widgets` - display helpers and the widgets (display code only);
  :mod:`llmwidgets.seq2seq` - chapter 5's number-translation task, models and decoding;
* :mod:`llmwidgets.apps` - chapter 6's applications (constrained decoding, data-to-text,
  search, recommendation, classification, chat, LoRA), as ``lw.apps.<name>``;
* :mod:`llmwidgets.analysis` - chapter 8's experiments (compute, memory, scaling laws,
  quantisation, DDP, a ViT, memorisation, interpretability, calibration), as
  ``lw.analysis.<name>``;
* :mod:`llmwidgets.checks` - the automatic checks of the notebooks' exercises.

``import llmwidgets as lw`` gives every public name (``lw.GPT``, ``lw.Trainer``,
``lw.show`` ...); see ``README.md`` for the map of modules.
"""

import importlib as _importlib
import sys as _sys

from llmwidgets import analysis as analysis  # chapter 8: lw.analysis.<name>
from llmwidgets import apps as apps  # chapter 6's applications: lw.apps.<name>
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
)
from llmwidgets.core.quick import is_quick, pick
from llmwidgets.nn.attention import AttentionData, normalize_attention
from llmwidgets.nn.capture import capture_attention
from llmwidgets.nn.functional import (
    causal_mask,
    cross_entropy,
    dense,
    perplexity,
    scaled_dot_product_attention,
    softmax,
)
from llmwidgets.nn.generation import generate
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.gpt_config import PRESETS, GPTConfig, gpt_param_count
from llmwidgets.nn.kv_cache import KVCache
from llmwidgets.nn.sampling import kept_mask, sample_next, sampling_probs
from llmwidgets.seq2seq.decoding import beam_search, greedy_decode
from llmwidgets.seq2seq.number_task import NumberTask
from llmwidgets.seq2seq.number_words import number_to_chinese, number_to_english
from llmwidgets.seq2seq.rnn import AttentionGRUSeq2Seq, GRUSeq2Seq
from llmwidgets.seq2seq.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
from llmwidgets.seq2seq.translation import accuracy_by_length, translate
from llmwidgets.text.sentencepiece_training import train_sentencepiece
from llmwidgets.text.spans import token_spans
from llmwidgets.text.tokenizers import CharTokenizer, SentencePieceTokenizer, tokens_per_char
from llmwidgets.training.batches import TokenBatcher, split_tokens
from llmwidgets.training.callbacks import StopTraining
from llmwidgets.training.datasets import TextData, text_data
from llmwidgets.training.files import CheckpointError
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.losses import evaluate_loss, next_token_loss
from llmwidgets.training.recipes import CPU_RECIPE, char_model, train_char_model
from llmwidgets.training.store import load_model, save_model, saved_models
from llmwidgets.training.trainer import Trainer, TrainerConfig, lr_at
from llmwidgets.widgets.attention_figures import grid_figure, heatmap_figure
from llmwidgets.widgets.attention_lines import lines_figure
from llmwidgets.widgets.attention_viewer import AttentionViewer, attention_viewer
from llmwidgets.widgets.chat import ChatWidget
from llmwidgets.widgets.display import LiveFigure, figure_bundle, show, update
from llmwidgets.widgets.loss_figure import loss_figure
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.loss_status import status_line
from llmwidgets.widgets.sampling_explorer import SamplingExplorer, sampling_explorer
from llmwidgets.widgets.token_viewer import TokenViewer, token_viewer

__version__ = "0.2.0"

# Module paths of version 0.1 (a flat package), kept for one release so that notebooks
# saved from it still import: ``from llmwidgets.model import GPT`` keeps working.
_MOVED = {
    "attention_capture": "llmwidgets.nn",  # split into nn.attention and nn.capture
    "batches": "llmwidgets.training.batches",
    "data": "llmwidgets.core.data",
    "device": "llmwidgets.core.device",
    "display": "llmwidgets.widgets.display",
    "functional": "llmwidgets.nn.functional",
    "history": "llmwidgets.training.history",
    "loss_plot": "llmwidgets.widgets.loss_plot",
    "model": "llmwidgets.nn.gpt",
    "quick": "llmwidgets.core.quick",
    "sampling": "llmwidgets.nn.sampling",
    "seq2seq_transformer": "llmwidgets.seq2seq.transformer",
    "tokenizers": "llmwidgets.text.tokenizers",
    "trainer": "llmwidgets.training.trainer",
    "translation": "llmwidgets.seq2seq",  # split into number_words, number_task, translation
}
for _old, _new in _MOVED.items():
    _sys.modules.setdefault(f"{__name__}.{_old}", _importlib.import_module(_new))
del _old, _new

__all__ = [
    "accuracy_by_length",
    "CPU_RECIPE",
    "char_model",
    "train_char_model",
    "saved_models",
    "save_model",
    "load_model",
    "CheckpointError",
    "text_data",
    "TextData",
    "StopTraining",
    "setup",
    "Setup",
    "attention_viewer",
    "AttentionData",
    "AttentionGRUSeq2Seq",
    "AttentionViewer",
    "beam_search",
    "capture_attention",
    "causal_mask",
    "CharTokenizer",
    "ChatWidget",
    "CORPORA",
    "corpus_path",
    "CorpusError",
    "cross_entropy",
    "dense",
    "environment_report",
    "evaluate_loss",
    "figure_bundle",
    "generate",
    "GPT",
    "gpt_param_count",
    "GPTConfig",
    "KVCache",
    "greedy_decode",
    "grid_figure",
    "GRUSeq2Seq",
    "heatmap_figure",
    "is_quick",
    "kept_mask",
    "lines_figure",
    "LiveFigure",
    "LiveLossPlot",
    "load_text",
    "loss_figure",
    "lr_at",
    "MetricHistory",
    "next_token_loss",
    "normalize_attention",
    "number_to_chinese",
    "number_to_english",
    "NumberTask",
    "perplexity",
    "pick",
    "pick_device",
    "pick_precision",
    "Precision",
    "PRESETS",
    "print_environment",
    "sample_next",
    "sampling_explorer",
    "sampling_probs",
    "SamplingExplorer",
    "scaled_dot_product_attention",
    "seed_everything",
    "SentencePieceTokenizer",
    "show",
    "softmax",
    "split_tokens",
    "status_line",
    "token_spans",
    "token_viewer",
    "TokenBatcher",
    "tokens_per_char",
    "TokenViewer",
    "train_sentencepiece",
    "Trainer",
    "TrainerConfig",
    "TransformerSeq2Seq",
    "TransformerSeq2SeqConfig",
    "translate",
    "update",
]
