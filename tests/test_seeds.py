"""nap seeds: the spread of the per-layer numbers and verdicts across recognizer seeds."""

from __future__ import annotations

import pytest

from nap import seeds
from nap.params import ParamError
from nap.study import Study


def _summary(auc: float, acc: float) -> dict:
    return {"probes_phoneme": {"layer01": {"accuracy": acc, "class_auc": auc}, "layer02": {"accuracy": None}}}


def test_spread_of_per_layer_numbers_and_verdicts():
    summaries = {0: _summary(0.6, 0.30), 1: _summary(0.7, 0.40), 2: _summary(0.8, 0.20)}
    claims = {0: {"a": True, "b": None}, 1: {"a": False, "b": True}, 2: {"a": True, "b": True}}
    doc = seeds.spread(summaries, claims)
    assert doc["seeds"] == [0, 1, 2]
    auc = doc["layers"]["phoneme"]["layer01"]["class_auc"]
    assert auc["mean"] == pytest.approx(0.7) and auc["sd"] == pytest.approx(0.1)
    assert (auc["min"], auc["max"]) == (pytest.approx(0.6), pytest.approx(0.8))
    assert auc["seeds"] == {"0": 0.6, "1": 0.7, "2": 0.8}
    acc = doc["layers"]["phoneme"]["layer02"]["accuracy"]  # no number for any seed
    assert acc["seeds"] == {"0": None, "1": None, "2": None} and acc["mean"] != acc["mean"]
    assert doc["claims"]["a"] == {"verdicts": {"0": True, "1": False, "2": True}, "holds": 2, "judged": 3}
    assert doc["claims"]["b"]["holds"] == 2 and doc["claims"]["b"]["judged"] == 2
    assert "0.700 ± 0.100 [0.600, 0.800]" in str(seeds.spread_table(doc, "phoneme"))
    assert "2 of 3" in str(seeds.claims_table(doc))


def test_seed_studies_share_everything_before_the_recognizer(tmp_path):
    study = Study("tiny", {"cluster.percentile": 70}, tmp_path)
    one, two = seeds.seed_study(study, 1), seeds.seed_study(study, 2)
    assert one.params("asr").seed == 1 and one.params("cluster").percentile == 70
    for stage in ("corpus", "features", "g2p"):
        assert one.key(stage) == two.key(stage) == study.key(stage)
    for stage in ("asr", "align", "naps", "cluster"):
        assert one.key(stage) != two.key(stage)
    assert seeds.spread_path(one) == seeds.spread_path(study)  # one file per parameters, not per seed
    (note,) = seeds.report(study)
    assert "Not run" in note
    with pytest.raises(ParamError, match="at least 2 different seeds"):
        seeds.run_seeds(study, [3, 3])


def test_a_spread_makes_chapter_6_stale(tmp_path):
    from pathlib import Path

    from nap.runner import chapter_stamp
    from nap.store import write_json

    study = Study("tiny", artifacts=tmp_path)
    chapters = Path(__file__).resolve().parents[1] / "chapters"
    six, five = chapters / "06_clustering.ipynb", chapters / "05_naps.ipynb"
    before = chapter_stamp(six, study, "code"), chapter_stamp(five, study, "code")
    path = seeds.spread_path(study)
    path.parent.mkdir(parents=True)
    write_json(path, seeds.spread({0: _summary(0.6, 0.3), 1: _summary(0.7, 0.4)}, {}))
    assert chapter_stamp(six, study, "code") != before[0] and chapter_stamp(five, study, "code") == before[1]
    assert len(seeds.report(study)) == 2  # the phoneme table and the claims table
