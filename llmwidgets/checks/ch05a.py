"""Checks of notebook 05a (recurrent networks): a GRU cell equal to ``torch.nn.GRUCell``,
the gradient ratio of a linear recurrence, the parameters of ``nn.GRU``, and truncated
backpropagation through time.

The references are PyTorch's own ``nn.GRUCell`` and ``nn.GRU`` (their weights and
parameter counts), the closed form ``s ** (T - 1)`` of a linear recurrence with an
orthogonal matrix scaled by ``s``, and a plain loop that detaches the state every ``k``
steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, fixed_seed

__all__ = [
    "check_gradient_ratio",
    "check_gru_cell",
    "check_gru_param_count",
    "check_truncated_bptt",
]


def _gru_variants(x, h, w_ih, w_hh, b_ih, b_hh) -> dict[str, torch.Tensor]:
    """The right GRU step and the typical wrong ones, keyed by the slip."""
    xr, xz, xn = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    w_hr, w_hz, w_hn = w_hh.chunk(3, dim=0)
    b_hr, b_hz, b_hn = b_hh.chunk(3, dim=0)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    right = (1 - z) * n + z * h
    n_cho = torch.tanh(xn + (r * h) @ w_hn.T + b_hn)  # reset before the matrix
    n_bias_out = torch.tanh(xn + b_hn + r * (h @ w_hn.T))  # b_hn outside the reset
    return {
        "right": right,
        "swapped gates": (1 - r) * torch.tanh(xn + z * hn) + r * h,
        "swapped mix": z * n + (1 - z) * h,
        "cho": (1 - z) * n_cho + z * h,
        "bias outside": (1 - z) * n_bias_out + z * h,
    }


_GRU_HINTS = {
    "swapped gates": (
        "the first block of rows of weight_ih / weight_hh belongs to the reset gate r, the "
        "second to the update gate z, the third to the candidate n (PyTorch's order r, z, n)"
    ),
    "swapped mix": (
        "the update gate z says how much of the OLD state to keep: h' = (1 - z) * n + z * h"
    ),
    "cho": (
        "you applied the reset gate to h before the matrix (Cho et al.'s form); PyTorch "
        "multiplies r with the result of the matrix product, (W_hn h + b_hn)"
    ),
    "bias outside": (
        "b_hn sits inside the reset: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); it is "
        "scaled by r like the rest of the hidden-side term"
    ),
}


@exercise("exercise 1 (a GRU cell)")
def check_gru_cell(my_gru_cell: Callable[..., Any]) -> str:
    """Check ``my_gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h_new``.

    ``x`` is (B, D), ``h`` (B, H); the weights are ``nn.GRUCell``'s: ``weight_ih`` (3H, D)
    and ``weight_hh`` (3H, H) stacked in PyTorch's gate order r, z, n, and the two biases
    (3H,). The answer must equal ``nn.GRUCell`` with those weights.
    """
    cases = [(2, 3, 4), (5, 8, 6), (1, 1, 1), (3, 16, 32)]
    for seed, (B, D, H) in enumerate(cases):
        with fixed_seed(seed), torch.no_grad():
            cell = nn.GRUCell(D, H).double()
            for p in cell.parameters():  # biases as large as weights: every slip shows
                p.uniform_(-1.0, 1.0)
            x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
            expected = cell(x, h)
        weights = [p.detach().clone() for p in (cell.weight_ih, cell.weight_hh,
                                                 cell.bias_ih, cell.bias_hh)]  # fmt: skip
        variants = _gru_variants(x, h, *weights)
        got = call(my_gru_cell, x, h, *weights)
        wrong = [(variants[k], hint) for k, hint in _GRU_HINTS.items()]
        expect_close(got, expected, f"B={B}, D={D}, H={H}", wrong, atol=1e-8)
    return f"{len(cases)} cells (up to D=16, H=32) equal to nn.GRUCell"


@exercise("exercise 2 (how the gradient scales)")
def check_gradient_ratio(predicted_ratio: Callable[[float, int], Any]) -> str:
    """Check ``predicted_ratio(s, T)``: ‖∂h_T/∂x_1‖ / ‖∂h_1/∂x_1‖ for the linear recurrence
    ``h_t = W h_{t-1} + U x_t`` with ``W`` = s × an orthogonal matrix."""
    cases = [(0.5, 1), (0.5, 2), (0.9, 10), (1.0, 50), (1.1, 30), (2.0, 20), (0.25, 8)]
    for s, T in cases:
        got = predicted_ratio(s, T)
        expected = torch.tensor(float(s) ** (T - 1), dtype=torch.float64)
        wrong = [
            (torch.tensor(float(s) ** T, dtype=torch.float64),
             "count the matrices between x_1 and h_T: h_1 already contains x_1, so at T = 1 "
             "the ratio is 1, and every further step multiplies by W once"),
            (torch.tensor(float(s) * (T - 1), dtype=torch.float64),
             "the factors multiply, they do not add: each step applies W to the gradient "
             "again"),
            (torch.tensor(float(s) * T, dtype=torch.float64),
             "the factors multiply, they do not add: each step applies W to the gradient "
             "again"),
        ]  # fmt: skip
        what = f"s={s}, T={T}"
        expect_close(got, expected, what, wrong, atol=1e-12)
    return f"{len(cases)} scales and lengths, from 1 step to 50"


def _gru_count(D: int, H: int, layers: int) -> int:
    with fixed_seed(0):
        return sum(p.numel() for p in nn.GRU(D, H, num_layers=layers).parameters())


@exercise("exercise 3 (the parameters of a GRU)")
def check_gru_param_count(gru_params: Callable[[int, int, int], Any]) -> str:
    """Check ``gru_params(D, H, num_layers)``: the parameters of ``nn.GRU(D, H,
    num_layers=num_layers)`` (biases on), by formula."""
    cases = [(1, 1, 1), (16, 32, 1), (10, 20, 2), (128, 128, 1), (64, 128, 3)]
    for D, H, L in cases:
        got = gru_params(D, H, L)
        if isinstance(got, bool) or not isinstance(got, int):
            raise Hint(f"return an int for D={D}, H={H}, num_layers={L}, got {got!r}")
        expected = _gru_count(D, H, L)
        if got == expected:
            continue
        first = 3 * (H * D + H * H + 2 * H)
        slips = {
            3 * (H * D + H * H + H) + (L - 1) * 3 * (2 * H * H + H): (
                "PyTorch gives each gate two biases, b_i (input side) and b_h (hidden side)"
            ),
            H * D + H * H + 2 * H + (L - 1) * (2 * H * H + 2 * H): (
                "that is one set of weights; a GRU has one for each of its three parts (r, "
                "z and the candidate n)"
            ),
            4 * (H * D + H * H + 2 * H) + (L - 1) * 4 * (2 * H * H + 2 * H): (
                "four sets of weights is an LSTM; a GRU has three (r, z and the candidate n)"
            ),
            L * first: (
                "a layer above the first reads the H-wide states of the layer below, not the "
                "D-wide input"
            ),
            first: "count every layer: num_layers stacked GRUs",
        }
        if got in slips:
            raise Hint(slips[got])
        raise Hint(
            f"for D={D}, H={H}, num_layers={L} the count is wrong: write down the shape of "
            "every matrix and bias in the equations of one layer, then what changes for the "
            "layers above it"
        )
    return f"{len(cases)} GRUs, up to 3 layers"


def _unroll(cell: nn.Module, xs: torch.Tensor, h: torch.Tensor, k: int, shift: int = 0):
    """States of ``cell`` over ``xs`` (T, B, D), the state detached after steps
    k, 2k, ... (``shift`` moves the detach points, for the typical slip)."""
    out = []
    for t in range(xs.shape[0]):
        h = cell(xs[t], h)
        out.append(h)
        if (t + 1 + shift) % k == 0:
            h = h.detach()
    return torch.stack(out)


def _grads(unroll: Callable[..., Any], cell: nn.Module, xs: torch.Tensor, h0: torch.Tensor,
           k: int, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The states and the gradient of ``(states * weights).sum()`` w.r.t. the inputs."""
    xs = xs.clone().requires_grad_(True)
    states = as_tensor_keep_grad(unroll(cell, xs, h0.clone(), k))
    if tuple(states.shape) != tuple(weights.shape):
        raise Hint(
            f"return the states of every step stacked into one tensor of shape "
            f"{tuple(weights.shape)} (T, B, H), got {tuple(states.shape)}"
        )
    if not states.requires_grad:
        raise Hint(
            "the states you return carry no gradient at all: detach the state that the NEXT "
            "step reads, not the states you return"
        )
    (grad,) = torch.autograd.grad((states * weights).sum(), xs, allow_unused=True)
    grad = torch.zeros_like(xs) if grad is None else grad
    return states.detach(), grad


