"""SamplingExplorer: watch temperature, top-k and top-p reshape the next-token distribution.

Give it either raw next-token ``logits`` (with their ``labels``) or a ``model``, a
``tokenizer`` and a ``prompt``. It shows the ``top_n`` most likely next tokens as a bar
chart (:mod:`llmwidgets.widgets.sampling_figure`).

* Live form (a kernel with ipywidgets): sliders for temperature (0 = greedy), top-k
  (0 = off), top-p and ``max_new_tokens``, and a button that samples with the current
  settings; the figure under them is redrawn in place.
* Static form (:meth:`SamplingExplorer.static_figure`): one figure with a plotly slider
  over temperatures, for the online book (no kernel needed).

``explorer.set(...)`` changes the settings from code (and redraws); ``explorer.probs()``,
``explorer.figure()`` and ``explorer.sample()`` read them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import torch

from llmwidgets.core.validate import check_int
from llmwidgets.nn.generation import Model, generate, next_token_logits
from llmwidgets.nn.sampling import (
    check_logits,
    check_settings,
    kept_mask,
    sample_next,
    sampling_probs,
)
from llmwidgets.nn.sampling import entropy as _entropy
from llmwidgets.widgets.base import UNSET, LiveWidget, check_height, check_title
from llmwidgets.widgets.glyphs import visible
from llmwidgets.widgets.sampling_controls import SamplingControls
from llmwidgets.widgets.sampling_figure import (
    DEFAULT_HEIGHT,
    DEFAULT_TEMPERATURES,
    NextTokens,
    bars_figure,
    temperature_figure,
)

__all__ = ["SamplingExplorer", "sampling_explorer"]


class SamplingExplorer(SamplingControls, LiveWidget):
    """Interactive view of the next-token distribution under temperature, top-k, top-p.

    Args:
        logits: 1-D next-token logits over the vocabulary (logits mode), or ``None``.
        labels: token strings for the entries of ``logits`` (default: the ids); in model
            mode optional (default: ``tokenizer.id_to_piece(i)`` or ``decode([i])``).
        model: a model as in :data:`llmwidgets.nn.sampling.Model` (model mode).
        tokenizer: with ``encode(str) -> list[int]`` and ``decode(list[int]) -> str``.
        prompt: the text whose next token is explored (model mode).
        temperature, top_k, top_p: the starting settings (0 = greedy; None / 1.0 = off).
        top_n: how many of the most likely tokens to show.
        max_new_tokens: tokens per sampled continuation (model mode) or number of
            independent single-token draws (logits mode).
        seed: seeds the explorer's own ``torch.Generator``, so samples are reproducible.
        block_size: the model's context length (the prompt is cropped to it), or None.
        title: figure title (``None``: "Next token after '...'" or
            "Next-token probabilities").
        height: figure height in pixels (``None``: 450).

    Raises:
        ValueError: for a mix of both modes, a missing piece, labels whose length differs
            from the logits', an empty prompt, NaN/inf logits or bad settings.
    """

    def __init__(
        self,
        logits: Any = None,
        labels: Sequence[str] | None = None,
        *,
        model: Model | None = None,
        tokenizer: Any = None,
        prompt: str | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float = 1.0,
        top_n: int = 20,
        max_new_tokens: int = 20,
        seed: int = 0,
        block_size: int | None = None,
        title: str | None = None,
        height: int | None = None,
    ) -> None:
        super().__init__()
        model_parts = {"model": model, "tokenizer": tokenizer, "prompt": prompt}
        given = [name for name, value in model_parts.items() if value is not None]
        if logits is not None and given:
            raise ValueError(
                f"give either logits or model+tokenizer+prompt, not both (got {given})"
            )
        if logits is None and len(given) < 3:
            missing = [name for name in model_parts if name not in given]
            raise ValueError(f"give logits (and labels), or model, tokenizer and prompt: {missing}")
        self.model, self.tokenizer, self.prompt = model, tokenizer, prompt
        self.block_size, self.prompt_ids = block_size, None
        if logits is None:  # model mode: the logits after the prompt
            if not isinstance(prompt, str) or not prompt:
                raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
            for method in ("encode", "decode"):
                if not callable(getattr(tokenizer, method, None)):
                    raise ValueError(f"tokenizer has no {method}() method")
            self.prompt_ids = [int(i) for i in tokenizer.encode(prompt)]
            if not self.prompt_ids:
                raise ValueError(f"prompt {prompt!r} encodes to no tokens")
            logits = next_token_logits(model, self.prompt_ids, block_size)[0]
        self.logits = check_logits(logits).detach().cpu()
        if self.logits.dim() != 1:
            raise ValueError(f"logits must be 1-D (V,), got shape {tuple(self.logits.shape)}")
        self.vocab_size = self.logits.shape[0]
        if labels is not None and len(labels) != self.vocab_size:
            raise ValueError(
                f"labels has {len(labels)} entries but logits has {self.vocab_size} values"
            )
        self.labels = None if labels is None else [str(label) for label in labels]
        self.top_n = min(check_int("top_n", top_n, 1), self.vocab_size)
        # The shown tokens: the top_n largest logits, fixed whatever the settings
        # (temperature never reorders tokens; top-k/top-p only set some to zero).
        order = torch.sort(self.logits, descending=True, stable=True).indices
        self.top_ids = order[: self.top_n].tolist()
        self.generator = torch.Generator().manual_seed(check_int("seed", seed))
        self.last_sample: str | None = None
        self._controls: dict[str, Any] = {}
        self._box: Any = None
        self._text: Any = None
        self._syncing = False
        self.temperature, self.top_k, self.top_p = 1.0, None, 1.0
        self.max_new_tokens, self.title, self.height = 20, None, None
        self.set(
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            title=title,
            height=height,
        )

    # ----- pure state ---------------------------------------------------------------
    def label(self, token_id: int) -> str:
        """The string of one token id."""
        if self.labels is not None:
            return self.labels[token_id]
        if self.tokenizer is None:
            return str(token_id)
        if callable(getattr(self.tokenizer, "id_to_piece", None)):
            return str(self.tokenizer.id_to_piece(token_id))
        return str(self.tokenizer.decode([token_id]))

    def probs(self, temperature: float | None = None) -> torch.Tensor:
        """The sampling distribution (V,) for the current settings (or another temperature)."""
        t = self.temperature if temperature is None else temperature
        return sampling_probs(self.logits, t, self.top_k, self.top_p)

    def kept(self, temperature: float | None = None) -> torch.Tensor:
        """Bool mask (V,): False for tokens cut by top-k/top-p (or by greedy)."""
        t = self.temperature if temperature is None else temperature
        return kept_mask(self.logits, t, self.top_k, self.top_p)

    def entropy(self, unit: str = "nats") -> float:
        """Entropy of the current sampling distribution, in "nats" or "bits"."""
        return float(_entropy(self.probs(), unit))

    def set(
        self,
        *,
        temperature: float = UNSET,
        top_k: int | None = UNSET,
        top_p: float = UNSET,
        max_new_tokens: int = UNSET,
        title: str | None = UNSET,
        height: int | None = UNSET,
    ) -> None:
        """Change settings (only those given; ``top_k=None`` turns top-k off) and redraw.

        Returns:
            None. All values are checked first: on a ValueError nothing changes.
        """
        t, k, p = check_settings(
            self.temperature if temperature is UNSET else temperature,
            self.top_k if top_k is UNSET else top_k,
            self.top_p if top_p is UNSET else top_p,
        )
        n = self.max_new_tokens
        if max_new_tokens is not UNSET:
            n = check_int("max_new_tokens", max_new_tokens, 1)
        new_title = self.title if title is UNSET else check_title(title)
        new_height = self.height if height is UNSET else check_height(height)
        self.temperature, self.top_k, self.top_p, self.max_new_tokens = t, k, p, n
        self.title, self.height = new_title, new_height
        self._sync_controls()
        self._redraw()

    def sample(self, max_new_tokens: int | None = None) -> str:
        """Sample with the current settings (uses and advances the explorer's generator).

        Args:
            max_new_tokens: model mode: tokens generated after the prompt; logits mode:
                independent single-token draws. ``None`` uses the explorer's setting.

        Returns:
            Model mode: the decoded continuation. Logits mode: the drawn labels joined
            by " · " (white space shown as ␣ ↵ ⇥).
        """
        n = self.max_new_tokens
        if max_new_tokens is not None:
            n = check_int("max_new_tokens", max_new_tokens, 1)
        settings = (self.temperature, self.top_k, self.top_p)
        if self.model is None:
            draws = sample_next(self.logits.expand(n, -1), *settings, generator=self.generator)
            labels = [visible(self.label(i)) for i in draws.tolist()]
            text = " · ".join(labels)
            bold = [f"<b>{html.escape(label)}</b>" for label in labels]
            view = f"{n} independent draws of the next token: " + " · ".join(bold)
        else:
            # Positional: generate(model, ids, max_new_tokens, T, k, p, generator, block_size)
            out = generate(
                self.model, self.prompt_ids, n, *settings, self.generator, self.block_size
            )
            text = str(self.tokenizer.decode(out[len(self.prompt_ids) :].tolist()))
            view = f"{html.escape(self.prompt)}<b>{html.escape(text)}</b>"
        self.last_sample = text
        self._show_text(f"<pre style='white-space: pre-wrap; margin: 0'>{view}</pre>")
        return text

    # ----- figures ------------------------------------------------------------------
    def _tokens(self) -> NextTokens:
        title = self.title
        if title is None and self.prompt is not None:
            short = self.prompt if len(self.prompt) <= 40 else "…" + self.prompt[-39:]
            title = f"Next token after {html.escape(repr(short))}"
        elif title is None:
            title = "Next-token probabilities"
        else:
            title = html.escape(title)
        labels = [self.label(i) for i in self.top_ids]
        return NextTokens(self.logits, self.top_ids, labels, title, self.height or DEFAULT_HEIGHT)

    def figure(self) -> go.Figure:
        """The bar chart for the current settings (see :func:`bars_figure`)."""
        return bars_figure(self._tokens(), self.temperature, self.top_k, self.top_p)

    def static_figure(self, temperatures: Sequence[float] = DEFAULT_TEMPERATURES) -> go.Figure:
        """One figure with a plotly slider over ``temperatures`` (current top-k / top-p).

        The step nearest the current temperature is active (see
        :func:`temperature_figure`).
        """
        tokens = self._tokens()
        return temperature_figure(tokens, temperatures, self.temperature, self.top_k, self.top_p)


def sampling_explorer(
    logits: Any = None, labels: Sequence[str] | None = None, **kwargs: Any
) -> SamplingExplorer:
    """Build a :class:`SamplingExplorer` (same arguments); it displays itself in a cell."""
    return SamplingExplorer(logits, labels, **kwargs)
