"""SamplingExplorer: figures match llmwidgets.sampling; live form updates in place."""

import json

import pytest
import torch

from llmwidgets.nn.sampling import entropy, generate, kept_mask, sampling_probs
from llmwidgets.widgets.display import PLOTLY_MIME, WIDGET_MIME
from llmwidgets.widgets.sampling_explorer import SamplingExplorer, sampling_explorer
from llmwidgets.widgets.sampling_figure import CUT_COLOR, DEFAULT_TEMPERATURES

LOGITS = torch.tensor([0.5, 3.0, -1.0, 2.0, 1.0, 0.0, 2.0, -2.0])
LABELS = ["a", " the", "<b>", "\n", "cat", "dog", "x", "y"]
BY_LOGIT = [1, 3, 6, 4, 0, 5, 2, 7]  # ids sorted by logit, ties (3, 6) by id


def explorer(**kwargs):
    return SamplingExplorer(LOGITS, LABELS, **kwargs)


def close(got, expected, tol=1e-6):
    got, expected = torch.tensor(list(got), dtype=torch.float64), torch.as_tensor(expected)
    assert torch.allclose(got, expected.double(), atol=tol), (got, expected)


class CharTokenizer:
    """A tiny fake tokenizer: one token per character of a fixed alphabet."""

    alphabet = "ab <>&\n"

    def encode(self, text):
        return [self.alphabet.index(ch) for ch in text]

    def decode(self, ids):
        return "".join(self.alphabet[i] for i in ids)


class Bigram(torch.nn.Module):
    """A tiny fake model: next-token logits depend on the current token only."""

    def __init__(self, vocab=7):  # len(CharTokenizer.alphabet)
        super().__init__()
        self.table = torch.nn.Parameter(
            torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(0))
        )

    def forward(self, idx):
        return self.table[idx]


# ----- figure == transform ---------------------------------------------------------
@pytest.mark.parametrize(
    "settings",
    [{}, {"temperature": 0.5}, {"temperature": 0}, {"top_k": 3}, {"top_p": 0.6},
     {"temperature": 2.0, "top_k": 5, "top_p": 0.8}],
)  # fmt: skip
def test_bar_heights_are_the_sampling_probs(settings):
    ex = explorer(**settings)
    fig = ex.figure()
    kept_bar, cut_bar = fig.data
    expected = sampling_probs(LOGITS, **settings)
    assert list(kept_bar.customdata) == BY_LOGIT
    close(kept_bar.y, expected[BY_LOGIT])
    close(ex.probs(), expected)
    # cut tokens: grey hatched bars at their probability before the cut, marked ✂
    kept = kept_mask(LOGITS, **settings)[BY_LOGIT].tolist()
    before = sampling_probs(LOGITS, settings.get("temperature", 1.0))[BY_LOGIT].tolist()
    assert [y is None for y in cut_bar.y] == kept
    close(
        [y for y in cut_bar.y if y is not None],
        [b for b, k in zip(before, kept, strict=True) if not k],
    )
    assert list(cut_bar.text) == ["" if k else "✂" for k in kept]
    assert cut_bar.marker.color == CUT_COLOR and cut_bar.marker.pattern.shape == "/"
    assert "cut" in cut_bar.name
    # the entropy of the sampling distribution in the title
    assert f"entropy = {float(entropy(expected)):.3f} nats" in fig.layout.title.text


def test_cut_tokens_marked_for_top_k():
    fig = explorer(top_k=2).figure()
    assert list(fig.data[1].text) == ["", ""] + ["✂"] * 6
    assert "top-k = 2" in fig.layout.title.text


def test_tick_labels_are_visible_and_escaped():
    ticks = list(explorer().figure().layout.xaxis.ticktext)
    assert ticks == ["␣the", "↵", "x", "cat", "a", "dog", "&lt;b&gt;", "y"]


def test_top_n_limits_the_bars():
    fig = explorer(top_n=3).figure()
    assert list(fig.data[0].customdata) == [1, 3, 6]
    assert "top 3 of 8 tokens" in fig.layout.xaxis.title.text
    assert len(explorer(top_n=100).figure().data[0].y) == 8


def test_default_labels_are_the_ids():
    fig = SamplingExplorer([1.0, 2.0]).figure()
    assert list(fig.layout.xaxis.ticktext) == ["1", "0"]


# ----- set() -----------------------------------------------------------------------
def test_set_changes_state_and_figure():
    ex = explorer()
    before = list(ex.figure().data[0].y)
    ex.set(temperature=2.0, top_k=4)
    assert (ex.temperature, ex.top_k, ex.top_p) == (2.0, 4, 1.0)
    after = ex.figure().data[0].y
    assert list(after) != before
    close(after, sampling_probs(LOGITS, 2.0, 4)[BY_LOGIT])
    ex.set(top_k=None)  # None turns top-k off; unspecified settings stay
    assert (ex.temperature, ex.top_k) == (2.0, None)


