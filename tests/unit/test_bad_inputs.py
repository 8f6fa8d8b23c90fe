"""Bad input to the public API: a clear error, never a silently wrong result.

One table for the whole package. Each row is ``Row(id, call, exception, match)``: calling
``call()`` must raise exactly ``exception`` (not a subclass, not a torch/IndexError from
deep inside) with a message that matches the regex ``match``. Rows are appended section by
section (``ROWS += [...]`` under ``# --- <layer> ---``); ``pytest_generate_tests`` below
reads the finished table, so a section can be added anywhere in the file.

Behaviour that is right rather than an error (a temperature that underflows is greedy,
a config=None load detects an untied head, ...) is tested on values in the module's own
test file; this table is about refusals.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest
import torch
from torch import nn

import llmwidgets as lw
from llmwidgets import analysis as an
from llmwidgets.core.device import setup
from llmwidgets.nn.vit import ViT, ViTConfig
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training import (
    CheckpointError,
    TimeBudget,
    TokenBatcher,
    Trainer,
    TrainerConfig,
    load_model,
    next_token_loss,
    save_model,
    text_data,
)
from llmwidgets.training.history import MetricHistory
from llmwidgets.widgets.attention_viewer import AttentionViewer
from llmwidgets.widgets.display import figure_bundle, update, widget_bundle
from llmwidgets.widgets.loss_figure import loss_figure
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.loss_status import format_duration, status_line
from llmwidgets.widgets.sampling_explorer import SamplingExplorer
from llmwidgets.widgets.token_viewer import TokenViewer, token_spans


class Row(NamedTuple):
    """One bad call: ``call()`` raises ``exception`` whose message matches ``match``."""

    id: str  # unique, names the function and the bad input
    call: Callable[[], object]  # the bad call, with no arguments
    exception: type[BaseException]  # the exact class expected (a Warning: must warn)
    match: str  # a regex searched in the message (re.search)


ROWS: list[Row] = []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``row`` with the whole table, after every section has been added."""
    if "row" in metafunc.fixturenames:
        metafunc.parametrize("row", ROWS, ids=[row.id for row in ROWS])


def test_bad_input_gives_a_clear_error(row: Row) -> None:
    if issubclass(row.exception, Warning):  # accepted, but not silently: a warning says why
        with pytest.warns(row.exception, match=row.match):
            row.call()
        return
    with pytest.raises(BaseException) as caught:
        row.call()
    assert type(caught.value) is row.exception, f"{type(caught.value).__name__}: {caught.value}"
    assert caught.match(row.match)


def test_row_ids_are_unique() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


# Small objects the rows share, built on first use (collection stays fast).


@functools.cache
def tiny_gpt() -> lw.GPT:
    torch.manual_seed(0)
    return lw.GPT(lw.GPTConfig.preset("char-tiny")).eval()


@functools.cache
def task(direction: str = "en-zh") -> lw.NumberTask:
    return lw.NumberTask(direction)


@functools.cache
def gru(direction: str = "en-zh", shrink: int = 0) -> lw.GRUSeq2Seq:
    t = task(direction)
    torch.manual_seed(0)
    return lw.GRUSeq2Seq(len(t.src_vocab) - shrink, len(t.tgt_vocab), hidden=8).eval()


# --- core ---


def _load_with_cache_dir_a_file() -> object:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "cache_is_a_file")
        with open(path, "w") as f:
            f.write("not a folder")
        with mock.patch.dict(os.environ, {"LLMW_CACHE_DIR": path}):  # restored after
            os.environ.pop("LLMW_DATA_DIR", None)
            return lw.load_text("lunyu")


ROWS += [
    Row(
        "load_text: LLMW_CACHE_DIR is a regular file",
        _load_with_cache_dir_a_file,
        lw.CorpusError,
        r"the cache folder .*cache_is_a_file \(from LLMW_CACHE_DIR\) is a file, not a folder",
    ),
    Row(
        "load_text: unknown corpus",
        lambda: lw.load_text("wikipedia"),
        ValueError,
        r"unknown corpus 'wikipedia'; known corpora: \['lunyu', 'songci300', 'tinyshakespeare'\]",
    ),
]


# --- nn ---


def _untied_state_dict() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "transformer.wte.weight": torch.randn(65, 32, generator=g),
        "transformer.wpe.weight": torch.randn(32, 32, generator=g),
        "lm_head.weight": torch.randn(65, 32, generator=g),  # a separate, different head
    }


def _gpt2_small_shapes() -> dict[str, torch.Tensor]:
    meta = dict(device="meta")  # shapes without data
    return {
        "transformer.wte.weight": torch.empty(50257, 768, **meta),
        "transformer.wpe.weight": torch.empty(1024, 768, **meta),
        **{f"transformer.h.{i}.ln_1.weight": torch.empty(768, **meta) for i in range(12)},
    }


def _change_a_frozen_config() -> None:
    config = lw.GPTConfig.preset("char-tiny")
    config.n_head = 3  # type: ignore[misc]


