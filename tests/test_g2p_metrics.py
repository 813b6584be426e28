"""G2P metrics on hand-checked cases."""

from __future__ import annotations

import math

import pytest

from nap.g2p.metrics import (
    bleu_any,
    bleu_sample,
    edit_distance,
    evaluate,
    per_any,
    per_sample,
    wer_any,
    wer_sample,
)

REFS = {"the": [("DH", "AH"), ("DH", "IY")], "cat": [("K", "AE", "T")]}
HYPS = {"the": ["DH", "AH"], "cat": ["K", "AH", "T"]}


def test_edit_distance():
    assert edit_distance([], []) == 0
    assert edit_distance(["K", "AE", "T"], []) == 3
    assert edit_distance(["K", "AE", "T"], ["K", "AH", "T", "S"]) == 2  # one substitution, one insertion
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance(["A", "B"], ["B", "A"]) == 2


def test_wer_protocols():
    # samples: (the, DH AH) right, (the, DH IY) wrong, (cat, K AE T) wrong
    assert wer_sample(REFS, HYPS) == pytest.approx(2 / 3)
    # words: THE matches one of its pronunciations, CAT is wrong
    assert wer_any(REFS, HYPS) == pytest.approx(1 / 2)


def test_phone_error_rates():
    # per sample: 0 + 1 (AH -> IY) + 1 (AE -> AH) edits over 2 + 2 + 3 phones
    assert per_sample(REFS, HYPS) == pytest.approx(2 / 7)
    # per word, against the closest pronunciation: 0 (DH AH) + 1 over 2 + 3 phones
    assert per_any(REFS, HYPS) == pytest.approx(1 / 5)


def test_bleu_hand_computed():
    refs = {"w": [("A", "B", "C", "D", "E")]}
    # 1- to 4-gram precisions 4/5, 3/4, 2/3, 1/2; equal lengths, so no brevity penalty
    assert bleu_sample(refs, {"w": ["A", "B", "C", "D", "F"]}) == pytest.approx(0.2**0.25, abs=1e-6)
    assert bleu_sample(refs, {"w": ["A", "B", "C", "D", "E"]}) == pytest.approx(1.0)
    # a shorter hypothesis is penalised: exp(1 - 5/4) on top of precisions 1, 1, 1, 1
    assert bleu_sample(refs, {"w": ["A", "B", "C", "D"]}) == pytest.approx(math.exp(1 - 5 / 4), abs=1e-6)


def test_bleu_with_all_pronunciations_as_references():
    refs = {"u": [("A", "B", "C", "D"), ("A", "B", "X", "D")], "v": [("E", "F", "G", "H")]}
    hyps = {"u": ["A", "B", "X", "D"], "v": ["E", "F", "G", "H"]}
    assert bleu_any(refs, hyps) == pytest.approx(1.0)
    # per sample, (u, A B C D) is a second reference stream of its own that the hypothesis misses
    assert 0.5 < bleu_sample(refs, hyps) < 1.0


def test_evaluate_reports_everything_and_refuses_missing_predictions():
    m = evaluate(REFS, HYPS)
    assert m["words"] == 2 and m["samples"] == 3
    assert m["wer"] == pytest.approx(0.5) and m["wer_sample"] == pytest.approx(2 / 3)
    assert "tok:none" in m["bleu_variant"]
    with pytest.raises(ValueError, match="no prediction"):
        evaluate(REFS, {"the": ["DH", "AH"]})
