"""The real_speech stage: the earlier stages' keys unchanged, the cross-domain numbers, the utterance
sample, the missing-packages path (a summary that says what to install, no crash), and the stage on
the tiny profile with a few real utterances."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from nap import profile
from nap.corpus import packages, real
from nap.corpus import reference_aligner as ra
from nap.params import ParamError
from nap.profile import STAGES
from nap.real_speech import RealSpeech, RealSpeechParams, stage
from nap.real_speech import similarity as sim
from nap.stages import REGISTRY
from nap.store import SUMMARY, StoreError
from nap.study import Study
from tests.conftest import ROOT

have_packages = pytest.mark.skipif(
    bool(packages.missing_files(real.FILES) or packages.missing_modules(ra.PACKAGES)),
    reason="needs pocketsphinx and the Debian asterisk-core-sounds-en(-wav), pocketsphinx-testdata",
)


def test_the_stage_reads_every_stage_and_changes_no_other_key(tmp_path, monkeypatch):
    with_it = Study("default", artifacts=tmp_path)
    keys = {s: with_it.key(s) for s in STAGES if s != "real_speech"}
    assert REGISTRY["real_speech"].inputs == STAGES[:-1] and STAGES[-1] == "real_speech"
    monkeypatch.delitem(REGISTRY, "real_speech")  # the study as it was before the stage
    monkeypatch.setattr(profile, "STAGES", STAGES[:-1])
    without = Study("default", artifacts=tmp_path)
    assert {s: without.key(s) for s in keys} == keys


def test_parameters_are_checked_by_name():
    with pytest.raises(ParamError, match=r"'real_speech.max_utterances' must be 0 or more, got -1"):
        RealSpeechParams.from_dict({"max_utterances": -1})
    with pytest.raises(ParamError, match=r"'real_speech.calibration_splits': expected distinct names"):
        RealSpeechParams.from_dict({"calibration_splits": ["test_voices", "test_voices"]})
    assert RealSpeechParams().key_dict().keys() == {
        "seed", "max_utterances", "calibration_utterances", "calibration_splits", "probe_frames"
    }  # fmt: skip


def test_the_sample_is_seeded_and_keeps_corpus_order():
    utts = list(range(20))
    assert stage.select(utts, RealSpeechParams()) == utts
    picked = stage.select(utts, RealSpeechParams(max_utterances=5))
    assert len(picked) == 5 and picked == sorted(picked)
    assert picked == stage.select(utts, RealSpeechParams(max_utterances=5))
    assert picked != stage.select(utts, RealSpeechParams(max_utterances=5, seed=1))
    assert stage.select(utts, RealSpeechParams(max_utterances=50)) == utts


def test_matching_correlation_retrieval_and_clustering_agreement():
    up, down, bump = [1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0], [1.0, 4.0, 4.0, 1.0]
    synthetic = np.array([up, down, bump])[:, None, :]  # (G, C, P)
    assert sim.matching(synthetic, synthetic) == {
        "match_r": 1.0,
        "other_r": -0.3333,  # r(up, down) = -1, r(up, bump) = r(down, bump) = 0
        "retrieval": 1.0,
        "retrieval_chance": 0.3333,
    }
    swapped = synthetic[[1, 0, 2]]  # real "up" looks like synthetic "down" and back
    assert sim.matching(swapped, synthetic)["retrieval"] == 0.3333
    assert sim.matching(synthetic[:1], synthetic[:1])["match_r"] is None  # one group: no baseline
    assert sim.matching(synthetic[:0], synthetic[:0])["match_r"] is None  # no group in common
    none = sim.clustering_agreement(synthetic[:0], synthetic[:0], [], {})
    assert none["ari"] is None and none["message"]
    names = ["AA", "B", "K", "S"]
    four = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], dtype=float)
    same = sim.clustering_agreement(four, four + 0.01, names, {"percentile": 50.0})
    assert same == {"ari": 1.0, "clusters_real": 2, "clusters_synthetic": 2, "message": None}
    too_few = sim.clustering_agreement(four[:2], four[:2], names[:2], {})
    assert too_few["ari"] is None and "clustering needs at least 3" in too_few["message"]


def test_the_cross_domain_probe_matches_labels_by_name():
    rng = np.random.default_rng(0)
    centres = {"AA": np.array([3.0, 0.0]), "S": np.array([0.0, 3.0])}

    def frames(order: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, len(order), n)
        return np.stack([centres[order[k]] for k in y]) + rng.normal(0, 0.3, (n, 2)), y

    xs, ys = frames(["AA", "S"], 200)
    xr, yr = frames(["S", "AA"], 50)  # the real set names its groups in another order
    yr[:5] = -1  # frames without a group take no part
    out = sim.cross_probe((xs, ys, ["AA", "S"]), (xr, yr, ["S", "AA"]), {"probe_max_iter": 100})
    assert out["accuracy"] == 1.0 and out["n_train"] == 200 and out["n_test"] == 45
    assert out["n_classes"] == 2 and out["message"] is None
    # with the real frames' utterances: the accuracy's bootstrap interval, here a perfect probe's
    units = np.repeat(np.arange(10), 5)
    out = sim.cross_probe((xs, ys, ["AA", "S"]), (xr, yr, ["S", "AA"]), {"probe_max_iter": 100}, 1, units)
    assert out["ci_low"] == out["ci_high"] == 1.0
    yr[5:10] = 1 - yr[5:10]  # utterance 1 now mislabelled: errors concentrated in one unit
    out = sim.cross_probe((xs, ys, ["AA", "S"]), (xr, yr, ["S", "AA"]), {"probe_max_iter": 100}, 1, units)
    assert out["accuracy"] == round(40 / 45, 4) and out["ci_low"] < out["accuracy"] < out["ci_high"] == 1.0


def test_missing_packages_give_a_summary_that_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(real, "FILES", {str(tmp_path / "nowhere"): "asterisk-core-sounds-en-wav"})
    find_spec = packages.importlib.util.find_spec
    monkeypatch.setattr(
        packages.importlib.util, "find_spec", lambda m: None if m == "pocketsphinx" else find_spec(m)
    )
    work = tmp_path / "work"
    work.mkdir()
    summary = stage.build_real_speech(work, RealSpeechParams(), *[None] * 7)
    assert summary == {
        "available": False,
        "missing": "the real-speech corpus 'real' needs packages that are not installed: apt-get install "
        "asterisk-core-sounds-en-wav; the reference aligner (pocketsphinx) needs packages that are not "
        "installed: pip install pocketsphinx==5.1.1; then rebuild this stage: nap build real_speech --force",
    }
    assert sorted(p.name for p in work.iterdir()) == ["missing.json"]
    (work / SUMMARY).write_text(json.dumps(summary))  # as the store finishes the artifact
    result = RealSpeech.open(work)
    assert not result.available and result.missing == summary["missing"]
    assert repr(result).startswith("RealSpeech(packages missing")
    with pytest.raises(StoreError, match="ran without its packages: the real-speech corpus"):
        result.similarity  # noqa: B018


@have_packages
def test_the_stage_on_the_tiny_profile(tiny_study):
    params = tiny_study.params("real_speech")
    assert (params.max_utterances, params.calibration_utterances, params.probe_frames) == (8, 4, 500)
    for dep in REGISTRY["real_speech"].inputs:  # the synthetic study first: the time below is the stage's
        tiny_study.artifact(dep)
    start = time.time()
    result = tiny_study.real_speech()
    seconds = time.time() - start
    print(f"real_speech on the tiny profile: {seconds:.0f} s")
    s = result.summary
    assert s["available"] is True and s["utterances"] == 8 and s["corpus_utterances"] == 506
    assert s["reference_aligned"] + s["reference_failed"] == 8 and s["reference_aligned"] >= 6
    assert s["aligner_utterances"] == 4 and 0.5 < s["aligner_frame_agreement"] <= 1.0
    for key in ("greedy_cer", "beam_cer", "greedy_wer", "beam_wer", "aligner_boundaries_within_20ms"):
        assert 0.0 <= s[key] <= 2.0, key
    assert s["cascade_frames"] > 0 and 0.0 <= s["cascade_accuracy"] <= 1.0
    layers = tiny_study.naps().layers
    per_layer = s["cross_domain_phoneme_reference"]
    assert list(per_layer) == layers
    assert set(per_layer[layers[-1]]) == {
        "match_r", "other_r", "retrieval", "ari", "probe_accuracy", "probe_ci_low", "probe_ci_high",
        "probe_chance",
    }  # fmt: skip
    assert all(row["probe_accuracy"] is None for row in s["cross_domain_phoneme"].values())  # not probed
    assert len(result.reference_phones()) == s["reference_aligned"]
    assert result.naps().groupings == ["phoneme_reference", "phoneme"]
    assert len(result.features()) == 8 and len(result.corpus()) == 506
    assert "CER greedy / beam" in str(result.headline_table())
    assert str(result.calibration_table()) and str(result.similarity_table())
    # chapter 8: from the training domain outwards, the held-out piper voice an engine never heard
    from nap.asr.plots import engine_rates

    rows = result.domain_table(engine_rates(tiny_study.asr().evaluation, tiny_study.corpus())).rows
    assert [r[:2] for r in rows] == [["held-out espeak voices", "yes"], ["held-out flite voices", "yes"],
                                     ["held-out piper voices", "no"], ["real speech", "no"]]  # fmt: skip
    assert rows[-1][2:] == [8, f"{s['beam_cer']:.1%}", f"{s['beam_wer']:.1%}"]


@have_packages
def test_the_variants_benchmark_scores_like_the_stage(tiny_study, monkeypatch):
    """benchmarks/bench_asr_variants.py on the study's own recognizer gives the stage's real-speech
    numbers (same code, same utterances), stores them where chapter 8 finds them, and tabulates."""
    import importlib.util

    from nap.real_speech.results import load_variants, variants_table

    path = ROOT / "benchmarks" / "bench_asr_variants.py"
    spec = importlib.util.spec_from_file_location("bench_asr_variants", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    root = tiny_study.store.root
    assert load_variants(root) is None or "variants" in load_variants(root)
    monkeypatch.setattr(bench, "VARIANTS", {"study": {}})
    assert bench.main(["--profile", "tiny", "--artifacts", str(root)]) == 0
    result = load_variants(root)
    row = result["variants"]["study"]
    s = tiny_study.real_speech().summary
    assert row["asr"] == tiny_study.artifact("asr").path.name
    assert (row["real"]["all"]["beam_cer"], row["real"]["all"]["greedy_cer"]) == (
        s["beam_cer"],
        s["greedy_cer"],
    )
    assert row["synthetic"]["test_sentences_beam_cer"] == tiny_study.summary("asr")["test_sentences_beam_cer"]
    text = str(variants_table(result))
    assert "as the study" in text and "asterisk prompts" in text
    speech = tiny_study.real_speech()
    assert speech.variants() == result  # chapter 8 shows it
    from nap.real_speech import results

    other = {"variants": {"study": {**row, "asr": "asr-0123456789ab"}}}  # another study's recognizer
    monkeypatch.setattr(results, "load_variants", lambda root: other)
    assert speech.variants() is None
    with pytest.raises(StoreError, match="no recognizer-variants benchmark of this study's recognizer"):
        speech.variants_table()
