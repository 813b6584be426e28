"""A synthetic stand-in corpus for exercising the trainer in seconds (tests, smoke runs).

Each symbol of the alphabet gets a fixed random spectral pattern; an utterance is its
transcript's letters, each held for a few frames with noise. A recognizer learns it
quickly, which is all the trainer's tests need; the study itself trains on real speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nap.asr.vocab import ALPHABET

WORDS = ("see", "the", "cat", "sat", "on", "a", "mat", "all", "good", "dogs", "bark", "off", "tree", "ill")


@dataclass(frozen=True)
class SynthUtterance:
    id: str
    text: str
    split: str


class SyntheticCorpus:
    """``.splits`` and ``.get(utt_id)`` like a corpus plus its features (frames, n_mels)."""

    hop_s = 0.01

    def __init__(
        self,
        n_train: int = 48,
        n_test: int = 8,
        n_mels: int = 16,
        seed: int = 0,
        frames_per_letter: tuple[int, int] = (6, 10),
    ):
        rng = np.random.default_rng(seed)
        self.n_mels = n_mels
        self.templates = {c: rng.normal(0, 1, n_mels).astype(np.float32) for c in ALPHABET}
        self.templates[" "] = np.full(n_mels, -1.5, np.float32)
        self.splits: dict[str, list[SynthUtterance]] = {}
        self._feats: dict[str, np.ndarray] = {}
        for split, n in (("train", n_train), ("test_sentences", n_test), ("test_voices", n_test)):
            utts = []
            for i in range(n):
                text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))))
                uid = f"{split}-{i:04d}"
                utts.append(SynthUtterance(uid, text, split))
                self._feats[uid] = self._render(text, rng, frames_per_letter)
            self.splits[split] = utts

    def _render(self, text: str, rng: np.random.Generator, span: tuple[int, int]) -> np.ndarray:
        frames = [np.tile(self.templates[" "], (10, 1))]
        for c in text:
            n = int(rng.integers(span[0], span[1] + 1))
            frames.append(np.tile(self.templates[c], (n, 1)))
        frames.append(np.tile(self.templates[" "], (10, 1)))
        x = np.concatenate(frames)
        return (x + rng.normal(0, 0.3, x.shape)).astype(np.float32)

    def get(self, utt_id: str) -> np.ndarray:
        return self._feats[utt_id]

    def set(self, utt_id: str, feats: np.ndarray) -> None:
        """Replace an utterance's features (tests of bad input)."""
        self._feats[utt_id] = feats
