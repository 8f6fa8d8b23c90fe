import base64
import io
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from torch import nn

from llmwidgets.training.batches import TokenBatcher
from llmwidgets.training.history import MetricHistory
from llmwidgets.training.trainer import Trainer, TrainerConfig
from llmwidgets.widgets import display
from llmwidgets.widgets.display import PLOTLY_MIME, WIDGET_MIME
from llmwidgets.widgets.loss_figure import loss_figure
from llmwidgets.widgets.loss_plot import LiveLossPlot
from llmwidgets.widgets.loss_status import format_duration, format_value, status_line


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeLive:
    """Stands in for display.LiveFigure: keeps every figure it was given."""

    def __init__(self, log, fig, **options):
        self.figures, self.finished, self.options = [fig], False, options
        log.append(self)

    def update(self, fig):
        self.figures.append(fig)

    def finish(self, fig):
        self.figures.append(fig)
        self.finished = True


@pytest.fixture
def shown(monkeypatch):
    """Notebook mode outside a kernel: records the live outputs and plain figures."""
    log = {"live": [], "plain": []}
    monkeypatch.setattr(display, "LiveFigure", lambda fig, **kw: FakeLive(log["live"], fig, **kw))
    monkeypatch.setattr(display, "show", lambda fig, **kw: log["plain"].append(fig))
    return log


def _trace(fig: go.Figure, name: str):
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, [t.name for t in fig.data]
    return matches[0]


