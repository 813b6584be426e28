"""The ASR vocabulary: Collobert repetition symbols, round trips, out-of-vocabulary text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nap.asr.vocab import ALPHABET, BLANK, Vocab, VocabError

texts = st.text(alphabet=ALPHABET, max_size=60)


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(0, 4))
def test_encode_decode_round_trips_every_transcript(text, reps):
    vocab = Vocab(reps)
    assert vocab.decode(vocab.encode(text)) == text


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(1, 4))
def test_repetition_symbols_leave_no_symbol_twice_in_a_row(text, reps):
    ids = Vocab(reps).encode(text)
    assert all(a != b for a, b in zip(ids, ids[1:], strict=False))
    assert Vocab(reps).blank not in ids


def test_symbols_and_examples():
    vocab = Vocab(2)
    assert vocab.symbols[0] == BLANK and len(vocab) == 31 and vocab.symbols[-2:] == ["1", "2"]
    assert len(Vocab(0)) == 29
    assert vocab.tokenize("hello") == ["h", "e", "l", "1", "o"]
    assert vocab.tokenize("aaaa") == ["a", "2", "a"]
    assert vocab.tokenize("bookkeeper") == ["b", "o", "1", "k", "1", "e", "1", "p", "e", "r"]
    assert Vocab(0).tokenize("hello") == list("hello")
    # a CTC path with blanks and repeats collapses, then repetitions expand
    path = [vocab.index(s) for s in ["<b>", "h", "h", "e", "<b>", "l", "1", "1", "o", "<b>"]]
    assert vocab.decode(vocab.collapse(path)) == "hello"


def test_decoder_output_with_stray_repetition_symbols():
    vocab = Vocab(2)
    assert vocab.expand(["1", "a", "2", "2"]) == "aaaaa"  # leading symbol dropped; each repeats the letter


def test_out_of_vocabulary_characters_are_named():
    with pytest.raises(VocabError, match=r"\['!', '3'\]"):
        Vocab().encode("hi 3 times!")
    assert Vocab().oov("Hello") == {"H"}
