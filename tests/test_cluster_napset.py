"""The cluster stage on a real NapSet (the naps stage's format) and on the tiny study."""

from __future__ import annotations

import numpy as np
import pytest

from nap.cluster import Clustering, ClusterParams, build_clusters
from nap.phonetics import PHONES

naps = pytest.importorskip("nap.naps")


def small_napset(tmp_path, probe_frames: int):
    """NAPs of a random 3-layer Conv1d model with random frame labels, saved and reopened."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("layer01", torch.nn.Conv1d(8, 16, 5, stride=2))
    model.add_module("relu1", torch.nn.ReLU())
    model.add_module("layer02", torch.nn.Conv1d(16, 16, 3))
    model.add_module("relu2", torch.nn.ReLU())
    model.add_module("layer03", torch.nn.Conv1d(16, 10, 1))
    rng = np.random.default_rng(0)
    letters = [chr(c) for c in range(97, 123)]
    inputs, labels = [], []
    for _ in range(24):
        frames = int(rng.integers(60, 120))
        inputs.append(rng.normal(size=(8, frames)).astype(np.float32))
        out = (frames - 5) // 2 + 1 - 2
        labels.append({"grapheme": rng.integers(-1, 26, size=out), "phoneme": rng.integers(-1, 39, size=out)})
    result = naps.extract_naps(
        model,
        inputs,
        labels,
        {"grapheme": letters, "phoneme": list(PHONES)},
        probe_frames=probe_frames,
        splits=["train"] * 24,
        min_count=5,
    )
    result.save(tmp_path / "naps")
    return naps.NapSet.open(tmp_path / "naps")


def test_clusters_a_real_napset(tmp_path):
    napset = small_napset(tmp_path, probe_frames=800)
    summary = build_clusters(tmp_path / "cluster", ClusterParams(permutations=100, probe_max_iter=50), napset)
    c = Clustering.open(tmp_path / "cluster")
    assert c.layers == ["layer01", "layer02", "layer03"] and c.groupings == ["grapheme", "phoneme"]
    res = c.result("phoneme", "layer02")
    assert res.ok and res.names == napset.groups("phoneme")
    arr = napset.nap("phoneme", "layer02").astype(np.float64)
    np.testing.assert_allclose(res.distances[0, 1], np.linalg.norm(arr[0] - arr[1]), rtol=1e-6)
    assert set(c.probes) == {"grapheme", "phoneme"} and summary["messages"] == 0
    # random labels: the probes stay near chance
    for per in c.probes.values():
        for r in per.values():
            assert r["accuracy"] < r["chance"] + 0.1

    # the claims under each reading of the normalization (readings.json)
    readings = c.readings
    assert readings["own"] == "global_mean"
    assert list(readings["readings"]) == ["global_mean", "mean_of_groups", "whole_data"]
    own = readings["readings"]["global_mean"]
    assert {k: v["holds"] for k, v in own["claims"].items()} == {x.key: x.holds for x in c.claims()}
    assert summary["claims_by_reading"]["global_mean"] == summary["claims"]
    for g in c.groupings:
        assert all(v in (None, 1.0) for v in own["ari_to_own"][g].values())  # a reading against itself
        for r in ("mean_of_groups", "whole_data"):
            aris = [v for v in readings["readings"][r]["ari_to_own"][g].values() if v is not None]
            assert aris and all(-1.0 <= v <= 1.0 for v in aris)
    # the rereading reclusters NAPs that differ: whole_data subtracts another window
    whole = napset.reread("phoneme", "layer02", "whole_data")
    assert not np.allclose(whole, napset.nap("phoneme", "layer02"), atol=1e-4)
    moved = [
        k
        for k in own["claims"]
        if len({rec["claims"][k]["holds"] for rec in readings["readings"].values()}) > 1
    ]
    assert readings["moved"] == sorted(moved)
    assert len(c.readings_table().rows) == len(own["claims"])
    text = c.summary_text()  # the introduction's paragraph, from these numbers
    holding = sum(x.holds is True for x in c.claims())
    assert f"Of the paper's {len(c.claims())} claims tested here, {holding} hold" in text
    assert "A linear probe reads the phoneme of a frame best from layer0" in text
    assert "ambiguous choices (global_mean, mean_of_groups, whole_data" in text
    assert [row[0] for row in c.readings_layer_table().rows] == c.layers


def test_a_napset_without_probe_features_gives_no_probes(tmp_path):
    napset = small_napset(tmp_path, probe_frames=0)
    build_clusters(tmp_path / "cluster", ClusterParams(permutations=50), napset)
    c = Clustering.open(tmp_path / "cluster")
    assert c.probes == {} and c.claims()[0].holds is None


@pytest.mark.slow
def test_tiny_study_chapter_six(tiny_study):
    c = tiny_study.clusters()
    assert c.layers == tiny_study.naps().layers
    assert {"grapheme", "phoneme"} <= set(c.groupings)
    fig4 = c.figure4_layers()
    assert len(fig4) == min(2, len(c.layers))
    assert str(c.claims_text()).count("- **") == len(c.claims())
    assert c.figure([c.layers[0], c.layers[-1]], scale="row")._repr_png_()[:4] == b"\x89PNG"


def test_a_reread_view_maps_the_probe_labels_onto_its_own_groups():
    """The unpadded windows' NAP set keeps fewer groups than the set whose probe sample it borrows:
    the labels are mapped by name, and a group it left out becomes -1."""
    from nap.cluster.readings import Reread

    class Set:
        def __init__(self, groups, labels=None):
            self.groupings, self._groups, self._labels = list(groups), groups, labels

        def groups(self, g):
            return self._groups[g]

        def probe_features(self, layer):
            return np.zeros((5, 2)), self._labels, np.arange(5), np.arange(5)

    full = Set({"phoneme": ["AA", "B", "S"]}, {"phoneme": np.array([0, 1, 2, -1, 2])})
    fewer = Set({"phoneme": ["AA", "S"]})  # B had too few frames
    _, labels, _, _ = Reread(fewer, probes_from=full).probe_features("layer01")
    assert labels["phoneme"].tolist() == [0, -1, 1, -1, 1]
    _, same, _, _ = Reread(full).probe_features("layer01")
    assert same["phoneme"].tolist() == [0, 1, 2, -1, 2]
