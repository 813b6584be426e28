"""The naps stage on stand-ins for the other stages: the stored format, resuming, bad parameters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nap.naps import NapParams, NapSet, build_naps, model_geometry
from nap.naps import stage as stage_module
from nap.params import ParamError

torch.set_num_threads(1)

GROUPS = {"grapheme": [f"L{i}" for i in range(6)], "phoneme": [f"P{i}" for i in range(5)]}


class Recognizer:
    def __init__(self):
        from nap.asr.model import Architecture, Wav2Letter

        torch.manual_seed(0)
        self.model = Wav2Letter(Architecture(n_mels=10, classes=6, channels=8, hidden=12, k7_layers=2))

    def untrained(self):
        """The control network (naps.control): another seed of the same architecture."""
        from nap.asr.model import Wav2Letter

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            return Wav2Letter(self.model.arch).eval()


class Features:
    """``get(utt)`` -> (frames, n_mels); can fail after ``fail_after`` calls (a killed run)."""

    def __init__(self, lengths: dict[str, int], fail_after: int | None = None):
        self.lengths, self.fail_after, self.calls = lengths, fail_after, 0

    def get(self, utt: str) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("killed")
        rng = np.random.default_rng(int(utt[1:]))
        return rng.standard_normal((self.lengths[utt], 10)).astype(np.float32)


class Labels:
    """The FrameLabels API the stage reads: utterances, splits, groups, labels(utt, groupings)."""

    def __init__(self, frames: dict[str, int]):
        self.utterances = list(frames)
        self.splits = {u: ("train" if i % 3 else "test_sentences") for i, u in enumerate(frames)}
        self.groups = dict(GROUPS)
        self._labels = {}
        for u, n in frames.items():
            rng = np.random.default_rng(100 + int(u[1:]))
            lab = {k: np.repeat(rng.integers(-1, len(v), n), 2)[:n] for k, v in GROUPS.items()}
            lab["grapheme"][lab["grapheme"] == 5] = 4  # L5 never occurs: left out by min_count
            self._labels[u] = lab

    def labels(self, utt: str, groupings=("grapheme", "phoneme")) -> dict[str, np.ndarray]:
        return {k: self._labels[utt][k] for k in groupings}


def _inputs(n_utt: int = 12):
    rec = Recognizer()
    g = model_geometry(rec.model)
    rng = np.random.default_rng(0)
    lengths = {f"u{i:03d}": g.receptive_field + int(rng.integers(0, 60)) for i in range(n_utt)}
    lengths["u999"] = g.receptive_field - 1  # too short: no output frame
    frames = {u: g.frames(n) for u, n in lengths.items()}
    return rec, Features(lengths), Labels(frames)


def _params(**changes) -> NapParams:
    return NapParams.from_dict({"min_count": 3, "probe_frames": 30, "batch_size": 2, **changes})


def test_stage_writes_a_napset(tmp_path):
    rec, feats, labels = _inputs()
    summary = build_naps(tmp_path, _params(), None, feats, rec, labels, progress=False)
    assert summary["skipped_groupings"] == ["phoneme_true"] and summary["utterances"] == 12
    assert summary["groups"]["grapheme"] == 5 and summary["left_out"]["grapheme"] == 1
    napset = NapSet.open(tmp_path)
    assert napset.groupings == ["grapheme", "phoneme"]
    assert napset.layers == [f"layer{i:02d}" for i in range(1, 7)]
    assert napset.groups("grapheme") == GROUPS["grapheme"][:5] and napset.left_out("grapheme") == {"L5": 0}
    g = napset.geometry
    for k in napset.groupings:
        counts = napset.counts(k)
        assert counts.dtype == np.int64 and counts.sum() == sum(
            (labels.labels(u)[k] >= 0).sum() for u in labels.utterances
        )
        for lay in napset.layers:
            nap = napset.nap(k, lay)
            assert nap.shape == (len(napset.groups(k)), g[lay].channels, g[lay].positions)
            assert np.all(np.diff(nap, axis=-1) >= 0)  # each channel sorted
            want = np.sort(napset.mean(k, lay) - napset.overall(k, lay), axis=-1)
            np.testing.assert_allclose(nap, want, atol=1e-5)
            # global_mean: the count-weighted mean of the groups' means is the subtracted window
            overall = (napset.mean(k, lay) * counts[:, None, None]).sum(0) / counts.sum()
            np.testing.assert_allclose(overall, napset.overall(k, lay), atol=1e-5)
    x, labs, utt, split = napset.probe_features("layer03")
    assert x.shape == (30, g["layer03"].channels) and x.dtype == np.float32
    assert set(labs) == {"grapheme", "phoneme"} and labs["grapheme"].max() < 5
    assert set(split) <= {"train", "test_sentences"} and utt.max() < 12
    names = napset.probe_utterances
    assert [labels.splits[names[u]] for u in utt] == list(split)
    assert not list(tmp_path.glob("checkpoint-*"))


def test_the_format_reads_without_nap(tmp_path):
    rec, feats, labels = _inputs(6)
    build_naps(tmp_path, _params(normalization="mean_of_groups"), None, feats, rec, labels, progress=False)
    meta = json.loads((tmp_path / "napset.json").read_text())
    assert meta["format"] == "nap-napset" and meta["normalization"] == "mean_of_groups"
    assert meta["activations"]["layer01"] == "relu" and meta["activations"]["layer06"] == "none"
    assert (tmp_path / "FORMAT.md").read_text().startswith("# Time-independent NAPs")
    with np.load(tmp_path / meta["groupings"]["phoneme"]["files"]["naps"], allow_pickle=False) as f:
        assert list(f["groups"]) == meta["groupings"]["phoneme"]["groups"]
        assert f["layer02"].shape[0] == len(f["groups"])
    with np.load(tmp_path / "means_phoneme.npz", allow_pickle=False) as f:
        np.testing.assert_allclose(f["layer02"].mean(0), f["overall__layer02"], atol=1e-5)  # mean of groups


def test_an_interrupted_stage_resumes_to_the_same_result(tmp_path, monkeypatch):
    monkeypatch.setattr(stage_module, "CHECKPOINT_S", 0.0)
    rec, feats, labels = _inputs(24)
    p = _params(batch_size=1)
    whole = tmp_path / "whole"
    build_naps(whole, p, None, feats, rec, labels, progress=False)
    work = tmp_path / "work"
    feats.fail_after, feats.calls = 13, 0
    with pytest.raises(KeyboardInterrupt):
        build_naps(work, p, None, feats, rec, labels, progress=False)
    assert list(work.glob("checkpoint-rank0-of-1.npz"))
    feats.fail_after, feats.calls = None, 0
    build_naps(work, p, None, feats, rec, labels, progress=False)
    assert feats.calls == 24 - 8 + 24  # resumed after the checkpoint at batch 8; the control's pass
    a, b = NapSet.open(whole), NapSet.open(work)
    for k in a.groupings:
        for lay in a.layers:
            np.testing.assert_array_equal(a.nap(k, lay), b.nap(k, lay))
            np.testing.assert_array_equal(a.control.nap(k, lay), b.control.nap(k, lay))
        np.testing.assert_array_equal(a.probe_features("layer01")[0], b.probe_features("layer01")[0])


def test_layers_splits_and_bad_parameters(tmp_path):
    rec, feats, labels = _inputs(6)
    build_naps(
        tmp_path,
        _params(layers=["layer06", "input"], splits=["train"]),
        None,
        feats,
        rec,
        labels,
        progress=False,
    )
    napset = NapSet.open(tmp_path)
    assert napset.layers == ["input", "layer06"]
    assert napset.meta["utterances"] == sum(1 for s in labels.splits.values() if s == "train")
    assert napset.nap("phoneme", "input").shape[1:] == (10, napset.geometry.receptive_field)
    with pytest.raises(ParamError, match="naps.layers.*layer42"):
        build_naps(tmp_path / "x", _params(layers=["layer42"]), None, feats, rec, labels, progress=False)
    with pytest.raises(ParamError, match="naps.splits.*nowhere"):
        build_naps(tmp_path / "x", _params(splits=["nowhere"]), None, feats, rec, labels, progress=False)
    with pytest.raises(ParamError, match="naps.groupings"):
        p = _params(groupings=["phoneme_true"])
        build_naps(tmp_path / "x", p, None, feats, rec, labels, progress=False)
    for bad in (
        {"min_count": 0},
        {"batch_size": 0},
        {"probe_frames": -1},
        {"groupings": []},
        {"layers": ["layer01", "layer01"]},
        {"normalization": "zscore"},
    ):
        with pytest.raises(ParamError, match="naps"):
            NapParams.from_dict(bad)


def test_with_the_align_stage_frame_labels(tmp_path):
    """The real FrameLabels class (align stage) in memory, as the study hands it over."""
    labels_mod = pytest.importorskip("nap.align.labels")
    rec, feats, fake = _inputs(5)
    utts = fake.utterances
    offsets = np.r_[0, np.cumsum([len(fake.labels(u)["grapheme"]) for u in utts])]
    arrays = {k: np.concatenate([fake.labels(u)[k] for u in utts]).astype(np.int16) for k in GROUPS}
    arrays["phoneme_true"] = arrays["phoneme"].copy()
    meta = {"groups": {**GROUPS, "phoneme_true": GROUPS["phoneme"]}, "counts": {}, "left_out": {}}
    labels = labels_mod.FrameLabels(Path(tmp_path), utts, fake.splits, offsets, arrays, meta)
    summary = build_naps(tmp_path / "naps", _params(min_count=1), None, feats, rec, labels, progress=False)
    assert summary["skipped_groupings"] == [] and set(NapSet.open(tmp_path / "naps").groupings) == {
        "grapheme",
        "phoneme",
        "phoneme_true",
    }
    np.testing.assert_array_equal(
        NapSet.open(tmp_path / "naps").nap("phoneme", "layer02"),
        NapSet.open(tmp_path / "naps").nap("phoneme_true", "layer02"),
    )


class PaddingRecognizer(Recognizer):
    """A recognizer that adds ``pad`` frames of silence at both ends, as the asr stage's does."""

    pad = 20

    def padded(self, feats: np.ndarray) -> np.ndarray:
        floor = feats.min(axis=0, keepdims=True)
        edge = np.repeat(floor, self.pad, axis=0)
        return np.concatenate([edge, feats, edge])


