"""Clustering of NAPs: known clusters recovered, the percentile threshold rule, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import cophenet
from scipy.spatial.distance import pdist, squareform
from sklearn.metrics import adjusted_rand_score

from nap.cluster.hierarchy import cluster_naps


def blobs(n_blobs: int = 4, per: int = 5, dim: tuple[int, int] = (8, 6), spread: float = 0.05, seed: int = 0):
    """NAPs of ``n_blobs × per`` groups around orthogonal centres (equidistant blobs)."""
    rng = np.random.default_rng(seed)
    size = dim[0] * dim[1]
    centres = np.eye(size)[:n_blobs] * 3.0
    truth = np.repeat(np.arange(n_blobs), per)
    naps = centres[truth] + spread * rng.normal(size=(len(truth), size))
    names = [f"g{i}" for i in range(len(truth))]
    return naps.reshape(len(truth), *dim), names, truth


def test_known_clusters_are_recovered_exactly():
    naps, names, truth = blobs()
    res = cluster_naps(naps, names, grouping="toy", layer="layer01")
    assert res.ok and res.n_clusters == 4
    assert adjusted_rand_score(truth, res.clusters) == 1.0
    # each blob's groups are adjacent in the dendrogram order
    ordered = truth[res.order]
    assert np.count_nonzero(np.diff(ordered)) == 3


def test_threshold_is_the_percentile_of_pairwise_distances_and_cuts_the_dendrogram():
    rng = np.random.default_rng(3)
    naps = rng.normal(size=(17, 5, 4))
    names = [str(i) for i in range(17)]
    for pct in (50.0, 80.0, 95.0):
        res = cluster_naps(naps, names, percentile=pct)
        d = pdist(naps.reshape(17, -1))
        assert res.threshold == pytest.approx(np.percentile(d, pct))
        np.testing.assert_allclose(squareform(res.distances), d)
        coph = squareform(cophenet(res.linkage))
        same = res.clusters[:, None] == res.clusters[None, :]
        # same cluster  <=>  joined at a height not above the threshold (complete linkage)
        assert np.all(coph[same] <= res.threshold + 1e-12)
        assert np.all(coph[~same] > res.threshold)
    counts = [cluster_naps(naps, names, percentile=p).n_clusters for p in (20.0, 50.0, 80.0, 99.0)]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]


def test_complete_linkage_by_hand():
    # four points on a line: 0, 1, 5, 7 -> {0,1} at 1, {5,7} at 2, all at 7 (complete = farthest pair)
    naps = np.array([0.0, 1.0, 5.0, 7.0]).reshape(4, 1, 1)
    res = cluster_naps(naps, list("abcd"))
    np.testing.assert_allclose(sorted(res.linkage[:, 2]), [1.0, 2.0, 7.0])
    # distances 1,5,7,4,6,2 -> 80th percentile (numpy linear) = 6 -> two clusters {a,b}, {c,d}
    assert res.threshold == pytest.approx(6.0)
    assert res.members() == {1: ["a", "b"], 2: ["c", "d"]} or res.members() == {1: ["c", "d"], 2: ["a", "b"]}


def test_clusters_are_numbered_in_dendrogram_order():
    naps, names, _ = blobs(seed=5)
    res = cluster_naps(naps, names)
    first_seen = list(dict.fromkeys(res.clusters[res.order]))
    assert first_seen == list(range(1, res.n_clusters + 1))


def test_fewer_than_three_groups_gives_a_message():
    res = cluster_naps(np.ones((2, 3, 4)) * [[[0]], [[1]]], ["a", "b"], grouping="phoneme", layer="layer03")
    assert not res.ok and "at least 3" in res.message and "phoneme, layer03" in res.message
    assert res.n_clusters == 0 and res.distances.shape == (0, 0)


def test_nan_group_is_left_out_and_named():
    naps, names, truth = blobs()
    naps[2, 0, 0] = np.nan
    res = cluster_naps(naps, names)
    assert res.ok and "g2" not in res.names and len(res.names) == len(names) - 1
    assert "NaN" in res.excluded["g2"]
    three = np.stack([np.full((2, 2), np.nan), np.zeros((2, 2)), np.ones((2, 2)), 2 * np.ones((2, 2))])
    res = cluster_naps(three[:3], ["x", "y", "z"])
    assert not res.ok and "x (NAP has NaN" in res.message


def test_groups_without_frames_are_left_out():
    naps, names, _ = blobs()
    counts = np.ones(len(names), dtype=int)
    counts[0] = 0
    res = cluster_naps(naps, names, counts=counts)
    assert res.excluded == {"g0": "no frames"} and "g0" not in res.names


def test_all_equal_distances_give_a_message():
    naps = np.eye(6).reshape(6, 2, 3) * 2.0  # every pair at distance 2*sqrt(2)
    res = cluster_naps(naps, list("abcdef"))
    assert not res.ok and "all 15 pairwise distances are equal" in res.message
    res = cluster_naps(np.zeros((5, 3, 3)), list("abcde"))
    assert not res.ok and "equal" in res.message


def test_wrong_number_of_names_is_an_error():
    with pytest.raises(ValueError, match="3 group names for NAPs of shape"):
        cluster_naps(np.zeros((4, 2, 2)), ["a", "b", "c"], grouping="grapheme", layer="layer01")
