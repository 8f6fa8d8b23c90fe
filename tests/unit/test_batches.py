import math

import pytest
import torch
from torch import nn

from llmwidgets.core.device import Precision
from llmwidgets.training.batches import TokenBatcher, split_tokens
from llmwidgets.training.losses import evaluate_loss, next_token_loss


class Bigram(nn.Module):
    """A tiny bigram language model: embedding, dropout, linear head."""

    def __init__(self, vocab: int = 8, dim: int = 16) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.emb(idx)))


# ------------------------------------------------------------------ split_tokens
def test_split_tokens_is_contiguous():
    ids = torch.arange(100)
    train, val = split_tokens(ids, 0.1)
    assert len(train) == 90 and len(val) == 10
    assert torch.equal(torch.cat([train, val]), ids)
    assert train[-1] == 89 and val[0] == 90


def test_split_tokens_rounds_and_allows_zero():
    train, val = split_tokens(torch.arange(7), 0.3)  # 2.1 -> 2 validation tokens
    assert (len(train), len(val)) == (5, 2)
    train, val = split_tokens(torch.arange(7), 0.0)
    assert len(train) == 7 and len(val) == 0


@pytest.mark.parametrize("bad", [1.0, -0.1, "0.1", True, math.nan])
def test_split_tokens_rejects_bad_fraction(bad):
    with pytest.raises(ValueError, match="val_fraction"):
        split_tokens(torch.arange(10), bad)


@pytest.mark.parametrize(
    "ids, words",
    [(torch.zeros(2, 5, dtype=torch.long), "1-D"), (torch.rand(10), "integer"), ([1, 2], "Tensor")],
)
def test_split_tokens_rejects_bad_ids(ids, words):
    with pytest.raises(ValueError, match=words):
        split_tokens(ids, 0.1)


# ------------------------------------------------------------------ TokenBatcher
def test_batches_are_windows_shifted_by_one():
    data = torch.arange(50, dtype=torch.int32)  # any integer dtype
    b = TokenBatcher(data, block_size=6, batch_size=4, seed=0)
    x, y = b.get_batch()
    assert x.shape == y.shape == (4, 6) and x.dtype == y.dtype == torch.long
    assert torch.equal(y[:, :-1], x[:, 1:])
    # with data = arange, each row is start, start + 1, ...; y is x + 1
    assert torch.equal(x, x[:, :1] + torch.arange(6))
    assert torch.equal(y, x + 1)
    assert 0 <= int(x.min()) and int(y.max()) <= 49


def test_every_window_can_be_drawn():
    b = TokenBatcher(torch.arange(5), block_size=3, batch_size=64, seed=1)
    starts = {int(s) for _ in range(5) for s in b.get_batch()[0][:, 0]}
    assert starts == {0, 1} and b.num_windows == 2  # the last window is [1, 2, 3, 4]