def as_tensor_keep_grad(value: Any) -> torch.Tensor:
    """The learner's states as a tensor that keeps its graph (a list is stacked)."""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], torch.Tensor):
        return torch.stack(list(value))
    if isinstance(value, torch.Tensor):
        return value
    return as_tensor(value, "the states")


@exercise("exercise 4 (truncated backpropagation through time)")
def check_truncated_bptt(my_unroll_truncated: Callable[..., Any]) -> str:
    """Check ``my_unroll_truncated(cell, xs, h0, k) -> states``.

    ``cell(x, h)`` is one step (an ``nn.GRUCell`` or ``nn.RNNCell``), ``xs`` (T, B, D),
    ``h0`` (B, H). The answer runs the cell over the T steps and returns the T states
    (T, B, H); after steps k, 2k, 3k, … the state that the next step reads is detached,
    so no gradient flows back across those points. The values are those of the plain
    unrolled loop.
    """
    cases = [("gru", 10, 4), ("rnn", 12, 3), ("gru", 5, 5), ("rnn", 6, 10), ("gru", 7, 1),
             ("gru", 9, 2)]  # fmt: skip
    for seed, (kind, T, k) in enumerate(cases):
        with fixed_seed(seed):
            cell = (nn.GRUCell if kind == "gru" else nn.RNNCell)(3, 4).double()
            xs = torch.randn(T, 2, 3, dtype=torch.float64)
            h0 = torch.randn(2, 4, dtype=torch.float64)
            weights = torch.randn(T, 2, 4, dtype=torch.float64)
        want_states, want = _grads(_unroll, cell, xs, h0, k, weights)
        got_states, got = _grads(my_unroll_truncated, cell, xs, h0, k, weights)
        what = f"T={T}, k={k}"
        if not torch.allclose(got_states, want_states, atol=1e-10):
            raise Hint(
                f"for {what} the states' values differ from the plain unrolled loop: "
                "detaching changes where gradients flow, never the values"
            )
        full = _grads(_unroll, cell, xs, h0, T + 1, weights)[1]
        every = _grads(_unroll, cell, xs, h0, 1, weights)[1]
        early = _grads(lambda c, x, h, kk: _unroll(c, x, h, kk, shift=1), cell, xs, h0, k,
                       weights)[1]  # fmt: skip
        wrong = []
        if k > 1:
            wrong.append((early, "detach AFTER steps k, 2k, …: the state made by step k "
                          "is the one the next step must read detached"))  # fmt: skip
            wrong.append((every, "you cut the gradient after every step; cut it only "
                          "after every k-th"))  # fmt: skip
        if k < T:
            wrong.append((full, "the gradient still reaches step 1: detach the state "
                          "(h.detach()) after every k-th step, before the next step reads "
                          "it"))  # fmt: skip
        expect_close(got, want, f"the gradient of the inputs ({what})", wrong, atol=1e-10)
    return f"{len(cases)} runs of a GRU and an RNN cell, with k from 1 to longer than T"
