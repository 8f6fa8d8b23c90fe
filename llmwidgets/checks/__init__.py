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
``ch03c``   split and merge heads, causal weights, multi-head attention
``ch03d``   GPT parameter count, LayerNorm, the pre-LN block, weight tying
``ch03e``   learning-rate schedule, gradient clipping, the training loop
``ch04``    softmax with temperature, causal mask, attention, perplexity
``ch05``    the seq2seq loss, teacher forcing, beam search, Chinese numerals
``ch07``    entropy, top-p, the sampling distribution, the moving average
``ch08a``   FLOPs per token, Chinchilla's split, an fp16 loss scale, int8 rows
``ch08b``   a ViT's parameters, unpatchify, the patch convolution, permuted positions
``ch08c``   exposure, an unseen canary's exposure, the logit lens, previous-token scores
``ch08d``   the ECE, a mixture's ECE, the energy of training, selective answers
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
    check_causal_attention_weights,
    check_merge_heads,
    check_multihead_attention,
    check_split_heads,
)
from llmwidgets.checks.ch03d import (
    check_gpt_param_count,
    check_layer_norm,
    check_pre_ln_block,
    check_weight_tying,
)
from llmwidgets.checks.ch03e import check_clip_grad_norm, check_lr_schedule, check_training_loop
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
from llmwidgets.checks.ch08a import (
    check_chinchilla_allocation,
    check_flops_per_token,
    check_loss_scale,
    check_quantize_rows,
)
from llmwidgets.checks.ch08b import (
    check_conv_patch_embedding,
    check_permuted_positions,
    check_unpatchify,
    check_vit_param_count,
)
from llmwidgets.checks.ch08c import (
    check_exposure,
    check_lens_at,
    check_previous_token_scores,
    check_unseen_exposure,
)
from llmwidgets.checks.ch08d import (
    check_ece,
    check_mixture_ece,
    check_selective_answers,
    check_training_energy,
)

__all__ = [
    "Hint",
    "check_attention",
    "check_attention_masks",
    "check_beam_search",
    "check_bigram_loss",
    "check_causal_attention_weights",
    "check_causal_mask",
    "check_char_tokenizer",
    "check_chinchilla_allocation",
    "check_chinese_to_int",
    "check_clip_grad_norm",
    "check_context_windows",
    "check_conv_patch_embedding",
    "check_ece",
    "check_ema",
    "check_entropy",
    "check_exposure",
    "check_flops_per_token",
    "check_gpt_param_count",
    "check_layer_norm",
    "check_lens_at",
    "check_loss_scale",
    "check_lr_schedule",
    "check_merge_heads",
    "check_merge_pair",
    "check_mixture_ece",
    "check_mlp_lm_params",
    "check_model_family",
    "check_most_frequent_pair",
    "check_multihead_attention",
    "check_next_token_probs",
    "check_numerical_gradient",
    "check_permuted_positions",
    "check_perplexity",
    "check_pre_ln_block",
    "check_previous_token_scores",
    "check_quantize_rows",
    "check_sampling_probs",
    "check_selective_answers",
    "check_seq2seq_loss",
    "check_softmax_temperature",
    "check_split_heads",
    "check_teacher_forcing",
    "check_tokens_per_char",
    "check_top_p_kept",
    "check_training_energy",
    "check_training_loop",
    "check_training_pairs",
    "check_unpatchify",
    "check_unseen_exposure",
    "check_vit_param_count",
    "check_weight_tying",
    "expect_close",
    "run_check",
]
