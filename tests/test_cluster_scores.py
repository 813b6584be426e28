"""Scores of clusterings against known classes, on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import squareform

from nap.cluster.hierarchy import cluster_naps
from nap.cluster.scores import (
    class_purity,
    class_scores,
    dominant_partner,
    grapheme_classes,
    pair_auc,
    separation,
)
from nap.cluster.stage import group_classes, phone_classes, vowel_labels


def test_pair_auc_by_hand():
    labels = np.array(["a", "a", "b", "b"])
    # condensed order: (0,1) (0,2) (0,3) (1,2) (1,3) (2,3); same-label pairs are (0,1) and (2,3)
    d = np.array([1.0, 3.0, 4.0, 5.0, 6.0, 2.0])
    assert pair_auc(d, labels)[0] == 1.0
    d = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 5.0])  # same pairs at 1 and 5; different at 2, 3, 4, 6
    assert pair_auc(d, labels)[0] == pytest.approx((4 + 1) / 8)
    d = np.array([9.0, 1.0, 2.0, 3.0, 4.0, 8.0])  # every same pair farther than every different pair
    assert pair_auc(d, labels)[0] == 0.0
    assert pair_auc(np.ones(6), labels)[0] == 0.5  # ties count one half
    assert np.isnan(pair_auc(d, np.array(["a"] * 4))[0])


def test_permutation_p_value_separates_structure_from_noise():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 6)
    structured = labels[:, None] * 5.0 + rng.normal(size=(24, 3))
    i, j = np.triu_indices(24, k=1)
    d = np.linalg.norm(structured[i] - structured[j], axis=1)
    auc, p = pair_auc(d, labels, permutations=999, rng=np.random.default_rng(0))
    assert auc > 0.9 and p == pytest.approx(1 / 1000)
    noise = rng.normal(size=(24, 3))
    d = np.linalg.norm(noise[i] - noise[j], axis=1)
    aucs = [pair_auc(d, rng.permutation(labels), 199, np.random.default_rng(s)) for s in range(20)]
    assert 0.35 < np.mean([a for a, _ in aucs]) < 0.65
    assert np.mean([p > 0.05 for _, p in aucs]) >= 0.8
    # deterministic for a seed
    again = [pair_auc(d, labels, 99, np.random.default_rng(7)) for _ in range(2)]
    assert again[0] == again[1]


def test_class_scores_perfect_and_partial_agreement():
    # three classes as three tight blobs: clusters = classes -> ARI 1, AUC 1, silhouette near 1
    classes = {f"p{k}": c for k, c in enumerate(["vowel"] * 4 + ["nasal"] * 3 + ["plosive"] * 4)}
    centre = {"vowel": 0.0, "nasal": 10.0, "plosive": 25.0}
    rng = np.random.default_rng(2)
    naps = np.array([[centre[c] + 0.1 * rng.normal()] for c in classes.values()])[:, :, None]
    res = cluster_naps(naps, list(classes), percentile=80)
    s = class_scores(res, classes, permutations=200, rng=np.random.default_rng(0))
    assert s["n"] == 11 and s["n_classes"] == 3
    assert s["ari_k"] == 1.0 and s["auc"] == 1.0 and s["silhouette"] > 0.9 and s["p"] < 0.01
    # groups without a class take no part
    s2 = class_scores(res, {**classes, "p0": None}, permutations=10)
    assert s2["n"] == 10
    # a labelling across the blobs (every blob holds one of each label): no agreement at all
    across = {f"p{k}": ["vowel", "nasal", "plosive", "fricative"][k % 4] for k in range(11)}
    s3 = class_scores(res, across, permutations=200, rng=np.random.default_rng(0))
    assert s3["ari_k"] <= 0.0 and s3["auc"] < 0.5 and s3["p"] > 0.5


def test_class_scores_of_a_failed_clustering_are_empty():
    res = cluster_naps(np.zeros((2, 1, 1)), ["AA", "B"])
    s = class_scores(res, {"AA": "vowel", "B": "plosive"})
    assert s["n"] == 0 and np.isnan(s["auc"]) and s["p"] is None


def test_purity_and_separation():
    naps = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 20.0]).reshape(6, 1, 1)
    names = ["AA", "IY", "M", "S", "Z", "UW"]
    res = cluster_naps(naps, names, percentile=50)  # median distance 5.0; {AA,IY,M}+{S,Z} join at 5.1
    assert res.threshold == pytest.approx(5.0)
    assert sorted(map(sorted, res.members().values())) == [["AA", "IY", "M"], ["S", "Z"], ["UW"]]
    vc = vowel_labels(phone_classes(names))
    # AA, IY sit in a vowel-majority cluster; UW is alone, which does not count
    assert class_purity(res, vc, "vowel") == pytest.approx(2 / 3)
    sep = separation(res)
    d = squareform(res.distances)
    assert sep["min_over_median"] == pytest.approx(d.min() / np.median(d))
    assert sep["n_clusters"] == res.n_clusters and sep["singletons"] == 1


def test_class_tables():
    assert grapheme_classes(["a", "b", "y", "'", "1", " "]) == {
        "a": "vowel",
        "b": "consonant",
        "y": "consonant",
        "'": None,
        "1": None,
        " ": None,
    }
    assert phone_classes(["AA", "B", "CH", "HH", "NG", "W", "sil"]) == {
        "AA": "vowel",
        "B": "plosive",
        "CH": "affricate",
        "HH": "fricative",
        "NG": "nasal",
        "W": "approximant",
        "sil": None,
    }
    letters = [chr(c) for c in range(97, 123)]
    assert group_classes("grapheme", letters)[0] == "grapheme"
    assert group_classes("phoneme_true", ["AA", "sil"])[0] == "phoneme"
    # by content: single letters that are also phones (b, d, s...) do not make graphemes phonemes
    assert group_classes("letters", [c.upper() for c in letters])[0] == "grapheme"
    assert group_classes("phones", ["AA", "AE", "IY", "UW", "OW", "B"])[0] == "phoneme"


def test_dominant_partner():
    a = np.array([0, 0, 0, 1, 1, 2, -1])
    b = np.array([1, 1, 0, 0, 0, 1, 1])
    out = dominant_partner(a, b, ["N", "NG", "M"], ["m", "n"], min_frames=2)
    assert out == {"N": "n", "NG": "m", "M": None}
