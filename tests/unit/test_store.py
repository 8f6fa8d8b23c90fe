"""The model store, in a temporary cache folder."""

import os

import pytest
import torch
from torch import nn

from llmwidgets.nn.gpt import GPT, GPTConfig
from llmwidgets.text.tokenizers import CharTokenizer
from llmwidgets.training.files import CheckpointError
from llmwidgets.training.store import (
    STORE_FORMAT,
    load_model,
    model_path,
    save_model,
    saved_models,
)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMW_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LLMW_QUICK", "0")  # full mode: models/<name>.pt (quick: models/quick/)
    return tmp_path / "cache"


def _gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=16))


def test_save_and_load_a_gpt_with_its_tokenizer(cache):
    assert load_model("tiny") is None and saved_models() == []
    model, tok = _gpt(), CharTokenizer("the cat sat on the mat.\n")
    path = save_model("tiny", model, tok, {"val_loss": torch.tensor(1.25), "steps": 300})
    assert path == cache / "models" / "tiny.pt" == model_path("tiny")
    assert saved_models() == ["tiny"]
    saved = load_model("tiny")
    assert saved.name == "tiny" and saved.path == path
    assert saved.metadata == {"val_loss": 1.25, "steps": 300}
    assert saved.tokenizer.chars == tok.chars and not saved.model.training
    assert saved.model.config == model.config
    ids = torch.tensor([tok.encode("the cat")])
    assert torch.equal(saved.model(ids), model.eval()(ids))  # the same weights
    save_model("tiny", _gpt(seed=1))  # replaced
    assert load_model("tiny").tokenizer is None
    assert not torch.equal(load_model("tiny").model(ids), saved.model(ids))


def test_other_models_load_into_a_model_of_the_right_shape():
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5))
    save_model("seq", model, metadata={"note": "two layers", "sizes": (5, 4)})
    with pytest.raises(ValueError, match="'seq' is a Sequential; .* pass model="):
        load_model("seq")
    torch.manual_seed(3)
    other = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5))
    saved = load_model("seq", model=other)
    assert saved.model is other and torch.equal(other[0].weight, model[0].weight)
    assert saved.metadata == {"note": "two layers", "sizes": [5, 4]}
    with pytest.raises(ValueError, match=r"does not fit .* \(5, 4\) vs \(6, 4\)"):
        load_model("seq", model=nn.Sequential(nn.Embedding(6, 4), nn.Linear(4, 5)))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: save_model("../up", _gpt()), r"name must be letters, .* got '../up'"),
        (lambda: save_model("a/b", _gpt()), "name must be letters"),
        (lambda: load_model(""), "name must not be empty"),
        (lambda: save_model("x", "model"), "model must be an nn.Module, got str"),
        (lambda: save_model("x", _gpt(), tokenizer=object()), "tokenizer must be a CharTok"),
        (lambda: save_model("x", _gpt(), metadata={"f": print}), r"metadata\['f'\] must hold"),
        (lambda: save_model("x", _gpt(), metadata={1: 2}), "metadata must hold"),
    ],
)
def test_bad_inputs(call, words):
    with pytest.raises(ValueError, match=words):
        call()
    assert saved_models() == []  # nothing half-saved


def test_damaged_and_foreign_files_give_clear_errors(cache):
    save_model("good", _gpt())
    folder = cache / "models"
    data = (folder / "good.pt").read_bytes()
    (folder / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut.pt could not be loaded .* not a saved model"):
        load_model("cut")
    torch.save({"format": "something else"}, folder / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt is not a model saved by"):
        load_model("other")
    torch.save({"format": STORE_FORMAT, "model": {}}, folder / "part.pt")
    with pytest.raises(CheckpointError, match="part.pt is a damaged saved model"):
        load_model("part")

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    torch.save({"format": STORE_FORMAT, "x": Evil()}, folder / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt is unsafe to load"):
        load_model("evil")


def test_quick_mode_models_are_kept_apart(tmp_path, monkeypatch):
    """A model saved in quick mode (CI, a few steps) is never loaded by a full run."""
    import torch

    import llmwidgets as lw

    monkeypatch.setenv("LLMW_CACHE_DIR", str(tmp_path))
    torch.manual_seed(0)
    model = lw.GPT(lw.GPTConfig.preset("char-tiny"))
    monkeypatch.setenv("LLMW_QUICK", "1")
    lw.save_model("tiny", model)
    assert lw.saved_models() == ["tiny"] and lw.load_model("tiny") is not None
    monkeypatch.setenv("LLMW_QUICK", "0")
    assert lw.saved_models() == [] and lw.load_model("tiny") is None
