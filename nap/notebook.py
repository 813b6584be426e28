"""Chapter notebooks written from code: one parameters cell for every chapter, stable cell ids.

The chapter generators (``scripts/make_notebooks/*.py``, :mod:`nap.naps.chapter`) list their
cells as ``(kind, source)`` pairs, kind ``md``, ``code`` or ``params`` (the code cell tagged
``parameters`` that papermill fills in).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nbformat

#: The parameters cell of every chapter (no '=' in the comments: papermill parses them).
PARAMETERS = """profile = "default"   # tiny | default | paper | path/to/profile.yaml
params = {}           # changes to the profile, e.g. {"asr.epochs": 3}
artifacts = None      # artifact folder (None: artifacts/<profile>/)"""


def notebook(cells: Sequence[tuple[str, str]], id_prefix: str = "c") -> nbformat.NotebookNode:
    """A notebook without outputs; cell ids ``<id_prefix>00``… so regenerating gives the same file."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{id_prefix}{i:02d}"
    nbformat.validate(nb)
    return nb


def write(cells: Sequence[tuple[str, str]], path: Path, id_prefix: str = "c") -> Path:
    """Write :func:`notebook` of ``cells`` to ``path``."""
    nbformat.write(notebook(cells, id_prefix), str(path))
    return path
