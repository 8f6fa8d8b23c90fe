"""The package's shape: its public names exist, its modules stay short, its layers import
downwards only.

The layers (``llmwidgets/__init__.py``'s docstring), each importing only from those above:

    core  <  nn, text  <  training  <  widgets, seq2seq, apps, analysis  <  checks

A module's layer is the folder it is in. ``apps`` and ``analysis`` may also import
``seq2seq``; nothing imports ``checks`` except the facade, ``llmwidgets/__init__.py``,
which may import anything (and which no module of a layer may import).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import llmwidgets

PACKAGE = Path(llmwidgets.__file__).resolve().parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
SUBPACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))

#: The layer of each subpackage (its folder): a module imports only from lower layers.
LAYERS = {
    "core": 0,
    "nn": 1,
    "text": 1,
    "training": 2,
    "widgets": 3,
    "seq2seq": 3,
    "apps": 3,
    "analysis": 3,
    "checks": 4,
}
#: Imports within one layer that are allowed: (importer, imported).
SIDEWAYS = {("apps", "seq2seq"), ("analysis", "seq2seq")}

#: One concept per module of at most ~350 lines.
MAX_LINES = 350
#: Modules over MAX_LINES for now, each with its reason. An entry must go once its
#: module is short again (the test says so).
OVER_MAX_LINES: dict[str, str] = {}  # module -> why it may be longer (none today)

#: The facade's names so far: notebooks use them, so none may go.
FACADE_NAMES = """
    AttentionData AttentionGRUSeq2Seq AttentionViewer CORPORA CPU_RECIPE CharTokenizer
    CheckpointError CorpusError GPT GPTConfig GRUSeq2Seq LiveFigure LiveLossPlot
    MetricHistory NumberTask PRESETS Precision SamplingExplorer SentencePieceTokenizer Setup
    StopTraining TextData TokenBatcher TokenViewer Trainer TrainerConfig TransformerSeq2Seq
    TransformerSeq2SeqConfig attention_viewer beam_search capture_attention causal_mask
    char_model corpus_path cross_entropy dense environment_report evaluate_loss
    figure_bundle generate gpt_param_count greedy_decode grid_figure heatmap_figure
    is_quick kept_mask lines_figure load_model load_text loss_figure lr_at next_token_loss
    normalize_attention number_to_chinese number_to_english perplexity pick pick_device
    pick_precision print_environment sample_next sampling_explorer sampling_probs
    save_model saved_models scaled_dot_product_attention seed_everything setup show softmax
    split_tokens status_line text_data token_spans token_viewer tokens_per_char
    train_char_model train_sentencepiece update
""".split()


def _name(path: Path) -> str:
    """``llmwidgets/text/spans.py`` -> ``text/spans.py``."""
    return path.relative_to(PACKAGE).as_posix()


def _dotted(path: Path) -> str:
    """``llmwidgets/text/spans.py`` -> ``llmwidgets.text.spans``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(source: str, package: str) -> set[str]:
    """The ``llmwidgets`` modules a source imports anywhere in it (functions and
    ``TYPE_CHECKING`` blocks included), its relative imports read from ``package``.

    ``from llmwidgets import x`` counts as importing ``llmwidgets.x`` when ``x`` is a
    subpackage, else as importing the facade ``llmwidgets``.
    """
    found: set[str] = set()
    parts = package.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names if a.name in SUBPACKAGES}
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return {m for m in found if m == "llmwidgets" or m.startswith("llmwidgets.")}


