"""Tests for the attention viewer: input checks, the three views, the static and live forms,
and capturing weights from real modules."""

import base64
import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from llmwidgets.nn.attention import AttentionData, normalize_attention
from llmwidgets.nn.capture import capture_attention
from llmwidgets.widgets.attention_viewer import (
    AttentionViewer,
    attention_viewer,
    grid_figure,
    heatmap_figure,
    lines_figure,
)
from llmwidgets.widgets.display import PLOTLY_MIME, WIDGET_MIME

TOKENS = ["The", "cat", "sat", "on", "the"]


def _weights(layers=2, heads=3, n_q=5, n_k=5, causal=False, seed=0):
    scores = torch.randn(layers, heads, n_q, n_k, generator=torch.Generator().manual_seed(seed))
    if causal:
        scores = scores.masked_fill(torch.ones(n_q, n_k).triu(1).bool(), float("-inf"))
    return (2 * scores).softmax(-1)


def _plain(labels):
    """Axis labels without the zero-width spaces that keep repeated tokens apart."""
    return [label.replace("\u200b", "") for label in labels]


# --------------------------------------------------------------------------- normalisation


def test_every_accepted_shape_gives_l_h_tq_tk():
    w = _weights()
    full = normalize_attention(w, TOKENS).weights
    np.testing.assert_array_equal(full, w.numpy())
    as_list = normalize_attention(list(w), TOKENS).weights
    np.testing.assert_array_equal(as_list, w.numpy())
    batched = normalize_attention([layer[None] for layer in w], TOKENS).weights  # (1, H, T, T)
    np.testing.assert_array_equal(batched, w.numpy())
    one_layer = normalize_attention(w[1].numpy(), TOKENS).weights
    assert one_layer.shape == (1, 3, 5, 5)
    np.testing.assert_array_equal(one_layer[0], w[1].numpy())
    one_head = normalize_attention(w[1, 2].tolist(), TOKENS).weights
    assert one_head.shape == (1, 1, 5, 5)
    np.testing.assert_allclose(one_head[0, 0], w[1, 2].numpy())


def test_positions_label_the_axes_when_no_tokens_are_given():
    data = normalize_attention(_weights(n_q=3, n_k=3))
    assert data.query_tokens == data.key_tokens == ("0", "1", "2")
    assert data.is_self


def test_causal_mask_is_detected_only_for_causal_self_attention():
    assert normalize_attention(_weights(causal=True), TOKENS).causal
    assert not normalize_attention(_weights(), TOKENS).causal
    assert not normalize_attention(_weights(n_q=1, n_k=1), ["a"]).causal
    cross = normalize_attention(_weights(causal=True), source_tokens=TOKENS, target_tokens=TOKENS)
    assert not cross.causal
    assert not normalize_attention(_weights(causal=True), TOKENS, causal=False).causal
    data = normalize_attention(_weights(causal=True), TOKENS)
    np.testing.assert_array_equal(data.mask, np.triu(np.ones((5, 5), dtype=bool), 1))


