import json
import math

import numpy as np
import pytest
import torch

from llmwidgets.training.history import MetricHistory


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_series_per_metric_at_different_steps():
    h = MetricHistory(FakeClock())
    for step in range(1, 7):
        metrics = {"train_loss": 3.0 - 0.1 * step, "lr": 1e-3}
        if step % 3 == 0:
            metrics["val_loss"] = 3.1 - 0.1 * step
        h.record(step, metrics)
    assert h.names == ["train_loss", "lr", "val_loss"]
    assert h.series("val_loss") == ([3, 6], [pytest.approx(2.8), pytest.approx(2.5)])
    steps, values = h.series("train_loss")
    assert steps == [1, 2, 3, 4, 5, 6] and values[0] == pytest.approx(2.9)
    assert h.step == 6 and len(h) == 6
    assert h.last() == {
        "train_loss": pytest.approx(2.4),
        "lr": 1e-3,
        "val_loss": pytest.approx(2.5),
    }
    assert h.last("val_loss") == pytest.approx(2.5) and h.last_step_of("val_loss") == 6


def test_same_step_in_two_calls_but_not_the_same_metric_twice():
    h = MetricHistory(FakeClock())
    h.record(10, {"train_loss": 1.0})
    h.record(10, {"val_loss": 1.2})
    with pytest.raises(ValueError, match="'train_loss' was already recorded at step 10"):
        h.record(10, {"train_loss": 0.9})


def test_series_returns_copies():
    h = MetricHistory(FakeClock())
    h.record(1, {"a": 1.0})
    steps, values = h.series("a")
    steps.append(99)
    values.append(99.0)
    assert h.series("a") == ([1], [1.0])


def test_numpy_and_tensor_scalars_are_accepted():
    h = MetricHistory(FakeClock())
    h.record(np.int64(1), {"a": np.float32(0.5), "b": torch.tensor(2.0), "c": np.array([3.0])})
    assert h.last() == {"a": 0.5, "b": 2.0, "c": 3.0}
    assert all(type(v) is float for v in h.last().values())


def test_nan_and_inf_are_recorded_and_flagged():
    h = MetricHistory(FakeClock())
    for step, value in enumerate([2.0, float("nan"), 1.5, float("inf"), float("-inf"), 1.0]):
        h.record(step, {"loss": value})
    steps, values = h.series("loss")
    assert len(values) == 6 and math.isnan(values[1]) and values[3] == math.inf
    assert h.nan_steps("loss") == [1]
    assert h.inf_steps("loss") == [3, 4]


def test_smoothed_is_bias_corrected_ema_that_skips_nan():
    h = MetricHistory(FakeClock())
    xs = [4.0, 2.0, float("nan"), 3.0]
    for step, x in enumerate(xs):
        h.record(step, {"loss": x})
    steps, sm = h.smoothed("loss", 0.5)
    assert steps == [0, 1, 2, 3]
    # m1 = 0.5*4 = 2 -> /0.5 = 4; m2 = 0.5*2 + 0.5*2 = 2 -> /0.75; NaN stays NaN;
    # m3 = 0.5*2 + 0.5*3 = 2.5 -> /0.875 (the NaN did not count)
    assert sm[0] == pytest.approx(4.0)
    assert sm[1] == pytest.approx(2.0 / 0.75)
    assert math.isnan(sm[2])
    assert sm[3] == pytest.approx(2.5 / 0.875)
    assert h.smoothed("loss", 0.0)[1][:2] == [4.0, 2.0]


def test_smoothing_a_constant_gives_the_constant():
    h = MetricHistory(FakeClock())
    for step in range(20):
        h.record(step, {"loss": 1.7})
    assert h.smoothed("loss", 0.99)[1] == pytest.approx([1.7] * 20)


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5, "0.5", True, float("nan")])
def test_smoothed_rejects_bad_alpha(alpha):
    h = MetricHistory(FakeClock())
    h.record(0, {"loss": 1.0})
    with pytest.raises(ValueError, match="alpha"):
        h.smoothed("loss", alpha)