def _array(value) -> np.ndarray:
    """Trace data from a figure or from its JSON (numpy arrays travel as base64)."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def _feed(plot, n=30, nan_at=None, clock=None):
    for step in range(1, n + 1):
        if clock is not None:
            clock.t += 0.1
        m = {"train_loss": 3.0 / step, "lr": 1e-3 * min(1.0, step / 10)}
        if step % 10 == 0:
            m["val_loss"] = 3.5 / step
        if step == nan_at:
            m["train_loss"] = float("nan")
        plot.on_step_end(step, m)


def test_figure_data_equals_recorded_values():
    plot = LiveLossPlot(30, mode="text", clock=FakeClock(), file=io.StringIO())
    _feed(plot)
    fig = plot.figure()
    assert isinstance(fig, go.Figure)
    train = _trace(fig, "train_loss")
    steps, values = plot.history.series("train_loss")
    assert list(train.x) == steps == list(range(1, 31))
    assert np.allclose(train.y, values)
    val = _trace(fig, "val_loss")
    assert list(val.x) == [10, 20, 30] and np.allclose(val.y, [0.35, 0.175, 3.5 / 30])
    # losses share the top axes; the learning rate has its own subplot below
    assert train.yaxis == val.yaxis == "y"
    lr = _trace(fig, "lr")
    assert lr.yaxis == "y2" and fig.layout.yaxis2.domain[1] < fig.layout.yaxis.domain[0]
    assert fig.layout.xaxis2.matches == "x"


def test_smoothed_trace_equals_history_smoothing():
    plot = LiveLossPlot(mode="text", smooth=0.8, clock=FakeClock(), file=io.StringIO())
    _feed(plot, 40)
    fig = plot.figure()
    raw = _trace(fig, "train_loss (raw)")
    smooth = _trace(fig, "train_loss")
    assert np.allclose(raw.y, plot.history.series("train_loss")[1])
    assert np.allclose(smooth.y, plot.history.smoothed("train_loss", 0.8)[1])
    assert raw.line.color == smooth.line.color and raw.opacity < 1 and not raw.showlegend
    # the learning rate is never smoothed
    assert [t.name for t in fig.data if t.name.startswith("lr")] == ["lr"]
    # nor is val_loss, recorded every 10 steps: per-point smoothing would lag 100 steps
    val = [t for t in fig.data if t.name.startswith("val_loss")]
    assert [t.name for t in val] == ["val_loss"]
    assert np.allclose(val[0].y, plot.history.series("val_loss")[1])


def test_metrics_option_selects_and_orders():
    plot = LiveLossPlot(mode="text", metrics=["val_loss", "train_loss"], clock=FakeClock())
    _feed(plot, 20)
    fig = plot.figure()
    assert [t.name for t in fig.data] == ["val_loss", "train_loss"]
    assert "lr" not in plot.status_line()


def test_log_axis():
    plot = LiveLossPlot(mode="text", log_y=True, clock=FakeClock(), file=io.StringIO())
    _feed(plot, 20)
    fig = plot.figure()
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis2.type != "log"  # the learning-rate axis stays linear


@pytest.mark.parametrize("log_y", [False, True])
def test_nan_is_marked_not_dropped(log_y):
    plot = LiveLossPlot(mode="text", log_y=log_y, clock=FakeClock(), file=io.StringIO())
    _feed(plot, 30, nan_at=12)
    fig = plot.figure()
    train = _trace(fig, "train_loss")
    assert len(train.y) == 30 and math.isnan(train.y[11])  # a gap, still there
    marks = _trace(fig, "train_loss not drawn")
    assert list(marks.x) == [12]
    assert marks.y[0] == pytest.approx(3.0 / 11)  # drawn at the last finite value
    assert marks.marker.symbol == "x"
    (note,) = fig.layout.annotations
    assert "NaN at step 12" in note.text and note.x == 12
    expected_y = math.log10(3.0 / 11) if log_y else 3.0 / 11
    assert note.y == pytest.approx(expected_y)  # annotations on a log axis use log10


def test_inf_is_marked_too():
    plot = LiveLossPlot(mode="text", clock=FakeClock(), file=io.StringIO())
    plot(1, {"loss": 2.0})
    plot(2, {"loss": float("inf")})
    fig = plot.figure()
    assert list(_trace(fig, "loss not drawn").x) == [2]
    assert "+inf at step 2" in fig.layout.annotations[0].text


def test_throttling_with_an_injected_clock(shown):
    clock = FakeClock(10.0)
    plot = LiveLossPlot(100, mode="notebook", every_seconds=0.5, clock=clock)
    for step in range(1, 101):
        clock.t += 0.001  # 100 calls within 0.1 s
        plot.on_step_end(step, {"train_loss": 1.0 / step})
    assert plot.redraws == 1
    (live,) = shown["live"]
    assert len(live.figures) == 1 and not live.finished
    assert live.options == {"transient": True}  # saved before the end: dropped, not stale
    plot.on_train_end()
    assert plot.redraws == 2
    assert shown["live"] == [live] and live.finished  # redrawn in place, then a plain figure
    final = live.figures[-1]
    assert len(_array(_trace(final, "train_loss").y)) == 100
    assert "step 100/100" in final.layout.title.text and "done" in final.layout.title.text


def test_redraws_again_after_the_interval(shown):
    clock = FakeClock()
    plot = LiveLossPlot(mode="notebook", every_seconds=0.5, clock=clock)
    for step in range(1, 21):
        clock.t += 0.1
        plot(step, {"train_loss": 1.0})
    # draws at t=0.1, 0.6, 1.1, 1.6: every 0.5 s
    assert plot.redraws == 4
    assert len(shown["live"]) == 1 and len(shown["live"][0].figures) == 4


def test_slow_draws_are_spaced_out_by_max_overhead(monkeypatch):
    clock = FakeClock()
    plot = LiveLossPlot(mode="text", every_seconds=0.5, max_overhead=0.01, clock=clock)
    monkeypatch.setattr(plot, "status_line", lambda: clock.__setattr__("t", clock.t + 0.1) or "")
    for step in range(1, 601):
        clock.t += 0.1  # 60 s of training, each draw costs 0.1 s
        plot(step, {"loss": 1.0})
    # first draw: warm-up (not counted); then draws cost 0.1 s -> at most one per 10 s
    assert 3 <= plot.redraws <= 8
    assert plot.redraws * 0.1 / clock.t < 0.02


def test_plain_lines_outside_a_kernel(capsys):
    clock = FakeClock()
    plot = LiveLossPlot(2000, every_seconds=1.0, clock=clock)
    assert not plot.notebook  # pytest runs without a Jupyter kernel
    plot.on_train_begin()
    for step in range(1, 201):
        clock.t = 0.25 * step
        metrics = {"train_loss": 1.9234, "lr": 3e-4}
        if step == 200:
            metrics["val_loss"] = 2.0011
        plot.on_step_end(step, metrics)
    plot.on_train_end()
    lines = capsys.readouterr().out.splitlines()
    # one line per second of training (every 4th step), then the final line
    assert len(lines) == plot.redraws == 51
    assert lines[0] == "step 1/2000 | train_loss 1.9234 | lr 3.0e-04 | 0.2s elapsed"
    assert lines[1] == "step 5/2000 | train_loss 1.9234 | lr 3.0e-04 | 1.2s elapsed, ETA 8m19s"
    assert lines[-2] == (
        "step 197/2000 | train_loss 1.9234 | lr 3.0e-04 | 49.2s elapsed, ETA 7m31s"
    )
    # stopped at step 200 of 2000: not "done" (that needs the last step)
    assert lines[-1] == (
        "step 200/2000 | train_loss 1.9234 | lr 3.0e-04 | val_loss 2.0011 | "
        "50.0s elapsed, ETA 7m30s"
    )


def test_eta_in_the_line():
    clock = FakeClock()
    plot = LiveLossPlot(2000, mode="text", clock=clock)
    plot(0, {"train_loss": 3.0})
    clock.t = 12.1
    plot(200, {"train_loss": 1.9234, "val_loss": 2.0011, "lr": 3e-4})
    assert plot.status_line() == (
        "step 200/2000 | train_loss 1.9234 | val_loss 2.0011 | lr 3.0e-04 | "
        "12.1s elapsed, ETA 1m49s"
    )


def test_title_shows_progress_and_last_values():
    clock = FakeClock()
    plot = LiveLossPlot(100, mode="text", title="char MLP", clock=clock)
    plot(0, {"train_loss": 3.0})
    clock.t = 5.0
    plot(50, {"train_loss": 2.0, "lr": 1e-3})
    title = plot.figure().layout.title.text
    assert title.startswith("char MLP · step 50/100 · 5.0s elapsed, ETA 5.0s")
    assert "train_loss 2.0000" in title and "lr 1.0e-03" in title


def test_title_escapes_html_in_names():
    plot = LiveLossPlot(mode="text", clock=FakeClock())
    plot(0, {"<b>loss</b>": 1.0})
    assert "&lt;b&gt;loss&lt;/b&gt;" in plot.figure().layout.title.text


def test_decimation_keeps_the_history_whole():
    plot = LiveLossPlot(mode="text", max_points=100, clock=FakeClock())
    for step in range(1000):
        plot.history.record(step, {"loss": float(step)})
    trace = _trace(plot.figure(), "loss")
    assert len(trace.x) <= 101 and trace.x[0] == 0 and trace.x[-1] == 999
    assert len(plot.history.series("loss")[0]) == 1000


def test_empty_plot_has_a_figure_and_end_draws_nothing(capsys):
    plot = LiveLossPlot(mode="text", clock=FakeClock())
    assert "no steps recorded" in plot.figure().layout.title.text
    plot.on_train_end()
    assert capsys.readouterr().out == "" and plot.redraws == 0


def test_training_again_in_the_same_cell_redraws_the_same_output(shown, monkeypatch):
    from llmwidgets.widgets import loss_plot

    cell = {"id": "cell-1"}
    monkeypatch.setattr(loss_plot, "_current_cell", lambda: cell["id"])
    plot = LiveLossPlot(mode="notebook", every_seconds=0, clock=FakeClock())
    plot(1, {"loss": 1.0})
    plot.on_train_end()
    plot(2, {"loss": 0.5})  # fit() again in the same cell
    plot.on_train_end()
    (live,) = shown["live"]
    assert len(live.figures) == 4 and live.finished
    cell["id"] = "cell-2"  # and in another cell: a new output there
    plot(3, {"loss": 0.4})
    assert len(shown["live"]) == 2 and shown["live"][1].figures[0].data[0].x[-1] == 3


def test_warns_about_selected_metrics_never_recorded():
    plot = LiveLossPlot(mode="text", metrics=["train_loss", "val_los"], file=io.StringIO())
    plot(1, {"train_loss": 1.0})
    with pytest.warns(UserWarning, match=r"\['val_los'\] were never recorded"):
        plot.on_train_end()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"total_steps": 0}, "total_steps must be an int >= 1, got 0"),
        ({"total_steps": 10.0}, "total_steps"),
        ({"every_seconds": -1}, "every_seconds must be a finite number >= 0, got -1"),
        ({"smooth": 1.0}, r"smooth must be a finite number in \[0.0, 1.0\)"),
        ({"smooth": -0.1}, "smooth"),
        ({"log_y": "yes"}, "log_y must be True or False, got 'yes'"),
        ({"metrics": "train_loss"}, "metrics must be a non-empty list"),
        ({"metrics": []}, "metrics must be a non-empty list"),
        ({"metrics": ["a", 3]}, "non-empty str names, got 3"),
        ({"metrics": ["a", "a"]}, "repeated names"),
        ({"mode": "html"}, "mode must be one of"),
        ({"height": 10}, "height must be an int >= 100"),
        ({"max_points": 1}, "max_points must be an int >= 2"),
        ({"max_overhead": 1.5}, r"max_overhead must be a finite number in \[0, 1\)"),
        ({"clock": 3}, "clock must be a callable"),
        ({"title": 3}, "title must be a str"),
        ({"history": {"train_loss": [1.0]}}, "history must be a MetricHistory, got dict"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LiveLossPlot(**kwargs)


def test_bad_step_inputs_raise():
    plot = LiveLossPlot(mode="text", clock=FakeClock(), file=io.StringIO())
    plot(5, {"loss": 1.0})
    with pytest.raises(ValueError, match="step 4 goes backwards"):
        plot(4, {"loss": 1.0})
    with pytest.raises(ValueError, match="metric 'loss' must be a number, got 'x'"):
        plot(6, {"loss": "x"})
    with pytest.raises(ValueError, match="metric name must be a str"):
        plot(6, {None: 1.0})
    with pytest.raises(ValueError, match="metrics must be a dict"):
        plot(6, 1.0)


@pytest.mark.parametrize(
    "seconds, text", [(0, "0.0s"), (12.14, "12.1s"), (109, "1m49s"), (3725, "1h02m")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_duration_rejects_bad_values():
    for bad in (-1, float("nan"), "3"):
        with pytest.raises(ValueError, match="seconds"):
            format_duration(bad)


def test_format_value():
    assert format_value("train_loss", 1.92341) == "1.9234"
    assert format_value("lr", 3e-4) == "3.0e-04"
    assert format_value("tokens_per_sec", 12345.6) == "12346"
    assert format_value("loss", float("nan")) == "nan"


@pytest.mark.kernel
def test_one_output_in_a_real_kernel(run_in_kernel):
    """50 steps then on_train_end(): one output, live while training, then a plain figure."""
    (outputs,) = run_in_kernel(
        """
