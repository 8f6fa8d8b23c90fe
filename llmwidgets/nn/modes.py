"""``eval_mode``: run a model for inference (no dropout, no gradients), then restore it.

Sampling, evaluation, attention capture and decoding all need the same three things:
switch dropout off (``model.eval()``), stop recording the autograd graph
(``torch.no_grad()``), and afterwards put every submodule back in the mode it was in,
even when an exception interrupts them. This is the package's one implementation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = ["eval_mode", "model_device"]


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """Eval mode and ``torch.no_grad()`` inside the block; each submodule's mode restored.

    Args:
        model: an ``nn.Module``, or any callable (then only ``no_grad`` applies).

    Returns:
        A context manager that yields ``model``.
    """
    modes = {m: m.training for m in model.modules()} if isinstance(model, nn.Module) else {}
    if modes:
        model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        for module, training in modes.items():
            module.training = training


def model_device(model: Any, default: torch.device | str = "cpu") -> torch.device:
    """The device of a model's first parameter.

    Args:
        model: an ``nn.Module`` (or any callable).
        default: returned for a callable or a module without parameters.

    Returns:
        A ``torch.device``.
    """
    param = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    return torch.device(default) if param is None else param.device
