"""ChatWidget: the widget API, the transcript, escaping, errors, and the live form in a kernel."""

from __future__ import annotations

import inspect

import plotly.graph_objects as go
import pytest

import llmwidgets
from llmwidgets.widgets.chat import ChatWidget
from llmwidgets.widgets.chat_figure import check_transcript, transcript_figure, transcript_text
from llmwidgets.widgets.display import PLOTLY_MIME, WIDGET_MIME


def echo(turns):
    """Answers with the user's last message in capitals, and the number of turns seen."""
    return f"{turns[-1][1].upper()} ({len(turns)})"


class _Live:
    """Stands in for a LiveFigure of the widget and records each redraw."""

    def __init__(self):
        self.figures = []

    def update(self, fig):
        self.figures.append(fig)


def _cells(fig):
    roles, texts = fig.data[0].cells.values
    return list(roles), list(texts)


# ----- the one widget API ----------------------------------------------------------
def test_the_widget_api():
    chat = ChatWidget(echo)
    for method in ("figure", "static_figure", "controls", "set", "display"):
        assert callable(getattr(chat, method)), method
    assert isinstance(chat.figure(), go.Figure) and isinstance(chat.static_figure(), go.Figure)
    params = list(inspect.signature(ChatWidget.set).parameters.values())[1:]
    assert params and all(p.kind == p.KEYWORD_ONLY for p in params)
    options = inspect.signature(ChatWidget).parameters
    assert "title" in options and "height" in options
    assert options["title"].kind == options["height"].kind == inspect.Parameter.KEYWORD_ONLY
    assert llmwidgets.ChatWidget is ChatWidget and llmwidgets.widgets.ChatWidget is ChatWidget


def test_send_grows_the_transcript_and_passes_the_history():
    seen = []

    def reply(turns):
        seen.append(turns)
        return echo(turns)

    chat = ChatWidget(reply, [("user", "hi"), ("assistant", "HI (1)")])
    assert chat.send("again") == "AGAIN (3)"
    assert seen == [[("user", "hi"), ("assistant", "HI (1)"), ("user", "again")]]
    assert chat.transcript[-2:] == [("user", "again"), ("assistant", "AGAIN (3)")]
    seen[0].clear()  # the reply got a copy: changing it changes nothing here
    assert len(chat.transcript) == 4
    assert chat.text().splitlines() == [
        "user: hi", "assistant: HI (1)", "user: again", "assistant: AGAIN (3)"
    ]  # fmt: skip
    assert chat.figure().layout.title.text == "Chat · 4 messages"
    chat.clear()
    assert chat.transcript == [] and chat.figure().layout.title.text == "Chat · 0 messages"


def test_figure_rows_colours_and_static_form_agree():
    chat = ChatWidget(echo, title="Tuned model", height=300)
    chat.send("Greet Romeo.")
    roles, texts = _cells(chat.figure())
    assert roles == ["user", "assistant"] and texts == ["Greet Romeo.", "GREET ROMEO. (1)"]
    fills = chat.figure().data[0].cells.fill.color
    assert fills[0][0] != fills[0][1]  # user and assistant rows differ
    assert chat.figure().layout.height == 300
    assert chat.figure().layout.title.text == "Tuned model · 2 messages"
    assert chat.static_figure().to_dict() == chat.figure().to_dict()


def test_texts_and_title_are_escaped():
    chat = ChatWidget(lambda turns: "<|end|> & <b>bold</b>\nnext", title="<i>x</i>")
    chat.send("<script>alert(1)</script>")
    _, texts = _cells(chat.figure())
    assert texts[0] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert texts[1] == "&lt;|end|&gt; &amp; &lt;b&gt;bold&lt;/b&gt;<br>next"  # a line break stays
    assert chat.figure().layout.title.text.startswith("&lt;i&gt;x&lt;/i&gt;")
    empty = ChatWidget(lambda turns: "")
    empty.send("say nothing")
    assert "∅" in _cells(empty.figure())[1][1]  # an empty reply is shown, not a blank row


def test_empty_transcript_has_a_placeholder_row():
    roles, texts = _cells(transcript_figure([]))
    assert roles == [""] and "no messages yet" in texts[0]
    short, long = transcript_figure([("user", "a")]), transcript_figure([("user", "a" * 400)])
    assert long.layout.height > short.layout.height  # the height grows with the text