def test_unpadded_naps_count_only_windows_inside_the_utterance(tmp_path):
    """naps.unpadded: the same pass also sums each grouping over the frames whose window holds none
    of the added silence; counted independently here from the geometry."""
    rec, _, _ = _inputs()
    g = model_geometry(rec.model)
    rng = np.random.default_rng(1)
    lengths = {f"u{i:03d}": g.receptive_field + int(rng.integers(-30, 60)) for i in range(10)}
    pad = PaddingRecognizer.pad
    frames = {u: g.frames(n + 2 * pad) for u, n in lengths.items()}
    labels, features = Labels(frames), Features(lengths)
    build_naps(tmp_path, _params(control=False), None, features, PaddingRecognizer(), labels, progress=False)
    napset = NapSet.open(tmp_path)
    inner = napset.unpadded
    assert inner is not None and inner.meta["pad"] == pad
    for k in GROUPS:
        want = np.zeros(len(GROUPS[k]), dtype=np.int64)
        for u, n in lengths.items():
            start = np.arange(frames[u]) * g.stride - pad
            inside = (start >= 0) & (start + g.receptive_field <= n)
            lab = labels.labels(u)[k][inside]
            want += np.bincount(lab[lab >= 0], minlength=len(GROUPS[k]))
        kept = {name: c for name, c in zip(GROUPS[k], want, strict=True) if c >= 3}
        assert dict(zip(inner.groups(k), inner.counts(k).tolist(), strict=True)) == kept
        assert 0 < sum(kept.values()) < int(napset.counts(k).sum())
    every = sum(int(((np.arange(f) * g.stride - pad >= 0) & (np.arange(f) * g.stride - pad + g.receptive_field
                 <= lengths[u])).sum()) for u, f in frames.items())  # fmt: skip
    assert inner.meta["whole"]["frames"] == every
    # the cluster stage judges the claims on them as a fourth reading, with the same probes
    from nap.cluster import Clustering, ClusterParams, build_clusters

    build_clusters(
        tmp_path / "cluster", ClusterParams(permutations=50, probe_max_iter=30, bootstrap=20), napset
    )
    clustering = Clustering.open(tmp_path / "cluster")
    scores = clustering.doc["results"]["phoneme"]["layer03"]["scores"]["classes"]  # speaker-fold intervals
    assert scores["n_units"] == 8 and "auc_ci_low" in scores  # (P0..P4 have no phonetic class: no AUC)
    readings = clustering.readings
    assert list(readings["readings"]) == ["global_mean", "mean_of_groups", "whole_data", "unpadded_windows"]
    unpadded = readings["readings"]["unpadded_windows"]
    own = readings["readings"]["global_mean"]
    assert set(unpadded["claims"]) == set(own["claims"])
    assert set(unpadded["ari_to_own"]) == set(GROUPS)
    # off, or a recognizer without padding: no unpadded set
    build_naps(tmp_path / "off", _params(control=False, unpadded=False), None, features, PaddingRecognizer(),
               labels, progress=False)  # fmt: skip
    assert NapSet.open(tmp_path / "off").unpadded is None


