import random
import re

import numpy as np
import pytest
import torch

from llmwidgets.core import device as device_module
from llmwidgets.core.device import (
    DEVICE_ENV,
    Setup,
    environment_report,
    pick_device,
    pick_precision,
    print_environment,
    seed_everything,
    setup,
    thread_advice,
)


def test_pick_device_on_this_machine(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device().type in (expected, "mps")
    assert pick_device("cpu") == torch.device("cpu")


def test_pick_device_env_override(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert pick_device() == torch.device("cpu")


def test_pick_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("llmwidgets.core.device._mps_available", lambda: True)
    assert pick_device().type == "mps"
    monkeypatch.setattr("llmwidgets.core.device._mps_available", lambda: False)
    assert pick_device().type == "cpu"


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:x"])
def test_pick_device_rejects_unknown(bad):
    with pytest.raises(ValueError, match=repr(bad)):
        pick_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_pick_device_unavailable_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")


def test_precision_rules():
    cpu = pick_precision("cpu")
    assert (cpu.name, cpu.dtype, cpu.use_scaler) == ("fp32", None, False)
    a100 = pick_precision("cuda", capability=(8, 0))
    assert (a100.name, a100.dtype, a100.use_scaler) == ("bf16", torch.bfloat16, False)
    h100 = pick_precision("cuda", capability=(9, 0))
    assert h100.name == "bf16"
    # A T4 claims bf16 support through emulation; we must still pick fp16 + scaler.
    t4 = pick_precision("cuda", capability=(7, 5))
    assert (t4.name, t4.dtype, t4.use_scaler) == ("fp16", torch.float16, True)
    assert "7, 5" in t4.reason


@pytest.mark.parametrize("bad", [(8,), (8, "0"), [8, 0], (-1, 0)])
def test_precision_rejects_bad_capability(bad):
    with pytest.raises(ValueError, match="capability"):
        pick_precision("cuda", capability=bad)


def test_fp32_autocast_is_a_noop_and_scaler_disabled():
    prec = pick_precision("cpu")
    x = torch.ones(2, 2)
    with prec.autocast():
        y = x @ x
    assert y.dtype == torch.float32
    scaler = prec.grad_scaler()
    assert not scaler.is_enabled()
    loss = torch.tensor(3.0)
    assert scaler.scale(loss).item() == 3.0


def test_seed_everything_repeats():
    seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(123)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2])


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "1", True])
def test_seed_rejects_bad(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_environment_report(capsys, monkeypatch):
    monkeypatch.setenv("LLMW_QUICK", "1")
    info = environment_report("cpu")
    assert info["torch"] == torch.__version__
    assert info["device"] == "cpu"
    assert info["precision"] == "fp32"
    assert info["quick mode"] == "on"
    print_environment("cpu")
    out = capsys.readouterr().out
    assert "torch" in out and torch.__version__ in out


def test_environment_report_says_how_many_threads(monkeypatch):
    monkeypatch.setattr(device_module.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(device_module, "_load_average", lambda: 3.5)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        info = environment_report("cpu")
    finally:
        torch.set_num_threads(threads)
    assert info["torch threads"] == "2 (of 2 CPU cores; OMP_NUM_THREADS 2)"
    assert info["load average"].startswith("3.50")
    assert info["threads tip"].startswith("the machine is busy (load 3.5 on 2 cores)")


def test_thread_advice_values():
    assert thread_advice(1, 2, 5.0) is None  # nothing to lower
    assert thread_advice(8, 8, 20.0) is None  # many cores: torch's default is fine
    busy = thread_advice(2, 2, 1.0)
    assert busy.startswith("the machine is busy (load 1.0 on 2 cores)")
    assert "setup(threads=1)" in busy and "OMP_NUM_THREADS=1" in busy and "3x" in busy
    idle = thread_advice(2, 2, 0.2)
    assert idle.startswith("if other programs keep the 2 cores busy")
    assert thread_advice(4, 4, None).startswith("if other programs")  # load unknown
    with pytest.raises(ValueError, match="threads must be an int >= 1, got 0"):
        thread_advice(0, 2, 1.0)


def test_setup_seeds_picks_and_reports(capsys, monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    threads = torch.get_num_threads()
    try:
        cfg = setup(seed=7, device="cpu", threads=1)
        a = (random.random(), np.random.rand(), torch.rand(3))
        assert cfg == Setup(torch.device("cpu"), pick_precision("cpu"), 7, 1)
        assert torch.get_num_threads() == 1
        seed_everything(7)
        b = (random.random(), np.random.rand(), torch.rand(3))
        assert a[:2] == b[:2] and torch.equal(a[2], b[2])  # seeded as seed_everything(7)
        out = capsys.readouterr().out
        assert re.search(r"\nseed +: 7\n", out) and re.search(r"torch threads +: 1 \(of", out)
        assert re.search(r"precision +: fp32", out)
        setup(seed=1, device="cpu", report=False)
        assert capsys.readouterr().out == ""
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"seed": -1}, "seed must be an int in"), ({"threads": 0}, "threads must be an int >= 1"),
     ({"device": "tpu"}, "unknown device 'tpu'"), ({"report": "yes"}, "report must be True")],
)  # fmt: skip
def test_setup_rejects_bad_values_before_changing_anything(kwargs, match):
    threads = torch.get_num_threads()
    torch.manual_seed(3)
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match=match):
        setup(**kwargs)
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)
