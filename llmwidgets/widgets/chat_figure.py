"""A chat transcript as a plotly table: the static form of the chat widget.

A transcript is a list of ``(role, text)`` turns, role ``"user"`` or ``"assistant"`` (the
roles of chapter 6's chat template, :mod:`llmwidgets.apps.chat`). :func:`transcript_figure`
draws it as one table row per turn, user and assistant rows in two colours. The texts are
HTML-escaped (a reply ``"<b>hi</b>"`` or ``"<|end|>"`` shows as written, plotly would
otherwise read it as markup), a line break becomes a line break of the cell, and an empty
reply shows as ∅ (the empty token of :mod:`llmwidgets.widgets.glyphs`).

Pure functions: no IPython, no widgets (the widget is :mod:`llmwidgets.widgets.chat`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go

from llmwidgets.core.validate import check_str
from llmwidgets.widgets.glyphs import EMPTY

__all__ = ["ROLES", "check_transcript", "transcript_figure", "transcript_text"]

#: The roles of a turn, and the background of their rows.
ROLES = {"user": "#e8f0fe", "assistant": "#e6f4ea"}
_HEADER = "#f1f3f4"
_CHARS_PER_LINE = 80  # about what the message column holds at the default width
_LINE_PX = 21  # one line of a cell, padding included
_EMPTY_TEXT = "<i>no messages yet</i>"


def check_transcript(transcript: Any) -> list[tuple[str, str]]:
    """A transcript as a list of ``(role, text)`` tuples, or a ValueError naming the turn.

    Args:
        transcript: an iterable of ``(role, text)`` pairs; role ``"user"`` or
            ``"assistant"``, text a str (an empty reply is allowed).

    Returns:
        A new list of tuples.
    """
    if isinstance(transcript, (str, bytes)) or not isinstance(transcript, Iterable):
        raise ValueError(f"transcript must be a list of (role, text) pairs, got {transcript!r:.60}")
    turns = []
    for i, turn in enumerate(transcript):
        if not isinstance(turn, (tuple, list)) or len(turn) != 2:
            raise ValueError(
                f"turn {i} of the transcript must be a (role, text) pair, got {turn!r:.60}"
            )
        role, text = turn
        if role not in ROLES:
            raise ValueError(f"turn {i} has role {role!r}; roles are {sorted(ROLES)}")
        turns.append((role, check_str(f"turn {i} text", text, allow_empty=True)))
    return turns


def _cell(text: str) -> str:
    """A turn's text for a table cell: escaped, line breaks kept, empty shown as ∅."""
    if not text:
        return f'<span style="color:#8a8a8a">{EMPTY}</span>'
    return html.escape(text, quote=False).replace("\n", "<br>")


def _lines(text: str) -> int:
    """About how many lines a text takes in the message column."""
    return sum(max(1, math.ceil(len(part) / _CHARS_PER_LINE)) for part in text.split("\n"))


def transcript_figure(
    transcript: Iterable[tuple[str, str]], title: str | None = None, height: int | None = None
) -> go.Figure:
    """The transcript as a table: one row per turn, its role and its text.

    Args:
        transcript: ``(role, text)`` turns (see :func:`check_transcript`).
        title: the title's first part (escaped); ``None``: "Chat".
        height: the figure's height in pixels; ``None`` grows with the transcript.

    Returns:
        A figure with one ``go.Table`` trace; its title ends with the number of messages.
    """
    turns = check_transcript(transcript)
    roles = [role for role, _ in turns] or [""]
    texts = [_cell(text) for _, text in turns] or [_EMPTY_TEXT]
    fills = [ROLES.get(role, "white") for role in roles]
    table = go.Table(
        columnwidth=[90, 610],
        header={"values": ["<b>role</b>", "<b>message</b>"], "fill_color": _HEADER,
                "align": "left", "font": {"size": 13}},
        cells={"values": [roles, texts], "fill_color": [fills, fills], "align": "left",
               "font": {"size": 13}, "height": _LINE_PX},
    )  # fmt: skip
    n = len(turns)
    head = html.escape(title) if title else "Chat"
    rows = sum(_lines(text) for _, text in turns) if turns else 1
    fig = go.Figure(table)
    fig.update_layout(
        title={"text": f"{head} · {n} message{'s' if n != 1 else ''}"},
        height=height or 110 + 28 + _LINE_PX * rows + 6 * max(n, 1),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def transcript_text(transcript: Iterable[tuple[str, str]]) -> str:
    """The transcript as plain text, one ``role: text`` line per turn (for printing).

    Args:
        transcript: ``(role, text)`` turns.

    Returns:
        e.g. ``"user: Greet Romeo.\\nassistant: Good morrow, Romeo!"``.
    """
    return "\n".join(f"{role}: {text}" for role, text in check_transcript(transcript))