ROWS += [
    Row(
        "GPTConfig: changed after creation",
        _change_a_frozen_config,
        dataclasses.FrozenInstanceError,
        "cannot assign to field 'n_head'",
    ),
    Row(
        "GPTConfig: n_embd not divisible by n_head",
        lambda: lw.GPTConfig(n_embd=8, n_head=3),
        ValueError,
        "n_embd=8 is not divisible by n_head=3",
    ),
    Row(
        "GPT.forward: empty batch",
        lambda: tiny_gpt()(torch.zeros(0, 3, dtype=torch.long)),
        ValueError,
        r"idx is an empty batch, shape \(0, 3\): give at least one sequence",
    ),
    Row(
        "GPT.forward: id outside the vocabulary",
        lambda: tiny_gpt()(torch.tensor([[1, 65]])),
        ValueError,
        r"token id 65 at position \(0, 1\) is outside the vocabulary of size 65",
    ),
    Row(
        "gpt_param_count: a dict",
        lambda: lw.gpt_param_count({"n_embd": 8}),
        ValueError,
        "config must be a GPTConfig, got dict",
    ),
    Row(
        "from_gpt2_state_dict: a list",
        lambda: lw.GPT.from_gpt2_state_dict([1, 2], lw.GPTConfig.preset("char-tiny")),
        ValueError,
        "state_dict must be a mapping of parameter names to tensors .*got list",
    ),
    Row(
        "from_gpt2_state_dict: untied head into a tied config",
        lambda: lw.GPT.from_gpt2_state_dict(_untied_state_dict(), lw.GPTConfig.preset("char-tiny")),
        ValueError,
        "lm_head.weight differs from transformer.wte.weight .*pass a config with tie_weights=False",
    ),
    Row(
        "from_gpt2_state_dict: n_head contradicts GPT-2 small",
        lambda: lw.GPT.from_gpt2_state_dict(_gpt2_small_shapes(), lw.GPTConfig(n_head=8)),
        ValueError,
        r"sizes of the 'gpt2' checkpoint, whose attention has n_head=12, but config has n_head=8",
    ),
    Row(
        "sampling_probs: a string",
        lambda: lw.sampling_probs("abc"),
        ValueError,
        r"logits must be real numbers \(a tensor, array or list\), got str",
    ),
    Row(
        "sampling_probs: complex logits",
        lambda: lw.sampling_probs(torch.tensor([1.0 + 1j, 2.0])),
        ValueError,
        "logits must be real numbers, got complex dtype torch.complex64",
    ),
    Row(
        "sampling_probs: negative temperature",
        lambda: lw.sampling_probs([1.0, 2.0], temperature=-1),
        ValueError,
        "temperature must be a finite number >= 0, got -1",
    ),
    Row(
        "sample_next: generator of the wrong type",
        lambda: lw.sample_next([1.0, 2.0], generator="x"),
        ValueError,
        "generator must be a torch.Generator or None, got str",
    ),
    Row(
        "generate: generator of the wrong type",
        lambda: lw.generate(tiny_gpt(), [1], 2, generator=0),
        ValueError,
        "generator must be a torch.Generator or None, got int",
    ),
    Row(
        "generate: negative max_new_tokens",
        lambda: lw.generate(tiny_gpt(), [1], -1),
        ValueError,
        "max_new_tokens must be an int >= 0, got -1",
    ),
    Row(
        "generate: block_size 0",
        lambda: lw.generate(tiny_gpt(), [1], 1, block_size=0),
        ValueError,
        "block_size must be an int >= 1, got 0",
    ),
    Row(
        "entropy: negative probabilities",
        lambda: lw.nn.entropy([-0.5, 1.5]),
        ValueError,
        r"probs must be >= 0, got -0.5 at \[0\]",
    ),
    Row(
        "entropy: not summing to 1",
        lambda: lw.nn.entropy([0.2, 0.3]),
        ValueError,
        "probs must sum to 1 over the last dimension, but one sums to 0.5",
    ),
    Row(
        "entropy: NaN",
        lambda: lw.nn.entropy([float("nan"), 1.0]),
        ValueError,
        r"probs must be finite, got nan at \[0\]",
    ),
    Row(
        "capture_attention: negative batch_index",
        lambda: lw.capture_attention(tiny_gpt(), [1, 2], batch_index=-1),
        ValueError,
        "batch_index must be an int >= 0, got -1",
    ),
    Row(
        "AttentionData.head: layer out of range",
        lambda: lw.normalize_attention(torch.eye(3).expand(2, 1, 3, 3)).head(2, 0),
        ValueError,
        r"layer=2 but attention has 2 layers \(0\.\.1\)",
    ),
    Row(
        "softmax: temperature 0",
        lambda: lw.softmax(torch.tensor([1.0, 2.0]), temperature=0.0),
        ValueError,
        "temperature must be a finite number > 0, got 0.0",
    ),
    Row(
        "causal_mask: zero keys",
        lambda: lw.causal_mask(3, 0),
        ValueError,
        "n_keys must be an int >= 1, got 0",
    ),
]


# --- seq2seq ---