def test_set_bad_value_changes_nothing():
    ex = explorer(temperature=0.7)
    with pytest.raises(ValueError, match="top_p .* got 0"):
        ex.set(temperature=2.0, top_p=0)
    assert (ex.temperature, ex.top_p) == (0.7, 1.0)
    with pytest.raises(ValueError, match="temperature"):
        ex.set(temperature=float("nan"))
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 1"):
        ex.set(max_new_tokens=0)
    with pytest.raises(TypeError):
        ex.set(2.0)  # keyword-only


def test_set_returns_none_so_a_cell_ending_with_it_shows_nothing():
    assert explorer().set(temperature=1.0) is None


# ----- static figure ---------------------------------------------------------------
def test_static_figure_one_step_per_temperature():
    ex = explorer(top_k=5, top_p=0.9, temperature=1.0)
    fig = ex.static_figure()
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["0", "0.25", "0.5", "0.75", "1", "1.5", "2", "3"]
    assert slider.active == DEFAULT_TEMPERATURES.index(1)
    assert len(fig.data) == 2 * len(DEFAULT_TEMPERATURES)
    for step, t in zip(slider.steps, DEFAULT_TEMPERATURES, strict=True):
        visible = [i for i, v in enumerate(step.args[0]["visible"]) if v]
        assert len(visible) == 2
        kept_bar, cut_bar = (fig.data[i] for i in visible)
        close(kept_bar.y, sampling_probs(LOGITS, t, 5, 0.9)[BY_LOGIT])
        cut = ~kept_mask(LOGITS, t, 5, 0.9)[BY_LOGIT]
        assert [y is not None for y in cut_bar.y] == cut.tolist()
        assert f"T = {t:g}" in step.args[1]["title.text"]
    # the figure starts in the active step's state
    assert [bool(tr.visible) for tr in fig.data].count(True) == 2
    close(fig.data[2 * slider.active].y, ex.figure().data[0].y)


def test_static_figure_custom_temperatures_and_bad_ones():
    ex = explorer(temperature=0.4)
    fig = ex.static_figure(temperatures=(0.1, 0.5, 2))
    assert len(fig.layout.sliders[0].steps) == 3 and fig.layout.sliders[0].active == 1
    with pytest.raises(ValueError, match="temperatures is empty"):
        ex.static_figure(temperatures=())
    with pytest.raises(ValueError, match="temperature .* got -1"):
        ex.static_figure(temperatures=(1, -1))


def test_display_outside_a_kernel_shows_the_static_figure(capsys):
    explorer().display()
    assert capsys.readouterr().out.startswith("<plotly figure: Next-token probabilities")


# ----- sampling --------------------------------------------------------------------
def test_logits_mode_samples_single_tokens():
    ex = explorer(temperature=0, max_new_tokens=4)
    assert ex.sample() == " · ".join(["␣the"] * 4)
    ex.set(temperature=1.0, top_k=2)
    draws = ex.sample(50).split(" · ")
    assert len(draws) == 50 and set(draws) == {"␣the", "↵"}
    again = explorer(top_k=2).sample(50)
    assert again == explorer(top_k=2).sample(50)  # seeded


def test_model_mode_uses_the_model_and_tokenizer():
    model, tok = Bigram(), CharTokenizer()
    ex = SamplingExplorer(model=model, tokenizer=tok, prompt="ab", temperature=0, max_new_tokens=5)
    close(ex.logits, model.table[tok.encode("b")[0]].detach())
    assert ex.labels is None and ex.label(3) == "<"
    assert ex.vocab_size == len(tok.alphabet)
    # greedy continuation is the argmax chain of the fake model
    expected = generate(model, tok.encode("ab"), 5, temperature=0)[2:].tolist()
    assert ex.sample() == tok.decode(expected)
    ex.set(temperature=1.5)
    first = ex.sample(8)
    assert len(first) == 8
    ex2 = SamplingExplorer(model=model, tokenizer=tok, prompt="ab", temperature=1.5)
    assert ex2.sample(8) == first  # the same seed gives the same continuation
    assert "Next token after" in ex.figure().layout.title.text


def test_model_mode_prefers_id_to_piece():
    class PieceTokenizer(CharTokenizer):
        def id_to_piece(self, i):
            return f"<{i}>"

    ex = SamplingExplorer(model=Bigram(), tokenizer=PieceTokenizer(), prompt="a")
    assert ex.label(2) == "<2>"
    assert "&lt;2&gt;" in ex.figure().layout.xaxis.ticktext


def test_model_mode_block_size_crops_the_prompt():
    seen = []

    def model(idx):
        seen.append(idx.shape[1])
        return torch.zeros(idx.shape[0], idx.shape[1], 7)

    ex = SamplingExplorer(model=model, tokenizer=CharTokenizer(), prompt="abab", block_size=2)
    ex.sample(3)
    assert set(seen) == {2}


# ----- live form -------------------------------------------------------------------
def test_controls_drive_set_and_follow_it():
    ex = explorer()
    box = ex.controls()
    assert ex.controls() is box
    controls = ex._controls
    controls["temperature"].value = 0.5
    controls["top_k"].value = 3
    assert (ex.temperature, ex.top_k) == (0.5, 3)
    controls["top_k"].value = 0  # 0 on the slider = off
    assert ex.top_k is None
    ex.set(temperature=5.0, top_p=0.5)  # beyond the slider's range: the slider grows
    assert controls["temperature"].value == 5.0 and controls["top_p"].value == 0.5
    ex._on_sample()
    assert "independent draws" in ex._text.value