def test_elapsed_and_eta_from_the_injected_clock():
    clock = FakeClock(1000.0)
    h = MetricHistory(clock)
    assert h.elapsed() == 0.0 and h.eta(100) is None
    h.record(0, {"loss": 3.0})
    assert h.eta(100) is None  # one step: speed unknown
    clock.t += 10.0
    h.record(10, {"loss": 2.0})  # 1 s per step
    assert h.elapsed() == pytest.approx(10.0)
    assert h.seconds_per_step() == pytest.approx(1.0)
    assert h.eta(100) == pytest.approx(90.0)
    clock.t += 4.0  # time since the last record counts against the estimate
    assert h.eta(100) == pytest.approx(86.0)
    assert h.elapsed() == pytest.approx(14.0)
    h.stop()
    clock.t += 100.0
    assert h.elapsed() == pytest.approx(14.0)  # frozen
    assert h.eta(10) == 0.0


def test_start_sets_time_zero_before_the_first_record():
    clock = FakeClock(0.0)
    h = MetricHistory(clock)
    h.start()
    clock.t = 5.0
    h.record(1, {"loss": 1.0})
    assert h.elapsed() == 5.0
    assert h.times("loss") == [5.0]


@pytest.mark.parametrize("total", [0, -5, 2.5, "100", None, True])
def test_eta_rejects_bad_total(total):
    h = MetricHistory(FakeClock())
    with pytest.raises(ValueError, match="total_steps"):
        h.eta(total)


def test_to_dict_is_strict_json_and_round_trips():
    clock = FakeClock(50.0)
    h = MetricHistory(clock)
    h.record(1, {"train_loss": 2.5, "lr": 3e-4})
    clock.t += 2
    h.record(2, {"train_loss": float("nan")})
    clock.t += 2
    h.record(3, {"train_loss": float("inf"), "val_loss": 2.7})
    data = h.to_dict()
    text = json.dumps(data, allow_nan=False)  # strict JSON: no NaN / Infinity tokens
    assert data["metrics"]["train_loss"]["values"] == [2.5, "nan", "inf"]
    assert data["metrics"]["train_loss"]["times"] == [0.0, 2.0, 4.0]
    back = MetricHistory.from_dict(json.loads(text), clock=clock)
    assert back.names == h.names
    for name in h.names:
        s1, v1 = h.series(name)
        s2, v2 = back.series(name)
        assert s1 == s2
        assert np.array_equal(np.array(v1), np.array(v2), equal_nan=True)
    assert back.nan_steps("train_loss") == [2]
    assert back.elapsed() == pytest.approx(4.0)
    assert back.times("train_loss") == pytest.approx([0.0, 2.0, 4.0])


@pytest.mark.parametrize(
    "data, match",
    [
        ({"metrics": {}}, "MetricHistory.to_dict"),
        ([], "MetricHistory.to_dict"),
        ({"format": "llmwidgets.MetricHistory/1", "metrics": []}, "data\\['metrics'\\]"),
        (
            {"format": "llmwidgets.MetricHistory/1", "metrics": {"a": {"steps": [1, 2]}}},
            "needs lists",
        ),
        (
            {
                "format": "llmwidgets.MetricHistory/1",
                "metrics": {"a": {"steps": [1], "values": ["x"]}},
            },
            "'a' has the value 'x'",
        ),
    ],
)
def test_from_dict_rejects_bad_layouts(data, match):
    with pytest.raises(ValueError, match=match):
        MetricHistory.from_dict(data)


def test_step_going_backwards_raises_and_records_nothing():
    h = MetricHistory(FakeClock())
    h.record(5, {"loss": 1.0})
    with pytest.raises(ValueError, match="step 4 goes backwards: the last recorded step is 5"):
        h.record(4, {"loss": 0.9})
    assert h.series("loss") == ([5], [1.0])


@pytest.mark.parametrize(
    "step, match",
    [(-1, "step must be an int >= 0, got -1"), (1.5, "step must be an int >= 0, got 1.5"),
     ("3", "step must be an int >= 0, got '3'"), (True, "step must be an int")],
)  # fmt: skip
def test_bad_steps_raise(step, match):
    with pytest.raises(ValueError, match=match):
        MetricHistory(FakeClock()).record(step, {"loss": 1.0})


@pytest.mark.parametrize(
    "metrics, match",
    [
        ({"loss": "1.0"}, "metric 'loss' must be a number, got '1.0'"),
        ({"loss": None}, "metric 'loss' must be a number, got None"),
        ({"loss": [1.0, 2.0]}, "metric 'loss' must be a number"),
        ({"loss": torch.tensor([1.0, 2.0])}, "metric 'loss' must be a number"),
        ({"loss": True}, "metric 'loss' must be a number, got the bool True"),
        ({1: 2.0}, "metric name must be a str, got 1"),
        ({"": 2.0}, "metric name must not be empty"),
        ({}, "metrics is empty at step 0"),
        ([("loss", 1.0)], "metrics must be a dict"),
    ],
)
def test_bad_metrics_raise_and_record_nothing(metrics, match):
    h = MetricHistory(FakeClock())
    with pytest.raises(ValueError, match=match):
        h.record(0, metrics)
    assert h.names == [] and h.step is None


