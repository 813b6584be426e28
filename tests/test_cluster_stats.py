"""The cluster stage's statistics: speaker-bootstrap intervals, control tasks, linear CKA."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest

from nap.cli import _with_intervals
from nap.cluster import Clustering, ClusterParams, build_clusters
from nap.cluster.arrays import synthetic_napset
from nap.cluster.bootstrap import mean_intervals, percentile_interval, resampling_units, rng_for, speaker_of
from nap.cluster.cka import cka_matrix, linear_cka, unbiased_hsic
from nap.cluster.control import class_labels, control_mapping
from nap.params import ParamError


# -- speaker-fold intervals of the clustering scores ------------------------------------------
def _fold_set(noise: float, folds: int = 6):
    """Phoneme NAPs with a class centroid and a phone's own part; each fold adds its own noise."""
    from nap.naps.folds import Folds
    from nap.phonetics import PHONE_CLASS

    names = ["AA", "IY", "UW", "EH", "P", "T", "K", "B", "S", "F", "Z", "M", "N"]
    classes = {n: PHONE_CLASS[n] for n in names}
    rng = np.random.default_rng(0)
    centroid = {c: rng.standard_normal((6, 4)) for c in sorted(set(classes.values()))}
    base = np.stack([centroid[classes[n]] + 0.5 * rng.standard_normal((6, 4)) for n in names])
    means = base[None] + noise * rng.standard_normal((folds, *base.shape))
    return Folds(means, np.full((folds, len(names)), 10), None, None), names, classes


def test_agreement_intervals_collapse_when_the_folds_agree_and_cover_the_score_when_not():
    from nap.cluster.agreement import agreement_intervals
    from nap.cluster.hierarchy import cluster_naps
    from nap.cluster.scores import class_scores

    cut = {"percentile": 80.0, "method": "complete", "metric": "euclidean"}
    same, names, classes = _fold_set(noise=0.0)
    point = class_scores(cluster_naps(same.naps(np.ones(6), "global_mean"), names, **cut), classes)
    iv = agreement_intervals(same, names, "global_mean", {"classes": classes}, cut, 40, 0, "t")["classes"]
    assert iv["units"] == "speaker folds" and iv["n_units"] == 6 and iv["resamples_used"] == 40
    for score in ("auc", "ari", "silhouette"):
        assert iv[f"{score}_ci_low"] == pytest.approx(point[score]) == pytest.approx(iv[f"{score}_ci_high"])
    noisy, _, _ = _fold_set(noise=1.5)
    point = class_scores(cluster_naps(noisy.naps(np.ones(6), "global_mean"), names, **cut), classes)
    args = (names, "global_mean", {"classes": classes}, cut, 200, 0, "t")
    iv = agreement_intervals(noisy, *args)["classes"]
    assert iv["auc_ci_low"] <= point["auc"] <= iv["auc_ci_high"]
    assert iv["auc_ci_high"] - iv["auc_ci_low"] > 0.02
    assert agreement_intervals(noisy, *args)["classes"] == iv  # seeded
    assert agreement_intervals(None, names, "global_mean", {"classes": classes}, cut, 200, 0, "t") == {}


# -- bootstrap ---------------------------------------------------------------------------------
def test_speakers_from_utterance_ids_else_utterances():
    assert speaker_of("101-1-0003") == "101" and speaker_of("84-121123-0000") == "84"
    assert speaker_of("a-b") is None and speaker_of("x-y-z") is None
    ids = ["7-1-0000", "7-1-0001", "9-2-0000"]
    units, kind = resampling_units(np.array([0, 1, 2, 2, 0]), ids)
    assert kind == "speaker" and units.tolist() == [0, 0, 1, 1, 0]
    units, kind = resampling_units(np.array([0, 1, 2]), [*ids[:2], "odd"])
    assert kind == "utterance" and units.tolist() == [0, 1, 2]
    assert resampling_units(np.array([3, 1]), None)[1] == "utterance"


def test_bootstrap_over_speakers_gives_the_known_interval():
    """Four speakers, 3 frames each, with 0, 1, 2, 3 frames right: a resample's accuracy is the mean
    of 4 draws from {0, 1/3, 2/3, 1}. P(sum of draws ≤ 1 of 12) = 5/256 < 2.5 % < 15/256, so the
    95 % interval is [2/12, 10/12] (computed below by enumerating all 256 resamples)."""
    correct = np.array([0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1], dtype=float)
    speakers = np.repeat([0, 1, 2, 3], 3)
    exact = sorted(sum(draw) / 12 for draw in itertools.product([0, 1, 2, 3], repeat=4))
    assert exact[int(0.025 * 256)] == pytest.approx(2 / 12) and exact[int(0.975 * 256)] == pytest.approx(
        10 / 12
    )
    ((lo, hi),) = mean_intervals(correct[None], speakers, 10000, rng_for(0, "known"))
    assert (lo, hi) == (pytest.approx(1 / 6), pytest.approx(5 / 6))
    # frames, not speakers, would give a far narrower interval: the point of resampling speakers
    ((lo_f, hi_f),) = mean_intervals(correct[None], np.arange(12), 10000, rng_for(0, "known"))
    assert hi_f - lo_f < 0.6 < hi - lo
    # seeded: the same generator gives the same interval
    assert mean_intervals(correct[None], speakers, 500, rng_for(3, "a")) == mean_intervals(
        correct[None], speakers, 500, rng_for(3, "a")
    )


