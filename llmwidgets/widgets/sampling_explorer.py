"""SamplingExplorer: watch temperature, top-k and top-p reshape the next-token distribution.

Give it either raw next-token ``logits`` (with their ``labels``) or a ``model``, a
``tokenizer`` and a ``prompt``. It shows the ``top_n`` most likely next tokens as a bar
chart: blue bars are the probabilities actually used for sampling; tokens cut by top-k or
top-p are grey hatched bars at the probability they had before the cut, marked ✂. The
title gives the settings and the entropy of the sampling distribution.

* Live form (a kernel with ipywidgets): sliders for temperature (0 = greedy), top-k
  (0 = off), top-p and the sample length, and a button that samples with the current
  settings. The figure is shown with :func:`llmwidgets.show` and redrawn in place.
* Static form (:meth:`SamplingExplorer.static_figure`): one figure with a plotly slider
  over temperatures, for the online book (no kernel needed).

The numbers come from :mod:`llmwidgets.sampling`; ``explorer.set(...)`` changes the
settings from code (and redraws), ``explorer.probs()`` / ``explorer.figure()`` read them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import torch

from llmwidgets.nn.sampling import (
    Model,
    check_logits,
    check_settings,
    generate,
    kept_mask,
    next_token_logits,
    sample_next,
    sampling_probs,
)
from llmwidgets.nn.sampling import entropy as _entropy
from llmwidgets.widgets.display import live_widgets_available, show, update

KEPT_COLOR = "#1f77b4"
CUT_COLOR = "#b5b5b5"
DEFAULT_TEMPERATURES = (0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3)
_UNSET: Any = object()  # "not given" in set(), where None means "top-k off"


def _visible(label: str) -> str:
    """A token with its white space made visible: spaces as ␣, newlines as ↵, tabs as ⇥."""
    text = label.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
    return text if text else "∅"


def _shown(label: str) -> str:
    """A token as plotly or HTML text: white space visible, HTML escaped."""
    return html.escape(_visible(label))


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class SamplingExplorer:
    """Interactive view of the next-token distribution under temperature, top-k, top-p.

    Args:
        logits: 1-D next-token logits over the vocabulary (logits mode), or ``None``.
        labels: token strings for the entries of ``logits`` (default: the ids); in model
            mode optional (default: ``tokenizer.id_to_piece(i)`` or ``decode([i])``).
        model: a model as in :data:`llmwidgets.sampling.Model` (model mode).
        tokenizer: with ``encode(str) -> list[int]`` and ``decode(list[int]) -> str``.
        prompt: the text whose next token is explored (model mode).
        temperature, top_k, top_p: the starting settings (0 = greedy; None / 1.0 = off).
        top_n: how many of the most likely tokens to show.
        length: tokens per sampled continuation (model mode) or number of independent
            single-token draws (logits mode).
        seed: seeds the explorer's own ``torch.Generator``, so samples are reproducible.
        context_size: the model's context length (prompt cropped to it), or None.
        title: figure title; height: figure height in pixels.

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
        length: int = 20,
        seed: int = 0,
        context_size: int | None = None,
        title: str | None = None,
        height: int = 450,
    ) -> None:
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
        self.context_size, self.prompt_ids = context_size, None
        if logits is None:  # model mode: the logits after the prompt
            if not isinstance(prompt, str) or not prompt:
                raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
            for method in ("encode", "decode"):
                if not callable(getattr(tokenizer, method, None)):
                    raise ValueError(f"tokenizer has no {method}() method")
            self.prompt_ids = [int(i) for i in tokenizer.encode(prompt)]
            if not self.prompt_ids:
                raise ValueError(f"prompt {prompt!r} encodes to no tokens")
            logits = next_token_logits(model, self.prompt_ids, context_size)[0]
        self.logits = check_logits(logits).detach().cpu()
        if self.logits.dim() != 1:
            raise ValueError(f"logits must be 1-D (V,), got shape {tuple(self.logits.shape)}")
        self.vocab_size = self.logits.shape[0]
        if labels is not None and len(labels) != self.vocab_size:
            raise ValueError(
                f"labels has {len(labels)} entries but logits has {self.vocab_size} values"
            )
        self.labels = None if labels is None else [str(label) for label in labels]
        self.temperature, self.top_k, self.top_p = check_settings(temperature, top_k, top_p)
        self.length = _positive_int("length", length)
        self.top_n = min(_positive_int("top_n", top_n), self.vocab_size)
        # The shown tokens: the top_n largest logits, fixed whatever the settings
        # (temperature never reorders tokens; top-k/top-p only set some to zero).
        order = torch.sort(self.logits, descending=True, stable=True).indices
        self.top_ids = order[: self.top_n].tolist()
        default_title = "Next-token probabilities"
        if prompt is not None:
            short = prompt if len(prompt) <= 40 else "…" + prompt[-39:]
            default_title = f"Next token after {html.escape(repr(short))}"
        self.title = default_title if title is None else title
        self.height = _positive_int("height", height)
        self.generator = torch.Generator().manual_seed(seed)
        self.last_sample: str | None = None
        self._handles: list[Any] = []  # display handles of the live figures
        self._controls: dict[str, Any] = {}
        self._box: Any = None
        self._text: Any = None
        self._syncing = False

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
        temperature: float = _UNSET,
        top_k: int | None = _UNSET,
        top_p: float = _UNSET,
        length: int = _UNSET,
    ) -> None:
        """Change settings (only those given; ``top_k=None`` turns top-k off) and redraw.

        All values are checked first: on a ValueError nothing changes.
        """
        t, k, p = check_settings(
            self.temperature if temperature is _UNSET else temperature,
            self.top_k if top_k is _UNSET else top_k,
            self.top_p if top_p is _UNSET else top_p,
        )
        n = self.length if length is _UNSET else _positive_int("length", length)
        self.temperature, self.top_k, self.top_p, self.length = t, k, p, n
        self._sync_controls()
        if self._handles:
            fig = self.figure()
            for handle in self._handles:
                update(handle, fig)

    def sample(self, length: int | None = None) -> str:
        """Sample with the current settings (uses and advances the explorer's generator).

        Model mode: generate ``length`` tokens after the prompt; returns the decoded
        continuation. Logits mode: draw ``length`` independent next tokens; returns their
        labels joined by " · " (spaces shown as ␣).
        """
        n = self.length if length is None else _positive_int("length", length)
        settings = (self.temperature, self.top_k, self.top_p)
        if self.model is None:
            draws = sample_next(self.logits.expand(n, -1), *settings, generator=self.generator)
            labels = [_visible(self.label(i)) for i in draws.tolist()]
            text = " · ".join(labels)
            bold = [f"<b>{html.escape(label)}</b>" for label in labels]
            view = f"{n} independent draws of the next token: " + " · ".join(bold)
        else:
            out = generate(
                self.model,
                self.prompt_ids,
                n,
                *settings,
                generator=self.generator,
                block_size=self.context_size,
            )
            text = str(self.tokenizer.decode(out[len(self.prompt_ids) :].tolist()))
            view = f"{html.escape(self.prompt)}<b>{html.escape(text)}</b>"
        self.last_sample = text
        self._show_text(f"<pre style='white-space: pre-wrap; margin: 0'>{view}</pre>")
        return text

    # ----- figures ------------------------------------------------------------------
    def _title(self, temperature: float, probs: torch.Tensor) -> str:
        nats = float(_entropy(probs))
        settings = [
            f"T = {temperature:g}" + (" (greedy)" if temperature == 0 else ""),
            f"top-k = {self.top_k if self.top_k is not None else 'off'}",
            f"top-p = {self.top_p:g}" + (" (off)" if self.top_p == 1 else ""),
            f"entropy = {nats:.3f} nats = {nats / math.log(2):.3f} bits",
        ]
        return f"{self.title}<br><sup>{' · '.join(settings)}</sup>"

    def _traces(self, temperature: float, visible: bool = True) -> tuple[list[go.Bar], str]:
        """The kept and the cut bars at one temperature, and the matching title."""
        probs = self.probs(temperature)
        kept = self.kept(temperature)[self.top_ids].tolist()
        before = sampling_probs(self.logits, temperature)[self.top_ids].tolist()  # no cut
        x = list(range(self.top_n))
        hover = [f"{_shown(self.label(i))} (id {i})" for i in self.top_ids]
        kept_bar = go.Bar(
            x=x,
            y=probs[self.top_ids].tolist(),
            name="kept: probability used for sampling",
            marker_color=KEPT_COLOR,
            customdata=self.top_ids,
            hovertext=hover,
            hovertemplate="%{hovertext}<br>p = %{y:.4f}<extra>kept</extra>",
            visible=visible,
        )
        cut_bar = go.Bar(
            x=x,
            y=[None if keep else b for keep, b in zip(kept, before, strict=True)],
            name="✂ cut by top-k / top-p / greedy (grey: probability before the cut)",
            marker={"color": CUT_COLOR, "pattern": {"shape": "/"}},
            text=["" if keep else "✂" for keep in kept],
            textposition="outside",
            cliponaxis=False,
            customdata=self.top_ids,
            hovertext=hover,
            hovertemplate="%{hovertext}<br>cut (p before the cut = %{y:.4f})<extra>cut</extra>",
            visible=visible,
        )
        return [kept_bar, cut_bar], self._title(temperature, probs)

    def _layout(self, fig: go.Figure, title: str, height: int) -> go.Figure:
        fig.update_layout(
            title={"text": title},
            height=height,
            barmode="overlay",
            xaxis={
                "tickvals": list(range(self.top_n)),
                "ticktext": [_shown(self.label(i)) for i in self.top_ids],
                "title": {"text": f"top {self.top_n} of {self.vocab_size} tokens, by logit"},
            },
            yaxis={"range": [0, 1.1], "title": {"text": "probability"}},
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
            margin={"t": 110},
        )
        return fig

    def figure(self) -> go.Figure:
        """The bar chart for the current settings."""
        traces, title = self._traces(self.temperature)
        return self._layout(go.Figure(traces), title, self.height)

    def static_figure(self, temperatures: Sequence[float] = DEFAULT_TEMPERATURES) -> go.Figure:
        """One figure with a plotly slider over ``temperatures`` (current top-k / top-p).

        Each slider step shows its own precomputed pair of traces (kept, cut), so the
        figure works without a kernel. The step nearest the current temperature is active.
        """
        temps = [check_settings(t, self.top_k, self.top_p)[0] for t in temperatures]
        if not temps:
            raise ValueError("temperatures is empty: give at least one temperature")
        active = min(range(len(temps)), key=lambda i: abs(temps[i] - self.temperature))
        fig, titles = go.Figure(), []
        for i, t in enumerate(temps):
            traces, title = self._traces(t, visible=i == active)
            fig.add_traces(traces)
            titles.append(title)
        steps = [
            {
                "method": "update",
                "label": f"{t:g}",
                "args": [
                    {"visible": [j // 2 == i for j in range(2 * len(temps))]},
                    {"title.text": titles[i]},
                ],
            }
            for i, t in enumerate(temps)
        ]
        slider = {
            "active": active,
            "steps": steps,
            "currentvalue": {"prefix": "temperature = "},
            "pad": {"t": 70},
        }
        self._layout(fig, titles[active], self.height + 120)
        fig.update_layout(sliders=[slider], margin={"b": 140})
        return fig

    # ----- live form ----------------------------------------------------------------
    def widget(self) -> Any:
        """The ipywidgets controls (a VBox; built once). The figure is shown separately."""
        if self._box is not None:
            return self._box
        import ipywidgets as w

        style = {"description_width": "initial"}
        k_max = max(self.vocab_size if self.vocab_size <= 500 else 500, self.top_k or 0)
        self._controls = {
            "temperature": w.FloatSlider(
                value=self.temperature, min=0.0, max=max(3.0, self.temperature), step=0.05,
                description="temperature (0 = greedy)", style=style, continuous_update=False,
            ),
            "top_k": w.IntSlider(
                value=self.top_k or 0, min=0, max=k_max,
                description="top-k (0 = off)", style=style, continuous_update=False,
            ),
            "top_p": w.FloatSlider(
                value=self.top_p, min=min(0.01, self.top_p), max=1.0, step=0.01,
                description="top-p (1 = off)", style=style, continuous_update=False,
            ),
            "length": w.IntSlider(
                value=self.length, min=1, max=max(200, self.length),
                description="length" if self.model is not None else "draws",
                style=style, continuous_update=False,
            ),
        }  # fmt: skip
        for name, control in self._controls.items():
            control.observe(lambda change, name=name: self._on_control(name, change), "value")
        button = w.Button(description="Sample", button_style="primary", icon="random")
        button.on_click(lambda _button: self._on_sample())
        self._text = w.HTML(value="<i>Press Sample to draw with the current settings.</i>")
        c = self._controls
        self._box = w.VBox(
            [
                w.HBox([c["temperature"], c["top_k"]]),
                w.HBox([c["top_p"], c["length"], button]),
                self._text,
            ]
        )
        return self._box

    def _on_control(self, name: str, change: dict[str, Any]) -> None:
        if self._syncing:  # the change came from set(), not from the reader
            return
        value = change["new"]
        if name == "top_k" and value == 0:
            value = None
        try:
            self.set(**{name: value})
        except ValueError as err:
            self._show_text(f"<span style='color: #c00'>{html.escape(str(err))}</span>")

    def _on_sample(self) -> None:
        try:
            self.sample()
        except Exception as err:  # a widget callback must not raise into the frontend
            message = f"sampling failed: {type(err).__name__}: {err}"
            self._show_text(f"<span style='color: #c00'>{html.escape(message)}</span>")

    def _show_text(self, value: str) -> None:
        if self._text is not None:
            self._text.value = value

    def _sync_controls(self) -> None:
        """Move the sliders to the current settings without triggering set() again."""
        if not self._controls:
            return
        self._syncing = True
        try:
            c = self._controls
            c["temperature"].max = max(c["temperature"].max, self.temperature)
            c["temperature"].value = self.temperature
            c["top_k"].max = max(c["top_k"].max, self.top_k or 0)
            c["top_k"].value = self.top_k or 0
            c["top_p"].min = min(c["top_p"].min, self.top_p)
            c["top_p"].value = self.top_p
            c["length"].max = max(c["length"].max, self.length)
            c["length"].value = self.length
        finally:
            self._syncing = False

    def _ipython_display_(self) -> None:
        """Live form in a kernel with ipywidgets, else the static figure."""
        if live_widgets_available():
            from IPython.display import display

            display(self.widget())
            self._handles.append(show(self.figure(), display_id=True))
        else:
            show(self.static_figure())


def sampling_explorer(
    logits: Any = None, labels: Sequence[str] | None = None, **kwargs: Any
) -> SamplingExplorer:
    """Build a :class:`SamplingExplorer` (same arguments); it displays itself in a cell."""
    return SamplingExplorer(logits, labels, **kwargs)