def test_partly_bad_metrics_record_nothing():
    h = MetricHistory(FakeClock())
    with pytest.raises(ValueError, match="'val_loss'"):
        h.record(0, {"train_loss": 1.0, "val_loss": "oops"})
    assert h.names == []


def test_unknown_or_non_str_name_in_queries():
    h = MetricHistory(FakeClock())
    h.record(0, {"loss": 1.0})
    with pytest.raises(
        ValueError, match=r"no metric named 'val_loss'; recorded metrics: \['loss'\]"
    ):
        h.series("val_loss")
    with pytest.raises(ValueError, match="metric name must be a str"):
        h.nan_steps(3)


def test_bad_clock_raises():
    with pytest.raises(ValueError, match="clock"):
        MetricHistory(clock=5)


# ------------------------------------------- the saved format, as version 0.2.0 wrote it
# MetricHistory.to_dict() of the run in _scripted_run(), written by the one-module
# history.py of version 0.2.0 (before run_timer.py and history_format.py were split off).
SAVED_V020 = {
    "format": "llmwidgets.MetricHistory/1",
    "elapsed": 4.75,
    "metrics": {
        "train_loss": {"steps": [0, 10, 20], "values": [3.5, "nan", "-inf"],
                       "times": [1.0, 1.5, 3.75]},
        "lr": {"steps": [0, 10, 20], "values": [0.0, 0.001, 0.0005], "times": [1.0, 1.5, 3.75]},
        "val_loss": {"steps": [10], "values": [3.25], "times": [1.75]},
        "grad_norm": {"steps": [20], "values": ["inf"], "times": [3.75]},
    },
}  # fmt: skip


def _scripted_run() -> MetricHistory:
    clock = FakeClock(100.0)
    h = MetricHistory(clock)
    h.start()
    clock.t += 1.0
    h.record(0, {"train_loss": 3.5, "lr": 0.0})
    clock.t += 0.5
    h.record(10, {"train_loss": float("nan"), "lr": 1e-3})
    clock.t += 0.25
    h.record(10, {"val_loss": 3.25})
    clock.t += 2.0
    h.record(20, {"train_loss": -math.inf, "lr": 5e-4, "grad_norm": math.inf})
    clock.t += 1.0
    h.stop()
    clock.t += 50.0  # stopped: not counted
    return h


def test_the_saved_format_is_unchanged():
    assert _scripted_run().to_dict() == SAVED_V020


def test_a_saved_history_loads_with_its_time_and_speed():
    clock = FakeClock(7.0)
    h = MetricHistory.from_dict(json.loads(json.dumps(SAVED_V020)), clock=clock)
    clock.t += 3.0  # a loaded history is stopped: the time away does not count
    assert h.to_dict() == SAVED_V020
    assert h.names == ["train_loss", "lr", "val_loss", "grad_norm"] and h.step == 20
    assert h.elapsed() == 4.75 and h.times("val_loss") == [1.75]
    assert h.seconds_per_step() == pytest.approx((3.75 - 1.0) / 20)
    assert h.eta(40) == pytest.approx(2.75)  # 20 more steps at 2.75 s per 20 steps
    assert h.nan_steps("train_loss") == [10] and h.inf_steps("train_loss") == [20]
    assert (
        repr(h) == "MetricHistory(step=20, metrics=['train_loss', 'lr', 'val_loss', 'grad_norm'])"
    )


def test_a_saved_step_twice_is_refused():
    data = {
        "format": "llmwidgets.MetricHistory/1",
        "metrics": {"a": {"steps": [1, 1], "values": [1, 2]}},
    }
    with pytest.raises(ValueError, match="metric 'a' has step 1 twice"):
        MetricHistory.from_dict(data)


def test_load_dict_restores_in_place_or_changes_nothing():
    h = MetricHistory(FakeClock())
    h.record(5, {"loss": 1.0})
    same = h
    with pytest.raises(ValueError, match="MetricHistory.to_dict"):
        h.load_dict({"format": "other"})
    assert h.series("loss") == ([5], [1.0])
    h.load_dict(SAVED_V020)
    assert same is h and h.step == 20 and "loss" not in h and h.last("val_loss") == 3.25