def test_bootstrap_edge_cases():
    speakers = np.repeat([0, 1, 2], 4)
    same = np.tile([1.0, 1.0, 0.0, 1.0], 3)  # 75 % right for every speaker: no spread at all
    assert mean_intervals(same[None], speakers, 200, rng_for(0, "x")) == [(0.75, 0.75)]
    assert np.isnan(mean_intervals(same[None], speakers, 0, rng_for(0, "x"))[0][0])  # bootstrap = 0
    assert np.isnan(mean_intervals(np.zeros((1, 0)), np.zeros(0), 100, rng_for(0, "x"))[0][1])
    assert percentile_interval(np.array([np.nan, 1.0, 3.0]), 0.5) == (1.5, 2.5)
    # rows resampled together keep their pairing: a row minus itself has no spread
    rows = np.stack([same, same, same - same])
    assert mean_intervals(rows, speakers, 100, rng_for(0, "y"))[2] == (0.0, 0.0)


# -- control tasks -----------------------------------------------------------------------------
CLASSES = {"AA": "vowel", "IY": "vowel", "UW": "vowel", "P": "plosive", "T": "plosive", "S": "fricative",
           "sil": None}  # fmt: skip


def test_control_mapping_keeps_class_sizes_and_is_seeded():
    maps = [control_mapping(CLASSES, rng_for(seed, "control/phoneme")) for seed in range(40)]
    for m in maps:
        assert list(m) == list(CLASSES) and m["sil"] is None
        assert Counter(m.values()) == Counter(CLASSES.values())  # 3 vowels, 2 plosives, 1 fricative, 1 none
    assert control_mapping(CLASSES, rng_for(5, "control/phoneme")) == maps[5]
    assert len({tuple(m.values()) for m in maps}) > 10  # random: many different maps
    assert {m["S"] for m in maps} == {"vowel", "plosive", "fricative"}


def test_class_labels_are_consistent_per_type():
    names = list(CLASSES)
    frames = np.array([0, 5, 5, -1, 6, 3, 0, 4, 2])  # group index per frame, -1 = no label
    task, kinds = class_labels(frames, names, CLASSES)
    assert kinds == ["fricative", "plosive", "vowel"]
    assert task.tolist() == [2, 0, 0, -1, -1, 1, 2, 1, 2]
    control = control_mapping(CLASSES, rng_for(1, "c"))
    ctl, _ = class_labels(frames, names, control)
    for group in set(frames.tolist()) - {-1}:  # one control class per type, wherever its frames are
        assert len(set(ctl[frames == group].tolist())) == 1
    assert ((ctl >= 0) == (task >= 0)).all()  # a control class exactly where a class is


# -- linear CKA --------------------------------------------------------------------------------
def hsic_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Song et al. (2012)'s HSIC₁ from the n × n kernel matrices, term by term."""
    n = len(x)
    k, m = x @ x.T, y @ y.T
    np.fill_diagonal(k, 0)
    np.fill_diagonal(m, 0)
    one = np.ones(n)
    return float(
        (
            np.trace(k @ m)
            + (one @ k @ one) * (one @ m @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ k @ m @ one
        )
        / (n * (n - 3))
    )


def test_unbiased_hsic_matches_the_formula_on_a_small_case():
    x = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, -1.0], [0.0, 0.0]])
    y = np.array([[2.0], [1.0], [0.0], [4.0], [-1.0]])
    # n = 5. By hand, from the pairs i < j: Σ KᵢⱼLᵢⱼ = 3·8 − 2·4 = 16, so tr(K̃L̃) = 32; 1ᵀK̃1 = 2·6;
    # 1ᵀL̃1 = 2·7; K̃1 = (4, 0, 5, 3, 0), L̃1 = (8, 5, 0, 8, -7), so 1ᵀK̃L̃1 = 32 + 24 = 56
    k, m = x @ x.T, y @ y.T
    np.fill_diagonal(k, 0)
    np.fill_diagonal(m, 0)
    assert (np.trace(k @ m), k.sum(), m.sum(), (k @ m).sum()) == (32.0, 12.0, 14.0, 56.0)
    expected = (32 + 12 * 14 / (4 * 3) - 2 / 3 * 56) / (5 * 2)  # = 13/15
    assert expected == pytest.approx(13 / 15)
    assert unbiased_hsic(x, y) == pytest.approx(13 / 15) == pytest.approx(hsic_by_hand(x, y))


