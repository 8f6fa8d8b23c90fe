"""book/tools/static_outputs.py: committed notebooks carry static figures, not dead widgets."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book" / "tools"))
import static_outputs  # noqa: E402

WIDGET = "application/vnd.jupyter.widget-view+json"
PLOTLY = "application/vnd.plotly.v1+json"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _out(data, **metadata):
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata)


def test_widget_views_become_their_static_form():
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    figure = {"data": [], "layout": {"title": {"text": "static"}}}
    cell = nbformat.v4.new_code_cell("explorer")
    cell.outputs = [
        _out({WIDGET: view, PLOTLY: figure, "text/html": "<div>fig</div>", "text/plain": "x"}),
        _out({WIDGET: view, "text/plain": "IntSlider(value=0)"}),  # nothing to fall back on
        _out({PLOTLY: figure, "text/html": "<div>live</div>"}, llmwidgets={"live_figure": True}),
        _out({"text/plain": "kept"}),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    source = cell.source
    assert static_outputs.make_static(nb) == 4
    first, last = nb.cells[0].outputs
    assert set(first.data) == {PLOTLY, "text/html", "text/plain"}
    assert first.data[PLOTLY] == figure and last.data == {"text/plain": "kept"}
    assert "widgets" not in nb.metadata and nb.cells[0].source == source
    nbformat.validate(nb)
    assert static_outputs.make_static(nb) == 0  # idempotent


def test_cli_rewrites_and_checks(tmp_path):
    cell = nbformat.v4.new_code_cell("w")
    cell.outputs = [_out({WIDGET: {"model_id": "m"}, "text/html": "<b>fig</b>"})]
    path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    assert static_outputs.main(["--check", str(path)]) == 1
    assert WIDGET in path.read_text()  # --check writes nothing
    assert static_outputs.main([str(path)]) == 0
    assert WIDGET not in path.read_text() and "<b>fig</b>" in path.read_text()
    assert static_outputs.main(["--check", str(path)]) == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebooks_keep_no_widget_view(path):
    nb = nbformat.read(path, as_version=4)
    views = [
        i
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if WIDGET in (out.get("data") or {})
    ]
    assert views == [], (
        f"{path.name}: cells {views} keep widget views (dead when reopened); run "
        f"python book/tools/static_outputs.py {path.relative_to(ROOT)}"
    )
    assert "widgets" not in nb.metadata
