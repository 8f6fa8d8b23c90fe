"""Checks of notebook 03a (neural networks): the initial loss, a parameter count, context
windows, a cross-entropy that survives confident mistakes, and an overfitting experiment.

The library has no MLP language model or context-window function (the notebook builds
them), so the references here are small independent oracles: the initial loss is
``ln V``, the parameter count a formula, the context windows come from ``unfold`` (the
exercise asks for another way), the cross-entropy is compared with
:func:`llmwidgets.nn.functional.cross_entropy`, and the experiment is checked on its
outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from llmwidgets.checks._core import Hint, as_tensor, call, exercise, expect_close, one_number, short
from llmwidgets.nn.functional import cross_entropy

__all__ = [
    "check_context_windows",
    "check_cross_entropy",
    "check_gap_with_data",
    "check_initial_loss",
    "check_mlp_lm_params",
]


@exercise("exercise 1 (the loss before training)")
def check_initial_loss(predicted_initial_loss: Callable[[int], Any]) -> str:
    """Check ``predicted_initial_loss(vocab_size)``: the loss of an untrained model.

    An untrained language model whose logits are all (nearly) equal gives each of the
    ``V`` tokens probability ``1/V``, whatever comes next, so its cross-entropy is
    ``ln V`` nats. The answer is a number for each ``V``.
    """
    sizes = (2, 65, 1359, 50257)
    for V in sizes:
        what = f"vocab_size = {V}"
        got = one_number(call(predicted_initial_loss, V), what)
        expected = torch.tensor(math.log(V), dtype=torch.float64)
        wrong = [
            (torch.tensor(1 / V), "that is the probability of each token; the loss is -log of it"),
            (
                torch.tensor(float(V)),
                "that is a number of equally likely choices (the perplexity); the loss is "
                "its logarithm",
            ),
            (torch.tensor(math.log2(V)), "the book measures losses in nats: use the natural log"),
            (torch.tensor(math.log10(V)), "the book measures losses in nats: use the natural log"),
            (-expected, "check the sign: a loss is -log p, and p = 1/V is below 1"),
            (
                torch.tensor(0.0),
                "an untrained model does not know the next token: what probability does it "
                "give to the right one?",
            ),
        ]
        expect_close(
            got,
            expected,
            what,
            wrong,
            atol=0.01,
            next_step="think of the probability an untrained model gives to the token that "
            "really comes next, then of the loss of that probability",
        )
    return f"ln V for V = {', '.join(f'{v:,}' for v in sizes)}"


def _mlp_lm_params(V: int, k: int, d: int, h: int, layers: int) -> int:
    """The reference count: embeddings (V + 1 rows), hidden layers, output layer."""
    return (V + 1) * d + (k * d * h + h) + (layers - 1) * (h * h + h) + (h * V + V)


@exercise("exercise 2 (parameters of a deeper MLP language model)")
def check_mlp_lm_params(my_mlp_lm_params: Callable[..., Any]) -> str:
    """Check ``my_mlp_lm_params(vocab_size, context, n_embd, n_hidden, n_layers)``.

    The chapter's MLP language model with ``n_layers`` hidden tanh layers of ``n_hidden``
    units: an embedding table with ``vocab_size + 1`` rows (the extra row is the start
    marker), a first hidden ``nn.Linear(context · n_embd, n_hidden)``, ``n_layers - 1``
    further ``nn.Linear(n_hidden, n_hidden)`` and an output ``nn.Linear(n_hidden,
    vocab_size)``, all with biases. Dropout has no parameters.
    """
    cases = [
        (65, 8, 16, 256, 1),
        (1359, 4, 32, 128, 2),
        (27, 3, 10, 200, 3),
        (1000, 4, 32, 64, 1),
        (5, 1, 2, 3, 4),
    ]
    for V, k, d, h, n in cases:
        what = f"vocab_size={V}, context={k}, n_embd={d}, n_hidden={h}, n_layers={n}"
        got = call(my_mlp_lm_params, V, k, d, h, n)
        got = got.item() if isinstance(got, torch.Tensor) and got.numel() == 1 else got
        if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
            raise Hint(f"return a whole number of parameters for {what}, got {got!r}")
        got = int(got)
        expected = _mlp_lm_params(V, k, d, h, n)
        if got == expected:
            continue
        extra = (n - 1) * (h * h + h)
        hints = {
            expected - d: "the embedding table has vocab_size + 1 rows: the extra row is the "
            "start marker",
            expected - h - V - (n - 1) * h: "count the biases: one per output unit of every "
            "linear layer",
            expected - (k * d * h) + d * h: "the first hidden layer reads the k embeddings side "
            "by side: context · n_embd inputs",
            expected + (k - 1) * (V + 1) * d: "there is one embedding table, shared by all "
            "context positions",
            expected - extra + (n - 1) * (k * d * h + h): "only the first hidden layer reads "
            "the embeddings; the later ones read the n_hidden outputs of the layer before",
        }
        if n > 1:
            hints[expected - extra] = (
                "each hidden layer after the first has its own n_hidden × n_hidden weights "
                "and n_hidden biases"
            )
        if got in hints:
            raise Hint(hints[got])
        raise Hint(
            f"{got} is not the count for {what}. Add up the layers one at a time (weights, "
            "then biases) and compare each term with the numel() of a model you build"
        )
    return f"{len(cases)} sizes, 1 to 4 hidden layers"


def _windows(ids: torch.Tensor, k: int, start_id: int) -> torch.Tensor:
    """Row t = the k ids ending at position t, padded on the left with start_id."""
    padded = torch.cat([torch.full((k - 1,), start_id, dtype=torch.long), ids.long()])
    return padded.unfold(0, k, 1)


@exercise("exercise 3 (context windows)")
def check_context_windows(my_context_windows: Callable[..., Any]) -> str:
    """Check ``my_context_windows(ids, k, start_id)``: a ``(T, k)`` tensor of contexts.

    Row ``t`` holds ``ids[t - k + 1], ..., ids[t]`` (oldest first); positions before the
    start of the text hold ``start_id``.
    """
    cases = [
        (torch.tensor([5, 6, 7, 8, 9]), 3, 0),
        (torch.tensor([1, 2, 3, 4]), 1, 10),
        (torch.tensor([4, 3]), 4, 65),
        (torch.arange(20, 32), 5, 99),
    ]
    for ids, k, start in cases:
        what = f"ids={ids.tolist()}, k={k}, start_id={start}"
        got = as_tensor(call(my_context_windows, ids, k, start), f"the result for {what}")
        T = len(ids)
        if tuple(got.shape) == (T - k + 1, k) and k > 1:
            raise Hint(
                f"one row per position: {T} rows for {what}. Pad the first k - 1 positions "
                "with start_id so that the first tokens get a (partly empty) context too"
            )
        if tuple(got.shape) != (T, k):
            raise Hint(
                f"the result for {what} should have shape ({T}, {k}), got {tuple(got.shape)}"
            )
        if got.is_floating_point():
            raise Hint("return integer ids (dtype torch.long), not floats")
        got, expected = got.long(), _windows(ids, k, start)
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.flip(1)):
            raise Hint("put the oldest token first: row t ends with ids[t]")
        if torch.equal(got, _windows(torch.cat([torch.tensor([start]), ids[:-1]]), k, start)):
            raise Hint(
                "row t must end with ids[t] itself: the model reads tokens up to t and "
                "predicts token t + 1"
            )
        if start != 0 and torch.equal(got, _windows(ids, k, 0)):
            raise Hint("pad with start_id, not with 0 (0 is an ordinary character)")
        rows = [t for t in range(T) if not torch.equal(got[t], expected[t])]
        raise Hint(
            f"for {what} rows {rows} are wrong. Write out row t = {rows[0]} by hand: the k ids "
            "that end at position t, oldest first, with start_id before the start of ids"
        )
    return f"{len(cases)} cases, k from 1 to 5, contexts longer than the text"


@exercise("exercise 4 (a cross-entropy that survives confident mistakes)")
def check_cross_entropy(my_cross_entropy: Callable[..., Any]) -> str:
    """Check ``my_cross_entropy(logits, targets)``: the mean of ``-log softmax(z)[y]``.

    ``logits`` has shape ``(..., V)`` and ``targets`` the leading shape, with integer ids.
    The answer must stay exact where the probabilities underflow: logits a thousand
    apart, with the target on the lowest one.
    """
    gen = torch.Generator().manual_seed(0)
    cases = [
        (torch.randn(4, 6, generator=gen), torch.tensor([0, 5, 2, 2])),
        (3 * torch.randn(2, 3, 5, generator=gen), torch.tensor([[1, 0, 4], [3, 3, 2]])),
        (
            torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0], [-500.0, 500.0, 0.0]]),
            torch.tensor([2, 1, 0]),
        ),
        (torch.tensor([[1000.0, 1001.0, 1002.0]]), torch.tensor([0])),
    ]
    for logits, targets in cases:
        what = f"logits {tuple(logits.shape)} {short(logits)}, targets {targets.tolist()}"
        got = one_number(call(my_cross_entropy, logits, targets), what)
        if torch.isinf(got) or torch.isnan(got):
            raise Hint(
                f"the loss is {got.item()} for {what}. A probability underflowed to 0 (or "
                "an exp overflowed to inf): never compute the probability itself. Write "
                "log p_y as z_y minus the log of the sum of exponentials, and shift the "
                "logits by their maximum inside that sum"
            )
        expected = cross_entropy(logits, targets).double()
        nll = torch.logsumexp(logits.double(), -1) - logits.double().gather(
            -1, targets.unsqueeze(-1)
        ).squeeze(-1)
        wrong = [
            (nll.sum(), "average over the positions (mean), do not sum"),
            (-nll.mean(), "check the sign: the loss is -log p, which is >= 0"),
            (nll.mean() / math.log(2), "use the natural logarithm (nats), not log2"),
            (
                torch.logsumexp(logits.double(), -1).mean(),
                "subtract the logit of the target token from the log of the sum",
            ),
        ]
        expect_close(got, expected, what, wrong, atol=1e-3)
    return f"{len(cases)} cases, shapes (N, V) and (B, T, V), logits a thousand apart"


#: The training length the experiment is checked with (long enough to overfit).
GAP_STEPS = 100


@exercise("exercise 5 (the overfitting gap and the amount of data)")
def check_gap_with_data(gap_with_data: Callable[..., Any]) -> str:
    """Check ``gap_with_data(fraction, steps)`` on its outcome.

    The function trains the chapter's Analects model without dropout on the first
    ``fraction`` of the training text for ``steps`` steps and returns the gap, validation
    loss minus training loss, both measured on fixed batches in evaluation mode. The
    check runs it with a quarter and with all of the text; the outcome it expects is
    the one the chapter's experiment predicts.
    """
    gaps = {}
    for fraction in (1.0, 0.25):
        what = f"gap_with_data({fraction}, {GAP_STEPS})"
        gaps[fraction] = one_number(call(gap_with_data, fraction, GAP_STEPS), what)
        if not torch.isfinite(gaps[fraction]):
            raise Hint(f"{what} is {gaps[fraction].item()}: the training diverged or a loss is NaN")
    small, full = gaps[0.25].item(), gaps[1.0].item()
    if small < 0 or full < -0.1:
        raise Hint(
            "a gap below 0 means the validation loss is lower than the training loss: "
            "return validation minus training, both measured in evaluation mode"
        )
    if small == full:
        raise Hint(
            "both runs give the same gap: does your function really train on the first "
            "`fraction` of the training ids only (and on a fresh model each time)?"
        )
    if small <= full:
        raise Hint(
            "your two runs do not show what the chapter's overfitting experiment predicts. "
            "Check that each call builds a fresh model, draws its batches from the "
            "shortened training ids only, and measures both losses on fixed batches after "
            "training (the training loss on the text the model trained on)"
        )
    return (
        f"after {GAP_STEPS} steps the gap with a quarter of the text is larger than with all of it"
    )
