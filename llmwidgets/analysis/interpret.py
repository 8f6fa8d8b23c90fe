"""Looking inside the GPT: the logit lens, induction heads, and head ablation.

Everything here observes or edits the book's :class:`~llmwidgets.nn.gpt.GPT` from outside,
with forward hooks: the model's code is not changed.

* :func:`residual_stream` / :func:`logit_lens` (nostalgebraist, 2020) - the residual stream
  after the embeddings and after each block, each read out with the final LayerNorm and
  the head: what would the model predict if it stopped at layer l? The last reading *is*
  the model's output;
* :func:`repeated_tokens` / :func:`induction_scores` (Olsson et al., 2022) - on a random
  sequence repeated twice, an induction head attends from a token of the second copy to
  the token that *followed* its previous occurrence (and so can copy it): the score of a
  head is its mean attention weight on that position;
* :func:`ablate_heads` / :func:`head_ablation_effects` - zero one head's output (its slice
  of the input of ``attn.c_proj``) and measure how much the loss rises;
* :func:`head_attention` / :func:`compare_heads` - attention weights are not explanations
  (Jain & Wallace, 2019): the head that attends most to a position is not always the head
  whose removal hurts most, and this compares the two rankings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmwidgets.core.validate import check_index, check_int
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.modes import eval_mode
from llmwidgets.nn.token_ids import check_token_ids

__all__ = [
    "ablate_heads",
    "compare_heads",
    "head_ablation_effects",
    "head_attention",
    "induction_scores",
    "logit_lens",
    "position_losses",
    "repeated_tokens",
    "residual_stream",
]


def _check_gpt(model: Any) -> GPT:
    if not isinstance(model, GPT):
        raise ValueError(f"model must be the book's GPT, got {type(model).__name__}")
    return model


def _ids(model: GPT, idx: Any) -> Tensor:
    return check_token_ids(idx, model.config.vocab_size, block_size=model.config.block_size)


def residual_stream(model: GPT, idx: Tensor) -> Tensor:
    """The residual stream after the embeddings and after every block.

    Args:
        model: the GPT.
        idx: token ids ``(B, T)``.

    Returns:
        ``(L + 1, B, T, C)``: entry 0 is token + position embeddings, entry l the output
        of block l - 1.
    """
    idx = _ids(_check_gpt(model), idx)
    seen: list[Tensor] = []

    def keep(module: Any, args: Any, output: Any) -> None:
        seen.append((output[0] if isinstance(output, tuple) else output).detach())

    modules = [model.transformer.drop, *model.transformer.h]
    handles = [m.register_forward_hook(keep) for m in modules]
    try:
        with eval_mode(model):
            model(idx)
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(seen)


def logit_lens(model: GPT, idx: Tensor) -> Tensor:
    """Next-token logits read from the residual stream at every depth.

    Args:
        model: the GPT.
        idx: token ids ``(B, T)``.

    Returns:
        ``(L + 1, B, T, V)``: ``lm_head(ln_f(stream[l]))``; the last equals ``model(idx)``.
    """
    stream = residual_stream(model, idx)
    with eval_mode(model):
        return model.lm_head(model.transformer.ln_f(stream))


def position_losses(model: GPT, idx: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy at every position, without averaging.

    Args:
        model: the GPT.
        idx: inputs ``(B, T)``.
        targets: next tokens ``(B, T)``.

    Returns:
        ``(B, T)`` losses in nats.
    """
    idx = _ids(_check_gpt(model), idx)
    if not isinstance(targets, Tensor) or targets.shape != idx.shape:
        got = tuple(targets.shape) if isinstance(targets, Tensor) else type(targets).__name__
        raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {got}")
    with eval_mode(model):
        logits = model(idx).float()  # (B, T, V)
    return F.cross_entropy(logits.transpose(1, 2), targets.long(), reduction="none")


def repeated_tokens(vocab_size: int, length: int, batch: int = 8, seed: int = 0) -> Tensor:
    """Random token sequences, each repeated twice: ``[r_0 .. r_{n-1}, r_0 .. r_{n-1}]``.

    Args:
        vocab_size: ids are drawn uniformly from ``0..vocab_size - 1``.
        length: n, the length of one copy.
        batch: how many sequences.
        seed: seeds a private generator.

    Returns:
        ``(batch, 2·length)`` int64.
    """
    v, n = check_int("vocab_size", vocab_size, 1), check_int("length", length, 2)
    gen = torch.Generator().manual_seed(check_int("seed", seed, 0))
    half = torch.randint(v, (check_int("batch", batch, 1), n), generator=gen)
    return torch.cat([half, half], dim=1)


def head_attention(model: GPT, idx: Tensor, pairs: Sequence[tuple[int, int | None]]) -> Tensor:
    """Each head's mean attention weight from query positions to key positions.

    Args:
        model: the GPT.
        idx: token ids ``(B, T)``.
        pairs: ``(query, key)`` positions; ``(query, None)`` takes the head's largest weight
            from that query (on whichever key it attends to most). The weights are
            averaged over pairs and batch.

    Returns:
        ``(L, H)``.
    """
    idx = _ids(_check_gpt(model), idx)
    if not pairs:
        raise ValueError("pairs is empty: give at least one (query, key) position pair")
    T = idx.shape[1]
    with eval_mode(model):
        _, attentions = model(idx, return_attention=True)
    att = torch.stack(attentions).float()  # (L, B, H, T, T)
    weights = []
    for query, key in pairs:
        row = att[..., check_index("query", query, T, "positions"), :]  # (L, B, H, T)
        if key is None:
            weights.append(row.max(dim=-1).values)
        else:
            weights.append(row[..., check_index("key", key, T, "positions")])
    return torch.stack(weights).mean(dim=(0, 2))  # (pairs, L, B, H) -> (L, H)


