"""The cascade of paper Figure 2 on small hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nap.align.cascade import (
    GRAPHEMES,
    PHONEMES,
    REASONS,
    SymbolTable,
    collapse,
    run_cascade,
    transcript_phones,
)
from nap.asr.vocab import Vocab

VOCAB = Vocab(repetitions=2)
TABLE = SymbolTable.from_vocab(VOCAB)
IX = {s: i for i, s in enumerate(VOCAB.symbols)}
B = "<b>"

LEXICON = {
    "hello": ["HH", "AH", "L", None, "OW"],
    "word": ["W", "ER", "ER", "D"],
    "cat": ["K", "AE", "T"],
    "hat": ["HH", "AE", "T"],
    "a": ["AH"],
}


def ids(path: list[str]) -> np.ndarray:
    return np.array([IX[s] for s in path])


def names(labels: np.ndarray, table: tuple[str, ...]) -> list[str]:
    return [table[i] if i >= 0 else "-" for i in labels]


def reasons(codes: np.ndarray) -> list[str]:
    return [REASONS[c] for c in codes]


def test_symbol_table_from_the_recognizers_vocabulary():
    assert TABLE.blank == 0 and TABLE.symbols[1] == " "
    reps = TABLE.repeats()
    assert reps[IX["1"]] == 1 and reps[IX["2"]] == 2 and reps[IX["a"]] == 0


def test_hello_word_every_frame():
    path = [B, "h", "h", B, "e", "l", "l", B, "1", "o", B, " ", "w", "o", "o", B, "r", "d", B]
    res = run_cascade(ids(path), TABLE, "hello word", LEXICON.__getitem__)
    # collapse: runs merged, blanks dropped, "1" expanded into a second l with its own frames
    assert res.tokens.text == "hello word"
    assert res.tokens.start.tolist() == [1, 4, 5, 8, 9, 11, 12, 13, 16, 17]
    assert res.tokens.end.tolist() == [3, 5, 7, 9, 10, 12, 13, 15, 17, 18]
    assert res.alignment.score == 10
    assert res.position.tolist() == [-1, 0, 0, -1, 1, 2, 2, -1, 3, 4, -1, 5, 6, 7, 7, -1, 8, 9, -1]
    assert names(res.grapheme, GRAPHEMES) == list("-hh-ell-lo--woo-rd-")
    assert names(res.phoneme, PHONEMES) == [
        "-", "HH", "HH", "-", "AH", "L", "L", "-", "-", "OW", "-", "-", "W", "ER", "ER", "-", "ER", "D", "-",
    ]  # fmt: skip
    assert reasons(res.phoneme_reason)[7:12] == ["blank", "no_phoneme", "labelled", "blank", "space"]
    counts = res.reason_counts()
    assert counts == {"labelled": 11, "blank": 6, "space": 1, "orphan_repetition": 0, "gap": 0,
                      "transcript_space": 0, "no_phoneme": 1, "moved_by_delay": 0}  # fmt: skip
    assert sum(res.reason_counts("grapheme").values()) == len(path)
    assert res.words == [(0, "hello", ["HH", "AH", "L", None, "OW"]), (6, "word", ["W", "ER", "ER", "D"])]


def test_mismatches_map_to_the_transcript_letter_and_gaps_get_none():
    # the network says "kat" where the decoder wrote "cat": k is aligned to c and gets c's phoneme
    res = run_cascade(ids(["k", B, "a", "t", "t"]), TABLE, "cat", LEXICON.__getitem__)
    assert names(res.grapheme, GRAPHEMES) == ["k", "-", "a", "t", "t"]
    assert names(res.phoneme, PHONEMES) == ["K", "-", "AE", "T", "T"]
    # an extra symbol "x" faces a gap of the transcript: its frame has a grapheme but no phoneme
    res = run_cascade(ids(["c", "a", "x", "t"]), TABLE, "cat", LEXICON.__getitem__)
    assert names(res.grapheme, GRAPHEMES) == ["c", "a", "x", "t"]
    assert names(res.phoneme, PHONEMES) == ["K", "AE", "-", "T"]
    assert reasons(res.phoneme_reason) == ["labelled", "labelled", "gap", "labelled"]
    # a letter aligned to a space of the transcript gets none
    res = run_cascade(ids(["a", "x", "c", "a", "t"]), TABLE, "a cat", LEXICON.__getitem__)
    assert res.alignment.pairs(res.tokens.text, res.transcript)[1] == ("x", " ")
    assert reasons(res.phoneme_reason)[1] == "transcript_space"
    assert names(res.phoneme, PHONEMES) == ["AH", "-", "K", "AE", "T"]


def test_transcript_letters_missed_by_the_network_leave_no_frames():
    # the decoder wrote "hat" but the frames only say "at": h faces a gap on the frames' side
    res = run_cascade(ids([B, "a", B, "t"]), TABLE, "hat", LEXICON.__getitem__)
    assert res.alignment.pairs(res.tokens.text, res.transcript) == [("-", "h"), ("a", "a"), ("t", "t")]
    assert names(res.phoneme, PHONEMES) == ["-", "AE", "-", "T"]


def test_repetition_symbols_share_their_frames_and_orphans_are_dropped():
    # "a" then "2" over four frames: three a's, the two copies get two frames each
    tokens, frame_token = collapse(ids(["a", "2", "2", "2", "2"]), TABLE)
    assert tokens.text == "aaa"
    assert tokens.start.tolist() == [0, 1, 3] and tokens.end.tolist() == [1, 3, 5]
    assert frame_token.tolist() == [0, 1, 1, 2, 2]
    # three frames for two copies: split 1 + 2
    tokens, _ = collapse(ids(["b", "2", "2", "2"]), TABLE)
    assert tokens.start.tolist() == [0, 1, 2] and tokens.end.tolist() == [1, 2, 4]
    # a repetition symbol with nothing before it is dropped and counted
    res = run_cascade(ids(["1", "1", B, "a"]), TABLE, "a", LEXICON.__getitem__)
    assert res.tokens.text == "a"
    assert reasons(res.grapheme_reason) == ["orphan_repetition", "orphan_repetition", "blank", "labelled"]
    assert names(res.phoneme, PHONEMES) == ["-", "-", "-", "AH"]


def test_degenerate_utterances():
    res = run_cascade(ids([B, B, B]), TABLE, "", LEXICON.__getitem__)
    assert (res.grapheme == -1).all() and (res.phoneme == -1).all() and res.reason_counts()["blank"] == 3
    res = run_cascade(ids([B, "a", B]), TABLE, "", LEXICON.__getitem__)
    assert reasons(res.phoneme_reason) == ["blank", "gap", "blank"]
    res = run_cascade(np.zeros(0, int), TABLE, "a", LEXICON.__getitem__)
    assert len(res.phoneme) == 0
    with pytest.raises(ValueError, match="frame symbol ids"):
        run_cascade(np.array([99]), TABLE, "a", LEXICON.__getitem__)


def test_g2p_output_is_checked():
    with pytest.raises(ValueError, match="one per letter"):
        transcript_phones("cat", lambda w: ["K", "AE"])
    with pytest.raises(ValueError, match="unknown phoneme"):
        transcript_phones("cat", lambda w: ["K", "AE", "XX"])
    phone, _, _ = transcript_phones("a cat", lambda w: {"a": ["AH0"], "cat": ["K", "AE1", "T"]}[w])
    assert names(phone, PHONEMES) == ["AH", "-", "K", "AE", "T"]


def test_transcript_is_normalized():
    res = run_cascade(ids(["a"]), TABLE, "  A   Cat ", LEXICON.__getitem__)
    assert res.transcript == "a cat"


frame_paths = st.lists(st.sampled_from(VOCAB.symbols), max_size=60)


@settings(max_examples=300, deadline=None)
@given(frame_paths)
def test_expansion_agrees_with_the_recognizers_greedy_decoding(path):
    # the collapsed, expanded symbols are exactly what the recognizer's own greedy decoder writes
    frame_ids = ids(path)
    tokens, frame_token = collapse(frame_ids, TABLE)
    assert tokens.text == VOCAB.decode(VOCAB.collapse(frame_ids.tolist()))
    # spans are ordered and disjoint (a copy of a repetition may get no frame of its own when the
    # repetition symbol lasts fewer frames than it has copies), and frames point back at their token
    assert np.all(tokens.start <= tokens.end)
    assert np.all(tokens.end[:-1] <= tokens.start[1:])
    for k, (s, e) in enumerate(zip(tokens.start, tokens.end, strict=True)):
        assert (frame_token[s:e] == k).all()
    blank = frame_ids == VOCAB.blank
    assert (frame_token[blank] == -1).all()


@settings(max_examples=200, deadline=None)
@given(frame_paths)
def test_labels_are_consistent(path):
    frame_ids = ids(path)
    text = VOCAB.decode(VOCAB.collapse(frame_ids.tolist()))
    transcript = " ".join(text.split())
    res = run_cascade(frame_ids, TABLE, transcript, lambda w: ["AH"] * len(w))
    # a frame has a phoneme only if it has a grapheme; blank frames have neither
    assert np.all((res.phoneme >= 0) <= (res.grapheme >= 0))
    assert np.all(res.grapheme[frame_ids == VOCAB.blank] == -1)
    assert np.all((res.phoneme >= 0) == (res.phoneme_reason == 0))
    assert np.all((res.grapheme >= 0) == (res.grapheme_reason == 0))
