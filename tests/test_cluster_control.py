"""The cluster stage with the untrained-network control: scores, probes, claims on the difference."""

from __future__ import annotations

import json

import numpy as np

from nap.cluster import Clustering, ClusterParams, build_clusters
from nap.cluster.arrays import synthetic_napset
from nap.cluster.claims import evaluate_claims

FAST = {"permutations": 100, "probe_max_iter": 60, "bootstrap": 50, "similarity": False}


def test_the_stage_scores_and_probes_the_control(tmp_path):
    napset = synthetic_napset(n_layers=4, channels=8, positions=3, frames=800, utterances=20, seed=1)
    napset.control = synthetic_napset(n_layers=4, channels=8, positions=3, frames=800, utterances=20, seed=7)
    summary = build_clusters(tmp_path, ClusterParams.from_dict(FAST), napset)
    for name in ("clusters.json", "clusters.npz", "probes.json"):
        assert (tmp_path / "control" / name).is_file()
    clusters = Clustering.open(tmp_path)
    control = clusters.control
    assert control is not None and control.layers == napset.control.layers
    doc = json.loads((tmp_path / "control" / "probes.json").read_text())
    per = summary["probes_phoneme"]["layer02"]
    assert per["untrained"] == round(doc["phoneme"]["layer02"]["accuracy"], 4)
    assert per["untrained_ci_low"] <= per["untrained"] <= per["untrained_ci_high"]
    assert per["untrained_class_auc"] == round(control.scores("phoneme")["layer02"]["classes"]["auc"], 4)
    assert per["class_auc"] == round(clusters.scores("phoneme")["layer02"]["classes"]["auc"], 4)
    assert summary["control_seconds"] > 0
    table = clusters.score_table("phoneme")
    assert "untrained class AUC" in str(table) and "untrained probe acc." in str(table)
    clusters.score_figure()  # draws the control beside the trained network
    assert any("untrained AUC" in c.evidence for c in clusters.claims())


def _scores(aucs: list[float], p: float = 0.001) -> dict:
    s = {"auc": None, "p": p, "ari": 0.1, "n": 10}
    return {
        f"layer{k + 1:02d}": {
            "classes": {**s, "auc": a},
            "vowels": {**s, "auc": a},
            "vowel_purity": 0.9,
            "separation": {"min_over_median": 0.5, "n_clusters": 3},
            "shared_grapheme": {**s, "auc": a},
        }
        for k, a in enumerate(aucs)
    }


def test_claims_are_judged_on_the_difference_from_the_control():
    layers = [f"layer{k:02d}" for k in range(1, 7)]
    kinds = {"grapheme": "grapheme", "phoneme": "phoneme"}
    ph, gr = _scores([0.5, 0.6, 0.7, 0.9, 0.95, 0.8]), _scores([0.5, 0.5, 0.5, 0.6, 0.7, 0.8])
    acc = {"phoneme": [0.1, 0.2, 0.4, 0.5, 0.55, 0.6], "grapheme": [0.1, 0.1, 0.15, 0.2, 0.6, 0.99]}
    probes = {g: {lay: {"accuracy": a, "chance": 0.05} for lay, a in zip(layers, v, strict=True)}
              for g, v in acc.items()}  # fmt: skip
    plain = {c.key: c for c in evaluate_claims({"phoneme": ph, "grapheme": gr}, probes, layers, kinds)}
    assert plain["phonetic_classes"].holds is True and plain["phonemes_before_graphemes"].holds is True
    # an untrained network as good at layers 4-5 (AUC) and as good a phoneme probe up to layer 4
    c_ph = _scores([0.5, 0.6, 0.7, 0.92, 0.95, 0.5])
    c_acc = {"phoneme": [0.1, 0.2, 0.4, 0.5, 0.2, 0.2], "grapheme": [0.1] * 6}
    c_probes = {g: {lay: {"accuracy": a} for lay, a in zip(layers, v, strict=True)} for g, v in c_acc.items()}
    control = {"phoneme": c_ph, "grapheme": gr}
    judged = evaluate_claims(
        {"phoneme": ph, "grapheme": gr},
        probes,
        layers,
        kinds,
        control_scores=control,
        control_probes=c_probes,
    )
    claims = {c.key: c for c in judged}
    assert claims["phonetic_classes"].holds is False  # 0.90 ≤ the untrained 0.92 at layer04
    assert "layer04: AUC 0.90 (p = 0.001), untrained AUC 0.92" in claims["phonetic_classes"].evidence
    assert "above the untrained network's AUC" in claims["phonetic_classes"].test
    # phoneme gains over the untrained network: 0, 0, 0, 0, 0.35, 0.4 -> emerge at layer05; graphemes
    # 0, 0, 0.05, 0.1, 0.5, 0.89 -> at layer05 too: not earlier
    assert claims["phonemes_before_graphemes"].holds is False
    assert "untrained network's accuracy" in claims["phonemes_before_graphemes"].test
    assert claims["same_grapheme_output"].holds is True  # 0.8 > the untrained 0.5 at layer06
    assert claims["vowel_letters_cluster"].holds is False  # the control's grapheme AUC is the same
    # absolute claims keep their verdicts, with the control's numbers beside them
    assert claims["graphemes_output"].holds is plain["graphemes_output"].holds
    assert "untrained network: 0.10" in claims["graphemes_output"].evidence
    assert claims["no_structure_first_layer"].holds is plain["no_structure_first_layer"].holds


def test_the_control_has_its_own_layer_similarity(tmp_path):
    """The untrained network's CKA matrix, computed like the trained one's and drawn as its own."""
    from nap.cluster.cka import cka_matrix

    napset = synthetic_napset(n_layers=3, channels=6, positions=3, frames=400, utterances=12, seed=1)
    napset.control = synthetic_napset(n_layers=3, channels=6, positions=3, frames=400, utterances=12, seed=7)
    build_clusters(tmp_path, ClusterParams.from_dict({**FAST, "similarity": True}), napset)
    control = Clustering.open(tmp_path).control
    layers, matrix = control.similarity()
    assert layers == napset.control.layers
    want = cka_matrix({lay: napset.control.probe_features(lay)[0] for lay in layers})
    np.testing.assert_allclose(matrix, want, atol=1e-12)
    assert "untrained network" in control.similarity_figure().axes[0].get_title()
