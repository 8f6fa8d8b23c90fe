"""llmwidgets: the reusable pieces of *The LLM Ecosystem* book.

Modules (one concept each):

* :mod:`llmwidgets.device` - device, mixed precision, seeding, environment report;
* :mod:`llmwidgets.quick` - the quick-mode switch CI uses to shrink notebooks;
* :mod:`llmwidgets.data` - pinned, hash-verified corpora with a local mirror;
* :mod:`llmwidgets.display` - plotly figures that render in every frontend and the book;
* :mod:`llmwidgets.functional` - chapter 4's formulas from scratch (dense, softmax, attention,
  cross-entropy, perplexity);
* :mod:`llmwidgets.checks` - checks for the notebooks' exercises;
* :mod:`llmwidgets.student` - writes student versions of the notebooks;
* :mod:`llmwidgets.sampling` - next-token probabilities (temperature, top-k, top-p) and sampling;
* :mod:`llmwidgets.history` - the metric history of a training run (pure data);
* :mod:`llmwidgets.attention_capture` - attention weights: checks, normalising, capture;
* :mod:`llmwidgets.tokenizers` - character and sentencepiece tokenizers (lossless newlines);
* :mod:`llmwidgets.model` - the GPT (exactly GPT-2's architecture), config presets;
* :mod:`llmwidgets.batches` - token windows for next-token training, evaluation loss;
* :mod:`llmwidgets.trainer` - the training loop with callbacks, schedule, checkpoints;
* :mod:`llmwidgets.translation` - chapter 5's task: English number words <-> Chinese numerals;
* :mod:`llmwidgets.seq2seq` - GRU encoder-decoders (plain and Bahdanau attention), greedy and
  beam search; :mod:`llmwidgets.seq2seq_transformer` - a Transformer encoder-decoder.

Widgets (live in a kernel, static plotly figures in the online book; see
``docs/widget-conventions.md``):

* :mod:`llmwidgets.sampling_explorer` - temperature / top-k / top-p sliders over next tokens;
* :mod:`llmwidgets.attention_viewer` - heatmap, line and grid views of attention;
* :mod:`llmwidgets.loss_plot` - a live loss plot fed by a training callback;
* :mod:`llmwidgets.token_viewer` - coloured token pieces with their ids.
"""

from llmwidgets.core.data import CORPORA, CorpusError, corpus_path, load_text
from llmwidgets.core.device import (
    Precision,
    environment_report,
    pick_device,
    pick_precision,
    print_environment,
    seed_everything,
)
from llmwidgets.core.quick import is_quick, pick
from llmwidgets.nn.attention import AttentionData, capture_attention, normalize_attention
from llmwidgets.nn.functional import (
    causal_mask,
    cross_entropy,
    dense,
    perplexity,
    scaled_dot_product_attention,
    softmax,
)
from llmwidgets.nn.gpt import GPT, PRESETS, GPTConfig, gpt_param_count
from llmwidgets.nn.sampling import generate, kept_mask, sample_next, sampling_probs
from llmwidgets.seq2seq.number_task import (
    NumberTask,
    number_to_chinese,
    number_to_english,
    translate,
)
from llmwidgets.seq2seq.rnn import AttentionGRUSeq2Seq, GRUSeq2Seq, beam_search, greedy_decode
from llmwidgets.seq2seq.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
from llmwidgets.text.tokenizers import (
    CharTokenizer,
    SentencePieceTokenizer,
    tokens_per_char,
    train_sentencepiece,
)
from llmwidgets.training.batches import TokenBatcher, evaluate_loss, next_token_loss, split_tokens
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.trainer import Trainer, TrainerConfig, lr_at
from llmwidgets.widgets.attention_viewer import (
    AttentionViewer,
    attention_viewer,
    grid_figure,
    heatmap_figure,
    lines_figure,
)
from llmwidgets.widgets.display import figure_bundle, show, update
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.sampling_explorer import SamplingExplorer, sampling_explorer
from llmwidgets.widgets.token_viewer import TokenViewer, token_spans, token_viewer

__version__ = "0.1.0"

__all__ = [
    "attention_viewer",
    "AttentionData",
    "AttentionGRUSeq2Seq",
    "AttentionViewer",
    "beam_search",
    "capture_attention",
    "causal_mask",
    "CharTokenizer",
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
    "greedy_decode",
    "grid_figure",
    "GRUSeq2Seq",
    "heatmap_figure",
    "is_quick",
    "kept_mask",
    "lines_figure",
    "LiveLossPlot",
    "load_text",
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