import math
from llmwidgets.widgets.loss_plot import LiveLossPlot
plot = LiveLossPlot(total_steps=50, every_seconds=0.0, max_overhead=0.0)
for step in range(1, 51):
    plot.on_step_end(step, {"train_loss": 3 * math.exp(-step / 20), "lr": 1e-3})
plot.on_train_end()
assert plot.notebook and plot.redraws == 51
"""
    )
    assert len(outputs) == 1, [o.output_type for o in outputs]
    assert outputs[0].output_type == "display_data"
    data = outputs[0]["data"]
    assert PLOTLY_MIME in data and "text/html" in data
    assert WIDGET_MIME not in data  # the final output is a plain figure: nothing dead
    fig = go.Figure(data[PLOTLY_MIME])
    train = _trace(fig, "train_loss")
    assert np.allclose(_array(train.y), [3 * math.exp(-step / 20) for step in range(1, 51)])
    assert _array(train.x).tolist() == list(range(1, 51))
    assert "step 50/50" in fig.layout.title.text and "done" in fig.layout.title.text


# ----------------------------------------------------------- one history, pure views
def test_loss_figure_and_status_line_draw_any_history():
    clock = FakeClock()
    history = MetricHistory(clock)
    for step in range(1, 11):
        clock.t = step * 0.5
        history.record(step, {"train_loss": 2.0 / step, "lr": 1e-3})
    fig = loss_figure(history, total_steps=20, title="run <1>")
    assert list(_trace(fig, "train_loss").x) == list(range(1, 11))
    assert np.allclose(_trace(fig, "train_loss").y, [2.0 / s for s in range(1, 11)])
    assert fig.layout.title.text.startswith("run &lt;1&gt; · step 10/20 · 4.5s elapsed, ETA 5.0s")
    assert status_line(history, 20) == (
        "step 10/20 | train_loss 0.2000 | lr 1.0e-03 | 4.5s elapsed, ETA 5.0s"
    )
    assert status_line(history, 10).endswith("4.5s elapsed, done")  # the clock starts at step 1


def test_plot_draws_the_history_it_is_given_and_keeps_no_copy():
    history = MetricHistory(FakeClock())
    plot = LiveLossPlot(mode="text", history=history, file=io.StringIO())
    history.record(1, {"train_loss": 1.0})  # recorded elsewhere (a trainer)
    plot.on_step_end(1, {"train_loss": 1.0})  # the same metrics: not recorded twice
    plot.on_step_end(2, {"train_loss": 0.5})  # fed by hand: recorded
    assert plot.history is history and history.series("train_loss") == ([1, 2], [1.0, 0.5])
    other = MetricHistory()
    plot.on_train_begin(other)  # a trainer hands over its history
    assert plot.history is other


@pytest.mark.parametrize("log_y", [True])
def test_non_positive_values_on_a_log_axis_are_marked_not_dropped(log_y):
    history = MetricHistory(FakeClock())
    for step, value in enumerate([4.0, 2.0, 0.0, 1.0, -0.5, 0.8], start=1):
        history.record(step, {"train_loss": value})
    fig = loss_figure(history, log_y=log_y)
    train = _trace(fig, "train_loss")
    assert list(train.y) == [4.0, 2.0, 0.0, 1.0, -0.5, 0.8]  # the data is all there
    marks = _trace(fig, "train_loss not drawn")
    assert list(marks.x) == [3, 5] and list(marks.y) == [2.0, 1.0]  # at the last drawable
    assert list(marks.text) == [
        "0 at step 3 (not drawn on a log axis)",
        "-0.5 at step 5 (not drawn on a log axis)",
    ]
    (note,) = fig.layout.annotations
    assert note.y == pytest.approx(math.log10(2.0)) and "(+1 more)" in note.text
    # on a linear axis the same values are ordinary points
    assert [t.name for t in loss_figure(history).data] == ["train_loss"]


VOCAB = 8
TOKENS = torch.arange(400) % VOCAB


class Bigram(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 8)
        self.head = nn.Linear(8, VOCAB)

    def forward(self, idx):
        return self.head(self.emb(idx))


def _trainer(callbacks=(), **overrides):
    torch.manual_seed(0)
    settings = dict(max_steps=30, lr=1e-2, min_lr=1e-3, warmup_steps=2, eval_every=10)
    settings.update(overrides)
    config = TrainerConfig(device="cpu", seed=0, eval_iters=1, **settings)
    train = TokenBatcher(TOKENS[:320], block_size=8, batch_size=4, seed=0)
    val = TokenBatcher(TOKENS[320:], block_size=8, batch_size=4, seed=1)
    return Trainer(Bigram(), config, train, val, callbacks=callbacks)


@pytest.fixture
def run_clock(monkeypatch):
    """MetricHistory's default clock, driven by hand: every read advances 0.01 s."""
    clock = FakeClock(1000.0)

    def tick():
        clock.t += 0.01
        return clock.t

    monkeypatch.setattr("llmwidgets.training.run_timer.time.monotonic", tick)
    return clock


