"""Every committed notebook ran top to bottom in full mode, cleanly, and stays small."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb"))
MAX_BYTES = 1_000_000
# The Colab install cell: llmwidgets with an extra (pyproject.toml's "book"), from the
# repository of _config.yml, comment lines allowed, and nothing else on the %pip line
# (no torch, no --upgrade: Colab's own torch build must stay).
COLAB_CELL = re.compile(
    r'^import sys\n\n?if "google\.colab" in sys\.modules:.*\n(?:    #.*\n)*'
    r'    %pip install -q "llmwidgets\[(?P<extra>\w+)\] @ git\+(?P<url>\S+)"$'
)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ran_top_to_bottom(path):
    counts = [c["execution_count"] for c in _code_cells(_load(path))]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_error_outputs(path):
    for i, cell in enumerate(_code_cells(_load(path))):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} code cell {i}: {out.get('ename')}"
            assert out.get("name") != "stderr" or "Traceback" not in "".join(out.get("text", ""))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_small_and_no_embedded_plotly_or_widget_state(path):
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name} is {size} bytes (limit {MAX_BYTES})"
    text = path.read_text(encoding="utf-8")
    for needle in ("cdn.plot.ly", "plotly.min.js", "plotly.js v", "FigureModel", "cdn.jsdelivr"):
        assert needle not in text, f"{path.name} embeds {needle!r}"
    widgets = json.dumps(_load(path)["metadata"].get("widgets", {}))
    assert len(widgets) < 200_000, f"{path.name}: {len(widgets)} bytes of widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_install_cell_first(path):
    first = _src(_code_cells(_load(path))[0]).strip()
    match = COLAB_CELL.match(first)
    assert match, f"{path.name}: first code cell is not the Colab install cell:\n{first}"
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert match["url"] == config["repository"]["url"], "install URL differs from _config.yml"
    assert match["extra"] == "book", f"{path.name}: installs llmwidgets[{match['extra']}]"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_come_from_full_mode(path):
    """The environment report is printed first, and it says quick mode was off."""
    cells = _code_cells(_load(path))
    report = "".join("".join(o.get("text", "")) for o in cells[1].get("outputs", []))
    setup = _src(cells[1])
    assert "lw.setup(" in setup or "print_environment" in setup, (
        f"{path.name}: the 2nd code cell must call lw.setup(...) (it prints the environment)"
    )
    assert re.search(r"quick mode\s*: off", report), f"{path.name}: committed from quick mode?"