def _bad(name):
    w = _weights(layers=4, heads=2).numpy()
    nan, inf, negative = w.copy(), w.copy(), w.copy()
    nan[0, 1, 2, 3] = np.nan
    inf[1, 0, 4, 0] = np.inf
    negative[2, 1, 0, 2] = -0.5
    cases = {
        "short tokens": (
            (w, TOKENS[:4]),
            {},
            "attention has T_q=5 query positions but tokens has 4 entries",
        ),
        "not square": (
            (w[..., :3, :],),
            {"tokens": TOKENS[:3]},
            "T_q=3 query positions and T_k=5 key positions",
        ),
        "short target": (
            (w[..., :3, :],),
            {"source_tokens": TOKENS, "target_tokens": ["x", "y"]},
            "attention has T_q=3 query positions but target_tokens has 2 entries",
        ),
        "long source": (
            (w[..., :3, :],),
            {"source_tokens": TOKENS + ["!"], "target_tokens": ["x", "y", "z"]},
            "attention has T_k=5 key positions but source_tokens has 6 entries",
        ),
        "both kinds": ((w, TOKENS), {"source_tokens": TOKENS}, "not both"),
        "only source": ((w,), {"source_tokens": TOKENS}, "needs both"),
        "one string": ((w, "The cat"), {}, "one string"),
        "nan": ((nan, TOKENS), {}, "finite, got nan at layer 0, head 1, query 2, key 3"),
        "inf": ((inf, TOKENS), {}, "finite, got inf at layer 1, head 0, query 4, key 0"),
        "negative": ((negative, TOKENS), {}, ">= 0, got -0.5 at layer 2, head 1, query 0, key 2"),
        "ragged layers": (
            ([w[0], w[1, :, :4, :4]], TOKENS),
            {},
            r"layer 1 has shape \(2, 4, 4\) but layer 0 has shape \(2, 5, 5\)",
        ),
        "batch in list": (([w[None, 0].repeat(2, 0)], TOKENS), {}, "pick one batch element"),
        "five dims": (
            (w[None], TOKENS),
            {},
            r"2, 3 or 4 dimensions .* got shape \(1, 4, 2, 5, 5\)",
        ),
        "empty": (([], TOKENS), {}, "empty"),
        "words": ((["a", "b"],), {}, "must be numbers"),
        "layer too big": ((w, TOKENS, 4, 0), {}, r"layer=4 but attention has 4 layers \(0\.\.3\)"),
        "head too big": ((w, TOKENS, 0, 2), {}, r"head=2 but attention has 2 heads \(0\.\.1\)"),
        "negative layer": ((w, TOKENS, -1, 0), {}, r"layer=-1 but attention has 4 layers"),
        "float head": ((w, TOKENS, 0, 1.0), {}, "head must be an int"),
    }
    return cases[name]


@pytest.mark.parametrize("view", [heatmap_figure, lines_figure])
@pytest.mark.parametrize(
    "case",
    [
        "short tokens",
        "not square",
        "short target",
        "long source",
        "both kinds",
        "only source",
        "one string",
        "nan",
        "inf",
        "negative",
        "ragged layers",
        "batch in list",
        "five dims",
        "empty",
        "words",
        "layer too big",
        "head too big",
        "negative layer",
        "float head",
    ],
)
def test_bad_input_raises_value_error_naming_the_sizes(view, case):
    args, kwargs, message = _bad(case)
    with pytest.raises(ValueError, match=message):
        view(*args, **kwargs)


def test_rows_not_summing_to_one_warn_but_masked_rows_do_not():
    w = _weights(layers=1, heads=1).numpy()
    zero_row = w.copy()
    zero_row[0, 0, 3] = 0  # a query whose keys are all masked (e.g. padding)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalize_attention(zero_row, TOKENS)
    half = w.copy()
    half[0, 0, 1] /= 2
    with pytest.warns(UserWarning, match="layer 0, head 0, query 1 sums to 0.5"):
        normalize_attention(half, TOKENS)


# --------------------------------------------------------------------------- views


def test_heatmap_shows_exactly_the_chosen_head():
    w = _weights()
    fig = heatmap_figure(w, TOKENS, layer=1, head=2)
    assert len(fig.data) == 1  # not causal: no mask trace
    trace = fig.data[0]
    np.testing.assert_array_equal(trace.z, w[1, 2].numpy())
    assert _plain(trace.x) == TOKENS and _plain(trace.y) == TOKENS
    assert fig.layout.title.text == "Attention: layer 1, head 2"
    assert fig.layout.yaxis.autorange == "reversed"  # first query at the top
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "category"


def test_repeated_tokens_keep_their_own_cells():
    tokens = ["a", "b", "a", "a"]
    fig = heatmap_figure(_weights(n_q=4, n_k=4), tokens)
    assert len(set(fig.data[0].x)) == 4
    assert _plain(fig.data[0].x) == tokens


