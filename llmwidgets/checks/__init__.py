"""Checks for the notebooks' exercises.

Each exercise ends with a cell such as ``check_softmax_temperature(my_softmax)``.
A check prints ``✓ correct …`` when the answer is right. When it is wrong, it
prints a hint (aimed at the most likely slip, saying what to try next) and raises
``AssertionError``, so an autograder or ``pytest --nbval`` marks the cell as failed.
An answer that is still ``None`` or raises ``NotImplementedError`` is reported as
"not answered yet".

One module per notebook holds its checks, over the shared framework in
:mod:`~llmwidgets.checks._core` (:class:`Hint`, :func:`expect_close`, :func:`run_check`
and the ``@exercise`` decorator):

==========  ====================================================================
``ch02``    attention masks, next-token probabilities, training pairs, model family
``ch03a``   numerical gradient, bigram loss, context windows, MLP parameters
``ch03b``   character tokenizer, tokens per character, the two steps of a BPE merge
``ch03c``   score spread, the causal mask's leak, sliding-window and prefix-LM attention,
            the attention layer's parameters
``ch03d``   GPT parameter count, LayerNorm, the pre-LN block, weight tying
``ch03e``   reading and writing schedules, gradient accumulation, clipping under SGD and
            Adam, what a checkpoint must hold
``ch04``    softmax with temperature, causal mask, attention, perplexity
``ch05``    the seq2seq loss, teacher forcing, beam search, Chinese numerals
``ch07``    entropy, top-p, the sampling distribution, the moving average
==========  ====================================================================

This module only re-exports them, so ``from llmwidgets.checks import check_…`` works
for every check.
"""

from llmwidgets.checks._core import Hint, expect_close, run_check
from llmwidgets.checks.ch02 import (  # notebook 02 imports FAMILY_TASKS; not in __all__
    FAMILIES,  # noqa: F401
    FAMILY_TASKS,  # noqa: F401
    check_attention_masks,
    check_model_family,
    check_next_token_probs,
    check_training_pairs,
)
from llmwidgets.checks.ch03a import (
    check_bigram_loss,
    check_context_windows,
    check_mlp_lm_params,
    check_numerical_gradient,
)
from llmwidgets.checks.ch03b import (
    check_char_tokenizer,
    check_merge_pair,
    check_most_frequent_pair,
    check_tokens_per_char,
)
from llmwidgets.checks.ch03c import (
    check_attention_param_count,
    check_cheating_fraction,
    check_prefix_lm_mask,
    check_score_std,
    check_sliding_window_attention,
)
from llmwidgets.checks.ch03d import (
    check_gpt_param_count,
    check_layer_norm,
    check_pre_ln_block,
    check_weight_tying,
)
from llmwidgets.checks.ch03e import (
    check_accumulated_gradients,
    check_clipped_update_ratio,
    check_first_differing_step,
    check_linear_decay_lr,
    check_predicted_lr,
)
from llmwidgets.checks.ch04 import (
    check_attention,
    check_causal_mask,
    check_perplexity,
    check_softmax_temperature,
)
from llmwidgets.checks.ch05 import (
    check_beam_search,
    check_chinese_to_int,
    check_seq2seq_loss,
    check_teacher_forcing,
)
from llmwidgets.checks.ch07 import check_ema, check_entropy, check_sampling_probs, check_top_p_kept

__all__ = [
    "Hint",
    "check_accumulated_gradients",
    "check_attention",
    "check_attention_masks",
    "check_attention_param_count",
    "check_beam_search",
    "check_bigram_loss",
    "check_causal_mask",
    "check_char_tokenizer",
    "check_cheating_fraction",
    "check_chinese_to_int",
    "check_clipped_update_ratio",
    "check_context_windows",
    "check_ema",
    "check_entropy",
    "check_first_differing_step",
    "check_gpt_param_count",
    "check_layer_norm",
    "check_linear_decay_lr",
    "check_merge_pair",
    "check_mlp_lm_params",
    "check_model_family",
    "check_most_frequent_pair",
    "check_next_token_probs",
    "check_numerical_gradient",
    "check_perplexity",
    "check_pre_ln_block",
    "check_predicted_lr",
    "check_prefix_lm_mask",
    "check_sampling_probs",
    "check_score_std",
    "check_seq2seq_loss",
    "check_sliding_window_attention",
    "check_softmax_temperature",
    "check_teacher_forcing",
    "check_tokens_per_char",
    "check_top_p_kept",
    "check_training_pairs",
    "check_weight_tying",
    "expect_close",
    "run_check",
]
