"""Grapheme -> phoneme assignment from the decoder's attention (paper §3.2).

For a word and its phones, the attention matrix has one row per phone (the weights over the
letters while that phone was emitted). Each letter gets the phone whose row gives it the
highest weight: "each grapheme is replaced by the phoneme with the highest attentional
activation at this time step". Every letter gets exactly one phone (apostrophes and silent
letters included); a phone may get no letter (X -> EH K S gives the single letter one phone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Assignment:
    """A word's phones, each letter's phone and the attention (phones x letters) behind it."""

    word: str
    phones: list[str]
    letter_phones: list[str]
    attention: np.ndarray
    letter_index: list[int]  # for each letter, the index of its phone in ``phones``

    @property
    def phone_letters(self) -> list[int]:
        """For each phone, the index of the letter it attends to most."""
        return [int(i) for i in self.attention.argmax(axis=1)]

    def pairs(self) -> list[tuple[str, str]]:
        """(letter, phone) for every letter of the word."""
        return list(zip(self.word, self.letter_phones, strict=True))

    def __str__(self) -> str:
        return f"{self.word}: /{' '.join(self.phones)}/ " + " ".join(f"{c}->{p}" for c, p in self.pairs())


def assign_letters(word: str, phones: list[str], attention: np.ndarray) -> Assignment:
    """The :class:`Assignment` of ``word`` given its phones and attention (len(phones), len(word))."""
    attention = np.asarray(attention, dtype=np.float32)
    if attention.shape != (len(phones), len(word)):
        raise ValueError(
            f"attention of {word!r} has shape {attention.shape}, expected ({len(phones)}, {len(word)})"
        )
    if not phones:
        raise ValueError(f"{word!r}: an assignment needs at least one phone")
    index = [int(i) for i in attention.argmax(axis=0)]
    return Assignment(word, list(phones), [phones[i] for i in index], attention, index)
