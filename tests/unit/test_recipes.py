"""The CPU recipe and the shared character model: trained once, saved, loaded by name."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import llmwidgets as lw
from llmwidgets.training.recipes import CPU_RECIPE, CharRecipe, char_model, train_char_model


@pytest.fixture
def quick_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMW_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LLMW_QUICK", "1")
    return tmp_path


def test_the_recipe_is_the_preset_and_the_benchmark_defaults():
    config = lw.GPTConfig.preset(CPU_RECIPE.preset)
    assert (config.n_layer, config.n_head, config.n_embd, config.block_size) == (4, 4, 96, 64)
    assert (CPU_RECIPE.batch_size, CPU_RECIPE.lr, CPU_RECIPE.min_lr) == (32, 5e-3, 5e-4)
    assert (CPU_RECIPE.max_steps, CPU_RECIPE.max_seconds) == (2000, None)  # same model everywhere


def test_char_model_trains_once_then_loads(quick_cache, capsys):
    assert lw.load_model("shakespeare-char") is None
    first = char_model()
    assert "training it with the CPU recipe" in capsys.readouterr().out
    assert first.metadata["corpus"] == "tinyshakespeare" and first.metadata["steps"] >= 1
    assert first.tokenizer.vocab_size == first.model.config.vocab_size == 65
    again = char_model()
    assert capsys.readouterr().out == ""  # loaded, not trained again
    for a, b in zip(
        first.model.state_dict().values(), again.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    ids = torch.tensor([first.tokenizer.encode("ROMEO:")])
    assert again.model(ids).shape == (1, 6, 65)


def test_missing_model_without_training_is_none(quick_cache):
    assert char_model("nothing-here", train_if_missing=False) is None


def test_the_best_weights_are_kept(quick_cache):
    model, tok, trainer = train_char_model(dataclasses.replace(CPU_RECIPE, lr=1e-2), save_as=None)
    assert trainer.best_val_loss == min(trainer.history.series("val_loss")[1])
    assert not model.training and lw.saved_models() == []


def test_bad_recipe_is_refused(quick_cache):
    with pytest.raises(ValueError, match="recipe must be a CharRecipe"):
        train_char_model({"lr": 1})
    with pytest.raises(ValueError, match="max_seconds must be a finite number > 0"):
        train_char_model(CharRecipe(), max_seconds=0)
