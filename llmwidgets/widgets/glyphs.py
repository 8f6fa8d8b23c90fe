"""How every widget shows a token: white space made visible, HTML escaped.

One table for all four widgets (axis labels, bar labels, hover texts, the token viewer's
spans), so a space looks the same everywhere:

========  =====  =============================================================
text      shown  why
========  =====  =============================================================
``" "``   ␣      an invisible axis label would look like a missing token
``"\\n"``   ↵      a line break would break the label in two
``"\\t"``   ⇥
``""``    ∅      an empty token still gets a label
other     \\uXXXX control, format and separator characters, and lone surrogates
                 (which cannot even be encoded as UTF-8)
========  =====  =============================================================

Plotly draws axis labels, titles and hover texts as (a subset of) HTML, so a token
such as ``"<b>"`` must be escaped before it reaches a figure: :func:`label` does both.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence

__all__ = ["EMPTY", "GLYPHS", "axis_labels", "glyph", "label", "visible"]

#: White space -> the glyph that shows it.
GLYPHS = {" ": "␣", "\n": "↵", "\t": "⇥"}
#: How an empty token is shown.
EMPTY = "∅"
# Unicode categories shown as \uXXXX: controls, format characters (zero-width ...),
# line/paragraph separators, other spaces, and lone surrogates.
_ESCAPED = ("Cc", "Cf", "Cs", "Zl", "Zp", "Zs")


def glyph(ch: str) -> str | None:
    """The stand-in for one invisible character, or ``None`` for a visible one.

    Args:
        ch: one character.

    Returns:
        ``"␣"``, ``"↵"``, ``"⇥"``, ``"\\u200b"``-style text, or ``None``.
    """
    if ch in GLYPHS:
        return GLYPHS[ch]
    if unicodedata.category(ch) in _ESCAPED:
        return f"\\u{ord(ch):04x}"
    return None


def visible(text: str) -> str:
    """A token's text with its invisible characters replaced (not HTML-escaped).

    Args:
        text: the token.

    Returns:
        e.g. ``"␣the"``, ``"↵"``, ``"∅"`` for ``""``.
    """
    if not text:
        return EMPTY
    return "".join(glyph(ch) or ch for ch in text)


def label(text: str) -> str:
    """A token ready for a plotly figure: :func:`visible`, then HTML-escaped.

    Args:
        text: the token.

    Returns:
        e.g. ``"&lt;b&gt;␣x"`` for ``"<b> x"``.
    """
    return html.escape(visible(text), quote=False)


def axis_labels(tokens: Sequence[str]) -> list[str]:
    """Labels for a categorical axis: :func:`label` of each token, made unique.

    A repeated token gets invisible zero-width spaces appended, so plotly keeps one
    row or column per position instead of merging the repeats.

    Args:
        tokens: the tokens, in order.

    Returns:
        One label per token.
    """
    seen: dict[str, int] = {}
    labels = []
    for token in tokens:
        shown = label(token)
        count = seen.get(shown, 0)
        seen[shown] = count + 1
        labels.append(shown + "\u200b" * count)
    return labels
