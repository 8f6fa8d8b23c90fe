"""How much arithmetic a GPT costs: the 6·N·D rule, an exact count, and a measurement.

Kaplan et al. (2020) estimate the compute of training as ``C ≈ 6·N·D`` floating-point
operations: N non-embedding parameters, D training tokens, 2 FLOPs (a multiply and an add)
per parameter per token in the forward pass and twice that in the backward pass. This
module gives that rule and checks it two ways:

* :func:`forward_flops` / :func:`training_flops` - every matrix product of the book's GPT
  written out (C = n_embd, L = n_layer, V = vocab_size, T = sequence length, B = batch)::

      forward = 2·B·T·(12·L·C² + V·C)      the Linear layers of the blocks, and the head
              + 4·B·L·T²·C                 Q·Kᵀ and weights·V: (T, D) x (D, T) per head

  The attention term counts the full T x T products, as the kernels compute them (a causal
  mask saves nothing there); LayerNorm, GELU, softmax and the additions (O(B·T·C) each)
  are left out, like Kaplan's table. The backward pass costs two forwards (a product
  ``Y = X W`` needs ``dX = dY Wᵀ`` and ``dW = Xᵀ dY``): training = 3 x forward.
* :func:`count_flops` - the same number counted by PyTorch while the model runs
  (``torch.utils.flop_counter.FlopCounterMode``), so the formula is checked, not trusted.
* :func:`non_embedding_params` / :func:`six_nd` - Kaplan's N and rule.

For GPT-2 small at T = 1024 the rule says 6·85M = 0.51 GFLOPs per token; the exact count
is 0.85: the head (V·C = 38.6M multiply-adds per token) and attention (2·L·T·C per token)
are not in N. For the book's small character models the vocabulary is tiny and the rule
is close.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from llmwidgets.analysis._inputs import check_config, check_module
from llmwidgets.core.validate import check_bool, check_int, check_optional_int
from llmwidgets.nn.gpt_config import GPTConfig
from llmwidgets.training.losses import next_token_loss

__all__ = [
    "count_flops",
    "forward_flops",
    "non_embedding_params",
    "six_nd",
    "training_flops",
]


def non_embedding_params(config: GPTConfig) -> int:
    """Kaplan's N: the parameters of the blocks and the final LayerNorm.

    Left out: the token and position embeddings and the output head (tied or not), whose
    count depends on the vocabulary rather than on the model's capacity.

    Args:
        config: the model's sizes.

    Returns:
        ``L·(12·C² + 13·C) + 2·C`` with biases (``L·(12·C² + 2·C) + C`` without).
    """
    c, n_layer = check_config(config).n_embd, config.n_layer
    per_block = 12 * c * c + (13 * c if config.bias else 2 * c)
    return n_layer * per_block + (2 * c if config.bias else c)


def six_nd(n_params: int, tokens: int) -> float:
    """Kaplan's training compute ``C ≈ 6·N·D`` in FLOPs.

    Args:
        n_params: N, usually :func:`non_embedding_params`.
        tokens: D, the number of training tokens (steps x batch x sequence length).

    Returns:
        ``6.0 * n_params * tokens``.
    """
    n = check_int("n_params", n_params, 1)
    return 6.0 * n * check_int("tokens", tokens, 0)


def forward_flops(config: GPTConfig, batch_size: int = 1, seq_len: int | None = None) -> int:
    """The FLOPs (2 per multiply-add) of the matrix products of one forward pass.

    Args:
        config: the model's sizes.
        batch_size: B, sequences per batch.
        seq_len: T, tokens per sequence; ``None`` = ``config.block_size``.

    Returns:
        ``2·B·T·(12·L·C² + V·C) + 4·B·L·T²·C`` (see the module's docstring).
    """
    c = check_config(config).n_embd
    b = check_int("batch_size", batch_size, 1)
    t = check_optional_int("seq_len", seq_len, 1, config.block_size) or config.block_size
    linear = 12 * config.n_layer * c * c + config.vocab_size * c  # multiply-adds per token
    attention = 2 * config.n_layer * t * c  # Q·Kᵀ and weights·V, per token, all layers
    return 2 * b * t * (linear + attention)


def training_flops(config: GPTConfig, batch_size: int = 1, seq_len: int | None = None) -> int:
    """The FLOPs of one training step (forward and backward): 3 x :func:`forward_flops`.

    Args:
        config, batch_size, seq_len: as in :func:`forward_flops`.

    Returns:
        The count; the optimiser's update (O(N)) is not included.
    """
    return 3 * forward_flops(config, batch_size, seq_len)


def count_flops(
    model: nn.Module, idx: Tensor, targets: Tensor | None = None, backward: bool = True
) -> int:
    """Count the FLOPs of a forward (and backward) pass as PyTorch executes it.

    Uses ``torch.utils.flop_counter.FlopCounterMode``, which adds up the FLOPs of every
    matrix product (``mm``, ``addmm``, ``bmm`` ...) dispatched while it is active. The fused
    attention kernel of the CPU (``scaled_dot_product_attention``) has no FLOP formula in
    torch 2.13, so a model whose ``forward`` takes ``return_attention`` (the book's GPT) is
    run with ``return_attention=True``: the explicit ``Q·Kᵀ`` and ``weights·V`` products
    compute the same numbers and are counted.

    Args:
        model: a model mapping ``idx`` to logits ``(B, T, V)``.
        idx: token ids ``(B, T)``.
        targets: ``(B, T)`` ids for the loss of the backward pass; ``None`` = ``idx``
            (the count does not depend on the values).
        backward: also run and count the backward pass of the next-token loss.

    Returns:
        The total FLOPs counted. The model's gradients are left as the backward pass made
        them (call ``model.zero_grad()`` before training on).
    """
    from torch.utils.flop_counter import FlopCounterMode

    check_module(model)
    if not isinstance(idx, Tensor) or idx.dim() != 2:
        got = tuple(idx.shape) if isinstance(idx, Tensor) else type(idx).__name__
        raise ValueError(f"idx must be a (B, T) tensor of token ids, got {got}")
    check_bool("backward", backward)
    targets = idx if targets is None else targets
    try:
        explicit = "return_attention" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        explicit = False
    with FlopCounterMode(display=False) as counter, torch.set_grad_enabled(backward):
        out = model(idx, return_attention=True) if explicit else model(idx)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        if backward:
            next_token_loss(logits, targets).backward()
    return int(counter.get_total_flops())
