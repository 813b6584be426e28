"""The naps stage inside the tiny study: built from the real stages, skipped on rerun, torchrun."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_tiny_study_naps(tiny_study):
    from nap.study import Study

    napset = tiny_study.naps()
    recognizer, labels = tiny_study.asr(), tiny_study.alignment()
    geo = napset.geometry
    assert napset.layers == recognizer.layer_names
    assert (geo.receptive_field, geo.stride) == (recognizer.receptive_field, recognizer.stride)
    assert set(napset.groupings) <= {"grapheme", "phoneme", "phoneme_true"} and "grapheme" in napset.groupings
    for k in napset.groupings:
        names = napset.groups(k)
        assert set(names) <= set(labels.groups[k]) and len(names) == len(napset.counts(k))
        for layer in napset.layers:
            nap = napset.nap(k, layer)
            assert nap.shape == (len(names), geo[layer].channels, geo[layer].positions)
            assert np.isfinite(nap).all()
    summary = tiny_study.summary("naps")
    assert summary["utterances"] > 0 and summary["frames"] > 0
    again = Study("tiny", artifacts=tiny_study.store.root)
    assert again.artifact("naps", build=False) is not None  # a rerun finds it: nothing is recomputed


@pytest.mark.slow
def test_torchrun_builds_the_stage_with_two_processes(tiny_study):
    from nap.naps import NapSet
    from nap.study import Study

    one = tiny_study.naps()
    root = tiny_study.store.root
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "nap.naps",
            "--profile",
            "tiny",
            "--artifacts",
            str(root),
            "-p",
            "naps.batch_size",
            "3",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    art = Study("tiny", {"naps.batch_size": 3}, root).artifact("naps", build=False)
    assert art is not None
    two = NapSet.open(art.path)
    assert two.meta["processes"] == 2
    for k in one.groupings:
        np.testing.assert_array_equal(two.counts(k), one.counts(k))
        for layer in one.layers:  # other batches: float32 rounding of the convolutions differs
            np.testing.assert_allclose(two.nap(k, layer), one.nap(k, layer), atol=1e-4, rtol=1e-4)