def test_resumed_run_is_drawn_whole_with_the_runs_elapsed_time(tmp_path, run_clock):
    path = tmp_path / "run.pt"
    first = _trainer(checkpoint_path=str(path), checkpoint_every=10)
    first.fit(steps=10)  # checkpointed at step 10
    saved_elapsed = first.history.elapsed()
    assert saved_elapsed > 0
    run_clock.t += 3600  # an hour later, in a new session
    out = io.StringIO()
    plot = LiveLossPlot(30, mode="text", every_seconds=0, file=out)
    resumed = _trainer(callbacks=[plot], checkpoint_path=str(path))
    resumed.resume(path)
    resumed.fit()
    assert plot.history is resumed.history  # the trainer's one history, no copy
    fig = plot.figure()
    assert list(_trace(fig, "train_loss").x) == list(range(1, 31))  # steps 1..N
    assert list(_trace(fig, "val_loss").x) == [10, 20, 30]
    elapsed = resumed.history.elapsed()
    # the run's clock: the first part's time plus the resumed part's, not the hour between
    assert saved_elapsed < elapsed < saved_elapsed + 60
    shown = format_duration(elapsed)
    assert f"{shown} elapsed, done" in fig.layout.title.text
    assert out.getvalue().splitlines()[-1].endswith(f"{shown} elapsed, done")


