"""Which optimiser a Trainer uses.

A model that brings its own ``configure_optimizers`` (as nanoGPT's and minGPT's GPT do,
and :class:`llmwidgets.GPT`) gets it called with the settings under the names it takes:
``lr`` (torch's name) or ``learning_rate`` (nanoGPT's), ``weight_decay``, ``betas`` and
``device_type``. Any other model gets AdamW with decay on the >= 2-D weights only
(:func:`llmwidgets.nn.optim.adamw`, the package's one implementation).
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from llmwidgets.nn.optim import adamw
from llmwidgets.training.config import TrainerConfig

__all__ = ["make_optimizer"]


def make_optimizer(
    model: nn.Module, config: TrainerConfig, device: torch.device
) -> torch.optim.Optimizer:
    """The model's own optimiser when it has ``configure_optimizers``, else :func:`adamw`.

    Args:
        model: the model to optimise.
        config: supplies ``lr``, ``weight_decay`` and ``betas``.
        device: where the model is (nanoGPT's method takes ``device_type``).

    Returns:
        The optimiser.

    Raises:
        ValueError: when ``configure_optimizers`` returns something else.
    """
    configure = getattr(model, "configure_optimizers", None)
    if not callable(configure):
        return adamw(model, config.lr, config.weight_decay, config.betas)
    # Pass the settings under the names the method takes (nanoGPT's or torch's);
    # a method with **kwargs also gets weight_decay, lr and betas.
    offered = {
        "weight_decay": config.weight_decay,
        "lr": config.lr,
        "learning_rate": config.lr,
        "betas": config.betas,
        "device_type": device.type,
    }
    params = inspect.signature(configure).parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    defaults = {"weight_decay", "lr", "betas"} if takes_kwargs else set()
    optimizer = configure(**{k: v for k, v in offered.items() if k in params or k in defaults})
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"model.configure_optimizers() must return a torch.optim.Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    return optimizer