def induction_scores(
    model: GPT, length: int | None = None, batch: int = 8, seed: int = 0
) -> Tensor:
    """The induction score of every head on repeated random sequences.

    For a token at position ``n + i`` of the second copy, the previous occurrence is at
    ``i`` and the token that followed it at ``i + 1``: an induction head attends there.
    A head that always looks ``n - 1`` positions back scores as high: a model trained only
    on copies of one length can learn that positional shortcut instead (check with
    :func:`head_attention` on copies placed after a random prefix).

    Args:
        model: the GPT.
        length: n, one copy's length; ``None`` = ``block_size // 2``.
        batch: random sequences averaged.
        seed: seeds them.

    Returns:
        ``(L, H)`` scores in [0, 1]: the mean attention weight on the induction target
        (about ``1 / position`` for a head that attends uniformly).
    """
    n = length if length is not None else _check_gpt(model).config.block_size // 2
    n = check_int("length", n, 2, _check_gpt(model).config.block_size // 2)
    idx = repeated_tokens(model.config.vocab_size, n, batch, seed)
    return head_attention(model, idx, [(n + i, i + 1) for i in range(n - 1)])


@contextlib.contextmanager
def ablate_heads(model: GPT, heads: Iterable[tuple[int, int]]) -> Iterator[GPT]:
    """Within the block, the given heads' outputs are zero (``(layer, head)`` pairs).

    A head's output is its ``D = C / H`` columns of the input of ``attn.c_proj``; a forward
    pre-hook zeroes them, so the head contributes nothing to the residual stream.

    Args:
        model: the GPT.
        heads: ``(layer, head)`` pairs.

    Returns:
        A context manager yielding the model; the hooks are removed on exit.
    """
    cfg = _check_gpt(model).config
    chosen: dict[int, list[int]] = {}
    for layer, head in heads:
        layer = check_index("layer", layer, cfg.n_layer, "layers", owner="the model")
        head = check_index("head", head, cfg.n_head, "heads", owner="each layer")
        chosen.setdefault(layer, []).append(head)
    D = cfg.head_dim

    def make_hook(dropped: list[int]) -> Any:
        def hook(module: Any, args: tuple) -> tuple:
            y = args[0].clone()  # (B, T, C): the heads side by side
            for h in dropped:
                y[..., h * D : (h + 1) * D] = 0
            return (y, *args[1:])

        return hook

    blocks = model.transformer.h
    handles = [blocks[layer].attn.c_proj.register_forward_pre_hook(make_hook(hs))
               for layer, hs in chosen.items()]  # fmt: skip
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def head_ablation_effects(
    model: GPT, idx: Tensor, targets: Tensor, positions: Tensor | None = None
) -> Tensor:
    """How much the loss rises when each head alone is ablated.

    Args:
        model: the GPT.
        idx: inputs ``(B, T)``.
        targets: next tokens ``(B, T)``.
        positions: ``(B, T)`` bool, the positions whose loss counts; ``None``: all.

    Returns:
        ``(L, H)``: mean loss with the head zeroed minus the mean loss of the intact model.
    """
    base = position_losses(model, idx, targets)
    mask = torch.ones_like(base, dtype=torch.bool) if positions is None else positions
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != base.shape:
        raise ValueError(f"positions must be a bool tensor of shape {tuple(base.shape)}")
    if not mask.any():
        raise ValueError("positions selects no position")
    cfg = model.config
    effects = torch.zeros(cfg.n_layer, cfg.n_head)
    for layer in range(cfg.n_layer):
        for head in range(cfg.n_head):
            with ablate_heads(model, [(layer, head)]):
                losses = position_losses(model, idx, targets)
            effects[layer, head] = (losses[mask] - base[mask]).mean()
    return effects


def _ranks(x: Tensor) -> Tensor:
    """Rank 0 = the largest value (ties in flattening order)."""
    order = torch.argsort(-x.flatten(), stable=True)
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(len(order))
    return ranks


def compare_heads(attention: Tensor, effects: Tensor) -> dict[str, Any]:
    """Does the head with the most attention matter the most? Two ``(L, H)`` maps compared.

    Args:
        attention: e.g. :func:`head_attention` or :func:`induction_scores`.
        effects: :func:`head_ablation_effects` of the same heads.

    Returns:
        ``top_attention`` and ``top_effect`` (``(layer, head)`` of each maximum), ``same``
        (whether they are one head), ``effect_rank_of_top_attention`` (0 = it is also the
        most harmful to remove) and ``spearman`` (rank correlation of the two maps).
    """
    for name, value in (("attention", attention), ("effects", effects)):
        if not isinstance(value, Tensor) or value.dim() != 2:
            raise ValueError(f"{name} must be an (L, H) tensor")
    if attention.shape != effects.shape:
        raise ValueError(f"attention {tuple(attention.shape)} but effects {tuple(effects.shape)}")
    H = attention.shape[1]
    ra, re = _ranks(attention).double(), _ranks(effects).double()
    top_a, top_e = int(ra.argmin()), int(re.argmin())
    spearman = torch.corrcoef(torch.stack([ra, re]))[0, 1] if ra.numel() > 1 else torch.nan
    return {
        "top_attention": divmod(top_a, H),
        "top_effect": divmod(top_e, H),
        "same": top_a == top_e,
        "effect_rank_of_top_attention": int(re[top_a]),
        "spearman": float(spearman),
    }
