"""Group definitions for the NAP stage: which output frame belongs to which group.

Three groupings label every output frame of the recognizer (-1 = no group):

* ``grapheme``: the frame's own predicted letter (paper §3.1); blank frames belong to none;
* ``phoneme``: the frame's phoneme from the cascade of paper Figure 2 (:mod:`.cascade`);
* ``phoneme_true``: the true phone (corpus timings) at the frame's centre, where the
  centre of output frame ``t`` is the centre of its receptive field: the network sees the
  utterance with ``pad`` frames of silence added in front, so output frame ``t`` covers
  utterance frames ``t * stride - pad ... t * stride - pad + receptive_field - 1``, centred
  on frame ``c = t * stride - pad + (receptive_field - 1) / 2``, at ``c * hop_s + offset_s``
  seconds (``offset_s``: the time of frame 0's centre, 0 for centred STFT frames).
  Frames on silence (``sil``) or outside every phone belong to none.

A group with fewer frames than a minimum count is left out (its frames get -1) and
reported, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nap.align.cascade import NONE, PHONEMES
from nap.phonetics import SILENCE

_PHONE_INDEX = {p: i for i, p in enumerate(PHONEMES)}


def frame_centres(
    n_frames: int, receptive_field: int, stride: int, hop_s: float, offset_s: float = 0.0, pad: int = 0
) -> np.ndarray:
    """Time in seconds of the centre of each output frame's receptive field (``pad``: input
    frames of padding the network saw in front of the utterance)."""
    if receptive_field < 1 or stride < 1 or hop_s <= 0:
        raise ValueError(
            f"need receptive_field, stride >= 1 and hop_s > 0, got {receptive_field}, {stride}, {hop_s}"
        )
    centre_frame = np.arange(n_frames, dtype=np.float64) * stride - pad + (receptive_field - 1) / 2
    return centre_frame * hop_s + offset_s


def true_phone_labels(
    centres_s: np.ndarray, phones: Sequence[tuple[str, float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """The true phone at each time: (phoneme index or -1, whether it is silence/outside phones).

    ``phones`` are ``(phone, start_s, end_s)`` in time order (ARPAbet, stress ignored, or
    ``sil``); a time belongs to the phone with ``start <= t < end``.
    """
    t = np.asarray(centres_s, dtype=np.float64)
    labels = np.full(len(t), NONE, dtype=np.int64)
    if not phones:
        return labels, np.ones(len(t), dtype=bool)
    names = [p[0].rstrip("012").upper() if p[0] != SILENCE else SILENCE for p in phones]
    for name in set(names) - set(PHONEMES) - {SILENCE}:
        raise ValueError(f"true phone {name!r} is neither one of the 39 ARPAbet phones nor {SILENCE!r}")
    starts = np.array([p[1] for p in phones], dtype=np.float64)
    ends = np.array([p[2] for p in phones], dtype=np.float64)
    if np.any(np.diff(starts) < 0):
        raise ValueError("true phones must be in time order")
    code = np.array([_PHONE_INDEX.get(n, NONE) for n in names], dtype=np.int64)
    idx = np.searchsorted(starts, t, side="right") - 1
    inside = (idx >= 0) & (t < ends[np.maximum(idx, 0)])
    labels[inside] = code[idx[inside]]
    return labels, labels == NONE


def move_earlier(labels: np.ndarray, lag: int, fill: int) -> np.ndarray:
    """``labels`` of one utterance moved ``lag`` frames earlier (later when negative).

    Frame ``t`` gets the label of frame ``t + lag``; frames with nothing to take get ``fill``.
    """
    labels = np.asarray(labels)
    out = np.full_like(labels, fill)
    n = len(labels)
    if lag == 0:
        out[:] = labels
    elif 0 < lag < n:
        out[: n - lag] = labels[lag:]
    elif 0 < -lag < n:
        out[-lag:] = labels[: n + lag]
    return out


def count_groups(labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Frames per group (labels -1 are not counted)."""
    lab = np.asarray(labels, dtype=np.int64)
    return np.bincount(lab[lab >= 0], minlength=n_groups)


def apply_min_count(
    labels: np.ndarray, names: Sequence[str], min_count: int
) -> tuple[np.ndarray, list[str], dict[str, int], dict[str, int]]:
    """Leave out groups with fewer than ``min_count`` frames (0 frames included).

    Returns the relabelled frames (indices into the kept names, -1 for left-out groups),
    the kept names, the kept groups' counts and the left-out groups' counts.
    """
    counts = count_groups(labels, len(names))
    keep = counts >= max(min_count, 1)
    new_index = np.full(len(names) + 1, NONE, dtype=np.int64)  # last entry maps -1 to -1
    new_index[np.flatnonzero(keep)] = np.arange(int(keep.sum()))
    lab = np.asarray(labels, dtype=np.int64)
    relabelled = new_index[np.where(lab >= 0, lab, len(names))]
    kept = [n for n, k in zip(names, keep, strict=True) if k]
    kept_counts = {n: int(c) for n, c, k in zip(names, counts, keep, strict=True) if k}
    left_out = {n: int(c) for n, c, k in zip(names, counts, keep, strict=True) if not k}
    return relabelled, kept, kept_counts, left_out