def test_causal_cells_are_marked_masked():
    w = _weights(causal=True)
    fig = heatmap_figure(w, TOKENS, layer=0, head=1)
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    z = np.asarray(fig.data[0].z)
    assert np.isnan(z[mask]).all()
    np.testing.assert_array_equal(z[~mask], w[0, 1].numpy()[~mask])
    overlay = fig.data[1]
    assert overlay.name == "masked" and "masked" in overlay.hovertemplate
    np.testing.assert_array_equal(np.isfinite(np.asarray(overlay.z)), mask)
    assert fig.layout.plot_bgcolor == overlay.colorscale[0][1]  # NaN gaps show the same grey


def test_grid_has_every_layer_and_head_on_one_colour_scale():
    w = _weights(causal=True)
    fig = grid_figure(w, TOKENS)
    assert len(fig.data) == 2 * 3
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    for index, trace in enumerate(fig.data):
        layer, head = divmod(index, 3)
        z = np.asarray(trace.z)
        np.testing.assert_array_equal(z[~mask], w[layer, head].numpy()[~mask])
        assert np.isnan(z[mask]).all()
        assert trace.coloraxis == "coloraxis"
        assert trace.xaxis == ("x" if index == 0 else f"x{index + 1}")  # row-major subplots
    assert [a.text for a in fig.layout.annotations] == [
        f"L{i} H{j}" for i in (0, 1) for j in range(3)
    ]
    assert fig.layout.coloraxis.cmin == 0
    assert fig.layout.coloraxis.cmax == pytest.approx(float(w.max()))


def _band_thickness(trace):
    """Thickness at the query end (x=0) of each band, in drawing order."""
    y = list(trace.y)
    bands = [y[i : i + 5] for i in range(0, len(y), 6)]
    return np.array([band[3] - band[0] for band in bands])


def test_lines_are_as_thick_as_the_weights():
    w = _weights(layers=1, heads=1)
    fig = lines_figure(w, TOKENS)
    assert len(fig.data) == 5 + 2  # one trace per query, then the two token columns
    for i in range(5):
        thickness = _band_thickness(fig.data[i])
        row = w[0, 0, i].numpy()
        np.testing.assert_array_equal(np.argsort(thickness), np.argsort(row))
        np.testing.assert_allclose(thickness, 0.8 * row, rtol=1e-6)
        assert fig.data[i].name == f"{i}: {TOKENS[i]}"
        assert fig.data[i].y[0] == pytest.approx(i - 0.4 * row[0])  # starts at its query
    queries, keys = fig.data[5], fig.data[6]
    assert list(queries.x) == [0.0] * 5 and list(keys.x) == [1.0] * 5
    top = int(np.argmax(w[0, 0, 2].numpy()))
    assert queries.hovertext[2].startswith(f"query sat → {TOKENS[top]} ")


def test_lines_skip_masked_pairs_and_the_dropdown_highlights_one_query():
    w = _weights(causal=True)
    fig = lines_figure(w, TOKENS, layer=1, head=0)
    for i in range(5):
        assert len(_band_thickness(fig.data[i])) == i + 1  # keys 0..i only
    buttons = fig.layout.updatemenus[0].buttons
    assert len(buttons) == 1 + 5
    opacity, traces = buttons[3].args
    assert list(traces) == list(range(5))
    assert opacity["opacity"] == [0.08, 0.08, 1.0, 0.08, 0.08]  # query 2 ("sat")
    assert buttons[3].label == "query sat"


def test_cross_attention_with_different_lengths():
    w = _weights(layers=2, heads=2, n_q=3, n_k=6)
    source = ["le", "chat", "est", "assis", "là", "."]
    target = ["the", "cat", "sat"]
    fig = heatmap_figure(w, layer=1, head=1, source_tokens=source, target_tokens=target)
    np.testing.assert_array_equal(fig.data[0].z, w[1, 1].numpy())
    assert _plain(fig.data[0].x) == source and _plain(fig.data[0].y) == target
    lines = lines_figure(w, source_tokens=source, target_tokens=target)
    assert len(lines.data) == 3 + 2
    assert _plain(lines.data[3].text) == target and _plain(lines.data[4].text) == source
    assert len(grid_figure(w, source_tokens=source, target_tokens=target).data) == 4
    static = AttentionViewer(w, source_tokens=source, target_tokens=target).static_figure()
    assert len(static.data) == 4 and static.data[0].z.shape == (3, 6)


