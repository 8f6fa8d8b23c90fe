"""Neural-network pieces: pure computation on tensors (no display, no training loop).

* :mod:`~llmwidgets.nn.functional` - chapter 4's formulas from scratch (dense layer,
  softmax with temperature, scaled dot-product attention, cross-entropy, perplexity);
* :mod:`~llmwidgets.nn.gpt_config` - the GPT's sizes, presets and parameter count;
* :mod:`~llmwidgets.nn.gpt` - the GPT (exactly GPT-2's architecture);
* :mod:`~llmwidgets.nn.kv_cache` - the keys and values a GPT keeps while generating;
* :mod:`~llmwidgets.nn.gpt2_weights` - Hugging Face GPT-2 weights into the GPT, checked;
* :mod:`~llmwidgets.nn.multihead` - multi-head attention arithmetic (one implementation);
* :mod:`~llmwidgets.nn.encoder` - bidirectional and cross-attention, the encoder block;
* :mod:`~llmwidgets.nn.vit` - a tiny Vision Transformer over image patches;
* :mod:`~llmwidgets.nn.token_ids` - token ids checked against a vocabulary and a context;
* :mod:`~llmwidgets.nn.attention` - attention weights: checks, normalising, labels;
* :mod:`~llmwidgets.nn.capture` - attention weights captured from a model;
* :mod:`~llmwidgets.nn.sampling` - temperature, top-k, top-p and sampling;
* :mod:`~llmwidgets.nn.generation` - running a model: ``generate`` (with the KV cache);
* :mod:`~llmwidgets.nn.optim` - AdamW with decay on the matrices only;
* :mod:`~llmwidgets.nn.modes` - ``eval_mode``: inference without dropout or gradients.
"""

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
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.nn.optim import adamw, decay_groups
from llmwidgets.nn.sampling import entropy, kept_mask, sample_next, sampling_probs
from llmwidgets.nn.vit import ViT, ViTConfig

__all__ = [
    "GPT",
    "PRESETS",
    "ViT",
    "ViTConfig",
    "AttentionData",
    "GPTConfig",
    "KVCache",
    "adamw",
    "capture_attention",
    "causal_mask",
    "cross_entropy",
    "decay_groups",
    "dense",
    "entropy",
    "eval_mode",
    "generate",
    "gpt_param_count",
    "kept_mask",
    "model_device",
    "normalize_attention",
    "perplexity",
    "sample_next",
    "sampling_probs",
    "scaled_dot_product_attention",
    "softmax",
]