# Input outside the task's grammar or range: refused with the reason, as a parser would,
# instead of a confident wrong translation by a model trained on 0..9999.
OUT_OF_GRAMMAR = {
    "ten thousand": "would make 10 thousand, but the numbers of the task end at 9999",
    "twelve hundred": "the task writes 1200 as 'one thousand two hundred'",
    "twenty one": "after 'twenty' needs a hyphen: 'twenty-one'",
    "zero zero": "'zero' at position 0 is only the number 0 on its own",
    "and and and": "'and' at position 0 must come after 'hundred' or 'thousand'",
    "-": "'-' at position 0 must join a tens word and a digit",
    "one two three": "'two' at position 1 cannot follow 'one'",
    "eleven thousand": "would make 11 thousand, but the numbers of the task end at 9999",
}

ROWS += [
    Row(
        f"translate: {text!r}",
        functools.partial(lambda t: lw.translate(gru(), task(), t), text),
        ValueError,
        rf"is not a number of the task \(0\.\.9999\): .*{reason}",
    )
    for text, reason in OUT_OF_GRAMMAR.items()
]

ROWS += [
    Row(
        "translate zh-en: 一千五 (a skipped place without 零)",
        lambda: lw.translate(gru("zh-en"), task("zh-en"), "一千五"),
        ValueError,
        "skips a place without 零: the task writes 1005 as 一千零五 and 1500 as 一千五百",
    ),
    Row(
        "translate: max_len=0",
        lambda: lw.translate(gru(), task(), "twelve", max_len=0),
        ValueError,
        r"max_len must be an int >= 1, got 0 \(or None\)",
    ),
    Row(
        "translate: a model with a smaller source vocabulary than the task",
        lambda: lw.translate(gru(shrink=3), task(), "twelve"),
        ValueError,
        r"the model's source vocabulary has 32 ids but the task's has 35: .*len\(task.src_vocab\)",
    ),
    Row(
        "greedy_decode: source id 999",
        lambda: lw.greedy_decode(gru(), torch.tensor([[3, 999]]), 1, 2, 5),
        ValueError,
        r"token id 999 at position \(0, 1\) is outside the vocabulary of size 35",
    ),
    Row(
        "beam_search: a batch of two sources",
        lambda: lw.beam_search(gru(), torch.tensor([[3], [4]]), 1, 2, 2, 5),
        ValueError,
        r"beam_search translates one source at a time, got \(2, 1\)",
    ),
    Row(
        "decode_target: negative id",
        lambda: task().decode_target([-1]),
        ValueError,
        r"ids\[0\]=-1 but the vocabulary has 16 tokens \(0\.\.15\)",
    ),
    Row(
        "decode_target: id out of range",
        lambda: task().decode_target([3, 999]),
        ValueError,
        r"ids\[1\]=999 but the vocabulary has 16 tokens",
    ),
    Row(
        "decode_target: not an int",
        lambda: task().decode_target(["a"]),
        ValueError,
        r"ids\[0\] must be an int, got 'a'",
    ),
    Row(
        "NumberTask: unknown direction",
        lambda: lw.NumberTask("en-fr"),
        ValueError,
        r"direction must be one of \('en-zh', 'zh-en'\), got 'en-fr'",
    ),
    Row(
        "TransformerSeq2SeqConfig: zero source vocabulary",
        lambda: lw.TransformerSeq2SeqConfig(0, 5),
        ValueError,
        "src_vocab must be an int >= 1, got 0",
    ),
    Row(
        "number_to_chinese: 10**8 + 1",
        lambda: lw.number_to_chinese(10**8 + 1),
        ValueError,
        r"number must be an int in \[0, 100000000\], got 100000001",
    ),
]


# --- training ---

FILES: Path = Path()  # a folder of damaged files, made once per session (see below)
TOKENS = torch.arange(200) % 8


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {FILES / 'pwned'}",))


@pytest.fixture(autouse=True, scope="module")
def bad_files(tmp_path_factory):
    global FILES
    FILES = tmp_path_factory.mktemp("bad-inputs")
    trainer = _trainer()
    trainer.fit(steps=1)
    good = trainer.save_checkpoint(FILES / "good.pt").read_bytes()
    (FILES / "truncated.pt").write_bytes(good[: len(good) // 2])
    (FILES / "random.pt").write_bytes(bytes(range(256)) * 8)
    (FILES / "evil.pt").write_bytes(pickle.dumps(_Evil()))
    yield
    assert not (FILES / "pwned").exists()  # no file ever ran code


def _trainer(**overrides):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(8, 8), nn.Linear(8, 8))
    settings = dict(max_steps=4, warmup_steps=1, eval_every=2, eval_iters=1, device="cpu")
    config = TrainerConfig(**{**settings, **overrides})
    return Trainer(model, config, TokenBatcher(TOKENS, 8, 2), TokenBatcher(TOKENS, 8, 2, seed=1))


def _change_config_after_building():
    trainer = _trainer()
    trainer.config.max_steps = 100


class _EmptyBatcher(TokenBatcher):
    def get_batch(self):
        return torch.zeros(0, 8, dtype=torch.long), torch.zeros(0, 8, dtype=torch.long)


def _empty_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(8, 8), nn.Linear(8, 8))
    Trainer(model, TrainerConfig(device="cpu"), _EmptyBatcher(TOKENS, 8, 2)).fit(steps=1)


