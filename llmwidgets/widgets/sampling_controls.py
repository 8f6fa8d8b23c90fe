"""The live controls of :class:`~llmwidgets.widgets.sampling_explorer.SamplingExplorer`.

A mixin: the sliders (temperature, top-k, top-p, new tokens) and the *Sample* button, and
how they talk to the explorer - a slider calls ``set(...)``, ``set(...)`` from code moves the
sliders without calling itself again. The explorer owns the state and the figure.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["SamplingControls"]

# Every slider gets the same width and label width and never shrinks, so every track is
# as long as the others (a long label no longer eats the temperature slider's track);
# two sliders per row, which wrap onto two rows in a narrow output.
_SLIDER_LAYOUT = {"width": "380px", "flex": "0 0 auto"}
_SLIDER_STYLE = {"description_width": "170px"}
_ROW_LAYOUT = {"flex_flow": "row wrap"}


class SamplingControls:
    """Sliders and a Sample button for an explorer with ``set``, ``sample`` and settings."""

    def controls(self) -> Any:
        """The ipywidgets controls (a VBox; built once). The figure is shown under them."""
        if self._box is not None:
            return self._box
        import ipywidgets as w

        common = {"style": _SLIDER_STYLE, "layout": _SLIDER_LAYOUT, "continuous_update": False}
        k_max = max(self.vocab_size if self.vocab_size <= 500 else 500, self.top_k or 0)
        self._controls = {
            "temperature": w.FloatSlider(
                value=self.temperature, min=0.0, max=max(3.0, self.temperature), step=0.05,
                description="temperature (0 = greedy)", **common,
            ),
            "top_k": w.IntSlider(
                value=self.top_k or 0, min=0, max=k_max, description="top-k (0 = off)", **common
            ),
            "top_p": w.FloatSlider(
                value=self.top_p, min=min(0.01, self.top_p), max=1.0, step=0.01,
                description="top-p (1 = off)", **common,
            ),
            "max_new_tokens": w.IntSlider(
                value=self.max_new_tokens, min=1, max=max(200, self.max_new_tokens),
                description="new tokens" if self.model is not None else "draws", **common,
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
                w.HBox([c["temperature"], c["top_k"]], layout=_ROW_LAYOUT),
                w.HBox([c["top_p"], c["max_new_tokens"]], layout=_ROW_LAYOUT),
                w.HBox([button, self._text], layout={"align_items": "center"}),
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
            c["max_new_tokens"].max = max(c["max_new_tokens"].max, self.max_new_tokens)
            c["max_new_tokens"].value = self.max_new_tokens
        finally:
            self._syncing = False