def test_fit_in_parts_keeps_the_clock_and_is_done_only_at_max_steps(run_clock):
    out = io.StringIO()
    plot = LiveLossPlot(30, mode="text", every_seconds=0, file=out)
    trainer = _trainer(callbacks=[plot])
    elapsed, ends = [], []
    for _ in range(3):
        trainer.fit(10)
        elapsed.append(trainer.history.elapsed())
        ends.append(out.getvalue().splitlines()[-1])
    assert elapsed[0] < elapsed[1] < elapsed[2]  # the clock did not restart
    assert plot.status_line() == ends[-1]
    assert ["done" in line for line in ends] == [False, False, True]
    assert ends[0].startswith("step 10/30 |") and ends[2].startswith("step 30/30 |")
    assert plot.history.series("train_loss")[0] == list(range(1, 31))


def test_set_changes_options_keyword_only():
    plot = LiveLossPlot(mode="text", file=io.StringIO())
    plot(1, {"loss": 1.0})
    plot.set(log_y=True, title="again")
    assert plot.log_y and plot.figure().layout.yaxis.type == "log"
    assert plot.figure().layout.title.text.startswith("again")
    with pytest.raises(ValueError, match=r"unknown options \['colour'\]"):
        plot.set(colour="red")
    with pytest.raises(ValueError, match="smooth"):
        plot.set(smooth=2)
    assert plot.smooth == 0.0 and plot.controls() is None