def test_linear_cka_known_values_and_invariances():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6))
    y = x @ rng.normal(size=(6, 4)) + rng.normal(size=(60, 4))
    by_hand = hsic_by_hand(x, y) / np.sqrt(hsic_by_hand(x, x) * hsic_by_hand(y, y))
    assert linear_cka(x, y) == pytest.approx(by_hand, abs=1e-6)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert linear_cka(3.5 * x @ q + 7.0, y) == pytest.approx(linear_cka(x, y), abs=1e-6)
    # independent wide representations: the unbiased estimate stays near 0, the biased one does not
    a, b = rng.normal(size=(40, 300)), rng.normal(size=(40, 300))
    ac, bc = a - a.mean(0), b - b.mean(0)
    biased = np.linalg.norm(ac.T @ bc) ** 2 / (np.linalg.norm(ac.T @ ac) * np.linalg.norm(bc.T @ bc))
    assert abs(linear_cka(a, b)) < 0.1 < 0.5 < biased
    with pytest.raises(ValueError, match="at least 4 samples"):
        linear_cka(x[:3], y[:3])


def test_cka_matrix_is_symmetric_with_ones_on_the_diagonal():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(80, 5))
    feats = {"input": base, "layer01": base @ rng.normal(size=(5, 8)), "layer02": rng.normal(size=(80, 3))}
    mat = cka_matrix(feats)
    assert mat.shape == (3, 3) and np.allclose(mat, mat.T) and np.allclose(np.diag(mat), 1.0)
    assert mat[0, 1] == pytest.approx(linear_cka(base, feats["layer01"]), abs=1e-9) and mat[0, 1] > 0.5
    assert abs(mat[0, 2]) < 0.2


# -- the stage ---------------------------------------------------------------------------------
FAST = {"permutations": 50, "probe_max_iter": 100, "bootstrap": 200}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    napset = synthetic_napset(n_layers=4, channels=10, positions=3, frames=1500, utterances=30, seed=2)
    work = tmp_path_factory.mktemp("stats")
    return napset, work, build_clusters(work, ClusterParams.from_dict(FAST), napset)


def test_new_numbers_leave_the_old_ones_unchanged(built, tmp_path):
    napset, work, _ = built
    off = {**FAST, "bootstrap": 0, "control_tasks": False, "similarity": False}
    build_clusters(tmp_path, ClusterParams.from_dict(off), napset)
    assert (tmp_path / "clusters.json").read_bytes() == (work / "clusters.json").read_bytes()
    assert (tmp_path / "claims.json").read_bytes() == (work / "claims.json").read_bytes()
    old, new = (json.loads((w / "probes.json").read_text()) for w in (tmp_path, work))
    for g, per in old.items():
        for layer, r in per.items():
            assert {k: new[g][layer][k] for k in r if k not in ("ci_low", "ci_high")} == {
                k: v for k, v in r.items() if k not in ("ci_low", "ci_high")
            }
            assert r["ci_low"] is None and "class_probe" not in r
    assert not (tmp_path / "similarity.json").exists()


def test_probes_have_intervals_controls_and_selectivity(built):
    napset, work, summary = built
    c = Clustering.open(work)
    for per in c.probes.values():
        for r in per.values():
            assert r["units"] == "utterance" and r["ci_low"] <= r["accuracy"] <= r["ci_high"]
            cp = r["class_probe"]
            assert cp["selectivity"] == pytest.approx(cp["accuracy"] - cp["control"])
            assert cp["selectivity_ci_low"] <= cp["selectivity"] <= cp["selectivity_ci_high"]
    last = napset.layers[-1]
    cp = c.probes["phoneme"][last]["class_probe"]  # phonetic classes built into the synthetic NAPs
    assert cp["n_classes"] == 6 and cp["selectivity_ci_low"] > 0
    assert c.controls["phoneme"]["classes"]["NG"] == "nasal"
    assert Counter(c.controls["phoneme"]["control"].values()) == Counter(
        c.controls["phoneme"]["classes"].values()
    )
    row = summary["probes_phoneme"][last]
    assert list(row)[:3] == ["accuracy", "ci_low", "ci_high"] and row["selectivity"] == round(
        cp["selectivity"], 4
    )
    text = _with_intervals(row)
    assert text.startswith(
        f"accuracy {row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}], classes "
    )
    assert "selectivity_ci" not in text
    table = c.interval_table()
    assert table.headers[2] == "probe accuracy [95 %]" and len(table.rows) == 2 * len(napset.layers)
    assert c.control_table().rows and c.score_figure()


def test_similarity_matrix_from_the_probe_sample(built):
    napset, work, summary = built
    c = Clustering.open(work)
    layers, mat = c.similarity()
    assert layers == napset.layers and mat.shape == (4, 4) and np.allclose(np.diag(mat), 1.0)
    x = {lay: napset.probe_features(lay)[0] for lay in layers}
    assert mat[1, 3] == pytest.approx(linear_cka(x["layer02"], x["layer04"]), abs=1e-9)
    assert summary["similarity_seconds"] >= 0 and c.similarity_figure().axes


def test_bootstrap_parameter_is_checked():
    with pytest.raises(
        ParamError, match=r"parameter 'cluster.bootstrap' must be 0 \(no intervals\) or more, got -1"
    ):
        ClusterParams.from_dict({"bootstrap": -1})