def _resume_into_another_model():
    narrow = nn.Sequential(nn.Embedding(8, 4), nn.Linear(4, 8))
    Trainer(narrow, TrainerConfig(device="cpu"), TokenBatcher(TOKENS, 8, 2)).resume(
        FILES / "good.pt"
    )


_TRAINING = [
    ("config changed after the trainer was built", _change_config_after_building,
     dataclasses.FrozenInstanceError, "cannot assign to field 'max_steps'"),
    ("empty batch", _empty_batch, ValueError, r"the batch is empty: targets of shape \(0, 8\)"),
    ("empty targets", lambda: next_token_loss(torch.zeros(2, 0, 5), torch.zeros(2, 0).long()),
     ValueError, "the batch is empty"),
    ("checkpoint: truncated", lambda: _trainer().resume(FILES / "truncated.pt"), CheckpointError,
     r"truncated.pt could not be loaded .*damaged \(e.g. truncated\) or not a trainer checkp"),
    ("checkpoint: random bytes", lambda: _trainer().resume(FILES / "random.pt"), CheckpointError,
     r"random.pt could not be loaded \(2,048 bytes, not a torch file\)"),
    ("checkpoint: malicious pickle", lambda: _trainer().resume(FILES / "evil.pt"),
     CheckpointError, r"evil.pt is unsafe to load and was not loaded: .*\((posix|nt).system\)"),
    ("checkpoint: missing", lambda: _trainer().resume(FILES / "nope.pt"), FileNotFoundError,
     r"nope.pt: no such file \(expected a trainer checkpoint\)"),
    ("checkpoint: a folder", lambda: _trainer().resume(FILES), CheckpointError,
     "is a folder, not a trainer checkpoint"),
    ("checkpoint of another model", _resume_into_another_model, ValueError,
     r"does not fit .* 0.weight \(8, 8\) vs \(8, 4\)"),
    ("checkpoint_every without a path", lambda: TrainerConfig(checkpoint_every=10), ValueError,
     "checkpoint_every=10 needs a checkpoint_path"),
    ("max_seconds=0", lambda: TrainerConfig(max_seconds=0), ValueError,
     "max_seconds must be a finite number > 0, got 0"),
    ("min_lr above lr", lambda: TrainerConfig(lr=1e-3, min_lr=1e-2), ValueError,
     r"min_lr \(0.01\) must be <= lr \(0.001\)"),
    ("seed out of range", lambda: TrainerConfig(seed=2**32), ValueError, "seed must be an int in"),
    ("keep_best without validation", lambda: Trainer(nn.Linear(2, 2),
     TrainerConfig(keep_best=True), TokenBatcher(TOKENS, 8, 2)), ValueError,
     "keep_best=True needs a val_batcher"),
    ("a tensor as batcher", lambda: Trainer(nn.Linear(2, 2), TrainerConfig(), TOKENS),
     ValueError, "train_batcher must be a Batcher .* Tensor has no get_batch"),
    ("fit(steps=0)", lambda: _trainer().fit(steps=0), ValueError, "steps must be an int >= 1"),
    ("restore_best without keep_best", lambda: _trainer().restore_best(), ValueError,
     r"restore_best\(\) needs TrainerConfig\(keep_best=True\)"),
    ("budget of 0 s", lambda: TimeBudget(0), ValueError, "seconds must be a finite number > 0"),
    ("unknown corpus", lambda: text_data("shakespeare", block_size=8, batch_size=2), ValueError,
     r"'shakespeare' is not a known corpus"),
    ("text shorter than a window", lambda: text_data("ab cd", block_size=8, batch_size=2),
     ValueError, r"the training part has 5 tokens \(of 5\), fewer than block_size \+ 1 = 9"),
    ("model name with a folder", lambda: save_model("../x", nn.Linear(2, 2)), ValueError,
     "name must be letters, digits"),
    ("model name empty", lambda: load_model(""), ValueError, "name must not be empty"),
    ("setup with threads=0", lambda: setup(threads=0, report=False), ValueError,
     "threads must be an int >= 1, got 0"),
]  # fmt: skip

ROWS += [Row(f"training: {name}", call, error, words) for name, call, error, words in _TRAINING]


# --- widgets ---

LOGITS = torch.tensor([2.0, 1.0, 0.0])
ATTENTION = torch.full((1, 2, 3, 3), 1 / 3)


def _plot_fed_to(step: int) -> LiveLossPlot:
    plot = LiveLossPlot(mode="text", file=open("/dev/null", "w"))  # noqa: SIM115
    plot.on_step_end(step, {"loss": 1.0})
    return plot


