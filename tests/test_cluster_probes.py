"""Linear probes: split by utterance, accuracy on separable and on uninformative features."""

from __future__ import annotations

import numpy as np
import pytest

from nap.cluster.probes import split_utterances, train_probe


def frames(separation: float, n: int = 3000, classes: int = 8, channels: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    means = rng.normal(size=(classes, channels)) * separation
    x = (means[y] + rng.normal(size=(n, channels))).astype(np.float32)
    utt = np.sort(rng.integers(0, 40, size=n))
    return x, y, utt


def test_split_holds_out_whole_utterances_deterministically():
    utt = np.repeat(np.arange(20), 7)
    test = split_utterances(utt, 0.25, seed=3)
    assert set(utt[test]).isdisjoint(set(utt[~test]))
    assert len(set(utt[test])) == 5
    np.testing.assert_array_equal(test, split_utterances(utt, 0.25, seed=3))
    assert not np.array_equal(test, split_utterances(utt, 0.25, seed=4))
    with pytest.raises(ValueError, match="at least 2 utterances"):
        split_utterances(np.zeros(10, dtype=int), 0.25, 0)


def test_probe_reads_separable_classes_and_not_noise():
    x, y, utt = frames(separation=3.0)
    test = split_utterances(utt, 0.25, 0)
    good = train_probe(x, y, test, max_iter=200)
    assert good["accuracy"] > 0.95 and good["balanced_accuracy"] > 0.95
    assert good["n_classes"] == 8 and good["n_train"] + good["n_test"] == len(y) and good["message"] is None
    x, y, utt = frames(separation=0.0)
    noise = train_probe(x, y, split_utterances(utt, 0.25, 0), max_iter=200)
    assert abs(noise["accuracy"] - noise["chance"]) < 0.06 and noise["chance"] < 0.2


def test_unlabelled_frames_are_ignored_and_training_is_capped():
    x, y, utt = frames(separation=3.0)
    y = y.copy()
    y[::3] = -1
    test = split_utterances(utt, 0.25, 0)
    r = train_probe(x, y, test, max_train=500, seed=1)
    assert r["n_train"] == 500 and r["n_test"] == int(np.sum((y >= 0) & test))
    assert r["accuracy"] > 0.9
    assert r == train_probe(x, y, test, max_train=500, seed=1)  # deterministic


def test_probe_without_two_classes_reports_why():
    x, y, utt = frames(separation=1.0)
    r = train_probe(x, np.zeros_like(y), split_utterances(utt, 0.25, 0))
    assert np.isnan(r["accuracy"]) and "fewer than 2 classes" in r["message"]