def test_speaker_folds_add_up_and_a_resample_is_the_naps_of_its_speakers(tmp_path):
    """naps.folds: each fold's sums are those of its speakers alone; drawing folds once each gives
    the stored NAPs, and leaving folds out gives the NAPs of the other speakers' utterances."""
    from nap.naps.folds import speaker_folds

    rec, feats, labels = _inputs()
    for normalization in ("global_mean", "whole_data"):
        p = _params(folds=3, control=False, normalization=normalization, probe_frames=0)
        work = tmp_path / normalization
        build_naps(work, p, None, feats, rec, labels, progress=False)
        napset = NapSet.open(work)
        assert napset.meta["folds"]["folds"] == 3
        fold = speaker_folds([u for u in labels.utterances if u != "u999"], 3, p.seed)
        assert sorted(np.bincount(list(fold.values())).tolist()) == [4, 4, 4]  # one speaker per utterance
        keep = [u for u, f in fold.items() if f != 2]
        sub = Labels({u: len(labels.labels(u)["grapheme"]) for u in keep})
        build_naps(tmp_path / f"sub-{normalization}", p.replace(folds=0), None, feats, rec, sub, False)
        part = NapSet.open(tmp_path / f"sub-{normalization}")
        build_naps(tmp_path / f"plain-{normalization}", p.replace(folds=0), None, feats, rec, labels, False)
        plain = NapSet.open(tmp_path / f"plain-{normalization}")
        compared = 0
        for k in napset.groupings:
            for lay in ("layer01", "layer06"):
                folds = napset.folds(k, lay)
                # summed per fold, then over the folds: the NAPs of a pass without folds
                np.testing.assert_allclose(napset.nap(k, lay), plain.nap(k, lay), rtol=1e-5, atol=1e-6)
                np.testing.assert_array_equal(folds.counts.sum(0), napset.counts(k))
                every = folds.naps(np.ones(3), normalization)
                scale = np.abs(napset.nap(k, lay)).max()
                # the fold means are stored in float16: three digits
                np.testing.assert_allclose(every, napset.nap(k, lay), atol=4e-3 * scale)
                if part.groups(k) == napset.groups(k):
                    left = folds.naps(np.array([1.0, 1.0, 0.0]), normalization)
                    np.testing.assert_allclose(left, part.nap(k, lay), atol=4e-3 * scale)
                    compared += 1
        assert compared >= 2
        assert NapSet.open(tmp_path / f"sub-{normalization}").folds("grapheme", "layer01") is None


def test_speaker_folds_keep_a_speaker_together():
    from nap.naps.folds import speaker_folds, speaker_of

    utts = [f"{s}-1-{i:04d}" for s in ("101", "202", "303", "404", "505") for i in range(3)] + ["odd"]
    fold = speaker_folds(utts, 2, seed=0)
    for s in ("101", "202", "303", "404", "505"):
        assert len({fold[u] for u in utts if speaker_of(u) == s}) == 1
    assert sorted(np.bincount([fold[u] for u in utts if u != "odd"] + [fold["odd"]] * 3).tolist()) == [9, 9]
    assert fold == speaker_folds(list(reversed(utts)), 2, seed=0)  # the order of the ids does not matter
    assert fold != speaker_folds(utts, 2, seed=1) or fold == speaker_folds(utts, 2, seed=2)
    with pytest.raises(ParamError, match="naps.folds"):
        NapParams(folds=1).check()