def test_same_seed_same_batches_and_state_roundtrip():
    data = torch.arange(1000)
    a = TokenBatcher(data, 8, 4, seed=3)
    b = TokenBatcher(data, 8, 4, seed=3)
    for _ in range(3):
        assert torch.equal(a.get_batch()[0], b.get_batch()[0])
    state = a.state_dict()
    expected = [a.get_batch() for _ in range(2)]
    c = TokenBatcher(data, 8, 4, seed=99)
    c.load_state_dict(state)
    for (x, y), (x2, y2) in zip(expected, [c.get_batch() for _ in range(2)], strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert c.seed == 3


def test_fixed_batches_repeat_and_leave_the_generator_alone():
    b = TokenBatcher(torch.arange(1000), 8, 4, seed=5)
    before = b.generator.get_state()
    first = [x for x, _ in b.fixed_batches(3)]
    second = [x for x, _ in b.fixed_batches(3)]
    assert all(torch.equal(p, q) for p, q in zip(first, second, strict=True))
    assert not torch.equal(first[0], first[1])
    assert torch.equal(b.generator.get_state(), before)


def test_batcher_errors_name_the_values():
    with pytest.raises(ValueError, match=r"10 tokens.*block_size \+ 1 = 11"):
        TokenBatcher(torch.arange(10), block_size=10, batch_size=2)
    TokenBatcher(torch.arange(11), block_size=10, batch_size=2)  # exactly enough
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        TokenBatcher(torch.arange(100), block_size=4, batch_size=0)
    with pytest.raises(ValueError, match="block_size"):
        TokenBatcher(torch.arange(100), block_size=0, batch_size=2)
    with pytest.raises(ValueError, match="seed"):
        TokenBatcher(torch.arange(100), 4, 2, seed=-1)
    with pytest.raises(ValueError, match="1-D"):
        TokenBatcher(torch.zeros(4, 25, dtype=torch.long), 4, 2)


def test_load_state_dict_rejects_other_sizes():
    a = TokenBatcher(torch.arange(100), 4, 2)
    with pytest.raises(ValueError, match="batch_size=3"):
        TokenBatcher(torch.arange(100), 4, 3).load_state_dict(a.state_dict())


# --------------------------------------------------------------- next_token_loss
def test_next_token_loss_values():
    targets = torch.tensor([[1, 2], [0, 3]])
    uniform = torch.zeros(2, 2, 5)
    assert next_token_loss(uniform, targets).item() == pytest.approx(math.log(5))
    logits = torch.randn(2, 2, 5)
    manual = -torch.log_softmax(logits, -1).gather(-1, targets[..., None]).mean()
    assert next_token_loss(logits, targets).item() == pytest.approx(manual.item(), rel=1e-6)
    # a (logits, loss) tuple as minGPT and nanoGPT return
    assert next_token_loss((logits, None), targets).item() == pytest.approx(manual.item())


def test_next_token_loss_shape_errors():
    with pytest.raises(ValueError, match=r"\(B, T, V\)"):
        next_token_loss(torch.zeros(4, 5), torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(2, 1, 5\).*\(2, 2\)"):  # nanoGPT's last-token logits
        next_token_loss(torch.zeros(2, 1, 5), torch.zeros(2, 2, dtype=torch.long))


# ----------------------------------------------------------------- evaluate_loss
def test_evaluate_loss_is_fixed_no_grad_and_restores_mode():
    torch.manual_seed(0)
    model = Bigram()
    b = TokenBatcher(torch.arange(200) % 8, 8, 4, seed=2)
    first = evaluate_loss(model, b, iters=3)
    assert model.training  # restored
    assert evaluate_loss(model, b, iters=3) == first  # same batches, no dropout
    assert all(p.grad is None for p in model.parameters())
    manual = 0.0
    model.eval()
    for x, y in b.fixed_batches(3):
        manual += nn.functional.cross_entropy(model(x).reshape(-1, 8), y.reshape(-1)).item()
    assert first == pytest.approx(manual / 3, rel=1e-6)
    assert evaluate_loss(model, b, iters=3) == first
    assert not model.training  # an eval-mode model stays in eval mode


def test_evaluate_loss_under_cpu_autocast():
    model = Bigram()
    b = TokenBatcher(torch.arange(200) % 8, 8, 4)
    bf16 = Precision("cpu", torch.bfloat16, False, "test: bf16 autocast on the CPU")
    fp32 = evaluate_loss(model, b, 2)
    assert evaluate_loss(model, b, 2, bf16) == pytest.approx(fp32, rel=2e-2)
    with pytest.raises(ValueError, match="iters"):
        evaluate_loss(model, b, 0)


# ------------------------------------------------------------------ Batcher
def test_token_batcher_is_a_batcher_and_others_are_named():
    from llmwidgets.seq2seq.number_task import NumberTask, Seq2SeqBatcher
    from llmwidgets.training.batches import Batcher, check_batcher

    batcher = TokenBatcher(torch.arange(50), 4, 2)
    assert isinstance(batcher, Batcher) and check_batcher("b", batcher) is batcher
    seq2seq = Seq2SeqBatcher(NumberTask("en-zh").dataset("val"), 4)
    assert check_batcher("val_batcher", seq2seq) is seq2seq

    class OnlyBatches:
        batch_size = 4

        def get_batch(self):
            return torch.zeros(4, 2), torch.zeros(4, 2)

    with pytest.raises(
        ValueError,
        match=r"val_batcher must be a Batcher .*; OnlyBatches has no fixed_batches, state_dict, "
        r"load_state_dict$",
    ):
        check_batcher("val_batcher", OnlyBatches())
    with pytest.raises(ValueError, match="list has no get_batch, .*, batch_size"):
        check_batcher("train_batcher", [1, 2])


def test_an_empty_batch_gives_an_error_not_a_nan():
    with pytest.raises(ValueError, match=r"the batch is empty: targets of shape \(0, 5\)"):
        next_token_loss(torch.zeros(0, 5, 8), torch.zeros(0, 5, dtype=torch.long))