_WIDGETS = {
    "explorer: labels of another length": (
        lambda: SamplingExplorer(LOGITS, ["a", "b"]),
        ValueError,
        "labels has 2 entries but logits has 3 values",
    ),
    "explorer: NaN logit": (
        lambda: SamplingExplorer([1.0, math.nan]),
        ValueError,
        r"logits contain 1 NaN value at positions \[1\]",
    ),
    "explorer: top_n 0": (lambda: SamplingExplorer(LOGITS, top_n=0), ValueError, "top_n must be"),
    "explorer: max_new_tokens 0": (
        lambda: SamplingExplorer(LOGITS).set(max_new_tokens=0),
        ValueError,
        "max_new_tokens must be an int >= 1, got 0",
    ),
    "explorer: height 50": (
        lambda: SamplingExplorer(LOGITS, height=50),
        ValueError,
        "height must be an int >= 100, got 50",
    ),
    "explorer: no temperatures": (
        lambda: SamplingExplorer(LOGITS).static_figure(temperatures=()),
        ValueError,
        "temperatures is empty",
    ),
    "explorer: one string of temperatures": (
        lambda: SamplingExplorer(LOGITS).static_figure(temperatures="0.5"),
        ValueError,
        "temperatures must be a list of numbers",
    ),
    "explorer: old name length": (
        lambda: SamplingExplorer(LOGITS, length=5),
        TypeError,
        "unexpected keyword argument 'length'",
    ),
    "attention: tokens of another length": (
        lambda: AttentionViewer(ATTENTION, ["a", "b"]),
        ValueError,
        "attention has T_q=3 query positions but tokens has 2 entries",
    ),
    "attention: layer out of range": (
        lambda: AttentionViewer(ATTENTION, layer=1),
        ValueError,
        r"layer=1 but attention has 1 layers \(0\.\.0\)",
    ),
    "attention: unknown view": (
        lambda: AttentionViewer(ATTENTION).set(view="bars"),
        ValueError,
        "view must be one of",
    ),
    "attention: title not a str": (
        lambda: AttentionViewer(ATTENTION, title=3),
        ValueError,
        "title must be a str, got 3",
    ),
    "loss plot: history not a MetricHistory": (
        lambda: LiveLossPlot(history=[1.0, 2.0]),
        ValueError,
        "history must be a MetricHistory, got list",
    ),
    "loss plot: trainer hands over something else": (
        lambda: LiveLossPlot().on_train_begin({"loss": [1.0]}),
        ValueError,
        "history must be a MetricHistory, got dict",
    ),
    "loss plot: step going backwards": (
        lambda: _plot_fed_to(5).on_step_end(4, {"loss": 1.0}),
        ValueError,
        "step 4 goes backwards",
    ),
    "loss plot: unknown option in set": (
        lambda: LiveLossPlot().set(colour="red"),
        ValueError,
        r"unknown options \['colour'\]",
    ),
    "loss figure: not a history": (
        lambda: loss_figure({"loss": [1.0]}),
        ValueError,
        "history must be a MetricHistory, got dict",
    ),
    "loss figure: smooth 1": (
        lambda: loss_figure(MetricHistory(), smooth=1.0),
        ValueError,
        "smooth must be",
    ),
    "status line: total_steps 0": (
        lambda: status_line(MetricHistory(), 0),
        ValueError,
        "total_steps must be an int >= 1, got 0",
    ),
    "duration: negative": (lambda: format_duration(-1), ValueError, "seconds must be"),
    "token viewer: lone surrogate": (
        lambda: TokenViewer("a\ud800b", list),
        ValueError,
        "lone surrogate U\\+D800 at position 1",
    ),
    "token viewer: character outside a CharTokenizer": (
        lambda: TokenViewer("abz", CharTokenizer("ab")),
        ValueError,
        r"character 'z' \(U\+007A\) at position 2 is not in the vocabulary",
    ),
    "token viewer: unknown color_by": (
        lambda: TokenViewer("a", list, color_by="rainbow"),
        ValueError,
        "color_by must be one of",
    ),
    "token spans: not a tokenizer": (
        lambda: token_spans("ab", 3),
        ValueError,
        "tokenizer must be a tokenizer with token_surfaces",
    ),
    "token spans: pieces that miss the text": (
        lambda: token_spans("hello", lambda t: ["he", "XX"]),
        UserWarning,
        "pieces do not spell the text",
    ),
    "display: not a figure": (
        lambda: figure_bundle({"data": []}),
        ValueError,
        "expected a plotly.graph_objects.Figure, got dict",
    ),
    "display: update without a handle": (
        lambda: update(None, None),
        ValueError,
        r"needs the handle returned by show\(fig, display_id=True\)",
    ),
    "display: widget bundle of a non-widget": (
        lambda: widget_bundle(object(), None),
        ValueError,
        "widget must be an ipywidgets widget, got object",
    ),
}
ROWS += [Row(f"widgets: {name}", *entry) for name, entry in _WIDGETS.items()]


# --- analysis ---

