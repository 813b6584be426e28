"""The cascade on one utterance with every intermediate step kept, for Figure 2 and tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nap.align.adapters import FrameGeometry, G2PLetters, RecognizerAdapter
from nap.align.cascade import GRAPHEMES, NONE, PHONEMES, CascadeResult, normalize_transcript, run_cascade
from nap.align.delay import take_out_delays
from nap.align.groups import true_phone_labels


@dataclass
class Explanation:
    """One utterance through the cascade: features, per-frame symbols, alignment, labels, truth."""

    utt_id: str
    features: np.ndarray  # (input frames, n_mels)
    logits: np.ndarray  # (output frames, classes)
    symbols: tuple[str, ...]
    geometry: FrameGeometry
    centres: np.ndarray  # (output frames,) seconds
    decoded: CascadeResult
    truth: CascadeResult
    true_phones: list[tuple[str, float, float]]
    true_label: np.ndarray  # (output frames,) phoneme index at the centre, -1 silence/outside
    lag: Mapping[str, Any] | int = 0  # the emission delays taken out of the phoneme labels

    @property
    def phoneme(self) -> np.ndarray:
        """Each frame's phoneme as the stage stores it: the cascade's, moved back by its delay."""
        lag = {"frames": self.lag} if isinstance(self.lag, int) else self.lag
        offsets = np.array([0, len(self.decoded.phoneme)])
        return take_out_delays(self.decoded.phoneme, self.decoded.grapheme, offsets, lag, NONE)[0]

    def frame_rows(self, start: int = 0, stop: int | None = None) -> list[tuple[Any, ...]]:
        """Per output frame: index, centre, best symbol, grapheme, cascade phoneme, true phone
        (``sil`` between phones, ``–`` without true phone timings)."""
        rows = []
        outside = "sil" if self.true_phones else "–"
        for t in range(start, len(self.centres) if stop is None else min(stop, len(self.centres))):
            g, ph, tr = self.decoded.grapheme[t], self.phoneme[t], self.true_label[t]
            rows.append(
                (
                    t,
                    round(float(self.centres[t]), 3),
                    self.symbols[self.decoded.frame_ids[t]],
                    GRAPHEMES[g] if g >= 0 else "-",
                    PHONEMES[ph] if ph >= 0 else "-",
                    PHONEMES[tr] if tr >= 0 else outside,
                )
            )
        return rows

    @property
    def accuracy(self) -> float | None:
        """Share of this utterance's labelled frames whose cascade phoneme is the true one; None
        without labelled frames or without true phone timings (LibriSpeech)."""
        if not self.true_phones:
            return None
        phoneme = self.phoneme
        lab = phoneme >= 0
        return float((phoneme[lab] == self.true_label[lab]).mean()) if lab.any() else None


def explain(
    corpus: Any,
    features: Any,
    recognizer: Any,
    g2p: Any,
    utt_id: str,
    decoder: str = "beam",
    lag: Mapping[str, Any] | int = 0,
) -> Explanation:
    """Run the cascade on ``utt_id`` with the stage's own code, keeping every step.

    ``lag``: the emission delays the stage took out (``FrameLabels.meta["lag"]``), or one delay
    in frames.
    """
    rec = RecognizerAdapter(recognizer, features)
    feats = np.asarray(features.get(utt_id), dtype=np.float32)
    (logits,) = rec.logits([feats])
    (decoded,) = rec.decode([logits], decoder)
    text = next((u.text for us in corpus.splits.values() for u in us if u.id == utt_id), None)
    if text is None:
        raise KeyError(f"utterance {utt_id!r} is not in the corpus")
    letters = G2PLetters(g2p)
    ids = logits.argmax(-1)
    geom = rec.geometry
    centres = geom.centres(len(ids))
    phones = list(corpus.true_phones(utt_id) or [])
    true_label, _ = true_phone_labels(centres, phones)
    return Explanation(
        utt_id,
        feats,
        logits,
        rec.table.symbols,
        geom,
        centres,
        run_cascade(ids, rec.table, decoded, letters),
        run_cascade(ids, rec.table, normalize_transcript(text), letters),
        phones,
        true_label,
        lag,
    )


def pick_utterance(corpus: Any, split: str = "test_sentences", min_s: float = 2.0, max_s: float = 4.0) -> str:
    """The first utterance of ``split`` lasting between ``min_s`` and ``max_s`` seconds (by its phones),
    else the split's first utterance: a short example for Figure 2."""
    utts = list(corpus.splits.get(split, []))
    if not utts:
        raise ValueError(f"the corpus has no utterances in split {split!r}")
    for u in utts:
        phones = corpus.true_phones(u.id) or []
        if phones and min_s <= phones[-1][2] <= max_s:
            return u.id
    return utts[0].id
