"""Notebook 05a's checks (recurrent networks): right answers pass, typical slips get their
hint, and the claims behind the predictions hold for real modules."""

from __future__ import annotations

import pytest
import torch
from _helpers import contract_tests, expect_hint
from torch import nn

from llmwidgets import checks

# ------------------------------------------------------------------ correct answers


def gru_cell_ok(x, h, w_ih, w_hh, b_ih, b_hh):
    """Through torch itself: load the weights into a GRUCell."""
    with torch.random.fork_rng(devices=[]):  # a right answer leaves the global RNG alone
        cell = nn.GRUCell(x.shape[-1], h.shape[-1]).to(x.dtype)
    with torch.no_grad():
        for p, w in zip(cell.parameters(), (w_ih, w_hh, b_ih, b_hh), strict=True):
            p.copy_(w)
    return cell(x, h)


def ratio_ok(s, T):
    return s ** (T - 1)


def params_ok(D, H, num_layers=1):
    with torch.random.fork_rng(devices=[]):
        return sum(p.numel() for p in nn.GRU(D, H, num_layers=num_layers).parameters())


def truncated_ok(cell, xs, h0, k):
    out, h = [], h0
    for t, x in enumerate(xs):
        h = cell(x, h)
        out.append(h)
        if (t + 1) % k == 0:
            h = h.detach()
    return out  # a list of states is accepted too


CHECKS = {
    "gru_cell": (checks.check_gru_cell, gru_cell_ok),
    "ratio": (checks.check_gradient_ratio, ratio_ok),
    "params": (checks.check_gru_param_count, params_ok),
    "truncated": (checks.check_truncated_bptt, truncated_ok),
}

TestContract = contract_tests(CHECKS)


# ------------------------------------------------------------------ typical slips


def _gru(order="rzn", mix="right", reset="pytorch"):
    def cell(x, h, w_ih, w_hh, b_ih, b_hh):
        parts_x = dict(zip(order, (x @ w_ih.T + b_ih).chunk(3, -1), strict=True))
        parts_h = dict(zip(order, (h @ w_hh.T + b_hh).chunk(3, -1), strict=True))
        r = torch.sigmoid(parts_x["r"] + parts_h["r"])
        z = torch.sigmoid(parts_x["z"] + parts_h["z"])
        w_hn, b_hn = w_hh.chunk(3)[order.index("n")], b_hh.chunk(3)[order.index("n")]
        if reset == "cho":
            n = torch.tanh(parts_x["n"] + (r * h) @ w_hn.T + b_hn)
        elif reset == "bias outside":
            n = torch.tanh(parts_x["n"] + b_hn + r * (h @ w_hn.T))
        else:
            n = torch.tanh(parts_x["n"] + r * parts_h["n"])
        return z * n + (1 - z) * h if mix == "swapped" else (1 - z) * n + z * h

    return cell


@pytest.mark.parametrize(
    "answer, words",
    [
        (_gru(order="zrn"), ["order r, z, n"]),
        (_gru(mix="swapped"), ["OLD state"]),
        (_gru(reset="cho"), ["Cho et al."]),
        (_gru(reset="bias outside"), ["b_hn sits inside"]),
        (lambda x, h, *w: h, ["wrong values"]),
        (lambda x, h, *w: h[:, :1], ["shape"]),
    ],
    ids=["gate order", "mix swapped", "Cho's reset", "bias outside", "constant", "shape"],
)
def test_gru_cell_hints(answer, words, capsys):
    expect_hint(checks.check_gru_cell, answer, words, capsys)


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda s, T: s**T, ["h_1 already contains x_1"]),
        (lambda s, T: s * (T - 1), ["multiply"]),
        (lambda s, T: 0.123, ["wrong values"]),
    ],
    ids=["off by one", "linear", "constant"],
)
def test_ratio_hints(answer, words, capsys):
    expect_hint(checks.check_gradient_ratio, answer, words, capsys)


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda D, H, L=1: 3 * (H * D + H * H + H) + (L - 1) * 3 * (2 * H * H + H), ["two biases"]),
        (lambda D, H, L=1: H * D + H * H + 2 * H + (L - 1) * (2 * H * H + 2 * H), ["three"]),
        (lambda D, H, L=1: 4 * (H * D + H * H + 2 * H) + (L - 1) * 4 * (2 * H * H + 2 * H),
         ["LSTM"]),
        (lambda D, H, L=1: L * 3 * (H * D + H * H + 2 * H), ["H-wide states"]),
        (lambda D, H, L=1: 3 * (H * D + H * H + 2 * H), ["num_layers"]),
        (lambda D, H, L=1: float(params_ok(D, H, L)), ["return an int"]),
        (lambda D, H, L=1: 7, ["count is wrong"]),
    ],
    ids=["one bias", "no factor 3", "LSTM", "layers read D", "one layer", "float", "other"],
)  # fmt: skip
def test_param_count_hints(answer, words, capsys):
    expect_hint(checks.check_gru_param_count, answer, words, capsys)


def _no_detach(cell, xs, h0, k):
    return truncated_ok(cell, xs, h0, 10**9)


def _every_step(cell, xs, h0, k):
    return truncated_ok(cell, xs, h0, 1)


def _early(cell, xs, h0, k):
    out, h = [], h0
    for t, x in enumerate(xs):
        h = cell(x, h)
        out.append(h)
        if (t + 2) % k == 0:
            h = h.detach()
    return torch.stack(out)


def _detached_outputs(cell, xs, h0, k):
    return torch.stack(truncated_ok(cell, xs, h0, k)).detach()


def _changed_values(cell, xs, h0, k):
    return torch.stack(truncated_ok(cell, xs, h0, k)) * 2


@pytest.mark.parametrize(
    "answer, words",
    [
        (_no_detach, ["still reaches step 1"]),
        (_every_step, ["after every step"]),
        (_early, ["AFTER steps k"]),
        (_detached_outputs, ["carry no gradient"]),
        (_changed_values, ["never the values"]),
        (lambda cell, xs, h0, k: torch.zeros(2, 2), ["(T, B, H)"]),
    ],
    ids=["no detach", "every step", "one step early", "outputs detached", "values", "shape"],
)
def test_truncated_hints(answer, words, capsys):
    expect_hint(checks.check_truncated_bptt, answer, words, capsys)


# ------------------------------------------------------------------ the claims


@pytest.mark.parametrize("s, T", [(0.5, 10), (1.2, 15)])
def test_the_ratio_is_what_a_linear_recurrence_gives(s, T):
    gen = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64))
    U = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    jac = torch.linalg.matrix_power(s * Q, T - 1) @ U  # dh_T/dx_1
    assert torch.isclose(jac.norm() / U.norm(), torch.tensor(ratio_ok(s, T), dtype=torch.float64))


def test_the_update_gate_is_the_second_block():
    """The notebook shifts bias_hh[H:2H] to open the update gate: z -> 1 keeps the state."""
    cell = nn.GRUCell(3, 4)
    with torch.no_grad():
        cell.bias_hh[4:8] += 50
    h = torch.randn(2, 4)
    assert torch.allclose(cell(torch.randn(2, 3), h), h, atol=1e-6)