_TINY_GPT = functools.partial(lw.GPT, lw.GPTConfig.preset("char-tiny"))
_ANALYSIS = [
    ("forward_flops: config is a dict", lambda: an.forward_flops({"n_layer": 2}), ValueError,
     "config must be a GPTConfig, got dict"),
    ("forward_flops: seq_len above the context", lambda: an.forward_flops(
     lw.GPTConfig.preset("char-tiny"), 1, 33), ValueError, r"seq_len must be an int in \[1, 32\]"),
    ("six_nd: no parameters", lambda: an.six_nd(0, 10), ValueError, "n_params must be an int >= 1"),
    ("count_flops: 1-D ids", lambda: an.count_flops(_TINY_GPT(), torch.zeros(5).long()),
     ValueError, r"idx must be a \(B, T\) tensor of token ids, got \(5,\)"),
    ("training_memory: batch 0", lambda: an.training_memory(lw.GPTConfig(), 0), ValueError,
     "batch_size must be an int >= 1, got 0"),
    ("inference_memory: unknown dtype", lambda: an.inference_memory(lw.GPTConfig(), dtype="fp8"),
     ValueError, "dtype must be one of .*'float32'.* got 'fp8'"),
    ("fits_in_memory: negative memory", lambda: an.fits_in_memory(7e9, -1), ValueError,
     "memory_gib must be a finite number > 0, got -1"),
    ("measure_peak_memory: not callable", lambda: an.measure_peak_memory(3), ValueError,
     "fn must be callable, got 3"),
    ("fit_power_law: a zero loss", lambda: an.fit_power_law([1, 2, 3, 4], [1, 0, 1, 1]),
     ValueError, r"loss must be finite numbers > 0"),
    ("fit_power_law: lengths differ", lambda: an.fit_power_law([1, 2, 3, 4], [4, 3, 2]),
     ValueError, "4 sizes but 3 losses"),
    ("compute_frontier: NaN loss", lambda: an.compute_frontier([1, 2], [1.0, float("nan")]),
     ValueError, "loss must be 2 finite numbers"),
    ("sweep_configs: a bare width", lambda: an.sweep_configs([32], 65, 16), ValueError,
     r"shapes\[0\] must be \(n_layer, n_embd\), got 32"),
    ("train_for_tokens: other context", lambda: an.train_for_tokens(lw.GPTConfig.preset(
     "char-tiny"), text_data("ab cd ef " * 40, block_size=8, batch_size=2), 100), ValueError,
     "config has block_size=32, vocab_size=65 but the data block_size=8, vocab_size=7"),
    ("quantize_int8: no Linear", lambda: an.quantize_int8(nn.Embedding(3, 3)), ValueError,
     "Embedding has no nn.Linear layer to quantise"),
    ("compare_quantized: a tensor as batcher", lambda: an.compare_quantized(_TINY_GPT(), TOKENS),
     ValueError, "batcher must be a Batcher"),
    ("make_canaries: too few secrets", lambda: an.make_canaries(5, length=2, alphabet="ab"),
     ValueError, "2\\^2 secrets cannot give 5 different ones"),
    ("insert_canaries: counts mismatch", lambda: an.insert_canaries("a\nb", ["x"], [1, 2]),
     ValueError, "1 canaries but 2 repeat counts"),
    ("insert_canaries: line break", lambda: an.insert_canaries("a\nb", ["x\ny"], [1]),
     ValueError, r"canaries\[0\] holds a line break"),
    ("insert_canaries: zero repeats", lambda: an.insert_canaries("a\nb", ["x"], [0]),
     ValueError, r"repeats\[0\] must be an int >= 1, got 0"),
    ("exposure: secret outside the alphabet", lambda: an.exposure(_TINY_GPT(), None,
     "pin abc", 3), ValueError, "the secret 'abc' has characters outside '0123456789'"),
    ("verbatim_rate: counts mismatch", lambda: an.verbatim_rate(_TINY_GPT(), None, ["a"], []),
     ValueError, "1 prompts but 0 continuations"),
    ("logit_lens: not a GPT", lambda: an.logit_lens(nn.Linear(2, 2), torch.zeros(1, 2).long()),
     ValueError, "model must be the book's GPT, got Linear"),
    ("logit_lens: id outside the vocabulary", lambda: an.logit_lens(_TINY_GPT(),
     torch.tensor([[1, 99]])), ValueError, r"token id 99 at position \(0, 1\) is outside"),
    ("ablate_heads: head out of range", lambda: an.ablate_heads(_TINY_GPT(), [(0, 2)]).__enter__(),
     ValueError, r"head=2 but each layer has 2 heads \(0..1\)"),
    ("head_attention: key past the end", lambda: an.head_attention(_TINY_GPT(),
     torch.zeros(1, 4).long(), [(3, 4)]), ValueError, r"key=4 but there are 4 positions"),
    ("induction_scores: copies longer than half the context", lambda: an.induction_scores(
     _TINY_GPT(), length=17), ValueError, r"length must be an int in \[2, 16\], got 17"),
    ("head_ablation_effects: float mask", lambda: an.head_ablation_effects(_TINY_GPT(),
     torch.zeros(1, 4).long(), torch.zeros(1, 4).long(), torch.ones(1, 4)), ValueError,
     r"positions must be a bool tensor of shape \(1, 4\)"),
    ("compare_heads: shapes differ", lambda: an.compare_heads(torch.ones(2, 2), torch.ones(2, 3)),
     ValueError, r"attention \(2, 2\) but effects \(2, 3\)"),
    ("reliability: confidence above 1", lambda: an.reliability([0.5, 1.5], [1, 0]), ValueError,
     r"confidences must be probabilities in \[0, 1\]"),
    ("reliability: counts mismatch", lambda: an.reliability([0.5], [1, 0]), ValueError,
     r"confidences \(1\) and correct \(2\) must be as many"),
    ("reliability: correct is not boolean", lambda: an.reliability([0.5], [2]), ValueError,
     "correct must hold booleans"),
    ("translation_confidence: not a Seq2Seq", lambda: an.translation_confidence(_TINY_GPT(),
     None, ["one"], ["一"]), ValueError, "model must be a Seq2Seq, got GPT"),
    ("ViTConfig: patch does not tile", lambda: ViTConfig(patch_size=3), ValueError,
     "patch_size=3 does not divide image_size=8"),
    ("ViT: images of another size", lambda: ViT(ViTConfig(n_embd=8, n_head=2))(torch.rand(1, 6, 6)),
     ValueError, r"images must have shape \(B, 1, 8, 8\) with B >= 1 \(or \(B, H, W\)\), got"),
    ("digits_data: test_fraction 1", lambda: an.digits_data(test_fraction=1), ValueError,
     r"test_fraction must be a finite number in \(0, 1\), got 1"),
    ("ImageBatcher: labels of another length", lambda: an.ImageBatcher(torch.rand(3, 1, 8, 8),
     torch.zeros(2).long(), 2), ValueError, r"labels \(N,\) with N >= 1, got \(3, 1, 8, 8\) and"),
    ("accuracy: lengths differ", lambda: an.accuracy(nn.Linear(2, 2), torch.rand(3, 2),
     torch.zeros(2).long()), ValueError, "3 images but 2 labels"),
    ("ShardedBatcher: rank out of range", lambda: an.ShardedBatcher(TokenBatcher(TOKENS, 4, 4),
     2, 2), ValueError, r"rank=2 but there are 2 ranks \(0..1\)"),
    ("train_gpt: zero steps", lambda: an.train_gpt("ab cd " * 50, steps=0), ValueError,
     "steps must be an int >= 1, got 0"),
]  # fmt: skip

