"""Frame centres, true phones at frame centres, the minimum count, and accuracy against truth."""

from __future__ import annotations

import numpy as np
import pytest

from nap.align import accuracy as acc
from nap.align.cascade import PHONEMES
from nap.align.groups import apply_min_count, count_groups, frame_centres, true_phone_labels

P = {p: i for i, p in enumerate(PHONEMES)}


def test_frame_centre_is_the_centre_of_the_receptive_field():
    # Wav2Letter: receptive field 194 input frames, stride 2, 10 ms hop: output frame 0 sees
    # input frames 0..193, centred on frame 96.5, i.e. 0.965 s; each next frame is 20 ms later
    c = frame_centres(3, 194, 2, 0.01)
    assert c == pytest.approx([0.965, 0.985, 1.005])
    assert frame_centres(2, 5, 2, 0.01, offset_s=0.0125) == pytest.approx([0.0325, 0.0525])
    # with 96 frames of padding in front (the recognizer's context pad for 194 / 2), output frame t
    # is centred on utterance frame 2t + 0.5
    assert frame_centres(2, 194, 2, 0.01, pad=96) == pytest.approx([0.005, 0.025])
    with pytest.raises(ValueError, match="receptive_field"):
        frame_centres(3, 0, 2, 0.01)


def test_true_phone_at_the_centre():
    phones = [("sil", 0.0, 0.1), ("HH", 0.1, 0.15), ("AH0", 0.15, 0.3), ("L", 0.3, 0.35), ("sil", 0.4, 0.5)]
    t = np.array([0.05, 0.1, 0.149, 0.15, 0.29, 0.3, 0.37, 0.45, 0.6])
    labels, silent = true_phone_labels(t, phones)
    assert labels.tolist() == [-1, P["HH"], P["HH"], P["AH"], P["AH"], P["L"], -1, -1, -1]
    assert silent.tolist() == [True, False, False, False, False, False, True, True, True]
    assert true_phone_labels(t, [])[0].tolist() == [-1] * len(t)
    with pytest.raises(ValueError, match="neither one of the 39"):
        true_phone_labels(t, [("QQ", 0.0, 1.0)])
    with pytest.raises(ValueError, match="time order"):
        true_phone_labels(t, [("AH", 0.5, 1.0), ("B", 0.0, 0.5)])


def test_min_count_leaves_groups_out_and_reports_them():
    names = ["a", "b", "c", "d"]
    labels = np.array([0, 0, 0, 1, 2, 2, 2, 2, -1, 0])
    assert count_groups(labels, 4).tolist() == [4, 1, 4, 0]
    relabelled, kept, counts, left_out = apply_min_count(labels, names, 2)
    assert kept == ["a", "c"]
    assert counts == {"a": 4, "c": 4} and left_out == {"b": 1, "d": 0}
    assert relabelled.tolist() == [0, 0, 0, -1, 1, 1, 1, 1, -1, 0]
    # min_count 0 still leaves out groups without frames
    _, kept, _, left_out = apply_min_count(labels, names, 0)
    assert kept == ["a", "b", "c"] and left_out == {"d": 0}


def test_confusion_and_accuracy_by_hand():
    true = np.array([P["AH"], P["AH"], P["AH"], P["K"], P["K"], -1, P["T"], P["S"]])
    pred = np.array([P["AH"], P["AH"], P["IH"], P["K"], -1, P["K"], P["T"], -1])
    m = acc.confusion(pred, true)
    assert m.shape == (40, 39) and m.sum() == 6
    assert m[P["AH"], P["AH"]] == 2 and m[P["AH"], P["IH"]] == 1 and m[39, P["K"]] == 1
    r = acc.report(m, total_frames=8)
    assert r["frames"] == 6 and r["correct"] == 4
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["coverage"] == pytest.approx(6 / 8)
    assert r["on_silence"] == pytest.approx(1 / 6)
    # IH for AH is the right class (vowel): 5 of 6 frames get a phoneme of the true class
    assert r["class_accuracy"] == pytest.approx(5 / 6)
    assert r["per_phone"]["AH"] == {"frames": 3, "accuracy": pytest.approx(2 / 3)}
    assert r["per_phone"]["S"] == {"frames": 0, "accuracy": None}
    names, cm = acc.class_confusion(m)
    assert cm.sum() == 6 and cm[names.index("vowel"), names.index("vowel")] == 3
    with pytest.raises(ValueError, match="differ in shape"):
        acc.confusion(pred[:3], true)


def test_move_earlier_takes_the_label_of_a_later_frame():
    from nap.align.groups import move_earlier

    x = np.array([1, 2, 3, 4])
    assert move_earlier(x, 1, -1).tolist() == [2, 3, 4, -1]
    assert move_earlier(x, -2, -1).tolist() == [-1, -1, 1, 2]
    assert move_earlier(x, 0, -1).tolist() == [1, 2, 3, 4]
    assert move_earlier(x, 4, -1).tolist() == [-1, -1, -1, -1]
    assert move_earlier(x, -9, 0).tolist() == [0, 0, 0, 0]
