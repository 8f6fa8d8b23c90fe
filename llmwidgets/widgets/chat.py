"""ChatWidget: talk to a model in a notebook, and keep the transcript.

The widget knows nothing about models: it takes a **reply callable**,
``reply(transcript) -> str``, which receives the conversation so far as ``(role, text)``
turns (the last one the user's new message) and returns the assistant's answer. Chapter
6c passes a function that calls :func:`llmwidgets.apps.chat_reply` on its instruction-tuned
model; anything else that answers works too (a rule, another model), which is also how the
tests drive it.

* Live form (a kernel with ipywidgets): a text box with *Send* and *Clear* buttons and a
  status line, above the transcript; *Send* (or ``widget.send(message)`` from code) adds
  the message and the reply, and the transcript is redrawn in place
  (:class:`~llmwidgets.widgets.display.LiveFigure`: no frame without the table).
* Static form (:meth:`ChatWidget.static_figure`): the transcript as a table
  (:func:`~llmwidgets.widgets.chat_figure.transcript_figure`), which the built book shows;
  the live output carries it. Like every widget's fallback it is the state when the widget
  was displayed: send the messages the book should show before displaying the widget.

Every text reaches the screen HTML-escaped; a failing ``reply`` leaves the transcript as it
was (``send`` raises, the *Send* button shows the error in the status line).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import plotly.graph_objects as go

from llmwidgets.core.validate import check_callable, check_str
from llmwidgets.widgets.base import UNSET, LiveWidget, check_height, check_title
from llmwidgets.widgets.chat_figure import check_transcript, transcript_figure, transcript_text

__all__ = ["ChatWidget", "Reply"]

#: What answers: the transcript so far (ending with the user's message) -> the reply.
Reply = Callable[[list[tuple[str, str]]], str]

_IDLE = "<i>Type a message and press Send.</i>"


class ChatWidget(LiveWidget):
    """A text box, a Send button and the transcript of a conversation with ``reply``.

    Args:
        reply: ``reply(transcript) -> str``; ``transcript`` is a new list of
            ``(role, text)`` turns, role ``"user"`` or ``"assistant"``, ending with the
            user's message.
        transcript: the turns to start from (default: none).
        title: the transcript's title (``None``: "Chat"); the number of messages follows it.
        height: figure height in pixels (``None``: grows with the transcript).

    Raises:
        ValueError: for a ``reply`` that cannot be called, a bad transcript, title or height.

    Example:
        >>> chat = ChatWidget(lambda turns: turns[-1][1].upper())
        >>> chat.send("hello")
        'HELLO'
        >>> chat.transcript
        [('user', 'hello'), ('assistant', 'HELLO')]
    """

    def __init__(
        self,
        reply: Reply,
        transcript: Iterable[tuple[str, str]] = (),
        *,
        title: str | None = None,
        height: int | None = None,
    ) -> None:
        super().__init__()
        self.reply = check_callable("reply", reply)
        self.transcript: list[tuple[str, str]] = []
        self.title: str | None = None
        self.height: int | None = None
        self._box: Any = None
        self._text: Any = None
        self._status: Any = None
        self._send_button: Any = None
        self.set(transcript=transcript, title=title, height=height)

    # ----- state --------------------------------------------------------------------
    def set(
        self,
        *,
        transcript: Iterable[tuple[str, str]] = UNSET,
        title: str | None = UNSET,
        height: int | None = UNSET,
    ) -> None:
        """Change the transcript, title or height (only those given) and redraw.

        Returns:
            None. All values are checked first: on a ValueError nothing changes.
        """
        turns = self.transcript if transcript is UNSET else check_transcript(transcript)
        new_title = self.title if title is UNSET else check_title(title)
        new_height = self.height if height is UNSET else check_height(height)
        self.transcript, self.title, self.height = list(turns), new_title, new_height
        self._redraw()

    def send(self, message: str) -> str:
        """Add ``message``, ask ``reply`` for the answer, add it, redraw; return the answer.

        Raises:
            ValueError: for an empty message, or a reply that is not a str.
            Exception: whatever ``reply`` raises; the transcript is then unchanged.
        """
        message = check_str("message", message)
        asked = [*self.transcript, ("user", message)]
        answer = self.reply(list(asked))
        if not isinstance(answer, str):
            raise ValueError(f"reply must return a str, got {type(answer).__name__}")
        self.set(transcript=[*asked, ("assistant", answer)])
        return answer

    def clear(self) -> None:
        """Forget the conversation (and redraw).

        Returns:
            None.
        """
        self.set(transcript=[])

    def text(self) -> str:
        """The transcript as plain text, one ``role: text`` line per turn."""
        return transcript_text(self.transcript)

    # ----- figures ------------------------------------------------------------------
    def figure(self) -> go.Figure:
        """The transcript as a table (see :func:`transcript_figure`)."""
        return transcript_figure(self.transcript, self.title, self.height)

    def static_figure(self) -> go.Figure:
        """The kernel-free form: the transcript (there is nothing to precompute).

        Returns:
            :meth:`figure`.
        """
        return self.figure()

    # ----- live controls ------------------------------------------------------------
    def controls(self) -> Any:
        """The ipywidgets controls (built once): text box, Send, Clear, status line."""
        if self._box is not None:
            return self._box
        import ipywidgets as w

        self._text = w.Text(placeholder="Type a message", layout={"width": "420px"})
        self._send_button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        clear = w.Button(description="Clear", icon="eraser")
        self._status = w.HTML(value=_IDLE)
        self._send_button.on_click(lambda _button: self._on_send())
        clear.on_click(lambda _button: self._on_clear())
        row = w.HBox([self._text, self._send_button, clear], layout={"align_items": "center"})
        self._box = w.VBox([row, self._status])
        return self._box

    def _on_send(self) -> None:
        message = self._text.value
        if not message.strip():
            self._show_status("<span style='color: #c00'>The message is empty.</span>")
            return
        self._send_button.disabled = True
        self._show_status("<i>replying…</i>")
        try:
            self.send(message)
        except Exception as err:  # a widget callback must not raise into the frontend
            text = f"reply failed: {type(err).__name__}: {err}"
            self._show_status(f"<span style='color: #c00'>{html.escape(text)}</span>")
        else:
            self._text.value = ""
            self._show_status(_IDLE)
        finally:
            self._send_button.disabled = False

    def _on_clear(self) -> None:
        self.clear()
        self._show_status(_IDLE)

    def _show_status(self, value: str) -> None:
        if self._status is not None:
            self._status.value = value

    def __repr__(self) -> str:
        return f"ChatWidget({len(self.transcript)} turns)"
