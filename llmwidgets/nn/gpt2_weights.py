"""GPT-2 weights from Hugging Face into the book's GPT: names, layouts, tying and sizes.

:meth:`llmwidgets.nn.gpt.GPT.from_gpt2_state_dict` is built from three steps here:

1. :func:`normalize_keys` - checks the mapping, adds the ``transformer.`` prefix of
   ``GPT2LMHeadModel`` to a ``GPT2Model`` state dict and drops the causal-mask buffers
   (``attn.bias`` / ``attn.masked_bias``) of older ``transformers`` versions;
2. :func:`resolve_config` - the sizes: read from the tensors' shapes and matched to a
   preset (``config=None``), or the given config, checked against the weights;
3. :func:`copy_weights` - copies every tensor, transposing Hugging Face's ``Conv1D``
   weights, which are stored ``(in, out)``: the transpose of ``nn.Linear``'s.

What can be checked, and what cannot:

* **keys and shapes**: every key must be there and every shape must match (the
  message names the key and both shapes);
* **tying**: a state dict whose ``lm_head.weight`` differs from ``transformer.wte.weight``
  comes from an *untied* model. ``config=None`` detects it and loads the head untied
  (``tie_weights=False``); a config with ``tie_weights=True`` is refused, since tying
  would silently replace that head by the embedding;
* **heads**: the number of heads is in no shape (``c_attn`` is ``(C, 3C)`` for any H).
  ``config=None`` takes it from the matched preset. A config whose sizes are those of a
  GPT-2 checkpoint (``gpt2`` ... ``gpt2-xl``) but whose ``n_head`` differs is refused.
  For any other sizes ``n_head`` is taken on trust: a wrong value loads, and only the
  logits show it - compare them with the source model's, as the tests do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from llmwidgets.nn.gpt_config import PRESETS, GPTConfig

__all__ = ["copy_weights", "normalize_keys", "resolve_config"]

# Hugging Face stores these as Conv1D weights, (in, out): the transpose of nn.Linear's.
_CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
# Buffers of older transformers versions (the causal mask), not parameters. Note that
# "h.0.attn.c_attn.bias" does not end with ".attn.bias": the underscore differs.
_BUFFERS = (".attn.bias", ".attn.masked_bias")
_WTE, _WPE, _HEAD = "transformer.wte.weight", "transformer.wpe.weight", "lm_head.weight"


def normalize_keys(state_dict: Any) -> dict[str, Tensor]:
    """The state dict with prefixed keys and without mask buffers.

    Args:
        state_dict: ``GPT2LMHeadModel.state_dict()`` or ``GPT2Model.state_dict()``.

    Returns:
        A new dict ``{"transformer.h.0.ln_1.weight": tensor, ..., "lm_head.weight": ...}``.

    Raises:
        ValueError: for something that is not a mapping of names to tensors.
    """
    if not isinstance(state_dict, Mapping):
        raise ValueError(
            "state_dict must be a mapping of parameter names to tensors "
            f"(model.state_dict()), got {type(state_dict).__name__}"
        )
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise ValueError(
                f"state_dict must map names to tensors, got {key!r}: {type(value).__name__}"
            )
    return {
        k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}": v
        for k, v in state_dict.items()
        if not k.endswith(_BUFFERS)
    }


def _sizes(sd: Mapping[str, Tensor]) -> dict[str, int] | None:
    """vocab_size, block_size, n_layer and n_embd read from the shapes (None if absent)."""
    if _WTE not in sd or _WPE not in sd or sd[_WTE].dim() != 2 or sd[_WPE].dim() != 2:
        return None
    vocab_size, n_embd = sd[_WTE].shape
    layers = {int(m.group(1)) for k in sd if (m := re.match(r"transformer\.h\.(\d+)\.", k))}
    return dict(
        vocab_size=vocab_size, block_size=sd[_WPE].shape[0], n_layer=len(layers), n_embd=n_embd
    )


def _preset_of(sizes: dict[str, int] | None, gpt2_only: bool = False) -> str | None:
    """The first preset with these sizes (only the GPT-2 checkpoints if ``gpt2_only``)."""
    for name, preset in PRESETS.items():
        if sizes and (not gpt2_only or name.startswith("gpt2")):
            if all(preset[k] == v for k, v in sizes.items()):
                return name
    return None


def _head_difference(sd: Mapping[str, Tensor]) -> float | None:
    """Max |lm_head - wte| when the state dict holds a head that differs, else None."""
    head, wte = sd.get(_HEAD), sd.get(_WTE)
    if head is None or wte is None or head is wte or "meta" in (head.device.type, wte.device.type):
        return None
    if head.shape != wte.shape:
        return float("inf")
    if torch.equal(head, wte):
        return None
    return float((head.float() - wte.float()).abs().max())


def resolve_config(sd: Mapping[str, Tensor], config: GPTConfig | None) -> GPTConfig:
    """The config to build: detected from the shapes, or ``config`` checked against them.

    Args:
        sd: a state dict from :func:`normalize_keys`.
        config: ``None`` to detect a preset (dropout 0.0, for inference), or the sizes.

    Returns:
        The config; with ``config=None``, ``tie_weights`` follows the weights.

    Raises:
        ValueError: when no preset matches, when a tied config would drop an untied
            head, or when ``n_head`` contradicts a GPT-2 checkpoint of these sizes.
    """
    sizes, untied = _sizes(sd), _head_difference(sd)
    if config is None:
        name = _preset_of(sizes)
        if name is None:
            raise ValueError(
                f"no preset has the state dict's sizes {sizes}; pass config=GPTConfig(...) "
                "with the number of heads"
            )
        return GPTConfig.preset(name, dropout=0.0, tie_weights=untied is None)
    if not isinstance(config, GPTConfig):
        raise ValueError(f"config must be a GPTConfig or None, got {type(config).__name__}")
    if config.tie_weights and untied is not None:
        raise ValueError(
            f"the state dict's lm_head.weight differs from transformer.wte.weight (max |Δ| = "
            f"{untied:.3g}): the checkpoint has an untied output head, which "
            "tie_weights=True would drop; pass a config with tie_weights=False (or "
            "config=None to detect it)"
        )
    same_sizes = sizes is not None and all(getattr(config, k) == v for k, v in sizes.items())
    name = _preset_of(sizes, gpt2_only=True) if same_sizes else None
    if name is not None and PRESETS[name]["n_head"] != config.n_head:
        raise ValueError(
            f"the state dict has the sizes of the {name!r} checkpoint, whose attention has "
            f"n_head={PRESETS[name]['n_head']}, but config has n_head={config.n_head}; the "
            "number of heads is not in the shapes, and a wrong one gives wrong logits "
            "(pass config=None to use the preset)"
        )
    return config


def copy_weights(model: nn.Module, sd: Mapping[str, Tensor]) -> None:
    """Copy a normalised GPT-2 state dict into a GPT built from :func:`resolve_config`.

    Args:
        model: the book's GPT (anything with ``config.tie_weights``, ``lm_head`` and
            ``transformer.wte`` and GPT-2's parameter names).
        sd: a state dict from :func:`normalize_keys`.

    Raises:
        ValueError: for missing or unexpected keys, and shapes that do not match.
    """
    sd = dict(sd)
    ours = model.state_dict()
    head_given = _HEAD in sd
    if model.config.tie_weights or not head_given:
        ours.pop(_HEAD)  # tied: it is wte; untied but absent: copied from wte below
        sd.pop(_HEAD, None)
    missing, unexpected = sorted(set(ours) - set(sd)), sorted(set(sd) - set(ours))
    if missing or unexpected:
        raise ValueError(f"state_dict keys differ: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for key, target in ours.items():
            source = sd[key].t() if key.endswith(_CONV1D) else sd[key]
            if source.shape != target.shape:
                raise ValueError(
                    f"{key}: state_dict has shape {tuple(source.shape)} (after transposing "
                    f"Conv1D weights) but the model expects {tuple(target.shape)}"
                )
            target.copy_(source)
        if not model.config.tie_weights and not head_given:
            model.lm_head.weight.copy_(model.transformer.wte.weight)
