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


@pytest.mark.parametrize("quick", [True, False])
def test_pick_type_mismatch_is_a_value_error_in_both_modes(monkeypatch, quick):
    monkeypatch.setenv(QUICK_ENV, "1" if quick else "0")
    with pytest.raises(ValueError, match=r"pick\(full=10, quick=0.5\).*int and float"):
        pick(10, 0.5)
    assert pick("a", "b") == ("b" if quick else "a")
