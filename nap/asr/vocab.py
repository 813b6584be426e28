"""The recognizer's output symbols: CTC blank, space, apostrophe, a–z and repetition symbols.

Repetition symbols follow Collobert et al. (Wav2Letter): a letter repeated ``k + 1`` times
in a row is written as the letter followed by the repetition symbol ``k`` (``"hello"`` →
``h e l 1 o``), for ``k`` up to ``repetitions``; longer runs start again (``"aaaa"`` with
two symbols → ``a 2 a``). An encoded transcript then never holds the same symbol twice in
a row, so CTC needs no blank between doubled letters. ``repetitions = 0`` turns them off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nap.errors import NapError
from nap.phonetics import GRAPHEMES

BLANK = "<b>"
SPACE = " "
#: the transcript alphabet (what a transcript may hold), in label order: space, apostrophe, a-z
ALPHABET = SPACE + "".join(sorted(GRAPHEMES))


class VocabError(NapError, ValueError):
    """A transcript holds characters outside the vocabulary."""


@dataclass(frozen=True)
class Vocab:
    """Symbols and their indices; index 0 is the CTC blank."""

    repetitions: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.repetitions <= 9:
            raise VocabError(f"repetitions must be 0..9, got {self.repetitions}")

    @property
    def symbols(self) -> list[str]:
        """Every output symbol in index order: blank, space, apostrophe, a–z, "1".."k"."""
        return [BLANK, *ALPHABET, *(str(k) for k in range(1, self.repetitions + 1))]

    def __len__(self) -> int:
        return 1 + len(ALPHABET) + self.repetitions

    @property
    def blank(self) -> int:
        return 0

    def index(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    def is_repetition(self, symbol: str) -> bool:
        return symbol.isdigit()

    def oov(self, text: str) -> set[str]:
        """Characters of ``text`` the vocabulary cannot write."""
        return set(text) - set(ALPHABET)

    def tokenize(self, text: str) -> list[str]:
        """``text`` as output symbols, with runs of a letter folded into repetition symbols."""
        bad = self.oov(text)
        if bad:
            raise VocabError(f"transcript {text!r} holds characters outside the vocabulary: {sorted(bad)}")
        out: list[str] = []
        i = 0
        while i < len(text):
            j = i
            while j < len(text) and text[j] == text[i]:
                j += 1
            run = j - i
            if self.repetitions == 0:
                out.extend(text[i:j])
            else:
                while run > 0:
                    extra = min(run - 1, self.repetitions)
                    out.append(text[i])
                    if extra:
                        out.append(str(extra))
                    run -= extra + 1
            i = j
        return out

    def encode(self, text: str) -> list[int]:
        """``text`` as symbol indices (no blanks)."""
        table = {s: i for i, s in enumerate(self.symbols)}
        return [table[s] for s in self.tokenize(text)]

    def expand(self, symbols: Iterable[str]) -> str:
        """Symbols (blank-free, collapsed) back to text; a repetition symbol repeats the letter before it.

        A repetition symbol with nothing before it (possible in a decoder's output) is dropped.
        """
        out: list[str] = []
        for s in symbols:
            if s == BLANK:
                continue
            if self.is_repetition(s):
                if out:
                    out.append(out[-1][-1] * int(s))
                continue
            out.append(s)
        return "".join(out)

    def decode(self, indices: Sequence[int]) -> str:
        """Symbol indices (blank-free, collapsed) back to text."""
        syms = self.symbols
        return self.expand(syms[i] for i in indices)

    def collapse(self, path: Sequence[int]) -> list[int]:
        """A per-frame CTC path with repeats merged and blanks removed."""
        out: list[int] = []
        prev = -1
        for i in path:
            i = int(i)
            if i != prev and i != self.blank:
                out.append(i)
            prev = i
        return out

    def to_dict(self) -> dict[str, object]:
        return {"repetitions": self.repetitions, "symbols": self.symbols}
