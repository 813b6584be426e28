"""The cluster stage end to end on hand-made NAPs: files, loader, claims, figures, bad input."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest

from nap.cluster import ArrayNapSet, Clustering, ClusterParams, build_clusters
from nap.cluster.arrays import synthetic_napset
from nap.cluster.claims import emergence_layer, evaluate_claims, figure4_layers
from nap.params import ParamError

FAST = {"permutations": 200, "probe_max_iter": 100}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    napset = synthetic_napset(n_layers=5, channels=12, positions=4, frames=2000, utterances=40, seed=1)
    work = tmp_path_factory.mktemp("cluster")
    start = time.time()
    summary = build_clusters(work, ClusterParams.from_dict(FAST), napset)
    return napset, work, summary, time.time() - start


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return buf.getvalue()


def test_stage_writes_documented_files_and_reads_back(built):
    napset, work, summary, seconds = built
    for name in ("clusters.npz", "clusters.json", "probes.json", "claims.json"):
        assert (work / name).is_file()
    text = (work / "clusters.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))  # standard JSON only
    assert doc["groupings"] == ["grapheme", "phoneme"] and len(doc["layers"]) == 5
    assert doc["kinds"] == {"grapheme": "grapheme", "phoneme": "phoneme"}
    assert doc["classes"]["phoneme"]["NG"] == "nasal" and doc["classes"]["grapheme"]["e"] == "vowel"
    with np.load(work / "clusters.npz") as npz:
        assert npz["phoneme.layer05.distances"].shape == (39, 39)
        assert npz["grapheme.layer01.linkage"].shape == (25, 4)
    c = Clustering.open(work)
    assert c.groupings == ["grapheme", "phoneme"] and c.layers == napset.layers
    res = c.result("phoneme", "layer05")
    assert (
        res.ok
        and res.names == napset.groups("phoneme")
        and res.threshold == pytest.approx(np.percentile(res.condensed(), 80))
    )
    assert summary["figure4_layers"] == c.figure4_layers()
    assert summary["messages"] == 0 and seconds < 60


def test_synthetic_structure_is_found(built):
    _, work, summary, _ = built
    c = Clustering.open(work)
    ph, gr = c.scores("phoneme"), c.scores("grapheme")
    # layer 1 is noise; phonetic classes dominate the later layers (known from construction)
    assert ph["layer01"]["classes"]["p"] > 0.05
    assert ph["layer04"]["classes"]["auc"] > 0.95 and ph["layer04"]["classes"]["p"] < 0.01
    assert ph["layer04"]["classes"]["ari_k"] > 0.8
    assert gr["layer03"]["vowels"]["p"] > 0.05
    probes = c.probes
    assert probes["grapheme"]["layer05"]["accuracy"] > 0.8 > 0.2 > probes["grapheme"]["layer01"]["accuracy"]
    assert probes["phoneme"]["layer05"]["accuracy"] > probes["phoneme"]["layer01"]["accuracy"] + 0.3
    claims = {cl.key: cl for cl in c.claims()}
    assert claims["phonetic_classes"].holds is True and claims["no_structure_first_layer"].holds is True
    assert claims["vowels_cluster"].holds is True
    assert summary["claims"] == {k: v.holds for k, v in claims.items()}
    text = str(c.claims_text())
    assert text.count("- **") == len(claims) and "layer04" in text


def test_figures_render_from_the_artifact(built):
    _, work, _, _ = built
    c = Clustering.open(work)
    start = time.time()
    for layer in c.layers[:2]:
        assert png(c.figure([layer]))[:4] == b"\x89PNG"
    assert png(c.figure([c.layers[0], c.layers[-1]], scale="row"))
    assert png(c.score_figure())
    assert time.time() - start < 60
    table = str(c.score_table("phoneme"))
    assert "layer05" in table and "class AUC" in table


def test_probes_resume_from_finished_layers(tmp_path):
    napset = synthetic_napset(n_layers=3, channels=8, positions=3, frames=600, utterances=20)
    p = ClusterParams.from_dict({**FAST, "probe_groupings": ["phoneme"]})
    (tmp_path / "probes").mkdir()
    marker = {
        "phoneme": {
            "accuracy": 0.123,
            "balanced_accuracy": 0.1,
            "chance": 0.05,
            "n_train": 1,
            "n_test": 1,
            "n_classes": 2,
            "converged": True,
            "message": None,
        }
    }
    (tmp_path / "probes" / "layer02.json").write_text(json.dumps(marker))
    build_clusters(tmp_path, p, napset)
    probes = json.loads((tmp_path / "probes.json").read_text())
    assert list(probes) == ["phoneme"] and probes["phoneme"]["layer02"]["accuracy"] == 0.123
    assert probes["phoneme"]["layer01"]["accuracy"] != 0.123


def test_bad_input_gives_messages_in_place_of_figures(tmp_path):
    rng = np.random.default_rng(0)
    phones = ["AA", "IY", "S", "T", "M"]
    nan_naps = rng.normal(size=(5, 4, 3))
    nan_naps[1:4] = np.nan  # three groups without a usable NAP -> 2 left
    naps = {
        "grapheme": {"layer01": rng.normal(size=(2, 4, 3)), "layer02": rng.normal(size=(2, 4, 3))},
        "phoneme": {"layer01": nan_naps, "layer02": np.eye(12)[:5].reshape(5, 4, 3)},
    }
    napset = ArrayNapSet(naps, {"grapheme": ["a", "b"], "phoneme": phones})
    summary = build_clusters(tmp_path, ClusterParams.from_dict({**FAST, "probes": False}), napset)
    assert summary["messages"] == 4
    c = Clustering.open(tmp_path)
    msgs = c.messages()
    assert any("only 2 group(s)" in m and "IY (NAP has NaN" in m for m in msgs)
    assert any("pairwise distances are equal" in m for m in msgs)
    assert png(c.figure(c.layers)) and png(c.score_figure())
    assert all(cl.holds is None for cl in c.claims())


def test_params_are_validated(tmp_path):
    assert ClusterParams().percentile == 80.0 and ClusterParams().linkage == "complete"
    with pytest.raises(ParamError, match="cluster.percentile"):
        ClusterParams.from_dict({"percentile": 100})
    with pytest.raises(ParamError, match="cluster.linkage"):
        ClusterParams.from_dict({"linkage": "ward", "metric": "cosine"})
    with pytest.raises(ParamError, match="cluster.probe_test_fraction"):
        ClusterParams.from_dict({"probe_test_fraction": 1.0})
    with pytest.raises(ParamError, match="cluster.linkage"):
        ClusterParams.from_dict({"linkage": "median"})
    napset = synthetic_napset(n_layers=2, channels=4, positions=2, frames=200, utterances=10)
    with pytest.raises(ParamError, match="cluster.layers"):
        build_clusters(tmp_path, ClusterParams.from_dict({"layers": ["layer09"]}), napset)


def scores_of(auc_ph: list[float], p_ph: list[float]) -> dict:
    """Per-layer scores with phonetic-class AUCs and p-values as given (vowel scores alike)."""

    def one(a: float, p: float) -> dict:
        s = {"auc": a, "p": p, "ari": 0.5, "ari_k": 0.5, "n": 39}
        sep = {"min_over_median": 0.5, "n_clusters": 4, "singletons": 0}
        return {
            "classes": s,
            "vowels": s,
            "vowel_purity": 0.8 if p < 0.05 else 0.3,
            "separation": sep,
            "shared_grapheme": s,
        }

    return {f"layer{k + 1:02d}": one(a, p) for k, (a, p) in enumerate(zip(auc_ph, p_ph, strict=True))}


def test_claims_on_constructed_numbers():
    layers = [f"layer{k:02d}" for k in range(1, 7)]
    ph = scores_of([0.5, 0.6, 0.7, 0.9, 0.95, 0.8], [0.4, 0.2, 0.01, 0.001, 0.001, 0.001])
    gr = scores_of([0.5, 0.5, 0.5, 0.6, 0.7, 0.5], [0.5, 0.5, 0.5, 0.3, 0.01, 0.5])
    acc_ph = [0.1, 0.2, 0.4, 0.5, 0.55, 0.6]
    acc_gr = [0.1, 0.1, 0.15, 0.2, 0.6, 0.99]
    probes = {
        g: {lay: {"accuracy": a, "chance": 0.05} for lay, a in zip(layers, accs, strict=True)}
        for g, accs in (("phoneme", acc_ph), ("grapheme", acc_gr))
    }
    kinds = {"grapheme": "grapheme", "phoneme": "phoneme"}
    assert figure4_layers({"phoneme": ph}, layers, "phoneme") == ["layer04", "layer05"]
    assert emergence_layer(probes["phoneme"], layers, 0.5) == "layer03"
    assert emergence_layer(probes["grapheme"], layers, 0.5) == "layer05"
    claims = {c.key: c for c in evaluate_claims({"phoneme": ph, "grapheme": gr}, probes, layers, kinds)}
    assert claims["phonemes_before_graphemes"].holds is True
    assert (
        claims["phonetic_classes"].holds is True
        and "layer04: AUC 0.90 (p = 0.001)" in claims["phonetic_classes"].evidence
    )
    assert claims["vowels_cluster"].holds is True
    assert claims["no_structure_first_layer"].holds is True
    assert claims["graphemes_output"].holds is True
    assert claims["same_grapheme_output"].holds is True
    assert claims["vowel_letters_cluster"].holds is True
    assert claims["figure4_layers"].holds is True
    # the same numbers with graphemes emerging first and structure in layer 1
    probes_swapped = {"phoneme": probes["grapheme"], "grapheme": probes["phoneme"]}
    ph1 = scores_of([0.8, 0.6, 0.7, 0.9, 0.95, 0.8], [0.001, 0.2, 0.01, 0.001, 0.001, 0.001])
    swapped = evaluate_claims({"phoneme": ph1, "grapheme": gr}, probes_swapped, layers, kinds)
    claims = {c.key: c for c in swapped}
    assert claims["phonemes_before_graphemes"].holds is False
    assert claims["no_structure_first_layer"].holds is False
    assert claims["graphemes_output"].holds is False  # 0.6 < 0.95
    # without probes the probe-based claim is undetermined, not guessed
    claims = {c.key: c for c in evaluate_claims({"phoneme": ph, "grapheme": gr}, {}, layers, kinds)}
    assert claims["phonemes_before_graphemes"].holds is None
    assert claims["graphemes_output"].holds is None


def test_the_input_window_is_a_baseline_not_a_network_layer():
    layers = ["input", "layer01", "layer02", "layer03", "layer04"]
    sc = scores_of([0.5, 0.8, 0.9, 0.6], [0.5, 0.01, 0.001, 0.5])  # layer01 … layer04
    sc["input"] = scores_of([0.99], [0.001])["layer01"]  # structure in the input window itself
    kinds = {"grapheme": "grapheme", "phoneme": "phoneme"}
    claims = {c.key: c for c in evaluate_claims({"phoneme": sc, "grapheme": sc}, {}, layers, kinds)}
    assert claims["no_structure_first_layer"].evidence.startswith("layer01:")
    assert claims["no_structure_first_layer"].holds is True
    assert figure4_layers({"phoneme": sc}, layers, "phoneme") == ["layer02", "layer03"]


def test_an_empty_selection_draws_a_message(built):
    _, work, _, _ = built
    c = Clustering.open(work)
    assert png(c.figure([])) and png(c.figure([c.layers[0]], groupings=["phoneme"]))
    with pytest.raises(KeyError, match="no layer 'layer99'"):
        c.result("phoneme", "layer99")


@pytest.mark.parametrize("utterances", [0, 1])
def test_probes_without_two_utterances_give_messages_not_a_traceback(tmp_path, utterances):
    """No frame labelled (an under-trained recognizer): every probe says why it has no accuracy."""
    napset = synthetic_napset(n_layers=2, channels=4, positions=2, frames=200, utterances=10)
    frames = 0 if utterances == 0 else 30
    napset.probe = {
        layer: (
            np.ones((frames, 4), np.float32),
            {"grapheme": np.arange(frames) % 3, "phoneme": np.arange(frames) % 4},
            np.zeros(frames, np.int64),
            np.full(frames, "train"),
        )
        for layer in napset.layers
    }
    summary = build_clusters(tmp_path, ClusterParams.from_dict(FAST), napset)
    why = f"probes need frames of at least 2 utterances to hold some out, got {utterances}"
    probes = json.loads((tmp_path / "probes.json").read_text())
    assert list(probes) == ["grapheme", "phoneme"] and list(probes["phoneme"]) == napset.layers
    for per in probes.values():
        for r in per.values():
            assert r["message"] == why and r["accuracy"] is None and r["n_train"] == r["n_test"] == 0
    assert summary["probe_messages"] == 4 and not any(k.startswith("probe_best") for k in summary)
    c = Clustering.open(tmp_path)
    table = c.probe_table()
    assert table.headers[-1] == "no accuracy because" and [row[-1] for row in table.rows] == [why] * 4
    fig = c.score_figure()  # the message in place of the probe curves, on both sides
    texts = [t.get_text().replace("\n", " ") for ax in fig.axes[:2] for t in ax.texts]
    assert texts == [f"no probe accuracy: {why}"] * 2
    assert png(fig)[:4] == b"\x89PNG"
    claims = {cl.key: cl for cl in c.claims()}
    assert claims["phonemes_before_graphemes"].holds is None