ROWS += [Row(f"analysis: {name}", call, error, words) for name, call, error, words in _ANALYSIS]


# --- apps ---


@functools.cache
def _apps_tok() -> lw.CharTokenizer:
    return lw.CharTokenizer("abcdefgh \n")


@functools.cache
def _apps_gpt() -> lw.GPT:
    torch.manual_seed(0)
    config = lw.GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)
    return lw.GPT(config).eval()


def _apps_pattern():
    from llmwidgets.apps.constrained import tune_patterns

    return tune_patterns("甲 · 张\n春风。")["甲"]


def _apps() -> list[Row]:
    from llmwidgets import apps
    from llmwidgets.apps import chat, recommend, records

    match = records.make_matches(1)[0]
    record = records.record_text(match)
    return [
        Row("apps: complete with an empty prompt",
            lambda: apps.complete(_apps_gpt(), _apps_tok(), ""), ValueError,
            "prompt must not be empty"),
        Row("apps: complete with a prompt longer than the context",
            lambda: apps.complete(_apps_gpt(), _apps_tok(), "abcdefgh"), ValueError,
            r"the prompt has 8 tokens but the model's context is block_size=8"),
        Row("apps: complete with a stop of two tokens",
            lambda: apps.complete(_apps_gpt(), _apps_tok(), "ab", stop="ab"), ValueError,
            "stop='ab' must be a single token of the tokenizer, got 2"),
        Row("apps: sample_tokens with a mask that allows nothing",
            lambda: apps.sample_tokens(_apps_gpt(), [1], 3,
                                       allowed=lambda d: torch.zeros(10, dtype=torch.bool)),
            ValueError, r"allowed\(\) must return a bool tensor of shape \(10,\) with at"),
        Row("apps: generate_constrained with a str as pattern",
            lambda: apps.generate_constrained(_apps_gpt(), _apps_tok(), "□□。"), ValueError,
            "pattern must be a CiPattern, got str"),
        Row("apps: generate_constrained on a model without Han characters",
            lambda: apps.generate_constrained(_apps_gpt(), _apps_tok(), _apps_pattern()),
            ValueError, "the tokenizer has no Han character"),
        Row("apps: unknown tune", lambda: apps.tune_pattern("甲", {}), ValueError,
            "unknown tune '甲'; 0 tunes"),
        Row("apps: record missing a field",
            lambda: apps.parse_record(record.rsplit(";", 1)[0]), ValueError,
            "the record is missing the field\\(s\\) star"),
        Row("apps: record with a word for a number",
            lambda: apps.parse_record(record.replace(f"crowd={match.crowd}", "crowd=many")),
            ValueError, "crowd must be a whole number, got 'many'"),
        Row("apps: fact_check of a dict", lambda: apps.fact_check("x", {"home": "A"}), ValueError,
            "match must be a Match, got dict"),
        Row("apps: rouge with fewer predictions", lambda: apps.rouge(["a"], ["a", "b"]),
            ValueError, "1 predictions for 2 references"),
        Row("apps: rouge of a Chinese reference", lambda: apps.rouge(["子曰"], ["子曰"]),
            ValueError, "reference 0 .* has no word ROUGE can count"),
        Row("apps: BM25 search with an empty query",
            lambda: apps.BM25Index(["ab", "cd"]).search(""), ValueError,
            "query must not be empty"),
        Row("apps: BM25 search with punctuation only",
            lambda: apps.BM25Index(["ab", "cd"]).search("，。"), ValueError,
            "the query '，。' has no search term \\('char'\\)"),
        Row("apps: BM25 over no documents", lambda: apps.BM25Index([]), ValueError,
            "docs must be a non-empty list of texts"),
        Row("apps: dense query with no known character",
            lambda: apps.DenseIndex(_apps_gpt(), _apps_tok(), ["abc"]).search("xyz"),
            ValueError, "text 0 \\('xyz'\\) has no token the model knows"),
        Row("apps: recall@k of a query without relevant ids",
            lambda: apps.recall_at_k([[1, 2]], [set()], 1), ValueError,
            "query 0 has no relevant id"),
        Row("apps: recall@0", lambda: apps.recall_at_k([[1]], [{1}], 0), ValueError,
            "k must be an int >= 1, got 0"),
        Row("apps: ranked list with a repeat", lambda: apps.mrr([[1, 1]], [{1}]), ValueError,
            "the ranked list of query 0 repeats an id"),
        Row("apps: fusion of nothing", lambda: apps.reciprocal_rank_fusion([]), ValueError,
            "rankings must be a non-empty list"),
        Row("apps: unknown item id",
            lambda: apps.popularity_scores([[1, 700]], n_items=600), ValueError,
            r"item id 700 at position 1 of session 0 is not an item \(0..599\)"),
        Row("apps: session of one item",
            lambda: apps.session_examples([[1]], n_items=600), ValueError,
            r"session 0 has 1 item\(s\); it needs at least 2"),
        Row("apps: session probabilities above 1",
            lambda: apps.SessionConfig(p_next=0.8, p_same=0.3), ValueError,
            "p_next \\+ p_same must be <= 1"),
        Row("apps: next item of an unknown item",
            lambda: recommend.SessionGenerator().next_item_probs(600), ValueError,
            "item must be an int in \\[0, 599\\], got 600"),
        Row("apps: more speakers than the text has",
            lambda: apps.speaker_lines(3, text="ANNA:\nhello there\n"), ValueError,
            "the text has 1 speakers, fewer than n_speakers=3"),
        Row("apps: a line longer than the context",
            lambda: apps.classification_tensors([("abcdefgh a", 0)], _apps_tok(), 8, 2),
            ValueError, "example 0 has 10 tokens, more than block_size=8"),
        Row("apps: a label outside the classes",
            lambda: apps.classification_tensors([("ab", 2)], _apps_tok(), 8, 2), ValueError,
            "examples\\[0\\] label must be an int in \\[0, 1\\], got 2"),
        Row("apps: an example longer than the context",
            lambda: apps.pad_examples([([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])], length=3),
            ValueError, "example 0 has 5 tokens, more than the context length 3"),
        Row("apps: an example with nothing to learn",
            lambda: apps.masked_example([1, 2, 3], [True, False, False]), ValueError,
            "no position is trained on"),
        Row("apps: batcher of unequal tensors",
            lambda: apps.RowBatcher(torch.zeros(3, 2), torch.zeros(4, 2), 2), ValueError,
            r"x and y must have the same number of rows .* \[\(3, 2\), \(4, 2\)\]"),
        Row("apps: chat turn with an unknown role",
            lambda: apps.chat_prompt([("system", "hi")]), ValueError,
            "turn 0 has role 'system'; roles are \\['assistant', 'user'\\]"),
        Row("apps: chat turn holding a special token",
            lambda: apps.chat_prompt([("user", "hi<|end|>")]), ValueError,
            "turn 0 text contains a special token"),
        Row("apps: chat reply to an empty message",
            lambda: apps.chat_reply(_apps_gpt(), chat.ChatTokenizer(_apps_tok()), ""),
            ValueError, "message must not be empty"),
        Row("apps: a smaller vocabulary", lambda: apps.extend_vocab(_apps_gpt(), 5), ValueError,
            "vocab_size must be an int >= 10, got 5"),
        Row("apps: LoRA on no matching layer",
            lambda: apps.add_lora(nn.Sequential(nn.Linear(2, 2)), targets=("c_attn",)),
            ValueError, "no nn.Linear of the model is named \\['c_attn'\\]"),
        Row("apps: LoRA rank 0", lambda: apps.LoRALinear(nn.Linear(2, 2), r=0), ValueError,
            "r must be an int >= 1, got 0"),
        Row("apps: five questions per record",
            lambda: apps.make_questions([match], per_record=5), ValueError,
            "per_record must be an int in \\[1, 4\\], got 5"),
        Row("apps: question on two lines", lambda: apps.qa_prompt("a\nb"), ValueError,
            "question must be one line"),
        Row("apps: hidden states of a Linear",
            lambda: apps.hidden_states(nn.Linear(2, 2), torch.zeros(1, 2, dtype=torch.long)),
            ValueError, "model must be the book's GPT, got Linear"),
    ]  # fmt: skip


ROWS += _apps()
