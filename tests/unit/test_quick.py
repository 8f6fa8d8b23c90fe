import pytest

from llmwidgets.core.quick import QUICK_ENV, is_quick, pick


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_quick_on(monkeypatch, raw):
    monkeypatch.setenv(QUICK_ENV, raw)
    assert is_quick() is True
    assert pick(1000, 10) == 10


@pytest.mark.parametrize("raw", ["", "0", "false", "Off"])
def test_quick_off(monkeypatch, raw):
    monkeypatch.setenv(QUICK_ENV, raw)
    assert is_quick() is False
    assert pick(1000, 10) == 1000


def test_quick_unset(monkeypatch):
    monkeypatch.delenv(QUICK_ENV, raising=False)
    assert is_quick() is False


def test_quick_typo_is_an_error(monkeypatch):
    monkeypatch.setenv(QUICK_ENV, "quick")
    with pytest.raises(ValueError, match="'quick'"):
        is_quick()


def test_pick_type_mismatch():
    with pytest.raises(TypeError, match="int and float"):
        pick(10, 0.5)