def _imports_of(path: Path) -> set[str]:
    """The ``llmwidgets`` modules that the module at ``path`` imports."""
    module = _dotted(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imported(path.read_text(encoding="utf-8"), package)


def _layer_of(module: str) -> str:
    """``llmwidgets.text.spans`` -> ``text``; the facade ``llmwidgets`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _upward(importer: str, imported: str) -> str | None:
    """Why ``importer`` (a subpackage) may not import the module ``imported``, or None."""
    target = _layer_of(imported)
    if target == importer:
        return None
    if target == "":
        return "imports the facade llmwidgets (which imports every layer)"
    if target == "checks":
        return "imports checks (only the facade may)"
    if target not in LAYERS:
        return f"imports {imported}, a module outside the layers"
    if LAYERS[target] < LAYERS[importer] or (importer, target) in SIDEWAYS:
        return None
    return f"imports {imported} (layer {LAYERS[target]}) from layer {LAYERS[importer]}"


# ------------------------------------------------------------------------ names
def test_every_name_in_the_facade_exists():
    assert len(llmwidgets.__all__) == len(set(llmwidgets.__all__)), "a name listed twice"
    missing = [n for n in llmwidgets.__all__ if not hasattr(llmwidgets, n)]
    assert not missing, f"llmwidgets.__all__ lists names it does not have: {missing}"


def test_the_facade_keeps_its_names():
    gone = sorted(set(FACADE_NAMES) - set(llmwidgets.__all__))
    assert not gone, f"names notebooks may use left llmwidgets.__all__: {gone}"


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_name_in_a_subpackage_exists(name):
    subpackage = importlib.import_module(f"llmwidgets.{name}")
    names = getattr(subpackage, "__all__", None)
    assert names, f"llmwidgets.{name} has no __all__"
    assert len(names) == len(set(names)), f"llmwidgets.{name}.__all__ lists a name twice"
    missing = [n for n in names if not hasattr(subpackage, n)]
    assert not missing, f"llmwidgets.{name}.__all__ lists names it does not have: {missing}"


# ---------------------------------------------------------------------- modules
def test_modules_are_short():
    lengths = {_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    over = {n: k for n, k in lengths.items() if k > MAX_LINES and n not in OVER_MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by concept): {over}"
    short = [n for n in OVER_MAX_LINES if lengths.get(n, 0) <= MAX_LINES]
    assert not short, f"{short} are {MAX_LINES} lines or fewer now: take them off OVER_MAX_LINES"


# ----------------------------------------------------------------------- layers
def test_every_subpackage_has_a_layer():
    assert set(SUBPACKAGES) >= {"core", "nn", "text", "training", "widgets", "checks"}
    unknown = sorted(set(SUBPACKAGES) - set(LAYERS))
    assert not unknown, f"subpackages without a layer (add them to LAYERS): {unknown}"
    stray = [_name(p) for p in MODULES if p.parent == PACKAGE and p.name != "__init__.py"]
    assert not stray, f"modules outside the layers (move them into one): {stray}"


def test_the_import_scan_sees_every_kind_of_import():
    assert "llmwidgets.text.spans" in _imports_of(PACKAGE / "widgets" / "token_viewer.py")
    source = (
        "import torch, llmwidgets.core.quick\n"
        "from llmwidgets import nn, show\n"
        "from ..training import history\n"
        "from .base import LiveWidget\n"
        "def f():\n    from llmwidgets.checks import ch02\n"
        "importlib.import_module('llmwidgets.seq2seq')\n"
    )
    assert _imported(source, "llmwidgets.widgets") == {
        "llmwidgets",  # from llmwidgets import show: the facade
        "llmwidgets.nn",
        "llmwidgets.core.quick",
        "llmwidgets.training",
        "llmwidgets.widgets.base",
        "llmwidgets.checks",
        "llmwidgets.seq2seq",
    }
    assert _upward("training", "llmwidgets.widgets.display") == (
        "imports llmwidgets.widgets.display (layer 3) from layer 2"
    )
    assert _upward("nn", "llmwidgets.text.tokenizers") is not None  # sideways
    assert _upward("apps", "llmwidgets.seq2seq.decoding") is None
    assert _upward("widgets", "llmwidgets.training.history") is None
    assert _upward("checks", "llmwidgets.widgets") is None
    assert "checks" in _upward("widgets", "llmwidgets.checks._core")
    assert "facade" in _upward("core", "llmwidgets")


def test_nothing_imports_upward():
    wrong = []
    for path in MODULES:
        importer = _layer_of(_dotted(path))
        if importer == "":
            continue  # the facade imports every layer
        for imported in sorted(_imports_of(path)):
            why = _upward(importer, imported)
            if why:
                wrong.append(f"{_name(path)} {why}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)