# --------------------------------------------------------------------------- viewer


def test_static_figure_has_one_button_per_layer_and_head():
    w = _weights(causal=True)
    viewer = attention_viewer(w, TOKENS, layer=1, head=1)
    fig = viewer.static_figure()
    assert len(fig.data) == 2 * 3 + 1 and fig.data[-1].name == "masked"
    menu = fig.layout.updatemenus[0]
    assert len(menu.buttons) == 6 and menu.active == 4
    assert [t.visible is not False for t in fig.data] == [False] * 4 + [True, False, True]
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    for index, button in enumerate(menu.buttons):
        layer, head = divmod(index, 3)
        assert button.label == f"layer {layer}, head {head}"
        visible = button.args[0]["visible"]
        assert visible == [i == index for i in range(6)] + [True]
        shown = fig.data[visible.index(True)]
        np.testing.assert_array_equal(np.asarray(shown.z)[~mask], w[layer, head].numpy()[~mask])
        assert button.args[1]["title.text"] == f"Attention: layer {layer}, head {head}"


class _Live:
    """Stands in for a LiveFigure of the viewer and records each redraw."""

    def __init__(self):
        self.figures = []

    def update(self, fig):
        self.figures.append(fig)


def test_set_recomputes_and_redraws():
    w = _weights()
    viewer = AttentionViewer(w, TOKENS)
    live = _Live()
    viewer._live.append(live)
    viewer.set(layer=1, head=2)
    np.testing.assert_array_equal(viewer.figure().data[0].z, w[1, 2].numpy())
    assert len(live.figures) == 1
    assert live.figures[-1].layout.title.text.endswith("layer 1, head 2")
    viewer.set(view="lines")
    assert len(viewer.figure().data) == 5 + 2
    viewer.set(view="grid", title="Grid <x>")
    assert len(viewer.figure().data) == 6
    assert viewer.figure().layout.title.text.startswith("Grid &lt;x&gt;: all 2 layers")
    with pytest.raises(ValueError, match=r"head=3 but attention has 3 heads \(0\.\.2\)"):
        viewer.set(layer=0, head=3)
    with pytest.raises(ValueError, match="view must be one of"):
        viewer.set(view="bars")
    with pytest.raises(TypeError):
        viewer.set(1)  # keyword-only
    assert (viewer.layer, viewer.head, viewer.view) == (1, 2, "grid")  # unchanged by errors
    assert len(live.figures) == 3


def test_the_data_is_checked_once_not_on_every_set(monkeypatch):
    from llmwidgets.widgets import attention_figures

    viewer = AttentionViewer(_weights(), TOKENS)
    calls = []
    monkeypatch.setattr(attention_figures, "normalize_attention", lambda *a, **k: calls.append(1))
    viewer.set(layer=1)
    viewer.set(view="lines")
    viewer.static_figure()
    assert calls == []


def test_tokens_are_escaped_and_white_space_shown():
    tokens = ["<b>x</b>", " ", "\n", "a\tb", ""]
    fig = heatmap_figure(_weights(layers=1, heads=1), tokens)
    assert _plain(fig.data[0].x) == ["&lt;b&gt;x&lt;/b&gt;", "␣", "↵", "a⇥b", "∅"]
    lines = lines_figure(_weights(layers=1, heads=1), tokens)
    assert _plain(lines.data[5].text)[0] == "&lt;b&gt;x&lt;/b&gt;"


def test_grid_has_token_tick_labels_on_the_outer_axes():
    fig = grid_figure(_weights(causal=True), TOKENS)
    layout = fig.layout
    assert layout.xaxis4.showticklabels and layout.xaxis6.showticklabels  # last row
    assert not layout.xaxis.showticklabels
    assert layout.yaxis.showticklabels and layout.yaxis4.showticklabels  # first column
    assert not layout.yaxis2.showticklabels
    assert _plain(fig.data[3].x) == TOKENS and _plain(fig.data[0].y) == TOKENS