def test_set_changes_only_what_is_given_and_redraws():
    chat = ChatWidget(echo, title="a")
    live = _Live()
    chat._live.append(live)
    chat.set(height=250)
    assert (chat.title, chat.height) == ("a", 250)
    chat.set(transcript=[("user", "x"), ("assistant", "y")])
    chat.send("z")
    assert len(live.figures) == 3  # one redraw per change
    assert live.figures[-1].layout.title.text == "a · 4 messages"
    chat.set(title=None)
    assert chat.figure().layout.title.text == "Chat · 4 messages"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"transcript": [("system", "x")]}, "turn 0 has role 'system'"),
        ({"transcript": [("user", "a"), ("user",)]}, r"turn 1 of the transcript must be a \(role"),
        ({"transcript": [("user", 3)]}, "turn 0 text must be a str"),
        ({"transcript": "user: hi"}, "transcript must be a list"),
        ({"height": 50}, "height must be an int >= 100, got 50"),
        ({"title": 3}, "title must be a str"),
    ],
)
def test_bad_values_raise_and_change_nothing(kwargs, message):
    chat = ChatWidget(echo, [("user", "hi"), ("assistant", "HI")], title="t")
    with pytest.raises(ValueError, match=message):
        chat.set(**kwargs)
    assert chat.transcript == [("user", "hi"), ("assistant", "HI")] and chat.title == "t"
    with pytest.raises(ValueError, match=message):
        ChatWidget(echo, **kwargs)


def test_bad_reply_and_messages():
    with pytest.raises(ValueError, match="reply must be callable"):
        ChatWidget("not a function")
    chat = ChatWidget(lambda turns: 42)
    with pytest.raises(ValueError, match="reply must return a str, got int"):
        chat.send("hi")
    with pytest.raises(ValueError, match="message must not be empty"):
        chat.send("")
    assert chat.transcript == []  # a failed send leaves the transcript alone

    def broken(turns):
        raise RuntimeError("the model is gone")

    chat = ChatWidget(broken, [("user", "a"), ("assistant", "b")])
    with pytest.raises(RuntimeError, match="the model is gone"):
        chat.send("c")
    assert chat.transcript == [("user", "a"), ("assistant", "b")]
    assert check_transcript((["user", "a"],)) == [("user", "a")]  # any pairs, as tuples
    assert transcript_text([("user", "a"), ("assistant", "")]) == "user: a\nassistant: "


# ----- the live controls -------------------------------------------------------------
def test_controls_send_clear_and_show_errors():
    pytest.importorskip("ipywidgets")
    chat = ChatWidget(echo)
    live = _Live()
    chat._live.append(live)
    box = chat.controls()
    assert chat.controls() is box  # built once
    (text, send, clear), status = box.children[0].children, box.children[1]
    assert send.description == "Send" and clear.description == "Clear"
    text.value = "hello"
    send.click()
    assert chat.transcript == [("user", "hello"), ("assistant", "HELLO (1)")]
    assert text.value == "" and not send.disabled and "Type a message" in status.value
    text.value = "   "
    send.click()  # an empty message is refused, nothing is sent
    assert len(chat.transcript) == 2 and "empty" in status.value
    clear.click()
    assert chat.transcript == [] and len(live.figures) == 2

    def broken(turns):
        raise RuntimeError("boom <b>")

    chat.reply = broken
    text.value = "again"
    send.click()  # does not raise into the frontend
    assert "reply failed: RuntimeError: boom &lt;b&gt;" in status.value
    assert text.value == "again" and chat.transcript == [] and not send.disabled


def test_outside_a_kernel_the_static_form_is_shown(capsys):
    ChatWidget(echo, [("user", "a"), ("assistant", "b")]).display()
    assert capsys.readouterr().out.strip() == "<plotly figure: Chat · 2 messages>"


@pytest.mark.kernel
def test_live_form_in_a_real_kernel_is_one_output_with_its_static_form(run_in_kernel):
    (outputs,) = run_in_kernel(
        """
from llmwidgets import ChatWidget
from llmwidgets.widgets.display import PLOTLY_MIME
chat = ChatWidget(lambda turns: "Good morrow, " + turns[-1][1], title="<demo>")
chat.send("Romeo")
display(chat)
chat._text.value = "Juliet"
chat._send_button.click()
(live,) = chat._live
print(live.output.outputs[0]["data"][PLOTLY_MIME]["layout"]["title"]["text"])
print(chat.text())
"""
    )
    assert not [o for o in outputs if o.output_type == "error"], outputs
    (view,) = [o for o in outputs if WIDGET_MIME in o.get("data", {})]
    assert len([o for o in outputs if o.output_type == "display_data"]) == 1
    static = view["data"][PLOTLY_MIME]  # the transcript when it was displayed, for the book
    assert static["layout"]["title"]["text"] == "&lt;demo&gt; · 2 messages"
    assert static["data"][0]["cells"]["values"][1] == ["Romeo", "Good morrow, Romeo"]
    assert "Good morrow, Romeo" in view["data"]["text/html"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "&lt;demo&gt; · 4 messages" in printed  # the live table was redrawn in place
    assert "assistant: Good morrow, Juliet" in printed
