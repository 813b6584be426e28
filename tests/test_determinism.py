"""Two runs of the tiny study with the same seed, in separate artifact folders, agree.

The NAPs and the clusterings are compared array by array (values and dtypes, exactly). Every
other file of every stage is compared too: byte for byte, or, where bytes may differ, by
content. What may differ byte-wise, and only that:

* JSON files: the measured durations (keys with ``seconds``, ``minutes`` or ``per_second``:
  ``summary.json``, ``training.json``, ``evaluation.json``, the G2P's ``history.json``);
* ``model.pt`` files: ``torch.save`` names the zip archive's inner folder after the file it
  writes, and atomic writes go through a randomly named temporary file; the tensors are equal;
* ``manifest.json``: its ``created`` timestamp (it is not listed in itself).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nap.profile import STAGES
from nap.store import MANIFEST, read_json

TIMING = re.compile(r"seconds|minutes|per_second")


def _untimed(obj: Any) -> Any:
    """``obj`` without the measured durations."""
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if not TIMING.search(str(k))}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for f in sorted(folder.rglob("*.npz")):
        with np.load(f, allow_pickle=False) as data:
            out.update({f"{f.relative_to(folder)}:{k}": data[k] for k in data.files})
    return out


def _assert_same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys() and a
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # NaN equals NaN, exactly otherwise


def _same_content(f: Path, g: Path) -> str:
    """How two differing files were found equal (raises if they are not)."""
    if f.suffix == ".json":
        assert _untimed(json.loads(f.read_text())) == _untimed(json.loads(g.read_text())), f.name
        return "durations"
    if f.suffix == ".pt":
        import torch

        a, b = torch.load(f, weights_only=True), torch.load(g, weights_only=True)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f.name
        return "torch archive name"
    if f.suffix == ".npz":
        _assert_same_arrays(_arrays_of(f), _arrays_of(g))
        return "npz bytes"
    raise AssertionError(f"{f} differs byte-wise from {g}")


def _arrays_of(f: Path) -> dict[str, np.ndarray]:
    with np.load(f, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.slow
def test_same_seed_gives_identical_naps_and_clusterings(tiny_study, tmp_path):
    from nap.study import Study

    first = {s: tiny_study.artifact(s).path for s in STAGES}
    again = Study("tiny", artifacts=tmp_path / "second")
    second = {s: again.artifact(s).path for s in STAGES}

    # NAPs and clusterings: every array, exactly; and through the loaders
    for stage in ("naps", "cluster"):
        _assert_same_arrays(_arrays(first[stage]), _arrays(second[stage]))
    na, nb = tiny_study.naps(), again.naps()
    assert na.groupings == nb.groupings and na.layers == nb.layers
    for g in na.groupings:
        assert na.groups(g) == nb.groups(g)
        np.testing.assert_array_equal(na.counts(g), nb.counts(g))
        for layer in na.layers:
            np.testing.assert_array_equal(na.nap(g, layer), nb.nap(g, layer))
    ca, cb = tiny_study.clusters(), again.clusters()
    for g in ca.groupings:
        for layer in ca.layers:
            ra, rb = ca.result(g, layer), cb.result(g, layer)
            assert ra.names == rb.names and ra.message == rb.message
            np.testing.assert_array_equal(ra.clusters, rb.clusters)
            np.testing.assert_array_equal(ra.distances, rb.distances)
    assert _untimed(ca.scores()) == _untimed(cb.scores())

    # every file of every stage: byte for byte, or equal but for the documented differences
    differ: dict[str, str] = {}
    for stage in STAGES:
        assert first[stage].name == second[stage].name  # same parameters, same keys
        fa = read_json(first[stage] / MANIFEST)["files"]
        fb = read_json(second[stage] / MANIFEST)["files"]
        assert fa.keys() == fb.keys(), stage
        for rel in fa:
            if fa[rel]["sha256"] != fb[rel]["sha256"]:
                differ[f"{stage}/{rel}"] = _same_content(first[stage] / rel, second[stage] / rel)
    allowed = {"durations", "torch archive name"}
    assert set(differ.values()) <= allowed, differ
    assert not any(k.startswith(("naps/", "cluster/")) and not k.endswith(".json") for k in differ), differ
