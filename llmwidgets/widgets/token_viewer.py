"""See how a tokenizer cuts a text: coloured spans, token ids on hover.

The alignment of pieces to the text is pure text code
(:func:`llmwidgets.text.spans.token_spans`); this module only draws it, in two forms:

* :meth:`TokenViewer.html` - plain HTML (no JavaScript), the viewer's own view in a
  kernel, on Colab and in the built book;
* :meth:`TokenViewer.figure` - the same coloured pieces as a plotly figure, ids and
  pieces on hover (the static form every widget has).

White space shows as ␣ ↵ ⇥ (:mod:`llmwidgets.widgets.glyphs`, as in every widget);
pieces made of byte pieces are outlined (dashed), unknown pieces in red.
"""

from __future__ import annotations

import html
import zlib
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

from llmwidgets.core.validate import check_choice
from llmwidgets.text.pieces import BYTE_PIECE, Token
from llmwidgets.text.spans import TokenSpan, check_text, token_spans, tokens_of
from llmwidgets.widgets.base import UNSET, NoControls, check_height, check_title
from llmwidgets.widgets.glyphs import glyph, label, visible

# token_spans and TokenSpan are re-exported for llmwidgets/__init__.py.
__all__ = ["TokenSpan", "TokenViewer", "token_spans", "token_viewer"]

# Light backgrounds; dark text stays readable on each, in light and dark themes.
PALETTE = (
    "#ffd6a5",
    "#caffbf",
    "#9bf6ff",
    "#ffc6ff",
    "#fdffb6",
    "#bdb2ff",
    "#ffadad",
    "#a0c4ff",
)
COLOR_BY = ("position", "id")
_GREY = '<span style="color:#8a8a8a">{}</span>'
_LINE_WIDTH = 60  # characters per row of the figure


def _color(index: int, token: Token, color_by: str) -> str:
    if color_by == "position":
        return PALETTE[index % len(PALETTE)]
    if token.ids is not None:
        key = token.ids[0] * 2654435761 % 2**32  # Knuth's multiplicative hash
    else:
        key = zlib.crc32(token.text.encode("utf-8"))
    return PALETTE[key % len(PALETTE)]


def _html_text(text: str) -> str:
    """HTML for a token's text: escaped, invisible characters as grey glyphs."""
    out = []
    for ch in text:
        shown = glyph(ch)
        if shown is None:
            out.append(html.escape(ch))
        else:  # a line break or tab still breaks or indents the text after its glyph
            out.append(_GREY.format(shown) + (ch if ch in "\n\t" else ""))
    return "".join(out)


def _hover(token: Token) -> str:
    """``"id 42 · '▁the'"``, ``"ids 231 190 132 · bytes <0xE4><0xBB><0x81> = '仁'"``."""
    shown = visible(token.text)
    if token.ids is None:
        head = ""
    elif len(token.ids) == 1:
        head = f"id {token.ids[0]}"
    else:
        head = "ids " + " ".join(str(i) for i in token.ids)
    if token.is_bytes and all(BYTE_PIECE.match(p) for p in token.pieces):
        body = f"bytes {''.join(token.pieces)} = {shown!r}"
    elif token.is_bytes:
        body = f"pieces {' + '.join(repr(p) for p in token.pieces)} = {shown!r}"
    else:
        body = " + ".join(repr(visible(p)) for p in token.pieces)
    if token.unknown:
        body += " (unknown)"
    return f"{head} · {body}" if head else body


