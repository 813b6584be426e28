"""Emission delays per letter (and phoneme): estimate on planted delays, move labels, collisions."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nap.align.cascade import GRAPHEMES, MOVED_BY_DELAY, PHONEMES
from nap.align.delay import (
    estimate_key_delays,
    frame_delays,
    key_index,
    key_name,
    move_by_delays,
)

G = {g: GRAPHEMES.index(g) for g in "bnt"}
P = {p: PHONEMES.index(p) for p in ("B", "N", "T")}


def test_key_names_round_trip():
    for per in ("letter", "letter_phoneme"):
        for key in (0, 5, 26):
            assert key_index(key_name(key, per), per) == key
    assert key_name(G["t"] * len(PHONEMES) + P["T"], "letter_phoneme") == "t T"


def test_move_by_delays_within_utterances_later_label_wins():
    offsets = np.array([0, 6, 10])
    labels = np.array([-1, 1, 2, -1, -1, 3, 4, -1, 5, 6])
    moved, landed = move_by_delays(labels, np.array([0, 1, 1, 0, 0, 3, 5, 0, 1, 2]), offsets, -1)
    # 1 -> 0, 2 -> 1, 3 -> 2; 4 would leave utterance 2 (6-5=1 < 6): dropped; 5 -> 7, 6 -> 7 (wins)
    assert moved.tolist() == [1, 2, 3, -1, -1, -1, -1, 6, -1, -1]
    assert landed.tolist() == [True, True, True, False, False, False, False, True, False, False]


@given(st.lists(st.integers(-1, 38), min_size=1, max_size=40), st.integers(-5, 5))
def test_uniform_delay_equals_a_plain_shift(labels, lag):
    labels = np.array(labels)
    n = len(labels)
    moved, _ = move_by_delays(labels, lag, np.array([0, n]), -1)
    expect = np.full(n, -1)
    for t in range(n):
        if labels[t] >= 0 and 0 <= t - lag < n:
            expect[t - lag] = labels[t]
    assert moved.tolist() == expect.tolist()


def _planted(n_utts: int = 30):
    """Utterances 'b n t' whose letters are written 2 (b), 5 (n) and 3 (t) frames after their phone."""
    truth, phon, graph, offsets = [], [], [], [0]
    for _ in range(n_utts):
        tr = np.full(40, -1)
        tr[7], tr[17], tr[27] = P["B"], P["N"], P["T"]  # one-frame phones: only the exact delay fits
        ph, gr = np.full(40, -1), np.full(40, -1)
        for letter, phone, at, delay in (("b", "B", 7, 2), ("n", "N", 17, 5), ("t", "T", 27, 3)):
            ph[at + delay], gr[at + delay] = P[phone], G[letter]
        truth.append(tr), phon.append(ph), graph.append(gr)
        offsets.append(offsets[-1] + 40)
    return np.concatenate(phon), np.concatenate(graph), np.concatenate(truth), np.array(offsets)


def test_estimate_finds_planted_delays_per_letter_and_pair():
    phon, graph, truth, offsets = _planted()
    use = np.ones(len(offsets) - 1, bool)
    table, frames = estimate_key_delays(phon, graph, truth, offsets, use, "letter_phoneme", 3, 10)
    assert table == {"b B": 2, "n N": 5, "t T": 3} and frames == {"b B": 30, "n N": 30, "t T": 30}
    by_letter, _ = estimate_key_delays(phon, graph, truth, offsets, use, "letter", 3, 10)
    assert by_letter == {"b": 2, "n": 5, "t": 3}
    # too few frames: no own delay; the train mask is respected
    assert estimate_key_delays(phon, graph, truth, offsets, use, "letter", 3, 31) == ({}, {})
    assert estimate_key_delays(phon, graph, truth, offsets, ~use, "letter", 3, 1) == ({}, {})
    # moving every label by its delay puts each on its phone
    delays = frame_delays(graph, phon, table, "letter_phoneme", 3)
    moved, _ = move_by_delays(phon, delays, offsets, -1)
    assert ((moved >= 0) & (moved == truth)).sum() == (moved >= 0).sum() == 90
    # a key missing from the table takes the default delay
    assert frame_delays(graph, phon, {}, "letter_phoneme", 4)[phon >= 0].tolist() == [4] * 90


def test_shift_phonemes_per_pair_sets_reasons():
    from nap.align.stage import shift_phonemes

    phon, graph, truth, offsets = _planted(2)
    joined = {
        "phoneme": phon.astype(np.int16),
        "phoneme_truetext": phon.astype(np.int16),
        "phoneme_reason": np.where(phon >= 0, 0, 1).astype(np.int8),
        "phoneme_truetext_reason": np.where(phon >= 0, 0, 1).astype(np.int8),
        "grapheme": graph.astype(np.int16),
    }
    lag = {"frames": 3, "per": "letter_phoneme", "table": {"b B": 2, "n N": 5}}
    shift_phonemes(joined, offsets, lag)
    got = joined["phoneme"][:40]
    assert np.flatnonzero(got >= 0).tolist() == [7, 17, 27]  # b by 2, n by 5, t by the default 3
    reason = joined["phoneme_reason"][:40]
    assert (reason[[7, 17, 27]] == 0).all() and (reason[got < 0] != 0).all()
    assert MOVED_BY_DELAY in reason[37:].tolist()  # the end, emptied by the default delay


def test_workers_label_exactly_like_one_process(tiny_study, tmp_path):
    """Two spawned labelling processes (real artifacts, several parts) give the same files as one."""
    from nap.align import AlignParams, build_alignment

    deps = [tiny_study.corpus(), tiny_study.features(), tiny_study.asr(), tiny_study.g2p()]
    base = tiny_study.params("align").to_dict()
    out = {}
    for workers in (1, 2):
        p = AlignParams.from_dict({**base, "chunk": 7, "workers": workers})
        summary = build_alignment(tmp_path / str(workers), p, *deps)
        with np.load(tmp_path / str(workers) / "labels.npz") as f:
            out[workers] = ({k: f[k] for k in f.files}, summary)
    (one, s1), (two, s2) = out[1], out[2]
    assert one.keys() == two.keys() and len(one["utterances"]) > 14  # at least 3 parts
    for key in one:
        assert np.array_equal(one[key], two[key]), key
    assert s1["phoneme_accuracy"] == s2["phoneme_accuracy"]
    assert 0 < s2["labelling_seconds"]
