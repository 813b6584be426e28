"""The chapter notebooks: executed once, with the tiny profile, by papermill (the ``tiny_site``
fixture); the executed copies are then checked as they are, without running them again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_chapters_have_a_parameters_cell_and_no_outputs():
    chapters = sorted((ROOT / "chapters").glob("*.ipynb"))
    assert chapters, "no chapter notebooks"
    for path in chapters:
        nb = json.loads(path.read_text())
        cells = nb["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
        src = "".join(tagged[0]["source"])
        for name in ("profile", "params", "artifacts"):
            assert f"{name} =" in src, f"{path.name}: parameters cell lacks {name!r}"
        assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code"), path.name


def test_one_source_per_chapter_of_one_kind():
    """Every chapter is one notebook edited as a notebook (no generator writes it), with the same
    parameters cell as every other chapter and cell ids ``<chapter number>-<cell number>``."""
    chapters = sorted((ROOT / "chapters").glob("*"))
    assert chapters and all(p.suffix == ".ipynb" for p in chapters), [p.name for p in chapters]
    parameters = set()
    for path in chapters:
        cells = json.loads(path.read_text())["cells"]
        assert [c["id"] for c in cells] == [f"{path.name[:2]}-{i:02d}" for i in range(len(cells))], path.name
        parameters |= {
            "".join(c["source"]) for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])
        }
    assert len(parameters) == 1, parameters
    code = [p for folder in ("nap", "scripts") for p in (ROOT / folder).glob("**/*.py")]
    writers = [p for p in code if "nbformat.write" in p.read_text() and "chapters" in p.read_text()]
    assert not writers, f"chapters are edited as notebooks, not written by {writers}"


def test_papermill_reads_every_parameter_of_every_chapter():
    """A parameters cell papermill cannot parse (e.g. '=' in a comment) leaves a parameter unknown."""
    import papermill

    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        found = papermill.inspect_notebook(str(path))
        assert {"profile", "params", "artifacts"} <= set(found), f"{path.name}: {sorted(found)}"


def check_executed(nb: dict, name: str) -> None:
    """Every code cell of an executed chapter ran, in order, without an error or a traceback."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{name}: cells ran as {counts}"
    assert not nb["metadata"].get("papermill", {}).get("exception"), f"{name}: papermill saw an exception"
    injected = [c for c in code if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1, f"{name}: no parameters injected by papermill"
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) if out["output_type"] == "stream" else ""
            assert out["output_type"] != "error", f"{name}: code cell {i} raised {out.get('ename')}"
            assert "Traceback (most recent call last)" not in text, (
                f"{name}: code cell {i} printed a traceback"
            )


def test_check_executed_finds_a_failed_or_skipped_cell():
    cell = {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "outputs": []}
    good = {"metadata": {"papermill": {"exception": None}}, "cells": [{**cell, "execution_count": 1}]}
    check_executed(good, "good")
    skipped = {**good, "cells": [*good["cells"], {**cell, "metadata": {}, "execution_count": None}]}
    with pytest.raises(AssertionError, match=r"cells ran as \[1, None\]"):
        check_executed(skipped, "skipped")
    error = {"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []}
    failed = {**good, "cells": [{**cell, "execution_count": 1, "outputs": [error]}]}
    with pytest.raises(AssertionError, match="code cell 0 raised ValueError"):
        check_executed(failed, "failed")
    printed = {"output_type": "stream", "name": "stderr", "text": ["Traceback (most recent call last):\n"]}
    with pytest.raises(AssertionError, match="printed a traceback"):
        check_executed({**good, "cells": [{**cell, "execution_count": 1, "outputs": [printed]}]}, "printed")


def test_every_chapter_was_executed_once_completely(tiny_site):
    executed = sorted((tiny_site / "book").glob("[0-9][0-9]_*.ipynb"))
    assert [p.name for p in executed] == sorted(
        p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")
    )
    for path in executed:
        check_executed(json.loads(path.read_text()), path.name)
