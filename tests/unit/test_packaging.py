"""pyproject.toml: the wheel holds every subpackage, and every import is declared.

The package's third-party imports must be runtime dependencies or extras, and the
notebooks' must be in the ``book`` extra that their Colab install cell installs; torch
stays a floor, so installing llmwidgets on Colab never replaces Colab's CUDA build.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import llmwidgets

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "llmwidgets"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Imported inside a guard that says what to install, never needed: {module: where}.
OPTIONAL = {
    "google": "llmwidgets.widgets.display: google.colab exists only on Colab",
    "transformers": "03d compares with Hugging Face's GPT-2 when transformers is installed",
}


def _canonical(name: str) -> str:
    """PEP 503's normal form: ``rouge_score`` and ``Rouge-Score`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {_canonical(Requirement(r).name) for r in requirements}


def _third_party(source: str) -> set[str]:
    """Top-level modules imported by ``source`` that are neither stdlib nor llmwidgets."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "llmwidgets"}


def _notebook_imports(path: Path) -> set[str]:
    """Third-party modules a notebook's code cells import (IPython magics read as ``pass``)."""
    modules: set[str] = set()
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        magic = re.compile(r"^(\s*)[%!].*$")
        modules |= _third_party("\n".join(magic.sub(r"\1pass", line) for line in lines))
    return modules


def _undeclared(modules: set[str], declared: set[str]) -> list[str]:
    """Modules whose distribution (as installed here) is not among ``declared``."""
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(modules - OPTIONAL.keys()):
        names = {_canonical(d) for d in distributions.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} (distribution {sorted(names)})")
    return missing


def test_version_matches_the_package():
    assert PROJECT["version"] == llmwidgets.__version__ == "0.2.0"


def test_every_subpackage_is_a_regular_package():
    """packages.find skips a folder without __init__.py: its modules would miss the wheel."""
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert len(folders) >= 7  # llmwidgets and its layers
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"folders without __init__.py (left out of the wheel): {missing}"


def test_package_imports_are_declared_and_nbformat_is_not_needed():
    sources = [p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))]
    modules = set().union(*(_third_party(s) for s in sources))
    assert {"torch", "plotly"} <= modules  # the scan sees imports
    assert "nbformat" not in modules, "nbformat is book tooling, not a runtime dependency"
    # The notebooks use the whole package, so the book extra covers its optional imports.
    declared = _names(PROJECT["dependencies"]) | _names(PROJECT["optional-dependencies"]["book"])
    missing = _undeclared(modules, declared)
    assert not missing, f"llmwidgets imports what llmwidgets[book] does not install: {missing}"
    assert "nbformat" not in declared


def test_the_book_extra_includes_the_other_extras():
    extras = PROJECT["optional-dependencies"]
    book = {str(Requirement(r)) for r in extras["book"]}
    for name, requirements in extras.items():
        assert {str(Requirement(r)) for r in requirements} <= book, f"extra {name!r}"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_imports_are_in_the_book_extra(path):
    modules = _notebook_imports(path)
    assert modules, f"{path.name}: no third-party import found"
    declared = _names(PROJECT["dependencies"]) | _names(PROJECT["optional-dependencies"]["book"])
    missing = _undeclared(modules, declared)
    assert not missing, f"{path.name} imports what llmwidgets[book] does not install: {missing}"


def test_torch_is_a_floor_so_colab_keeps_its_build():
    torch = [Requirement(r) for r in PROJECT["dependencies"] if Requirement(r).name == "torch"]
    assert len(torch) == 1
    assert [s.operator for s in torch[0].specifier] == [">="], str(torch[0])
    for extra, requirements in PROJECT["optional-dependencies"].items():
        assert "torch" not in _names(requirements), f"extra {extra!r} names torch"
