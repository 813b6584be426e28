"""The recognizer's emission delays: how many output frames after its sound it writes a letter.

A CTC recognizer may write a letter anywhere while the letter's sound is in its view; the
default one learns to write letters about 120 ms late, and how late depends on the letter
and on the sound it stands for (``b`` comes at its burst, ``n`` after its murmur, the ``h``
of ``th`` after the ``t``). The paper's cascade puts each phoneme on the frame that wrote
its letter; the align stage can take the delay out, moving each phoneme label back by:

* ``recognizer``: one delay for the whole network (the shift that agrees best with the
  true phone timings of the train split);
* ``letter`` or ``letter_phoneme``: one delay per letter written, or per pair of letter
  written and cascade phoneme, each estimated the same way on its own train frames; a key
  with fewer than ``min_frames`` train frames keeps the recognizer's delay.

Delays are estimated on the train split only, so the held-out accuracy stays honest.
Graphemes always stay on the frames that wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from nap.align.cascade import GRAPHEMES, PHONEMES

Per = Literal["recognizer", "letter", "letter_phoneme"]

#: Emission delays (output frames) tried when they are estimated.
DELAYS: tuple[int, ...] = tuple(range(-10, 11))


def delay_keys(grapheme: np.ndarray, phoneme: np.ndarray, per: Per) -> np.ndarray:
    """Per frame, the index of its delay key (-1: none, the recognizer's delay applies).

    ``grapheme`` and ``phoneme`` index :data:`GRAPHEMES` and :data:`PHONEMES` (-1: none).
    """
    g = np.asarray(grapheme, dtype=np.int64)
    ph = np.asarray(phoneme, dtype=np.int64)
    if per == "recognizer":
        return np.full(len(g), -1, dtype=np.int64)
    if per == "letter":
        return np.where((g >= 0) & (ph >= 0), g, -1)
    return np.where((g >= 0) & (ph >= 0), g * len(PHONEMES) + ph, -1)


def key_name(key: int, per: Per) -> str:
    """Readable name of a delay key: ``"t"`` or ``"t T"``."""
    if per == "letter":
        return GRAPHEMES[key]
    g, ph = divmod(key, len(PHONEMES))
    return f"{GRAPHEMES[g]} {PHONEMES[ph]}"


def key_index(name: str, per: Per) -> int:
    """Inverse of :func:`key_name`."""
    if per == "letter":
        return GRAPHEMES.index(name)
    letter, phoneme = name.split(" ")
    return GRAPHEMES.index(letter) * len(PHONEMES) + PHONEMES.index(phoneme)


def _utterance_of_frame(offsets: np.ndarray) -> np.ndarray:
    """Per frame, the index of the utterance that owns it (``offsets``: the utterances' frame ranges)."""
    n_frames = np.diff(offsets)
    return np.repeat(np.arange(len(n_frames)), n_frames)


def n_keys(per: Per) -> int:
    return {"recognizer": 0, "letter": len(GRAPHEMES), "letter_phoneme": len(GRAPHEMES) * len(PHONEMES)}[per]


def estimate_key_delays(
    phoneme: np.ndarray,
    grapheme: np.ndarray,
    truth: np.ndarray,
    offsets: np.ndarray,
    use: np.ndarray,
    per: Per,
    default: int,
    min_frames: int,
    delays: Sequence[int] = DELAYS,
) -> tuple[dict[str, int], dict[str, int]]:
    """Each key's delay: the one of ``delays`` at which its labels best match the true phone per frame.

    ``phoneme``, ``grapheme``, ``truth``: per frame of all utterances (PHONEMES/GRAPHEMES
    indices, -1 none; ``truth`` is the true phone at the frame's centre); ``offsets``: the
    utterances' frame ranges; ``use``: per utterance, whether it counts (the train split).
    A label moved to before or after its utterance counts as wrong. Ties go to ``default``,
    then to the smaller delay. Returns the delays and the frames behind them, by key name.
    """
    if per == "recognizer":
        return {}, {}
    offsets = np.asarray(offsets, dtype=np.int64)
    utt_of = _utterance_of_frame(offsets)
    keys = delay_keys(grapheme, phoneme, per)
    src = np.flatnonzero((keys >= 0) & np.asarray(use, bool)[utt_of])
    if not len(src):
        return {}, {}
    k_src, ph_src = keys[src], np.asarray(phoneme, np.int64)[src]
    lo, hi = offsets[utt_of[src]], offsets[utt_of[src] + 1]
    size = n_keys(per)
    frames = np.bincount(k_src, minlength=size)
    correct = np.zeros((len(delays), size), dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)
    for i, lag in enumerate(delays):
        tgt = src - lag
        inside = (tgt >= lo) & (tgt < hi)
        right = inside & (truth[np.clip(tgt, 0, len(truth) - 1)] == ph_src)
        correct[i] = np.bincount(k_src[right], minlength=size)
    lags_arr = np.asarray(delays)
    order = sorted(range(len(delays)), key=lambda i: (lags_arr[i] != default, lags_arr[i]))  # default first
    ranked = correct[order]
    best = lags_arr[np.asarray(order)[ranked.argmax(0)]]
    table: dict[str, int] = {}
    counts: dict[str, int] = {}
    for key in np.flatnonzero(frames >= max(min_frames, 1)):
        table[key_name(int(key), per)] = int(best[key])
        counts[key_name(int(key), per)] = int(frames[key])
    return table, counts


def frame_delays(
    grapheme: np.ndarray, phoneme: np.ndarray, table: Mapping[str, int], per: Per, default: int
) -> np.ndarray:
    """Per frame, the delay of its label: its key's from ``table``, else ``default``."""
    keys = delay_keys(grapheme, phoneme, per)
    lookup = np.full(max(n_keys(per), 1), default, dtype=np.int64)
    for name, lag in table.items():
        lookup[key_index(name, per)] = lag
    return np.where(keys >= 0, lookup[np.maximum(keys, 0)], default)


def take_out_delays(
    phoneme: np.ndarray, grapheme: np.ndarray, offsets: np.ndarray, lag: Mapping[str, Any], fill: int
) -> tuple[np.ndarray, np.ndarray]:
    """Phoneme labels moved back by the delays of ``lag`` (the align stage's ``meta["lag"]``).

    Each label takes the delay of its letter (and phoneme) from ``lag["table"]``, else the
    recognizer's ``lag["frames"]``; see :func:`move_by_delays` for the moving.
    """
    per = lag.get("per", "recognizer")
    delays = frame_delays(grapheme, phoneme, lag.get("table", {}), per, int(lag["frames"]))
    return move_by_delays(phoneme, delays, offsets, fill)


def move_by_delays(
    labels: np.ndarray, delays: np.ndarray | int, offsets: np.ndarray, fill: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every label moved ``delays`` frames earlier (later when negative) within its utterance.

    Frame ``t - delays[t]`` gets the label of frame ``t``; a label moved out of its
    utterance is dropped; when two labels land on one frame, the later-written one wins.
    Returns the moved labels (``fill`` where none landed) and where a label landed.
    """
    labels = np.asarray(labels)
    offsets = np.asarray(offsets, dtype=np.int64)
    utt_of = _utterance_of_frame(offsets)
    delays = np.broadcast_to(np.asarray(delays, dtype=np.int64), labels.shape)
    src = np.flatnonzero(labels >= 0)
    tgt = src - delays[src]
    inside = (tgt >= offsets[utt_of[src]]) & (tgt < offsets[utt_of[src] + 1])
    src, tgt = src[inside], tgt[inside]
    _, first_from_end = np.unique(tgt[::-1], return_index=True)
    keep = len(tgt) - 1 - first_from_end  # the last (latest-written) label per target frame
    out = np.full_like(labels, fill)
    out[tgt[keep]] = labels[src[keep]]
    landed = np.zeros(len(labels), dtype=bool)
    landed[tgt[keep]] = True
    return out, landed
