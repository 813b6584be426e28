"""CER and WER, checked by hand."""

from __future__ import annotations

import pytest

from nap.asr.metrics import cer, char_errors, edit_distance, wer, word_errors


def test_edit_distance_by_hand():
    assert edit_distance("kitten", "sitting") == 3  # k->s, e->i, +g
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance(["a", "b"], ["a", "b"]) == 0


def test_cer_and_wer_by_hand():
    # "the cat sat" -> "the bat sat": one substituted letter of 11 characters, one word of 3
    assert char_errors("the cat sat", "the bat sat").edits == 1
    assert cer(["the cat sat"], ["the bat sat"]) == pytest.approx(1 / 11)
    assert wer(["the cat sat"], ["the bat sat"]) == pytest.approx(1 / 3)
    # "a b c d" -> "a x c": substitution + deletion = 2 of 4 words
    assert word_errors("a b c d", "a x c").edits == 2
    assert wer(["a b c d"], ["a x c"]) == 0.5
    # corpus-wide: edits and lengths are summed before dividing
    assert cer(["ab", "abcdefgh"], ["", "abcdefgh"]) == pytest.approx(2 / 10)
    assert wer(["one two", "three"], ["one two", "tree four"]) == pytest.approx(2 / 3)
    # extra whitespace is not an error
    assert cer(["a b"], ["  a   b "]) == 0.0


def test_mismatched_lists_raise():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        cer(["a", "b"], ["a"])
