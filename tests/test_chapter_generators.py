"""The chapter generators and the chapters they write stay the same: edit one, regenerate the other."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

from nap.notebook import notebook

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = {
    "01_data.ipynb": ROOT / "scripts/make_notebooks/01_data.py",
    "03_g2p.ipynb": ROOT / "scripts/make_notebooks/03_g2p.py",
    "04_alignment.ipynb": ROOT / "scripts/make_notebooks/04_alignment.py",
    "05_naps.ipynb": ROOT / "nap/naps/chapter.py",
}


def _cells(script: Path) -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location(f"generator_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.CELLS


@pytest.mark.parametrize("chapter", sorted(GENERATORS))
def test_the_chapter_is_what_its_generator_writes(chapter):
    written = nbformat.read(ROOT / "chapters" / chapter, as_version=4)
    generated = notebook(_cells(GENERATORS[chapter]))
    assert [(c.cell_type, c.source) for c in written.cells] == [
        (c.cell_type, c.source) for c in generated.cells
    ], f"chapters/{chapter} differs from {GENERATORS[chapter].relative_to(ROOT)}: regenerate or edit both"
