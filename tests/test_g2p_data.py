"""CMUDict preparation and the split by word of the G2P stage."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nap.g2p.data import (
    GRAPHEMES,
    PHONES,
    Vocab,
    batches,
    load_cmudict,
    read_lexicon,
    samples,
    split_words,
    strip_stress,
    write_lexicon,
)


@pytest.fixture(scope="module")
def lexicon():
    return load_cmudict()


def test_cmudict_is_stressless_arpabet_over_the_asr_alphabet(lexicon):
    assert 120_000 < len(lexicon) < 130_000  # the paper used 125,515 entries of CMUDict 0.7b
    assert all(re.fullmatch(r"[a-z']+", w) for w in lexicon)
    phones = {p for prons in lexicon.values() for pron in prons for p in pron}
    assert phones == set(PHONES) and len(PHONES) == 39
    assert "able-bodied" not in lexicon and "a." not in lexicon


def test_pronunciations_are_split_into_samples(lexicon):
    # CMUDict has THE as DH AH0, DH AH1, DH IY0: two distinct stressless samples (paper §3.2)
    assert lexicon["the"] == [("DH", "AH"), ("DH", "IY")]
    assert lexicon["knight"] == [("N", "AY", "T")]
    n = sum(len(p) for p in lexicon.values())
    assert len(samples(lexicon, lexicon)) == n
    assert 1.05 < n / len(lexicon) < 1.09  # paper: 134,093 samples / 125,515 entries = 1.068


def test_strip_stress():
    assert strip_stress(["DH", "AH0", "IY1", "ER2"]) == ("DH", "AH", "IY", "ER")


def test_split_by_word_is_disjoint_complete_and_seeded(lexicon):
    words = list(lexicon)
    split = split_words(words, 0.2, 0.04, seed=0)
    train, dev, test = map(set, (split.train, split.dev, split.test))
    assert not train & test and not dev & test and not train & dev
    assert train | dev | test == set(words)
    assert abs(len(test) / len(words) - 0.2) < 1e-4
    assert abs(len(dev) / (len(train) + len(dev)) - 0.04) < 1e-4
    assert split_words(words[::-1], 0.2, 0.04, seed=0) == split  # order of the input does not matter
    assert split_words(words, 0.2, 0.04, seed=1).test != split.test
    # all pronunciations of a held-out word are held out together
    test_samples = samples(lexicon, split.test)
    assert {w for w, _ in test_samples} == test


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="test_fraction"):
        split_words(["a", "b"], 1.5, 0.1, 0)


def test_lexicon_files_round_trip(tmp_path, lexicon):
    items = samples(lexicon, ["the", "knight", "don't"])
    write_lexicon(tmp_path / "x.tsv", items)
    assert (tmp_path / "x.tsv").read_text().splitlines()[0] == "the\tDH AH"
    assert read_lexicon(tmp_path / "x.tsv") == {w: lexicon[w] for w in ("the", "knight", "don't")}
    (tmp_path / "bad.tsv").write_text("no tab here\n")
    with pytest.raises(ValueError, match="bad.tsv:1"):
        read_lexicon(tmp_path / "bad.tsv")


def test_vocab_codes():
    v = Vocab()
    assert v.n_letters == len(GRAPHEMES) + 1 and v.n_phones == 39 + 3
    codes = v.encode_phones(["N", "AY", "T"])
    assert min(codes) >= 3 and v.decode_phones([*codes, Vocab.EOS, 5]) == ["N", "AY", "T"]
    with pytest.raises(ValueError, match="unknown phone 'AY1'"):
        v.encode_phones(["AY1"])
    assert v.encode_word("a'") == [1, len(GRAPHEMES)]
    with pytest.raises(ValueError, match="empty word"):
        v.encode_word("")
    with pytest.raises(ValueError, match="outside a-z"):
        v.encode_word("The")


def test_batches_hold_one_word_length_and_cover_every_sample_once(lexicon):
    items = samples(lexicon, sorted(lexicon)[:3000])
    seen = []
    for b in batches(items, Vocab(), 64, np.random.default_rng(0)):
        assert b.letters.shape[0] == b.target.shape[0] <= 64
        assert len({len(items[i][0]) for i in b.index}) == 1
        ends = [row[row != 0][-1] for row in b.target]
        assert all(e == Vocab.EOS for e in ends)
        seen.extend(b.index.tolist())
    assert sorted(seen) == list(range(len(items)))
