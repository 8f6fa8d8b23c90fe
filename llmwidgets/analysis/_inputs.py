"""The checks the analysis modules share: a GPT's config, a model (one wording each)."""

from __future__ import annotations

from typing import Any

from torch import nn

from llmwidgets.nn.gpt_config import GPTConfig

__all__ = ["check_config", "check_module"]


def check_config(config: Any) -> GPTConfig:
    """``config`` if it is a :class:`~llmwidgets.GPTConfig`, else a ``ValueError``."""
    if not isinstance(config, GPTConfig):
        raise ValueError(f"config must be a GPTConfig, got {type(config).__name__}")
    return config


def check_module(model: Any) -> nn.Module:
    """``model`` if it is an ``nn.Module``, else a ``ValueError``."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    return model
