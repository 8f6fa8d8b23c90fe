"""Classification with a pretrained GPT: which Shakespeare character speaks a line?

* :func:`speaker_lines` - labelled data taken from the corpus itself: in tinyshakespeare
  every speech starts with a header line ``"NAME:"``, so each line of a speech is labelled
  with its speaker. Only the ``n_speakers`` most frequent speakers are kept; the split is
  by **speech** (every ``test_every``-th speech of each speaker goes to the test set), so
  no test line shares a speech with a training line;
* :class:`GPTClassifier` - a classification head on the book's GPT: the final hidden
  states (:func:`~llmwidgets.apps.features.hidden_states`) pooled into one vector per
  line, then a linear layer to the classes. Pooling is ``"last"`` by default: the state
  of the last real character, the only position of a causal model that has read the
  whole line (as GPT-2's sequence classifier does); ``"mean"`` is the alternative.
  ``forward(idx, lengths)`` returns ``(B, 1, n_classes)``, one "position" per line, so the
  Trainer's loss (:func:`~llmwidgets.training.losses.next_token_loss`) is exactly the
  classification cross-entropy against ``(B, 1)`` labels;
* :func:`classification_tensors` - lines -> padded ids, lengths and labels, for an
  :class:`~llmwidgets.apps.examples.RowBatcher` ``((ids, lengths), labels)``;
* :func:`predict_classes`, :func:`confusion_matrix`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from llmwidgets.apps.features import POOLINGS, hidden_states, pool
from llmwidgets.core.data import load_text
from llmwidgets.core.validate import check_choice, check_int, check_str
from llmwidgets.nn.gpt import GPT
from llmwidgets.nn.modes import eval_mode, model_device

__all__ = ["GPTClassifier", "SpeakerData", "classification_tensors", "confusion_matrix",
           "predict_classes", "speaker_lines"]  # fmt: skip

_HEADER = re.compile(r"^([A-Z][A-Za-z' ]*[A-Za-z]):$")  # "ROMEO:", "KING RICHARD III:"


@dataclass(frozen=True)
class SpeakerData:
    """Lines labelled with their speaker, split by speech."""

    speakers: tuple[str, ...]  # the class names, most frequent speaker first
    train: list[tuple[str, int]]  # (line, class index)
    test: list[tuple[str, int]]  # (line, class index)


def speaker_lines(
    n_speakers: int = 4,
    text: str | None = None,
    max_chars: int = 64,
    test_every: int = 5,
    min_chars: int = 10,
) -> SpeakerData:
    """Lines of the ``n_speakers`` characters with the most speeches, labelled by speaker.

    Args:
        n_speakers: how many speakers (classes), >= 2.
        text: the corpus (``None``: tinyshakespeare).
        max_chars: a longer line is cut to its first ``max_chars`` characters (the
            pretrained model's context).
        test_every: every ``test_every``-th speech of a speaker is a test speech.
        min_chars: lines shorter than this ("Ay.", "No.") are left out: they carry no style.

    Returns:
        A :class:`SpeakerData`.
    """
    n_speakers = check_int("n_speakers", n_speakers, 2)
    max_chars, min_chars = (
        check_int("max_chars", max_chars, 1),
        check_int("min_chars", min_chars, 1),
    )
    test_every = check_int("test_every", test_every, 2)
    text = load_text("tinyshakespeare") if text is None else check_str("text", text)
    speeches: list[tuple[str, list[str]]] = []
    for block in text.split("\n\n"):
        header, _, body = block.strip("\n").partition("\n")
        name = _HEADER.match(header.strip())
        if name and body.strip():
            speeches.append((name.group(1), [ln.strip() for ln in body.split("\n")]))
    counts = Counter(name for name, _ in speeches)
    if len(counts) < n_speakers:
        raise ValueError(f"the text has {len(counts)} speakers, fewer than n_speakers={n_speakers}")
    speakers = tuple(name for name, _ in counts.most_common(n_speakers))
    label = {name: i for i, name in enumerate(speakers)}
    seen: Counter[str] = Counter()
    train, test = [], []
    for name, lines in speeches:
        if name not in label:
            continue
        seen[name] += 1
        part = test if seen[name] % test_every == 0 else train
        part += [(ln[:max_chars], label[name]) for ln in lines if len(ln) >= min_chars]
    return SpeakerData(speakers, train, test)


class GPTClassifier(nn.Module):
    """A linear head on a GPT's pooled final hidden states.

    Args:
        gpt: the body, e.g. chapter 3's pretrained model (``lw.char_model().model``) or
            a fresh ``GPT`` of the same config (the from-scratch baseline). Its
            ``lm_head`` is not used.
        n_classes: the number of classes (>= 2).
        pooling: ``"last"`` (default) or ``"mean"`` (see the module's docstring).
    """

    def __init__(self, gpt: GPT, n_classes: int, pooling: str = "last") -> None:
        super().__init__()
        if not isinstance(gpt, GPT):
            raise ValueError(f"gpt must be the book's GPT, got {type(gpt).__name__}")
        self.gpt = gpt
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.n_classes = check_int("n_classes", n_classes, 2)
        self.head = nn.Linear(gpt.config.n_embd, self.n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, idx: Tensor, lengths: Tensor) -> Tensor:
        """Class logits ``(B, 1, n_classes)`` for right-padded lines ``idx`` (B, T).

        Columns after the longest line of the batch are only padding: they are cut off
        before the body runs (a causal model never reads them), so a batch of short lines
        costs what its longest line costs, not the whole padded width.
        """
        idx = idx[:, : int(lengths.max())]  # (B, T') with T' = the longest real line
        h = hidden_states(self.gpt, idx)  # (B, T', C)
        return self.head(pool(h, lengths, self.pooling))[:, None, :]  # (B, 1, n_classes)


def classification_tensors(
    examples: Sequence[tuple[str, int]], tokenizer: Any, block_size: int, n_classes: int
) -> tuple[tuple[Tensor, Tensor], Tensor]:
    """``((ids, lengths), labels)``: ids (N, T) right-padded with 0, lengths (N,), labels (N, 1).

    Raises:
        ValueError: for no examples, an empty line, a line longer than ``block_size``
            tokens, or a label outside ``0..n_classes - 1``.
    """
    block_size, n_classes = (
        check_int("block_size", block_size, 1),
        check_int("n_classes", n_classes, 2),
    )
    if not examples:
        raise ValueError("classification_tensors needs at least one (text, label) example")
    encoded = [
        tokenizer.encode(check_str(f"examples[{i}] text", t)) for i, (t, _) in enumerate(examples)
    ]
    width = max(map(len, encoded))
    if width > block_size:
        i = max(range(len(encoded)), key=lambda j: len(encoded[j]))
        raise ValueError(f"example {i} has {width} tokens, more than block_size={block_size}")
    ids = torch.zeros(len(examples), width, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e)
    labels = [
        check_int(f"examples[{i}] label", y, 0, n_classes - 1) for i, (_, y) in enumerate(examples)
    ]
    return (ids, torch.tensor([len(e) for e in encoded])), torch.tensor(labels)[:, None]


def predict_classes(
    model: GPTClassifier, ids: Tensor, lengths: Tensor, batch_size: int = 256
) -> Tensor:
    """The most likely class of each line: ``(N,)``, in eval mode, without gradients."""
    batch_size = check_int("batch_size", batch_size, 1)
    device = model_device(model)
    out = []
    with eval_mode(model):
        for b in range(0, len(ids), batch_size):
            logits = model(
                ids[b : b + batch_size].to(device), lengths[b : b + batch_size].to(device)
            )
            out.append(logits[:, 0].argmax(dim=-1).cpu())
    return torch.cat(out)


def confusion_matrix(
    true: Sequence[int] | Tensor, pred: Sequence[int] | Tensor, n_classes: int
) -> Tensor:
    """``(n_classes, n_classes)`` counts: row = true class, column = predicted class."""
    n_classes = check_int("n_classes", n_classes, 1)
    t, p = torch.as_tensor(true).long().flatten(), torch.as_tensor(pred).long().flatten()
    if t.shape != p.shape or t.numel() == 0:
        raise ValueError(
            f"true and pred must be equally long and non-empty, got {t.numel()} and {p.numel()}"
        )
    if (t < 0).any() or (t >= n_classes).any() or (p < 0).any() or (p >= n_classes).any():
        raise ValueError(f"classes must be in 0..{n_classes - 1}")
    return torch.bincount(t * n_classes + p, minlength=n_classes * n_classes).view(
        n_classes, n_classes
    )