def test_controls_and_set_stay_in_step():
    pytest.importorskip("ipywidgets")
    w = _weights()
    viewer = AttentionViewer(w, TOKENS)
    live = _Live()
    viewer._live.append(live)
    layer, head, label, view = viewer.controls().children
    assert label.value == "view" and view.description == ""
    assert viewer.controls().layout.flex_flow == "row nowrap"
    layer.value = 1
    head.value = 2
    np.testing.assert_array_equal(viewer.figure().data[0].z, w[1, 2].numpy())
    viewer.set(layer=0, head=1, view="grid")
    assert (layer.value, head.value, view.value) == (0, 1, "grid")
    assert layer.disabled and head.disabled
    assert len(live.figures) == 3  # one redraw per change, none echoed back by the controls


def test_outside_a_kernel_the_static_form_is_shown(capsys):
    AttentionViewer(_weights(), TOKENS).display()
    assert capsys.readouterr().out.strip() == "<plotly figure: Attention: layer 0, head 0>"


def _decode(array):
    """A plotly JSON array: a list or a base64 typed array."""
    if isinstance(array, dict):
        shape = [int(n) for n in str(array["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(array["bdata"]), array["dtype"]).reshape(shape)
    return np.asarray(array, dtype=float)


@pytest.mark.kernel
def test_live_form_in_a_real_kernel(run_in_kernel):
    """One output: the widget view, carrying the static form; set() redraws the live figure."""
    w = _weights(layers=2, heads=2, n_q=4, n_k=4)
    (outputs,) = run_in_kernel(
        f"""
import numpy as np
from llmwidgets.widgets.attention_viewer import AttentionViewer
from llmwidgets.widgets.display import PLOTLY_MIME
attention = np.array({json.dumps(w.tolist())}, dtype=np.float32)
viewer = AttentionViewer(attention, ["a", "b", "c", "a"])
display(viewer)
viewer.set(layer=1, head=0)
(live,) = viewer._live
print(live.output.outputs[0]["data"][PLOTLY_MIME]["layout"]["title"]["text"])
"""
    )
    views = [o for o in outputs if WIDGET_MIME in o.get("data", {})]
    assert len(views) == 1, [o.output_type for o in outputs]
    fallback = views[0]["data"]
    assert PLOTLY_MIME in fallback and "text/html" in fallback  # the static form, for the book
    buttons = fallback[PLOTLY_MIME]["layout"]["updatemenus"][0]["buttons"]
    assert len(buttons) == 4
    np.testing.assert_array_equal(_decode(fallback[PLOTLY_MIME]["data"][0]["z"]), w[0, 0].numpy())
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert printed.strip() == "Attention: layer 1, head 0"  # the live figure, redrawn
    assert not [o for o in outputs if PLOTLY_MIME in o.get("data", {}) and o not in views]


# --------------------------------------------------------------------------- capture


class _TinyGPT(nn.Module):
    """Follows the book's convention: forward(ids, return_attention=False)."""

    def __init__(self, vocab=11, dim=8, heads=2, layers=3):
        super().__init__()
        self.heads = heads
        self.embed = nn.Embedding(vocab, dim)
        self.qk = nn.ModuleList(nn.Linear(dim, 2 * dim) for _ in range(layers))
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids, return_attention=False):
        x = self.embed(ids)
        b, t, d = x.shape
        attentions = []
        for qk in self.qk:
            q, k = qk(x).view(b, t, 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            scores = q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5
            causal = torch.ones(t, t, dtype=torch.bool).triu(1)
            weights = scores.masked_fill(causal, float("-inf")).softmax(-1)
            attentions.append(weights)
            x = x + (weights @ x.view(b, t, self.heads, -1).transpose(1, 2)).transpose(
                1, 2
            ).reshape(b, t, d)
        logits = self.head(x)
        return (logits, attentions) if return_attention else logits


def test_capture_uses_return_attention():
    torch.manual_seed(0)
    model = _TinyGPT()
    ids = torch.tensor([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    with torch.no_grad():
        _, expected = model(ids, return_attention=True)
    captured = capture_attention(model, ids, batch_index=1)
    assert captured.shape == (3, 2, 5, 5) and captured.dtype == torch.float32
    torch.testing.assert_close(captured, torch.stack([a[1] for a in expected]))
    from_list = capture_attention(model, [1, 2, 3, 4, 5])  # a list becomes a batch of one
    torch.testing.assert_close(from_list, torch.stack([a[0] for a in expected]))
    assert normalize_attention(from_list, ["a", "b", "c", "d", "e"]).causal
    with pytest.raises(ValueError, match=r"batch_index=2 but the batch has 2 sequences \(0\.\.1\)"):
        capture_attention(model, ids, batch_index=2)


def _encoder():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2)


def _direct_weights(encoder, x, mask=None, padding=None):
    """Each layer's weights from nn.MultiheadAttention(need_weights=True), layer by layer."""
    weights = []
    with torch.no_grad():
        for layer in encoder.layers:
            attn = layer.self_attn(
                x,
                x,
                x,
                attn_mask=mask,
                key_padding_mask=padding,
                need_weights=True,
                average_attn_weights=False,
            )[1]
            weights.append(attn[0])
            x = layer(x, src_mask=mask, src_key_padding_mask=padding)
    return torch.stack(weights)


def test_capture_hooks_multihead_attention_in_a_transformer_encoder():
    encoder = _encoder()
    encoder.layers[1].eval()  # mixed train/eval flags must come back as they were
    x = torch.randn(1, 6, 8, generator=torch.Generator().manual_seed(1))
    captured = capture_attention(encoder, x)
    assert captured.shape == (2, 2, 6, 6)
    assert [m.training for m in encoder.modules()][:3] == [True, True, True]
    assert not encoder.layers[1].training
    encoder.eval()
    torch.testing.assert_close(captured, _direct_weights(encoder, x), atol=1e-6, rtol=0)
    for module in encoder.modules():  # hooks gone
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_capture_with_a_causal_mask_and_padding():
    encoder = _encoder().eval()
    x = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(2))
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    causal = capture_attention(encoder, x, mask=mask, batch_index=1)
    x1 = x[1:]
    torch.testing.assert_close(causal, _direct_weights(encoder, x1, mask), atol=1e-6, rtol=0)
    assert normalize_attention(causal, list("abcdef")).causal
    padding = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])  # eval + padding: fast path
    padded = capture_attention(encoder, x, src_key_padding_mask=padding, batch_index=1)
    expected = _direct_weights(encoder, x1, padding=padding[1:])
    torch.testing.assert_close(padded, expected, atol=1e-6, rtol=0)
    assert (padded[..., 4:] == 0).all()


class _AveragingUser(nn.Module):
    """Uses nn.MultiheadAttention's averaged weights itself (the default call)."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        out, averaged = self.attn(x, x, x)
        return out + averaged.sum(-1, keepdim=True)


def test_capture_leaves_the_models_own_computation_unchanged():
    torch.manual_seed(0)
    model = _AveragingUser().eval()
    x = torch.randn(1, 4, 8)
    captured = capture_attention(model, x)
    with torch.no_grad():
        _, expected = model.attn(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(captured[0], expected[0], atol=1e-6, rtol=0)
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(out))
    capture_attention(model, x)
    with torch.no_grad():
        torch.testing.assert_close(seen[0], model(x))


def test_capture_needs_attention_to_capture():
    with pytest.raises(ValueError, match="no return_attention argument .* no torch.nn.Multihead"):
        capture_attention(nn.Linear(3, 3), torch.randn(1, 3))
    with pytest.raises(ValueError, match="batch_index must be an int >= 0"):
        capture_attention(_encoder(), torch.randn(1, 3, 8), batch_index=-1)


def test_attention_data_passes_through():
    data = normalize_attention(_weights(), TOKENS)
    assert isinstance(data, AttentionData)
    assert normalize_attention(data) is data
    np.testing.assert_array_equal(
        heatmap_figure(data, layer=1, head=1).data[0].z, data.weights[1, 1]
    )
