"""Each synthesis engine's phone symbols mapped to the study's phones (:mod:`nap.phonetics`).

**espeak-ng** reports its own phoneme mnemonics (``dZ``, ``'i:``, ``@L``, ``_:``...). The
same mnemonic is not the same sound in every English voice (``3`` is [ɚ] in ``en-us`` but
[ə] in ``en``; ``A@`` is [ɑːɹ] in ``en-us`` and [ɑː] in ``en``), so :data:`ESPEAK` holds the
rhotic (American) reading and :data:`ESPEAK_NON_RHOTIC` the changes for the voices in
:data:`NON_RHOTIC`; the realizations were read off espeak-ng's IPA output for each voice.
Further choices, following how CMUdict transcribes the same words:

* stress marks (``'``, ``,``) are dropped; ``;`` (a palatal glide, as in *genius*) is ``Y``;
* syllabic consonants become schwa + consonant (``@L`` → ``AH L``, ``n-`` → ``AH N``), the
  flap ``t#`` and the glottal stop ``?`` are ``T`` (CMUdict: *butter* ``B AH T ER``,
  *button* ``B AH T AH N``); reduced vowels ``@ @2 @5 a# V`` are ``AH``;
* a rhotic vowel followed by an ``r`` phone does not repeat the ``R`` (``A@ r-`` → ``AA R``);
* pauses (``_``, ``_:``, ``_!``, ``_|``) and the silence before the first phoneme are ``sil``.

**flite** (and festival) use the "radio" phone set: lowercase ARPAbet without stress, plus
``pau`` (→ ``sil``), ``ax`` (→ ``AH``), ``axr`` (→ ``ER``), ``ix`` (→ ``IH``), ``dx`` (→ ``T``).

**piper** (the neural voice, :mod:`nap.corpus.piper`) speaks espeak-ng's IPA for ``en-us``,
one code point per entry; :func:`nap.corpus.piper.ipa_units` first merges the entries into
IPA units (a letter with its length mark or diacritic, ``ɑː``, ``n̩``; the two letters of a
diphthong or affricate, ``aɪ``, ``tʃ``) and :data:`IPA` maps each unit, following the
espeak-ng table above (the same phonemes written in IPA): ``ɾ`` (flap) and ``ʔ`` are ``T``,
``ᵻ`` is ``IH``, ``ɐ ə ʌ`` are ``AH``, ``ɜː ɚ`` are ``ER``, ``ʲ`` (espeak-ng's ``;``) is
``Y``, syllabic ``n̩ l̩ m̩`` are ``AH`` + consonant. The code points ``t ʃ`` are always read as
the affricate ``CH`` (espeak-ng writes a ``t``-``ʃ`` cluster, as in *nutshell*, the same way).

When one engine symbol becomes two phones (``@L`` → ``AH L``) its interval is divided with
vowels weighted 2 and consonants 1 — the only timings not given by the engine itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from nap.errors import NapError
from nap.phonetics import PHONE_CLASS, PHONES, SILENCE

SIL = SILENCE
VOWELS = tuple(p for p in PHONES if PHONE_CLASS[p] == "vowel")
CONSONANTS = tuple(p for p in PHONES if PHONE_CLASS[p] != "vowel")

_PAUSES = ("_", "_:", "_!", "_|", "_;", "_^_")

ESPEAK: dict[str, tuple[str, ...]] = {
    # consonants
    "b": ("B",),
    "d": ("D",),
    "f": ("F",),
    "g": ("G",),
    "h": ("HH",),
    "j": ("Y",),
    "k": ("K",),
    "l": ("L",),
    "m": ("M",),
    "n": ("N",),
    "p": ("P",),
    "r": ("R",),
    "r-": ("R",),
    "s": ("S",),
    "t": ("T",),
    "v": ("V",),
    "w": ("W",),
    "z": ("Z",),
    "D": ("DH",),
    "T": ("TH",),
    "S": ("SH",),
    "Z": ("ZH",),
    "N": ("NG",),
    "tS": ("CH",),
    "dZ": ("JH",),
    "t#": ("T",),
    "t2": ("T",),
    "t[": ("T",),
    "d[": ("D",),
    "?": ("T",),
    "w#": ("W",),
    "x": ("K",),
    "l/": ("L",),
    "l#": ("L",),
    "@L": ("AH", "L"),
    "n-": ("AH", "N"),
    "m-": ("AH", "M"),
    ";": ("Y",),
    # vowels
    "0": ("AA",),
    "3": ("ER",),
    "3:": ("ER",),
    "@": ("AH",),
    "@-": ("AH",),
    "@2": ("AH",),
    "@5": ("AH",),
    "V": ("AH",),
    "a#": ("AH",),
    "a": ("AE",),
    "aa": ("AE",),
    "A:": ("AA",),
    "A@": ("AA", "R"),
    "E": ("EH",),
    "e@": ("EH", "R"),
    "I": ("IH",),
    "I#": ("IH",),
    "I2": ("IH",),
    "i": ("IY",),
    "i:": ("IY",),
    "i@": ("IY", "AH"),
    "i@3": ("IH", "R"),
    "IR": ("ER",),
    "VR": ("ER",),
    "O": ("AO",),
    "O2": ("AO",),
    "O:": ("AO",),
    "O@": ("AO", "R"),
    "o@": ("AO", "R"),
    "OI": ("OY",),
    "U": ("UH",),
    "U@": ("UH", "R"),
    "u:": ("UW",),
    "aI": ("AY",),
    "aI2": ("AY",),
    "aI3": ("AY", "ER"),
    "aI@": ("AY", "ER"),
    "aU": ("AW",),
    "eI": ("EY",),
    "oU": ("OW",),
    "o": ("OW",),
    **{p: (SIL,) for p in _PAUSES},
}

#: espeak-ng's English voices without a rhotic r after vowels.
NON_RHOTIC = frozenset({"en", "en-us-nyc", "en-029", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd"})
ESPEAK_NON_RHOTIC: dict[str, tuple[str, ...]] = {
    "3": ("AH",),
    "A@": ("AA",),
    "O@": ("AO",),
    "o@": ("AO",),
    "U@": ("UH", "AH"),
    "e@": ("EH", "AH"),
    "i@3": ("IH", "AH"),
    "aI@": ("AY", "AH"),
}
#: Voices whose ``aa`` (the vowel of *ask*, *bath*) is open back [ɑː] rather than [æ].
BROAD_A = frozenset({"en-gb-x-rp", "en-gb-scotland", "en-029"})

RADIO: dict[str, tuple[str, ...]] = {
    **{p.lower(): (p,) for p in PHONES},
    "pau": (SIL,),
    "h#": (SIL,),
    "brth": (SIL,),
    "ax": ("AH",),
    "axr": ("ER",),
    "ix": ("IH",),
    "dx": ("T",),
    "hv": ("HH",),
    "nx": ("N",),
    "el": ("AH", "L"),
    "em": ("AH", "M"),
    "en": ("AH", "N"),
}


#: piper's (espeak-ng's ``en-us``) IPA units -> phones; see the module doc and
#: :func:`nap.corpus.piper.ipa_units` for how piper's entries become units.
IPA: dict[str, tuple[str, ...]] = {
    # consonants
    **{c: (c.upper(),) for c in "bdfklmnpstvwz"},
    "ɡ": ("G",),
    "g": ("G",),
    "h": ("HH",),
    "j": ("Y",),
    "ʲ": ("Y",),
    "ð": ("DH",),
    "θ": ("TH",),
    "ʃ": ("SH",),
    "ʒ": ("ZH",),
    "ŋ": ("NG",),
    "ɹ": ("R",),
    "r": ("R",),
    "tʃ": ("CH",),
    "dʒ": ("JH",),
    "ɾ": ("T",),
    "ʔ": ("T",),
    "x": ("K",),
    "ɫ": ("L",),
    "ʍ": ("W",),
    "n̩": ("AH", "N"),
    "l̩": ("AH", "L"),
    "m̩": ("AH", "M"),
    # vowels
    "i": ("IY",),
    "iː": ("IY",),
    "ɪ": ("IH",),
    "ᵻ": ("IH",),
    "ɛ": ("EH",),
    "e": ("EH",),
    "æ": ("AE",),
    "a": ("AE",),
    "ɑ": ("AA",),
    "ɑː": ("AA",),
    "ɒ": ("AA",),
    "ɔ": ("AO",),
    "ɔː": ("AO",),
    "ʌ": ("AH",),
    "ə": ("AH",),
    "ɐ": ("AH",),
    "ʊ": ("UH",),
    "u": ("UW",),
    "uː": ("UW",),
    "ɚ": ("ER",),
    "ɜ": ("ER",),
    "ɜː": ("ER",),
    "o": ("OW",),
    "oː": ("OW",),
    "aɪ": ("AY",),
    "aʊ": ("AW",),
    "eɪ": ("EY",),
    "oʊ": ("OW",),
    "ɔɪ": ("OY",),
}


class PhoneError(NapError, ValueError):
    """An engine reported a phone the tables do not know."""


def espeak_phones(mnemonic: str, language: str = "en-us") -> tuple[str, ...]:
    """ARPAbet phones (or ``sil``) of one espeak-ng mnemonic spoken by voice ``language``."""
    m = mnemonic.lstrip("',").strip()
    if language in NON_RHOTIC and m in ESPEAK_NON_RHOTIC:
        return ESPEAK_NON_RHOTIC[m]
    if m == "aa" and language in BROAD_A:
        return ("AA",)
    if m.startswith("_"):
        return (SIL,)
    try:
        return ESPEAK[m]
    except KeyError:
        raise PhoneError(
            f"espeak-ng phoneme {mnemonic!r} (voice {language}) is not in nap.corpus.phones.ESPEAK"
        ) from None


def radio_phones(symbol: str) -> tuple[str, ...]:
    """ARPAbet phones (or ``sil``) of one flite/festival "radio" phone."""
    try:
        return RADIO[symbol.lower()]
    except KeyError:
        raise PhoneError(f"flite/festival phone {symbol!r} is not in nap.corpus.phones.RADIO") from None


def ipa_phones(unit: str) -> tuple[str, ...]:
    """ARPAbet phones of one IPA unit of piper's (espeak-ng ``en-us``) output."""
    try:
        return IPA[unit]
    except KeyError:
        raise PhoneError(f"piper phoneme {unit!r} is not in nap.corpus.phones.IPA") from None


def segments(units: Sequence[tuple[tuple[str, ...], float, float]]) -> list[tuple[str, float, float]]:
    """Turn (phones, start, end) per engine symbol into (phone, start, end) per phone.

    A symbol with several phones has its interval divided (vowels weight 2, consonants 1);
    an ``R`` that the next symbol repeats is dropped; empty intervals are dropped; adjacent
    ``sil`` intervals are merged.
    """
    out: list[tuple[str, float, float]] = []
    for i, (phones, start, end) in enumerate(units):
        if end <= start:
            continue
        nxt = units[i + 1][0] if i + 1 < len(units) else ()
        if len(phones) > 1 and phones[-1] == "R" and nxt[:1] == ("R",):
            phones = phones[:-1]
        weights = [2.0 if p in VOWELS else 1.0 for p in phones]
        total, t = sum(weights), start
        for k, (p, w) in enumerate(zip(phones, weights, strict=True)):
            e = end if k == len(phones) - 1 else t + (end - start) * w / total
            if out and out[-1][0] == p == SIL:
                out[-1] = (SIL, out[-1][1], e)
            else:
                out.append((p, t, e))
            t = e
    return out