class TokenViewer(NoControls):
    """A text with its tokens as coloured spans; hover shows ids and pieces.

    Args:
        text: the text to tokenize.
        tokenizer: see :func:`~llmwidgets.text.spans.token_spans`.
        color_by: ``"position"`` (neighbours always differ) or ``"id"`` (the same
            token always gets the same colour).
        title: a line above the tokens; ``None`` for none.
        height: the figure's height in pixels; ``None`` grows with the rows.

    Raises:
        ValueError: as :func:`token_spans`, or for a bad option.

    Example:
        >>> TokenViewer("Hello", lambda t: ["He", "llo"]).tokens
        ['He', 'llo']
    """

    def __init__(
        self,
        text: str,
        tokenizer: Any,
        *,
        color_by: str = "position",
        title: str | None = None,
        height: int | None = None,
    ) -> None:
        self.text = check_text(text)
        self.color_by, self.title, self.height = "position", None, None
        self.set(color_by=color_by, title=title, height=height)
        self._tokens = tokens_of(text, tokenizer)

    def set(
        self, *, color_by: str = UNSET, title: str | None = UNSET, height: int | None = UNSET
    ) -> None:
        """Change how the tokens are drawn (only what is given; keyword-only).

        Returns:
            None. On a ValueError nothing changes.
        """
        new_color = (
            self.color_by if color_by is UNSET else check_choice("color_by", color_by, COLOR_BY)
        )
        new_title = self.title if title is UNSET else check_title(title)
        new_height = self.height if height is UNSET else check_height(height)
        self.color_by, self.title, self.height = new_color, new_title, new_height

    @property
    def spans(self) -> list[TokenSpan]:
        """``[(piece_text, id), ...]``, as :func:`token_spans` returns."""
        return [(t.text, t.id) for t in self._tokens]

    @property
    def tokens(self) -> list[str]:
        """The text of each token."""
        return [t.text for t in self._tokens]

    @property
    def ids(self) -> list[int | tuple[int, ...] | None]:
        """The id of each token (a tuple for a group of byte pieces)."""
        return [t.id for t in self._tokens]

    def colors(self) -> list[str]:
        """The background colour of each token (deterministic).

        Returns:
            One ``#rrggbb`` string per token.
        """
        return [_color(k, t, self.color_by) for k, t in enumerate(self._tokens)]

    def _summary(self) -> str:
        n_ids = sum(len(t.ids) if t.ids is not None else 1 for t in self._tokens)
        n_bytes = len(self.text.encode("utf-8"))
        summary = f"{n_ids} tokens · {len(self.text)} characters · {n_bytes} UTF-8 bytes" + (
            f" · {n_bytes / n_ids:.2f} bytes/token" if n_ids else ""
        )
        grouped = sum(1 for t in self._tokens if t.is_bytes)
        if grouped:
            summary += f" · {grouped} made of byte pieces (dashed)"
        return summary

    def html(self) -> str:
        """The viewer as an HTML fragment: no JavaScript, inline styles only.

        Returns:
            A ``<div>`` with a summary line and one ``<span>`` per token.
        """
        head = f"<strong>{html.escape(self.title)}</strong> · " if self.title else ""
        spans = []
        for color, tok in zip(self.colors(), self._tokens, strict=True):
            style = f"background:{color};color:#111;border-radius:3px;padding:1px 0;"
            if tok.is_bytes:
                style += "outline:1px dashed #555;outline-offset:-1px;"
            if tok.unknown:
                style += "outline:2px solid #d00;outline-offset:-2px;"
            spans.append(
                f'<span style="{style}" title="{html.escape(_hover(tok), quote=True)}">'
                f"{_html_text(tok.text)}</span>"
            )
        return (
            '<div class="llmw-token-viewer">'
            f'<div style="font-size:0.85em;color:#666;margin-bottom:4px">{head}{self._summary()}'
            "</div>"
            '<div style="font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;'
            'white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.9">'
            f"{''.join(spans)}</div></div>"
        )

    def figure(self) -> go.Figure:
        """The coloured pieces as a plotly figure: one bar per token, in reading order.

        Tokens flow left to right in rows of 60 characters (a token ending in a line
        break ends its row); hovering a token shows its id(s) and pieces.

        Returns:
            A figure with one horizontal bar trace: bar ``k`` is token ``k``, its
            ``base`` the column where it starts, its length the number of characters.
        """
        rows, starts, lengths = [], [], []
        row = col = 0
        for tok in self._tokens:
            n = len(visible(tok.text))
            if col > 0 and col + n > _LINE_WIDTH:
                row, col = row + 1, 0
            rows.append(row)
            starts.append(col)
            lengths.append(n)
            col += n
            if tok.text.endswith("\n"):
                row, col = row + 1, 0
        bar = go.Bar(
            orientation="h",
            y=rows,
            x=lengths,
            base=starts,
            width=0.8,
            marker={"color": self.colors(), "line": {"color": "#555", "width": 0.5}},
            text=[label(t.text) for t in self._tokens],
            textposition="inside",
            insidetextanchor="middle",
            textfont={"family": "monospace", "color": "#111"},
            hovertext=[html.escape(_hover(t)) for t in self._tokens],
            hovertemplate="%{hovertext}<extra></extra>",
        )
        n_rows = (rows[-1] + 1) if rows else 1
        title = html.escape(self.title) + " · " if self.title else ""
        fig = go.Figure(bar)
        fig.update_layout(
            title={"text": f"{title}<sup>{html.escape(self._summary())}</sup>"},
            height=self.height or 110 + 32 * n_rows,
            xaxis={"visible": False, "range": [0, max(_LINE_WIDTH, max(starts, default=0) + 1)]},
            yaxis={"visible": False, "autorange": "reversed"},
            plot_bgcolor="white",
            margin={"l": 10, "r": 10, "t": 60, "b": 10},
            showlegend=False,
        )
        return fig

    def display(self) -> None:
        """Show the HTML view (the same as ending a cell with the viewer).

        Returns:
            None.
        """
        from IPython.display import display

        display(self)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"TokenViewer({len(self._tokens)} tokens: {self.tokens[:8]!r}...)"


def token_viewer(
    text: str, tokenizer: Any | Callable[[str], list[str]], **kwargs: Any
) -> TokenViewer:
    """Build a :class:`TokenViewer` (shows itself when it ends a cell).

    Args:
        text: the text to tokenize.
        tokenizer: see :func:`~llmwidgets.text.spans.token_spans`.
        **kwargs: ``color_by``, ``title``, ``height`` (see :class:`TokenViewer`).

    Returns:
        The viewer.
    """
    return TokenViewer(text, tokenizer, **kwargs)
