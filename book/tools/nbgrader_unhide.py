"""An nbgrader preprocessor: the student version shows its answer cells.

In the book's notebooks an answer cell is hidden until the reader opens it, in every
frontend (see ``docs/notebook-conventions.md``): the ``hide-input`` tag folds it in the
online book, ``jupyter.source_hidden`` in JupyterLab and Notebook 7, and
``cellView: "form"`` on Colab (which then shows only the cell's ``# @title`` line).
nbgrader replaces the solution by a stub but keeps the metadata, so the student would
get a folded cell to write in. :class:`UnhideSolutions` drops the three settings from
every solution cell; the ``# @title`` line stays (on Colab it titles the cell, now with
its code shown).

``nbgrader_config.py`` (next to this file, copied into every course directory that
``book/tools/course.py`` makes) inserts it into ``GenerateAssignment.preprocessors``
right after ``ClearSolutions``. Only ``nbgrader`` is imported, so a course directory
with these two files works wherever nbgrader is installed.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

#: What hides a cell's source, per frontend (the notebook conventions set all three).
HIDE_TAG = "hide-input"  # Jupyter Book / MyST-NB: folded behind a "show" toggle
COLAB_VIEW = "cellView"  # Colab: "form" shows the # @title line only


class UnhideSolutions(NbGraderPreprocessor):
    """Remove what hides a solution cell: tag ``hide-input``, ``source_hidden``, ``cellView``."""

    hide_tags = List(
        Unicode(),
        default_value=[HIDE_TAG],
        help="Tags that fold a cell's source (removed from solution cells)",
    ).tag(config=True)

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        """Unhide one cell if it is a solution cell (nbgrader ``solution: true``).

        Args:
            cell: the cell; changed in place.
            resources: nbconvert's resources, passed through.
            cell_index: the cell's position (unused).

        Returns:
            The cell and the resources.
        """
        if not utils.is_solution(cell):
            return cell, resources
        metadata = cell.metadata
        jupyter = metadata.get("jupyter")
        if isinstance(jupyter, dict):
            jupyter.pop("source_hidden", None)
            if not jupyter:
                del metadata["jupyter"]
        metadata.pop(COLAB_VIEW, None)
        if "tags" in metadata:
            metadata["tags"] = [t for t in metadata["tags"] if t not in self.hide_tags]
            if not metadata["tags"]:
                del metadata["tags"]
        return cell, resources
