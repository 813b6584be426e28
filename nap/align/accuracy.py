"""How often the cascade gives a frame its true phoneme (the corpus' phone timings).

Counted over the frames the cascade labels (a frame without a cascade phoneme is no
error, only not covered; coverage is reported beside). Truth is the phone at the frame's
centre; a labelled frame whose centre lies on silence counts as wrong (row ``sil``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nap.align.cascade import NONE, PHONEMES
from nap.align.groups import true_phone_labels
from nap.phonetics import PHONE_CLASS, SILENCE

#: Rows of the confusion matrix: the true phone (the 39, then silence/outside phones).
TRUE_NAMES: tuple[str, ...] = (*PHONEMES, SILENCE)
#: An utterance's true phones: (phone, start s, end s).
Phones = Sequence[tuple[str, float, float]]
#: Columns: the cascade's phoneme.
PRED_NAMES: tuple[str, ...] = PHONEMES


def confusion(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``(40, 39)`` counts: row = true phone (``sil`` last, for -1), column = cascade phoneme.

    Frames without a cascade phoneme (-1) are not counted.
    """
    pred = np.asarray(predicted, dtype=np.int64)
    tru = np.asarray(true, dtype=np.int64)
    if pred.shape != tru.shape:
        raise ValueError(f"predicted and true labels differ in shape: {pred.shape} vs {tru.shape}")
    keep = pred >= 0
    rows = np.where(tru[keep] == NONE, len(PHONEMES), tru[keep])
    flat = np.bincount(rows * len(PRED_NAMES) + pred[keep], minlength=len(TRUE_NAMES) * len(PRED_NAMES))
    return flat.reshape(len(TRUE_NAMES), len(PRED_NAMES))


def class_confusion(matrix: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The confusion matrix summed into phonetic classes (rows add ``sil``)."""
    from nap.phonetics import CLASSES

    names = list(CLASSES)
    out = np.zeros((len(names) + 1, len(names)), dtype=np.int64)
    for i, t in enumerate(TRUE_NAMES):
        r = len(names) if t == SILENCE else names.index(PHONE_CLASS[t])
        for j, p in enumerate(PRED_NAMES):
            out[r, names.index(PHONE_CLASS[p])] += matrix[i, j]
    return names, out


def report(matrix: np.ndarray, total_frames: int | None = None) -> dict[str, object]:
    """Overall and per-phoneme accuracy from a confusion matrix (JSON-ready).

    ``per_phone[p]`` is the share of frames truly ``p`` (among labelled ones) given ``p``.
    ``class_accuracy`` is the share given a phoneme of the true phone's phonetic class.
    """
    m = np.asarray(matrix, dtype=np.int64)
    n = int(m.sum())
    correct = int(np.trace(m[: len(PHONEMES)]))
    per_phone = {}
    for i, p in enumerate(PHONEMES):
        row = int(m[i].sum())
        per_phone[p] = {"frames": row, "accuracy": (int(m[i, i]) / row) if row else None}
    _, cm = class_confusion(m)
    out: dict[str, object] = {
        "frames": n,
        "correct": correct,
        "accuracy": correct / n if n else None,
        "class_accuracy": int(np.trace(cm[:-1])) / n if n else None,
        "on_silence": int(m[-1].sum()) / n if n else None,
        "per_phone": per_phone,
    }
    if total_frames is not None:
        out["coverage"] = n / total_frames if total_frames else None
    return out


def shift_accuracy(
    items: Iterable[tuple[np.ndarray, np.ndarray, Sequence[tuple[str, float, float]]]],
    shifts_s: Sequence[float],
) -> dict[str, Any]:
    """Accuracy when the truth is read ``shift`` seconds after each labelled frame's centre.

    ``items``: per utterance, the cascade's phoneme per frame (-1 none), the frames' centres
    (s) and the true phones. A CTC recognizer may emit a letter before or after the sound
    it stands for; the shift with the best accuracy shows by how much (positive: the phone
    sounds after the frame's centre, i.e. the letter is emitted early).
    """
    correct = np.zeros(len(shifts_s), dtype=np.int64)
    total = 0
    for pred, centres, phones in items:
        keep = np.asarray(pred) >= 0
        if not phones or not keep.any():
            continue
        p, c = np.asarray(pred)[keep], np.asarray(centres, dtype=np.float64)[keep]
        total += int(keep.sum())
        for k, shift in enumerate(shifts_s):
            correct[k] += int((true_phone_labels(c + shift, phones)[0] == p).sum())
    acc = [float(x) for x in correct / total] if total else [None] * len(shifts_s)
    best = int(np.argmax(correct)) if total else 0
    return {
        "shift_s": [round(float(x), 4) for x in shifts_s],
        "accuracy": acc,
        "frames": total,
        "best_shift_s": round(float(shifts_s[best]), 4) if total else None,
        "best_accuracy": acc[best],
    }


def shift_curve(
    labels: Any, corpus: Any, split: str, shifts_s: Sequence[float], grouping: str = "phoneme"
) -> dict[str, Any]:
    """:func:`shift_accuracy` from stored labels (``phoneme`` or ``phoneme_truetext``) and the corpus."""
    names = labels.all_groups[grouping]
    to_phone = np.array([PHONEMES.index(n) for n in names] + [NONE], dtype=np.int64)
    items = (
        (
            to_phone[labels.labels(u, (grouping,))[grouping]],
            labels.array("centre_s", u),
            corpus.true_phones(u),
        )
        for u in labels.utterances
        if labels.splits[u] == split
    )
    return shift_accuracy(items, shifts_s)
