"""Make a notebook's saved outputs static: no dead widget views in committed notebooks.

A live widget's output is one bundle with the widget view and the widget's static form
(``llmwidgets.widgets.display.widget_bundle``). Reopened without its kernel, JupyterLab
renders the view and shows "Error displaying widget: model not found" instead of the
figure. This tool rewrites the outputs (never the sources):

* every output with a widget view (``application/vnd.jupyter.widget-view+json``) keeps
  only its other parts - the static plotly figure - or is dropped when it has nothing
  but a text repr (a plain slider);
* an output marked as a widget's live figure (metadata ``llmwidgets.live_figure``, shown
  next to the controls on Colab) is dropped: the static form stands for it;
* the notebook's saved widget state (``metadata.widgets``) is dropped.

Usage::

    python book/tools/static_outputs.py notebooks/*.ipynb          # rewrite in place
    python book/tools/static_outputs.py --check notebooks/*.ipynb  # exit 1 if any would change
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import nbformat

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _is_live_figure(output: Any) -> bool:
    meta = output.get("metadata") or {}
    return bool((meta.get("llmwidgets") or {}).get("live_figure"))


def static_output(output: Any) -> Any | None:
    """The static form of one output, or ``None`` to drop it.

    Args:
        output: an nbformat output (a dict).

    Returns:
        The output itself when it holds no widget view; a copy without the view; or
        ``None`` for a live figure or a view with nothing but a text repr to fall back on.
    """
    if _is_live_figure(output):
        return None
    data = output.get("data") or {}
    if WIDGET_MIME not in data:
        return output
    rest = {mime: value for mime, value in data.items() if mime != WIDGET_MIME}
    if not set(rest) - {"text/plain"}:
        return None
    static = nbformat.from_dict(dict(output))
    static["data"] = nbformat.from_dict(rest)
    return static


def make_static(nb: Any) -> int:
    """Rewrite a notebook's outputs in place (see the module docstring).

    Args:
        nb: a notebook (``nbformat.NotebookNode``).

    Returns:
        How many outputs were replaced or dropped (plus 1 if widget state was dropped).
    """
    changed = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            static = static_output(output)
            changed += static is not output
            if static is not None:
                outputs.append(static)
        cell["outputs"] = outputs
    if "widgets" in nb.metadata:
        del nb.metadata["widgets"]
        changed += 1
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if needed")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        changed = make_static(nb)
        if not changed:
            continue
        dirty.append(path)
        if not args.check:
            nbformat.write(nb, path)
        print(f"{path}: {changed} output(s) made static" + (" (not written)" if args.check else ""))
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
