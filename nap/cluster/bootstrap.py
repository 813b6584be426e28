"""Intervals for per-layer scores: a bootstrap over speakers (or utterances), never over frames.

Frames of one speaker are not independent draws: they share a voice, and often a sentence.
Resampling frames would give intervals far too narrow. Here the units of resampling are the
speakers of the held-out frames (utterances where the speaker is not known): a resample draws
as many units as there are, with replacement, and takes all frames of each drawn unit as
often as it was drawn. A score that is a mean over frames (a probe's accuracy, the difference
of two probes' accuracies on the same frames) is then the ratio of the drawn units' sums to
their frame counts. The interval is the percentile interval of those resampled scores
(Efron & Tibshirani 1993, ch. 13), at ``LEVEL`` (95 %), from a seeded generator, so it is the
same on every run.

Speakers are read from the utterance ids, ``<speaker>-<chapter>-<number>``: LibriSpeech's
names, which the synthetic corpus uses as well. An id of another form counts as its own
speaker, i.e. the bootstrap falls back to utterances.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from nap.naps.folds import speaker_of

#: The coverage of the intervals.
LEVEL = 0.95


def resampling_units(utt_index: np.ndarray, utterances: Sequence[str] | None) -> tuple[np.ndarray, str]:
    """Each frame's unit of resampling and the units' kind: ``"speaker"``, else ``"utterance"``.

    ``utt_index`` points into ``utterances`` (the probe sample's ids). Speakers are used when
    every id names one; without ids, or with one id of another form, units are utterances.
    """
    utt_index = np.asarray(utt_index, dtype=np.int64)
    if utterances is not None and len(utterances):
        speakers = [speaker_of(str(u)) for u in utterances]
        if all(s is not None for s in speakers):
            _, code = np.unique(np.asarray(speakers), return_inverse=True)
            return code[utt_index], "speaker"
    return utt_index.copy(), "utterance"


def rng_for(seed: int, tag: str) -> np.random.Generator:
    """A generator of its own for one resampled score (``tag`` names it), so scores do not share draws."""
    return np.random.default_rng([seed, zlib.crc32(tag.encode())])


def unit_weights(n_units: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n_units) how often each unit is drawn in each resample (rows sum to ``n_units``)."""
    draws = rng.integers(0, n_units, size=(resamples, n_units))
    offsets = np.arange(resamples)[:, None] * n_units
    return np.bincount((draws + offsets).ravel(), minlength=resamples * n_units).reshape(resamples, n_units)


def resampled_means(
    values: np.ndarray, units: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(resamples, k) the frame means of each row of ``values`` (k, n) over resampled units.

    ``units`` (n,) gives each frame's unit; all rows are resampled with the same draws, so a
    difference of rows keeps its pairing.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    _, code = np.unique(np.asarray(units), return_inverse=True)
    n_units = int(code.max()) + 1
    sums = np.stack([np.bincount(code, weights=row, minlength=n_units) for row in values], axis=1)
    frames = np.bincount(code, minlength=n_units).astype(np.float64)
    w = unit_weights(n_units, resamples, rng).astype(np.float64)
    return (w @ sums) / (w @ frames)[:, None]


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of resampled scores (NaNs ignored; NaN if none)."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(samples, [tail, 100.0 - tail])
    return float(lo), float(hi)


def mean_intervals(
    values: np.ndarray, units: np.ndarray, resamples: int, rng: np.random.Generator, level: float = LEVEL
) -> list[tuple[float, float]]:
    """The interval of each row's frame mean (``values`` (k, n)), resampling ``units`` together."""
    if resamples <= 0 or np.asarray(values).size == 0:
        return [(float("nan"), float("nan"))] * len(np.atleast_2d(values))
    means = resampled_means(values, units, resamples, rng)
    return [percentile_interval(means[:, k], level) for k in range(means.shape[1])]
