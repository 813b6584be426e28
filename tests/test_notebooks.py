"""The chapter notebooks: executed with the tiny profile by papermill, then checked by nbval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_papermill_reads_every_parameter_of_every_chapter():
    """A parameters cell papermill cannot parse (e.g. '=' in a comment) leaves a parameter unknown."""
    import papermill

    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        found = papermill.inspect_notebook(str(path))
        assert {"profile", "params", "artifacts"} <= set(found), f"{path.name}: {sorted(found)}"


def test_executed_chapters_pass_nbval(tiny_site):
    executed = sorted((tiny_site / "book").glob("[0-9][0-9]_*.ipynb"))
    assert len(executed) == len(list((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--rootdir",
            str(tiny_site),
            *map(str, executed),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