def test_sample_text_is_escaped_and_errors_are_shown():
    tok = CharTokenizer()
    ex = SamplingExplorer(model=Bigram(), tokenizer=tok, prompt="<&", temperature=0)
    ex.controls()
    ex._on_sample()
    assert "&lt;&amp;" in ex._text.value and "<&" not in ex._text.value

    def broken(idx):
        raise RuntimeError("boom <b>")

    bad = SamplingExplorer(model=Bigram(), tokenizer=tok, prompt="a")
    bad.model = broken
    bad.controls()
    bad._on_sample()  # does not raise
    assert "sampling failed: RuntimeError: boom &lt;b&gt;" in bad._text.value


@pytest.mark.kernel
def test_live_form_in_a_real_kernel_is_one_output_with_its_static_form(run_in_kernel):
    (outputs,) = run_in_kernel(
        f"""
import torch
from llmwidgets.widgets.display import PLOTLY_MIME
from llmwidgets.widgets.sampling_explorer import SamplingExplorer
explorer = SamplingExplorer(torch.tensor({LOGITS.tolist()}), labels={LABELS})
display(explorer)
explorer.set(temperature=2.0)
(live,) = explorer._live
print(live.output.outputs[0]["data"][PLOTLY_MIME]["layout"]["title"]["text"])
"""
    )
    assert not [o for o in outputs if o.output_type == "error"], outputs
    (view,) = [o for o in outputs if WIDGET_MIME in o.get("data", {})]
    assert len([o for o in outputs if o.output_type == "display_data"]) == 1
    static = view["data"][PLOTLY_MIME]  # the static form rides along, for the book
    assert len(static["layout"]["sliders"][0]["steps"]) == len(DEFAULT_TEMPERATURES)
    assert "temperature = " in view["data"]["text/html"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "T = 2 " in printed  # the live figure was redrawn at T = 2


def test_sliders_have_equal_tracks():
    ex = explorer()
    ex.controls()
    sliders = list(ex._controls.values())
    assert {s.layout.width for s in sliders} == {"380px"}
    assert {s.layout.flex for s in sliders} == {"0 0 auto"}  # never squeezed
    assert {s.style.description_width for s in sliders} == {"170px"}


# ----- bad input -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"logits": LOGITS, "labels": LABELS[:3]}, "labels has 3 entries but logits has 8 values"),
        ({"logits": [1.0, float("nan")]}, r"logits contain 1 NaN value at positions \[1\]"),
        ({"logits": [1.0, float("inf")]}, "infinite"),
        ({"logits": []}, "logits are empty"),
        ({"logits": torch.zeros(2, 3)}, r"logits must be 1-D \(V,\), got shape \(2, 3\)"),
        ({"logits": LOGITS, "temperature": -1}, "temperature .* got -1"),
        ({"logits": LOGITS, "top_p": 2}, "top_p .* got 2"),
        ({"logits": LOGITS, "top_k": 0}, "top_k .* got 0"),
        ({"logits": LOGITS, "top_n": 0}, "top_n must be an int >= 1, got 0"),
        ({"logits": LOGITS, "max_new_tokens": -2}, "max_new_tokens must be an int >= 1, got -2"),
        ({"logits": LOGITS, "height": 0}, "height must be an int >= 100, got 0"),
        ({"logits": LOGITS, "title": 3}, "title must be a str"),
        ({}, "give logits"),
        ({"logits": LOGITS, "model": Bigram()}, r"not both \(got \['model'\]\)"),
        ({"model": Bigram(), "prompt": "ab"}, r"\['tokenizer'\]"),
        (
            {"model": Bigram(), "tokenizer": CharTokenizer(), "prompt": ""},
            "prompt must be a non-empty string",
        ),
        ({"model": Bigram(), "tokenizer": object(), "prompt": "a"}, "tokenizer has no encode"),
    ],
)
def test_bad_input_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingExplorer(**kwargs)


def test_prompt_that_encodes_to_nothing():
    class Empty(CharTokenizer):
        def encode(self, text):
            return []

    with pytest.raises(ValueError, match="prompt 'ab' encodes to no tokens"):
        SamplingExplorer(model=Bigram(), tokenizer=Empty(), prompt="ab")


def test_model_mode_labels_length_checked():
    with pytest.raises(ValueError, match="labels has 2 entries but logits has 7 values"):
        SamplingExplorer(labels=["a", "b"], model=Bigram(), tokenizer=CharTokenizer(), prompt="a")


def test_convenience_function():
    ex = sampling_explorer(LOGITS, LABELS, temperature=0.5)
    assert isinstance(ex, SamplingExplorer) and ex.temperature == 0.5
    json.dumps(ex.static_figure().to_plotly_json(), default=str)  # serialisable
