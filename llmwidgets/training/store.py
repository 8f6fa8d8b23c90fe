"""A model store: keep a trained model under a name, and load it in a later chapter.

::

    lw.save_model("shakespeare-char", model, tokenizer=data.tokenizer,
                  metadata={"val_loss": trainer.best_val_loss, "steps": trainer.step})
    ...                                                  # another notebook, another day
    saved = lw.load_model("shakespeare-char")           # None when it was never saved
    if saved is not None:
        model, tokenizer = saved.model, saved.tokenizer

A saved model is one file, ``<cache>/models/<name>.pt`` (the cache is
``llmwidgets.core.data.cache_dir()``: ``LLMW_CACHE_DIR``, else ``~/.cache/llmwidgets``),
written atomically and read with ``weights_only=True`` (:mod:`llmwidgets.training.files`).
It holds:

================  ==============================================================
``format``        :data:`STORE_FORMAT`
``model``         the weights (``state_dict``, on the CPU)
``model_class``   the model's class name, e.g. ``"GPT"``
``model_config``  the model's dataclass config as a dict (a ``GPTConfig``), or ``None``
``tokenizer``     the tokenizer's ``state_dict()``, or ``None``
``metadata``      a small dict of numbers, strings, lists and dicts (val loss, steps ...)
================  ==============================================================

:func:`load_model` rebuilds a :class:`~llmwidgets.nn.gpt.GPT` from its ``GPTConfig`` by
itself; for any other class, pass a model of the right shape (``model=``) to load the
weights into.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from llmwidgets.core.data import cache_dir
from llmwidgets.core.quick import is_quick
from llmwidgets.core.validate import check_str
from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.text.tokenizers import CharTokenizer, SentencePieceTokenizer
from llmwidgets.training.checkpoints import check_model_fits, model_config
from llmwidgets.training.files import CheckpointError, load_file, save_file

__all__ = ["STORE_FORMAT", "SavedModel", "load_model", "model_path", "save_model", "saved_models"]

#: The ``format`` tag of a saved model.
STORE_FORMAT = "llmwidgets.SavedModel/1"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a safe file name, no folders
_TOKENIZERS = {"char": CharTokenizer, "sentencepiece": SentencePieceTokenizer}


@dataclass(frozen=True)
class SavedModel:
    """A model loaded from the store, ready to use (in eval mode)."""

    name: str  # the name it was saved under
    path: Path  # its file in the cache
    model: nn.Module  # the rebuilt GPT (on the CPU), or the model passed in, with the weights
    tokenizer: Any  # a CharTokenizer or SentencePieceTokenizer, or None if none was saved
    metadata: dict[str, Any]  # what save_model was given, e.g. {"val_loss": 1.7}


def model_path(name: str) -> Path:
    """The file of the model saved as ``name``.

    Args:
        name: letters, digits, ``.``, ``_`` and ``-`` (a file name, not a path).

    Returns:
        ``cache_dir() / "models" / f"{name}.pt"``; in quick mode ``.../models/quick/...``,
        so a model trained in a few quick-mode steps is never loaded by a full run.

    Raises:
        ValueError: for a name that is not a plain file name.
    """
    check_str("name", name)
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"name must be letters, digits, '.', '_' or '-' (a file name, at most 100 "
            f"characters, starting with a letter or digit), got {name!r}"
        )
    folder = cache_dir() / "models"
    return (folder / "quick" if is_quick() else folder) / f"{name}.pt"


def _plain(value: Any, where: str) -> Any:
    """``value`` as numbers, strings, bools, None, lists and dicts (loadable safely)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise ValueError(
        f"{where} must hold numbers, strings, bools, None, lists and dicts with str keys, "
        f"got {type(value).__name__}"
    )


def save_model(
    name: str, model: nn.Module, tokenizer: Any = None, metadata: dict[str, Any] | None = None
) -> Path:
    """Save a model's weights and config, its tokenizer and a few facts under ``name``.

    An existing model of that name is replaced.

    Args:
        name: see :func:`model_path`.
        model: an ``nn.Module``; its ``config`` (a dataclass, as ``GPT`` has) is saved too.
        tokenizer: a tokenizer with ``state_dict()`` (``CharTokenizer``,
            ``SentencePieceTokenizer``), or ``None``.
        metadata: a small dict (val loss, steps, corpus ...) of numbers, strings, bools,
            None, lists and dicts.

    Returns:
        The file written.

    Raises:
        ValueError: for a bad name, model, tokenizer or metadata.
    """
    path = model_path(name)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    state = None
    if tokenizer is not None:
        state = tokenizer.state_dict() if callable(getattr(tokenizer, "state_dict", None)) else None
        if not isinstance(state, dict) or state.get("type") not in _TOKENIZERS:
            raise ValueError(
                f"tokenizer must be a CharTokenizer or SentencePieceTokenizer (with "
                f"state_dict()), got {type(tokenizer).__name__}"
            )
    return save_file(
        {
            "format": STORE_FORMAT,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "model_class": type(model).__qualname__,
            "model_config": model_config(model),
            "tokenizer": state,
            "metadata": _plain(metadata if metadata is not None else {}, "metadata"),
        },
        path,
    )


def load_model(name: str, model: nn.Module | None = None) -> SavedModel | None:
    """Load the model saved as ``name``, or ``None`` when there is none.

    Args:
        name: see :func:`model_path`.
        model: a model to load the weights into; ``None`` rebuilds a saved ``GPT`` from
            its ``GPTConfig`` (other classes need ``model=``).

    Returns:
        A :class:`SavedModel` (the model in eval mode; a rebuilt GPT is on the CPU), or
        ``None`` when nothing was saved under ``name``.

    Raises:
        CheckpointError: (a ``ValueError``) for a damaged or unsafe file, or one that is
            not a saved model; the message names the path.
        ValueError: when the weights do not fit ``model``, or a non-GPT is loaded without
            ``model=``.
    """
    path = model_path(name)
    if not path.is_file():
        return None
    saved = load_file(path, "a saved model")
    if not isinstance(saved, dict) or saved.get("format") != STORE_FORMAT:
        raise CheckpointError(f"{path} is not a model saved by llmwidgets.save_model()")
    keys = ("model", "model_class", "model_config", "tokenizer", "metadata")
    tokenizer_state = saved.get("tokenizer")
    if any(k not in saved for k in keys) or not (
        tokenizer_state is None
        or (isinstance(tokenizer_state, dict) and tokenizer_state.get("type") in _TOKENIZERS)
    ):
        raise CheckpointError(f"{path} is a damaged saved model: it lacks parts or has others")
    if model is None:
        if saved["model_class"] != "GPT" or saved["model_config"] is None:
            raise ValueError(
                f"{name!r} is a {saved['model_class']}; load_model rebuilds only a GPT by "
                f"itself: pass model= (a {saved['model_class']} of the saved shape)"
            )
        model = GPT(GPTConfig(**saved["model_config"]))
    elif not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module or None, got {type(model).__name__}")
    check_model_fits(saved, model, path)
    model.load_state_dict(saved["model"])
    tokenizer = None
    if tokenizer_state is not None:
        tokenizer = _TOKENIZERS[tokenizer_state["type"]].from_state_dict(tokenizer_state)
    return SavedModel(name, path, model.eval(), tokenizer, dict(saved["metadata"]))


def saved_models() -> list[str]:
    """The names in the store, sorted.

    Returns:
        A list of names (empty when nothing was saved).
    """
    folder = model_path("x").parent  # quick mode has its own folder
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []
