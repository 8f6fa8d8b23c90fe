"""Images as tokens: scikit-learn's 8 x 8 digits, batches of them, and training a classifier.

The data is ``sklearn.datasets.load_digits`` (1,797 handwritten digits, 8 x 8 pixels of 0..16,
shipped with scikit-learn: nothing is downloaded). The model is the book's tiny Vision
Transformer, :class:`llmwidgets.nn.vit.ViT`, trained by the book's own
:class:`~llmwidgets.training.trainer.Trainer`:

* :func:`digits_data` - pixels scaled to [0, 1], a seeded train / test split, two batchers;
* :class:`ImageBatcher` - random batches of images and labels in the Trainer's ``(x, y)``
  form (chapter 5's batcher over other rows); a label is a "sequence" of one target, so
  the Trainer's next-token loss is the ordinary classification cross-entropy;
* :func:`train_classifier` - the Trainer on a classifier ``images -> (B, classes)``;
* :func:`accuracy` - the share of images whose highest-scoring class is the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from llmwidgets.analysis._inputs import check_module
from llmwidgets.core.validate import check_int, check_real
from llmwidgets.nn.modes import eval_mode, model_device
from llmwidgets.training.config import TrainerConfig
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.row_batcher import RowBatcher
from llmwidgets.training.trainer import Trainer

__all__ = ["DigitsData", "ImageBatcher", "accuracy", "digits_data", "train_classifier"]


class ImageBatcher(RowBatcher):
    """Random batches ``(images, labels[:, None])`` of a labelled image set.

    A :class:`~llmwidgets.training.row_batcher.RowBatcher` (random rows drawn with its own
    generator, saved in checkpoints; fixed evaluation batches of consecutive rows) whose
    rows are images and their labels.

    Args:
        images: ``(N, c, H, W)`` floats.
        labels: ``(N,)`` class ids.
        batch_size: images per batch.
        seed: seeds the batcher's own generator.
    """

    def __init__(self, images: Tensor, labels: Tensor, batch_size: int, seed: int = 0) -> None:
        if not isinstance(images, Tensor) or not isinstance(labels, Tensor):
            raise ValueError("images and labels must be tensors")
        if images.dim() != 4 or labels.shape != images.shape[:1] or len(labels) == 0:
            raise ValueError(
                f"images must be (N, c, H, W) and labels (N,) with N >= 1, got "
                f"{tuple(images.shape)} and {tuple(labels.shape)}"
            )
        self.images, self.labels = images, labels.long()
        super().__init__(self.images, self.labels[:, None], batch_size, seed)  # (N, 1) targets


@dataclass(frozen=True)
class DigitsData:
    """The digits split in two, with a batcher for each part."""

    train_images: Tensor  # (N_train, 1, 8, 8) float32 in [0, 1]
    train_labels: Tensor  # (N_train,) int64, 0..9
    test_images: Tensor  # (N_test, 1, 8, 8)
    test_labels: Tensor  # (N_test,)
    train_batcher: ImageBatcher  # random training batches, seed 1
    test_batcher: ImageBatcher  # batches of the test part (for the validation loss)


def digits_data(test_fraction: float = 0.25, batch_size: int = 64, seed: int = 0) -> DigitsData:
    """scikit-learn's digits, scaled to [0, 1] and split at random (seeded).

    Args:
        test_fraction: the share held out, in (0, 1).
        batch_size: images per batch of both batchers.
        seed: seeds the split.

    Returns:
        A :class:`DigitsData`.
    """
    from sklearn.datasets import load_digits

    frac = check_real("test_fraction", test_fraction, 0, 1, min_open=True, max_open=True)
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(
        check_int("seed", seed, 0)))  # fmt: skip
    n_test = max(1, round(len(labels) * frac))
    test, train = order[:n_test], order[n_test:]
    return DigitsData(images[train], labels[train], images[test], labels[test],
                      ImageBatcher(images[train], labels[train], batch_size, seed=1),
                      ImageBatcher(images[test], labels[test], batch_size, seed=2))  # fmt: skip


class _OnePosition(nn.Module):
    """``model(x) (B, classes)`` as ``(B, 1, classes)``: one "position" for the Trainer."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)[:, None, :]


def train_classifier(
    model: nn.Module, data: DigitsData, steps: int, lr: float = 3e-3, seed: int = 0,
    eval_every: int = 50,
) -> MetricHistory:  # fmt: skip
    """Train an image classifier with the book's Trainer (AdamW, warm-up, cosine).

    Args:
        model: ``images (B, c, H, W) -> logits (B, classes)``, e.g. a ViT.
        data: from :func:`digits_data`; its test part gives the ``val_loss``.
        steps: optimiser steps.
        lr: peak learning rate.
        seed: the Trainer's seed (dropout).
        eval_every: steps between validation losses.

    Returns:
        The run's :class:`~llmwidgets.training.history.MetricHistory`; the model is
        trained in place.
    """
    check_module(model)
    if not isinstance(data, DigitsData):
        raise ValueError(f"data must be a DigitsData, got {type(data).__name__}")
    steps = check_int("steps", steps, 1)
    config = TrainerConfig(max_steps=steps, lr=check_real("lr", lr, 0, min_open=True),
                           min_lr=lr / 10, warmup_steps=max(1, steps // 10), seed=seed,
                           eval_every=check_int("eval_every", eval_every, 1), eval_iters=4,
                           weight_decay=0.05, device=str(model_device(model)))  # fmt: skip
    trainer = Trainer(_OnePosition(model), config, data.train_batcher, data.test_batcher)
    return trainer.fit()


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 512) -> float:
    """The share of images whose highest-scoring class is their label.

    Args:
        model: ``images -> logits (B, classes)``.
        images: ``(N, c, H, W)``.
        labels: ``(N,)``.
        batch_size: images per forward pass.

    Returns:
        A number in [0, 1].
    """
    if not isinstance(labels, Tensor) or not isinstance(images, Tensor):
        raise ValueError("images and labels must be tensors")
    if len(images) != len(labels) or len(labels) == 0:
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    right = 0
    with eval_mode(model):
        device = model_device(model)
        for x, y in zip(images.split(batch_size), labels.split(batch_size), strict=True):
            right += int((model(x.to(device)).argmax(-1).cpu() == y).sum())
    return right / len(labels)
